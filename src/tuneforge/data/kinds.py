"""The kinds of example a training method can learn from, and the conversions between
kinds that lose nothing a user would miss. Each method names its kind in its declaration
(train/methods/<name>/__init__.py); the data layer knows kinds, never methods.

- sft: supervised examples; preference pairs give their chosen reply and desirable KTO
  examples their completion (SFT on the good answers, a common first step);
- preference: pairs;
- kto: labelled replies; a pair gives one desirable and one undesirable reply;
- prompts: prompts alone, for methods that write their own replies (data/prompts.py).
"""

from __future__ import annotations

from typing import Any

from tuneforge.data import oasst
from tuneforge.data.prompts import PromptExample, parse_prompt
from tuneforge.data.records import (
    ChatExample,
    Example,
    FeedbackExample,
    PreferenceExample,
    kind_of,
    parse_records,
)
from tuneforge.errors import DataError

KIND_HINTS: dict[str, str] = {
    "sft": "supervised records (messages, Alpaca, ShareGPT, prompt/completion, text)",
    "preference": "preference pairs (prompt/chosen/rejected and the other pair formats)",
    "kto": "labelled replies (prompt/completion/label or messages/label) or preference pairs",
    "prompts": "prompts ({'prompt': ...} or messages ending in a user turn)",
}
KINDS = tuple(KIND_HINTS)


def examples_of(
    obj: Any, kind: str | None, where: str, line: int | None, format: str = "auto"
) -> list[Example] | list[PromptExample]:
    """The examples of one decoded record as `kind` (as written when None), or a
    DataError naming its line and field; `format` forces a record format
    (records.FORMAT_NAMES) instead of detecting it."""
    # A tree is many records in one, with its own expansion per kind (data/oasst.py).
    if format == "auto" and oasst.claims(obj):
        return oasst.tree_examples(obj, kind, where, line)
    if kind == "prompts":
        return [parse_prompt(obj, where, line)]
    examples = parse_records(obj, where, line, format)
    if kind is None:
        return examples
    return [converted for example in examples for converted in as_kind(example, kind, where, line)]


def as_kind(example: Example, kind: str, where: str, line: int | None) -> list[Example]:
    """The example converted to `kind` (none for an undesirable reply under SFT, two for
    a pair under KTO); a DataError names the record when it cannot be converted."""
    found = kind_of(example)
    if found == kind:
        return [example]
    if kind == "sft" and isinstance(example, PreferenceExample):
        return [ChatExample(example.prompt + example.chosen, example.tools)]
    if kind == "sft" and isinstance(example, FeedbackExample):
        return [ChatExample(example.prompt + example.completion)] if example.desirable else []
    if kind == "kto" and isinstance(example, PreferenceExample):
        return [
            FeedbackExample(example.prompt, example.chosen, True),
            FeedbackExample(example.prompt, example.rejected, False),
        ]
    raise DataError(
        where, line, None,
        f"this is a {found} record, but the method learns from {KIND_HINTS[kind]}",
    )  # fmt: skip


def sequence_views(example: Example) -> list[Example]:
    """The sequences the model will see for an example: one for supervised and KTO
    examples, prompt + chosen and prompt + rejected for a pair. Length checks use these."""
    if isinstance(example, PreferenceExample):
        return [
            ChatExample(example.prompt + example.chosen, example.tools),
            ChatExample(example.prompt + example.rejected, example.tools),
        ]
    if isinstance(example, FeedbackExample):
        return [ChatExample(example.prompt + example.completion)]
    return [example]
