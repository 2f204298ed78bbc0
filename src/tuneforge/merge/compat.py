"""Can these models be merged? Checked before any tensor is computed, from config files,
safetensors headers and tokenizers, so a mismatch costs seconds and says what differs.

Weights merge position by position, so every source must have the same architecture and
the same tensor names and shapes; and token i must mean the same in all of them, so the
vocabularies, special tokens and chat templates must agree, or `tokenizer_source` must
name the one the result uses (mergekit merges mismatched vocabularies silently, and the
result writes garbage). An adapter must have been trained from the merge's base: its
delta means nothing on another model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tuneforge.errors import ConfigError
from tuneforge.merge.sources import Source

ARCHITECTURE_KEYS = ("model_type", "architectures", "hidden_size", "num_hidden_layers",
                     "num_attention_heads", "num_key_value_heads", "intermediate_size")  # fmt: skip


@dataclass
class Compatibility:
    problems: list[str] = field(default_factory=list)
    """Differences that make the merge meaningless (errors)."""
    notes: list[str] = field(default_factory=list)
    """Differences `tokenizer_source` settles, and what was checked."""

    def as_dict(self) -> dict[str, Any]:
        return {"problems": self.problems, "notes": self.notes}


def check_compatibility(
    sources: list[Source], base: Source | None, tokenizer_source: str | None
) -> Compatibility:
    """Compare every source with the first (the base when there is one); raise a
    ConfigError listing every problem, or return what was checked."""
    models = [base, *sources] if base is not None else list(sources)
    reference, others = models[0], models[1:]
    report = Compatibility()
    ref_config, ref_shapes = reference.config(), reference.shapes()
    for other in others:
        config = other.config()
        for key in ARCHITECTURE_KEYS:
            if config.get(key) != ref_config.get(key):
                report.problems.append(
                    f"{key}: {_show(ref_config.get(key))} in {reference.given}, "
                    f"{_show(config.get(key))} in {other.given}"
                )
        report.problems += _shape_problems(reference, ref_shapes, other, other.shapes())
    report.problems += _base_problems(sources, base)
    tokenizer_differences = _tokenizer_differences(reference, others)
    if tokenizer_differences and tokenizer_source is None:
        report.problems += [
            *tokenizer_differences,
            "set tokenizer_source (base, or one of the models) to choose the result's "
            "tokenizer deliberately",
        ]
    elif tokenizer_differences:
        report.notes += [
            f"{d} (tokenizer_source: {tokenizer_source})" for d in tokenizer_differences
        ]
    if report.problems:
        raise ConfigError(
            "these models cannot be merged:\n" + "\n".join(f"  - {p}" for p in report.problems)
        )
    report.notes.append(
        f"{len(models)} models: same architecture, {len(ref_shapes)} tensors of equal shapes"
    )
    return report


def _shape_problems(
    reference: Source,
    ref: dict[str, tuple[int, ...]],
    other: Source,
    shapes: dict[str, tuple[int, ...]],
) -> list[str]:
    problems = []
    missing, extra = sorted(ref.keys() - shapes.keys()), sorted(shapes.keys() - ref.keys())
    if missing:
        problems.append(
            f"{other.given} lacks {len(missing)} tensors of {reference.given}, e.g. {missing[0]}"
        )
    if extra:
        problems.append(
            f"{other.given} has {len(extra)} tensors {reference.given} lacks, e.g. {extra[0]}"
        )
    for name in sorted(ref.keys() & shapes.keys()):
        if ref[name] != shapes[name]:
            problems.append(
                f"{name}: shape {list(ref[name])} in {reference.given}, {list(shapes[name])} "
                f"in {other.given}"
            )
    return problems


def _base_problems(sources: list[Source], base: Source | None) -> list[str]:
    """An adapter trained from another base than the merge's."""
    if base is None:
        return []
    names = {base.given, str(base.folder)}
    return [
        f"{s.given} is an adapter of {s.trained_from}, not of the merge's base {base.given}"
        for s in sources
        if s.adapter is not None and s.trained_from is not None and s.trained_from not in names
    ]


def _tokenizer_differences(reference: Source, others: list[Source]) -> list[str]:
    from transformers import AutoTokenizer

    def describe(source: Source) -> dict[str, Any]:
        tokenizer = AutoTokenizer.from_pretrained(str(source.folder))
        return {
            "vocabulary": tokenizer.get_vocab(),
            "special tokens": {
                k: v for k, v in tokenizer.special_tokens_map.items() if isinstance(v, str)
            },
            "chat template": tokenizer.chat_template,
        }

    ref = describe(reference)
    differences = []
    for other in others:
        found = describe(other)
        if found["vocabulary"] != ref["vocabulary"]:
            differences.append(
                f"vocabulary: {len(ref['vocabulary'])} tokens in {reference.given}, "
                f"{len(found['vocabulary'])} in {other.given}"
                + (
                    ""
                    if len(found["vocabulary"]) != len(ref["vocabulary"])
                    else " (different tokens)"
                )
            )
        for key in ("special tokens", "chat template"):
            if found[key] != ref[key]:
                differences.append(f"{key} differ between {reference.given} and {other.given}")
    return differences


def _show(value: Any) -> str:
    return "unset" if value is None else str(value)
