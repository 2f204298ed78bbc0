"""Fit a long prompt into its token budget by what it says last, not by cutting tokens.

Preference data has long multi-turn prompts: at max_length 512, 102 of the 300 pairs of
LLaMA-Factory's DPO demo have a prompt that leaves no room for the reply, and cutting
the sequence at max_length would cut the reply away. Cutting the prompt's tokens from
the left (what token-level truncation does) would instead break the chat template's
structure: a turn without its header, a system prompt half gone. So a prompt is
shortened by whole turns, oldest first, always starting at a user turn and keeping the
system message; only when the last user turn alone is still too long is the start of
its text cut. Every candidate is rendered by the chat template and counted, so the
budget holds exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tuneforge.data.budget import char_budget
from tuneforge.data.records import Message


def prompt_budget(reply_tokens: int, max_length: int, max_prompt_length: int | None) -> int:
    """Tokens a prompt may keep: what the longer reply leaves of max_length, but at least
    half of it (a longer reply is cut at its end instead), and at most max_prompt_length."""
    budget = max(max_length - reply_tokens, max_length // 2)
    return min(budget, max_prompt_length) if max_prompt_length else budget


class PromptFitter:
    """Counts rendered prompts and replies with one tokenizer's chat template."""

    def __init__(self, tokenizer, tools: list[dict] | None = None):
        self.tokenizer, self.tools = tokenizer, tools

    def prompt_tokens(self, prompt: tuple[Message, ...]) -> int:
        return len(self._ids(self.render(prompt, generation_prompt=True)))

    def fit(self, prompt: tuple[Message, ...], budget: int) -> tuple[Message, ...] | None:
        """The prompt within `budget` tokens, itself when it already fits; None when even
        the system message and the end of the last turn cannot fit."""
        if self.prompt_tokens(prompt) <= budget:
            return prompt
        head = tuple(m for m in prompt[:1] if m.role == "system")
        body = prompt[len(head) :]
        starts = [i for i, m in enumerate(body) if m.role == "user"] or [0]
        # Later starts keep fewer tokens: binary search for the earliest one that fits.
        low, high = 1, len(starts)  # starts[0] is the whole prompt, known not to fit
        while low < high:
            middle = (low + high) // 2
            if self.prompt_tokens(head + body[starts[middle] :]) <= budget:
                high = middle
            else:
                low = middle + 1
        if low < len(starts):
            return head + body[starts[low] :]
        return self._cut_first_turn(head, body[starts[-1] :], budget)

    def _cut_first_turn(
        self, head: tuple[Message, ...], body: tuple[Message, ...], budget: int
    ) -> tuple[Message, ...] | None:
        """Drop tokens from the start of the first kept turn's text until the prompt fits
        (a few rounds: re-tokenising the cut text can merge tokens differently)."""
        first = body[0]
        text = first.content
        for _ in range(4):
            excess = self.prompt_tokens(head + (replace(first, content=text),) + body[1:]) - budget
            if excess <= 0:
                return head + (replace(first, content=text),) + body[1:]
            ids = self._ids(text)
            if excess >= len(ids):
                return None
            text = self.tokenizer.decode(ids[excess:]).lstrip()
            if not text:
                return None
        return None

    def render(self, messages: tuple[Message, ...], generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template(
            [m.as_template_dict() for m in messages],
            tools=self.tools,
            tokenize=False,
            add_generation_prompt=generation_prompt,
        )

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]


@dataclass
class FitReport:
    shortened: int = 0
    """Prompts that lost turns or the start of a turn to fit."""
    dropped: int = 0
    """Examples whose prompt could not fit at all (a system message or reply too long)."""


def fit_prompts(
    examples: list, tokenizer, max_length: int, max_prompt_length: int | None, tool_format: str
) -> tuple[list, FitReport]:
    """Pairs (or KTO examples) with every prompt within its budget (`prompt_budget`).
    One batched count finds the prompts over budget; only those are re-rendered."""
    report = FitReport()
    if not examples:
        return [], report
    chars = char_budget(tokenizer, max_length)  # memory in proportion to max_length
    examples = [_bounded(example, chars) for example in examples]
    replies = [_replies(example) for example in examples]
    fitters = [_fitter(tokenizer, example, tool_format) for example in examples]
    counted = [
        (fitter.render(ex.prompt, True), [fitter.render(ex.prompt + r, False) for r in rs])
        for fitter, ex, rs in zip(fitters, examples, replies, strict=True)
    ]
    texts = [text for prompt, fulls in counted for text in (prompt, *fulls)]
    lengths = iter(len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"])
    out = []
    for example, fitter, (_, fulls) in zip(examples, fitters, counted, strict=True):
        prompt_length = next(lengths)
        reply = max(next(lengths) - prompt_length for _ in fulls)
        budget = prompt_budget(reply, max_length, max_prompt_length)
        if prompt_length <= budget:
            out.append(example)
            continue
        prompt = fitter.fit(example.prompt, budget)
        if prompt is None:
            report.dropped += 1
            continue
        report.shortened += 1
        out.append(replace(example, prompt=prompt))
    return out, report


def _bounded(example, chars: int):
    """The example with no text longer than `chars` (data/budget.py): prompts keep their
    end, which is what fitting keeps, replies their start, which is what is trained."""

    def cut(messages: tuple[Message, ...], keep_end: bool) -> tuple[Message, ...]:
        if all(len(m.content) <= chars for m in messages):
            return messages
        return tuple(
            replace(m, content=m.content[-chars:] if keep_end else m.content[:chars])
            for m in messages
        )

    replies = {
        key: cut(getattr(example, key), keep_end=False)
        for key in ("chosen", "rejected", "completion")
        if hasattr(example, key)
    }
    prompt = cut(example.prompt, keep_end=True)
    if prompt is example.prompt and all(v is getattr(example, k) for k, v in replies.items()):
        return example
    return replace(example, prompt=prompt, **replies)


def _replies(example) -> list[tuple[Message, ...]]:
    if hasattr(example, "chosen"):
        return [example.chosen, example.rejected]
    return [example.completion]


def _fitter(tokenizer, example, tool_format: str) -> PromptFitter:
    # With tool_format=json the tools are written into the text later (data/tools.py);
    # counting without them undercounts by that preamble, which max_length's cut absorbs.
    tools = getattr(example, "tools", None)
    return PromptFitter(tokenizer, list(tools) if tools and tool_format == "template" else None)
