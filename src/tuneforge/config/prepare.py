"""Configuration of `tuneforge data prepare`: which cleaning steps run, and how strictly.

A YAML file passed with `--config` sets any of these keys at the top level; the
command-line flags override it. Every step can be switched off.
"""

from __future__ import annotations

import difflib
from typing import Literal, get_args

from pydantic import Field, PositiveInt, field_validator, model_validator

from tuneforge.config.base import Section as _Section

PiiType = Literal[
    "EMAIL",
    "PHONE",
    "CREDIT_CARD",
    "IBAN",
    "IP_ADDRESS",
    "SSN",
    "URL_WITH_CREDENTIALS",
    "STREET_ADDRESS",
    "PERSON",
]
# A type is on by default only if at least 0.9 of what it finds in ordinary prose is
# personal data, checked by hand (benchmarks/pii_eval.py on the shared Alpaca and Wikipedia
# samples, docs/benchmarks.md). The fixed-shape types found 2 things in 3,863 texts, both a
# résumé's contact line. STREET_ADDRESS found 3, 1 of them personal data (the others are a
# landmark's address and a film title). PERSON found 1,247 spans, and 1 in a sample of 100
# was personal data: the rest are public figures, characters and "Tomato Soup". So those
# two are opt-in (`all`).
OPT_IN_PII_TYPES: tuple[PiiType, ...] = ("STREET_ADDRESS", "PERSON")
DEFAULT_PII_TYPES: tuple[PiiType, ...] = tuple(
    kind for kind in get_args(PiiType) if kind not in OPT_IN_PII_TYPES
)
# Regions whose national phone formats (no +country code) are recognised: North America,
# Europe, and the largest markets of South America, Africa, Asia and Oceania.
DEFAULT_PII_REGIONS = (
    "US CA GB IE AU NZ IN ZA DE AT CH FR BE NL LU ES PT IT SE NO DK FI PL CZ "
    "BR MX AR JP CN KR SG PH TR"
).split()


class LengthBounds(_Section):
    min: int = Field(0, ge=0)
    """Fewest tokens allowed."""
    max: PositiveInt | None = None
    """Most tokens allowed; null for no limit."""

    @model_validator(mode="after")
    def _ordered(self) -> LengthBounds:
        # min above max would remove every record, and only say so once none is left.
        if self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max}): no length fits")
        return self


class MinHashConfig(_Section):
    threshold: float = Field(0.8, gt=0, lt=1)
    """Estimated Jaccard similarity of word shingles at which two records are near-duplicates."""
    shingle_size: PositiveInt = 5
    """Words per shingle."""
    num_perm: PositiveInt = 128
    """Signature length: more is more exact and slower."""


class QualityConfig(_Section):
    max_repetition: float = Field(0.5, ge=0, le=1)
    """Drop replies in which more than this share of word 3-grams repeat earlier ones."""
    max_symbol_ratio: float = Field(0.5, ge=0, le=1)
    """Drop replies in which more than this share of characters are symbols."""
    min_reply_words: int = Field(1, ge=0)
    """Drop replies with fewer words."""
    drop_echo: bool = True
    """Drop replies that only repeat their prompt."""
    drop_refusals: bool = False
    """Drop replies with refusal boilerplate ("As an AI language model, I cannot ...")."""
    blocklist: list[str] = []
    """Words or phrases (case-insensitive, whole words) that drop a record."""
    blocklist_file: str | None = None
    """A file with one blocklisted word or phrase per line, added to `blocklist`."""


class PrepareConfig(_Section):
    format: str = "auto"
    """Record format: auto (detected per record) or a format name, e.g. alpaca, sharegpt."""
    kind: Literal["auto", "sft", "preference", "kto"] = "auto"
    """Kind of output; auto takes the kind of the first valid record."""
    model: str = "smollm2-135m-instruct"
    """Tokenizer that the length filter counts tokens with."""
    normalise: bool = True
    """Unicode NFC, no invisible characters, tidy line ends and blank lines."""
    lengths: dict[Literal["system", "user", "assistant", "tool", "text", "total"], LengthBounds] = {
        "assistant": LengthBounds(min=1),
        "total": LengthBounds(max=4096),
    }
    """Token bounds per message of a role, and for the whole record (total)."""
    pii: Literal["redact", "drop", "off"] = "redact"
    """redact: replace personal data with <EMAIL>, <PHONE>, ...; drop: drop the record."""
    pii_types: list[PiiType] = list(DEFAULT_PII_TYPES)
    """Kinds of personal data looked for, e.g. [email, phone]; "all" adds street addresses
    and person names, which also match public figures and landmarks in ordinary prose."""
    pii_regions: list[str] = list(DEFAULT_PII_REGIONS)
    """ISO 3166 regions whose national phone formats are recognised; numbers written with
    a +country code are found whatever this list holds."""
    dedup: Literal["exact", "minhash", "off"] = "minhash"
    """exact: same text up to case and spacing; minhash: also near-duplicates."""
    dedup_keep: Literal["first", "longest"] = "first"
    """Which record of a duplicate cluster is kept."""
    minhash: MinHashConfig = MinHashConfig()
    quality: QualityConfig | None = QualityConfig()
    """Quality heuristics on the reply the model learns; null switches them off."""
    split: tuple[float, float, float] = (0.9, 0.05, 0.05)
    """Train, validation and test fractions."""
    seed: int = 0
    """Seed of the split."""
    decontaminate: list[str] = []
    """Evaluation files: records matching any of theirs (exactly or nearly) are removed."""
    num_proc: PositiveInt | None = None
    """Worker processes; default: one per CPU core, at most 8."""
    chunk_size: PositiveInt = 1000
    """Records per unit of work: memory holds a few chunks, never the whole file."""
    samples: int = Field(3, ge=0)
    """Before/after examples shown per step in the report."""

    @field_validator("pii_types", mode="before")
    @classmethod
    def _pii_types(cls, value: object) -> object:
        names = value.split(",") if isinstance(value, str) else value
        if not isinstance(names, list | tuple):
            return value
        known = get_args(PiiType)
        chosen: list[str] = []
        for name in (str(n).strip().upper() for n in names):
            if name == "ALL":
                chosen += known
            elif name == "DEFAULT":
                chosen += DEFAULT_PII_TYPES
            elif name in known:
                chosen.append(name)
            else:
                close = difflib.get_close_matches(name, [*known, "ALL", "DEFAULT"], n=1)
                hint = f"; did you mean {close[0].lower()!r}?" if close else ""
                choices = ", ".join(k.lower() for k in known)
                raise ValueError(
                    f"unknown PII type {name.lower()!r}{hint} (choose from "
                    f"{choices}, or all, or default)"
                )
        return list(dict.fromkeys(chosen))

    @field_validator("pii_regions")
    @classmethod
    def _pii_regions(cls, regions: list[str]) -> list[str]:
        import phonenumbers  # only validation needs the region table

        regions = [r.strip().upper() for r in regions]
        unknown = [r for r in regions if r not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(
                f"unknown phone regions {unknown}: expected ISO 3166 two-letter "
                "codes that libphonenumber knows, e.g. US, GB, DE"
            )
        return regions

    @field_validator("split")
    @classmethod
    def _fractions(cls, split: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(f < 0 for f in split) or abs(sum(split) - 1) > 1e-6 or split[0] == 0:
            raise ValueError(f"expected train,validation,test fractions summing to 1, got {split}")
        return split
