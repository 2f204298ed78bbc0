"""Render examples with the tokenizer's chat template and build next-token targets.

Which tokens are trained is decided on characters, then mapped to tokens through the
fast tokenizer's offsets. For a chat, an assistant turn's trained span starts where the
template's generation prompt ends (render of the turns before it with
add_generation_prompt=True) and ends just after the end-of-turn token: training on that
token is what teaches the model to stop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tuneforge.data.budget import bounded, char_budget
from tuneforge.data.records import ChatExample, CompletionExample, Example, TextExample
from tuneforge.data.tools import inline_tools, require_tool_support, uses_tools
from tuneforge.errors import DataError

IGNORE = -100


@dataclass
class TokenizedExample:
    input_ids: list[int]
    targets: list[int]
    """targets[t] is the token to predict at position t (input_ids[t + 1]) or IGNORE."""

    @property
    def n_trained(self) -> int:
        return sum(t != IGNORE for t in self.targets)


@dataclass
class TokenizeStats:
    examples: int = 0
    kept: int = 0
    truncated: int = 0
    """Examples cut at max_length that still had trained tokens."""
    dropped_no_target: int = 0
    """Examples whose every trained token was cut away by max_length: never trained on."""
    missing_end_of_turn: int = 0
    """Assistant turns whose rendered template had no end-of-turn token."""


def tokenize_examples(
    examples: Sequence[Example],
    tokenizer,
    max_length: int,
    source: str = "data",
    tool_format: str = "template",
) -> tuple[list[TokenizedExample], TokenizeStats]:
    """Tokenize with loss targets; drops (and counts) examples left with nothing to learn.
    tool_format: how tools and calls are rendered (data/tools.py): "template" through the
    chat template (an error if it cannot), "json" written into the text."""
    aligned, stats = tokenize_aligned(examples, tokenizer, max_length, source, tool_format)
    return [example for example in aligned if example is not None], stats


def tokenize_aligned(
    examples: Sequence[Example],
    tokenizer,
    max_length: int,
    source: str = "data",
    tool_format: str = "template",
) -> tuple[list[TokenizedExample | None], TokenizeStats]:
    """As tokenize_examples, with None in place of each dropped example, so callers that
    pair examples up (chosen and rejected replies) can drop whole pairs."""
    stats = TokenizeStats(examples=len(examples))
    if not examples:
        return [], stats
    bos = tokenizer.bos_token if _adds_bos(tokenizer) else ""
    chars = char_budget(tokenizer, max_length)  # memory in proportion to max_length
    examples = [bounded(example, chars) for example in examples]
    rendered = [
        _render(ex, tokenizer, bos, stats, f"{source} record {i + 1}", tool_format)
        for i, ex in enumerate(examples)
    ]
    # One batched call: the Rust tokenizer parallelises across examples.
    encodings = tokenizer(
        [text for text, _ in rendered],
        add_special_tokens=False,
        return_offsets_mapping=True,
    )
    tokenized: list[TokenizedExample | None] = []
    for (_, spans), ids, offsets in zip(
        rendered, encodings["input_ids"], encodings["offset_mapping"], strict=True
    ):
        labels = [
            tok if any(s < end and e > start for start, end in spans) else IGNORE
            for tok, (s, e) in zip(ids, offsets, strict=True)
        ]
        cut = len(ids) > max_length
        ids, labels = ids[:max_length], labels[:max_length]
        example = TokenizedExample(list(ids), labels[1:] + [IGNORE])
        if example.n_trained == 0:
            stats.dropped_no_target += 1
            tokenized.append(None)
            continue
        stats.truncated += cut
        stats.kept += 1
        tokenized.append(example)
    return tokenized, stats


def _render(
    example: Example, tokenizer, bos: str, stats: TokenizeStats, where: str, tool_format: str
):
    """(text, trained character spans) for one example. Raw text gets the BOS the
    tokenizer would add itself and an EOS so the model learns where documents end."""
    eos = tokenizer.eos_token
    if isinstance(example, TextExample):
        text = bos + example.text + eos
        return text, [(len(bos), len(text))]
    if isinstance(example, CompletionExample):
        prefix = bos + example.prompt
        text = prefix + example.completion + eos
        return text, [(len(prefix), len(text))]
    if uses_tools(example):
        if tool_format == "json":
            example = inline_tools(example)
        else:
            require_tool_support(tokenizer, example, where)
    return _render_chat(example, tokenizer, stats, where)


def _render_chat(example: ChatExample, tokenizer, stats: TokenizeStats, where: str):
    turns = [m.as_template_dict() for m in example.messages]
    tools = list(example.tools) if example.tools else None

    def render(messages, generation_prompt=False) -> str:
        return tokenizer.apply_chat_template(
            messages, tools=tools, tokenize=False, add_generation_prompt=generation_prompt
        )

    full = render(turns)
    spans = []
    for i, message in enumerate(example.messages):
        if not message.trained:
            continue
        before = render(turns[:i], generation_prompt=True)
        through = render(turns[: i + 1])
        if not (through.startswith(before) and full.startswith(through)):
            raise DataError(
                where, None, f"messages[{i}]",
                "the chat template renders earlier turns differently once this turn is added, "
                "so the trained span cannot be located; use a template that renders turns "
                "as prefixes of the conversation",
            )  # fmt: skip
        end_of_turn = through.rfind(tokenizer.eos_token, len(before))
        if end_of_turn == -1:
            stats.missing_end_of_turn += 1
            end = len(through)
        else:
            end = end_of_turn + len(tokenizer.eos_token)
        spans.append((len(before), end))
    return full, spans


def _adds_bos(tokenizer) -> bool:
    """Whether the tokenizer's own special-token handling would start text with BOS."""
    if tokenizer.bos_token_id is None:
        return False
    return tokenizer("a", add_special_tokens=True)["input_ids"][:1] == [tokenizer.bos_token_id]
