"""Configuration of `tuneforge data prepare`: which cleaning steps run, and how strictly.

A YAML file passed with `--config` sets any of these keys at the top level; the
command-line flags override it. Every step can be switched off.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, field_validator

from tuneforge.config.base import Section as _Section


class LengthBounds(_Section):
    min: int = Field(0, ge=0)
    """Fewest tokens allowed."""
    max: PositiveInt | None = None
    """Most tokens allowed; null for no limit."""


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

    @field_validator("split")
    @classmethod
    def _fractions(cls, split: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(f < 0 for f in split) or abs(sum(split) - 1) > 1e-6 or split[0] == 0:
            raise ValueError(f"expected train,validation,test fractions summing to 1, got {split}")
        return split
