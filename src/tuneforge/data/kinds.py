"""Which kind of example each training method learns from, and the conversions between
kinds that lose nothing a user would miss.

- sft learns from supervised examples; preference pairs give their chosen reply and
  desirable KTO examples their completion (SFT on the good answers, a common first step);
- preference methods (dpo, orpo, simpo, reward) need pairs;
- kto learns from labelled replies; a pair gives one desirable and one undesirable reply.
"""

from __future__ import annotations

from tuneforge.data.records import (
    ChatExample,
    Example,
    FeedbackExample,
    PreferenceExample,
    kind_of,
)
from tuneforge.errors import DataError

METHOD_KINDS = {
    "sft": "sft",
    "dpo": "preference",
    "orpo": "preference",
    "simpo": "preference",
    "reward": "preference",
    "kto": "kto",
}
KIND_HINTS = {
    "sft": "supervised records (messages, Alpaca, ShareGPT, prompt/completion, text)",
    "preference": "preference pairs (prompt/chosen/rejected and the other pair formats)",
    "kto": "labelled replies (prompt/completion/label or messages/label) or preference pairs",
}


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
