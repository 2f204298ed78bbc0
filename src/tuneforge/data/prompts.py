"""Prompt records, for the methods that write their own replies (grpo, ppo).

A record is `{"prompt": "..."}` or `{"prompt" | "messages": [messages]}` ending in a user
(or tool) turn: the model writes the next one. Every other key is a column, handed to
reward functions as keyword lists (a reference answer, a schema), so OpenAI's
reinforcement fine-tuning files (`messages` plus any grader fields) read as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tuneforge.data.records import Message, parse_messages
from tuneforge.errors import DataError

PROMPT_KEYS = ("prompt", "messages")


@dataclass(frozen=True)
class PromptExample:
    messages: tuple[Message, ...]
    columns: dict[str, Any] = field(default_factory=dict)
    """The record's other fields, passed to reward functions as keyword lists."""

    def template_messages(self) -> list[dict[str, Any]]:
        """The conversation as a chat template takes it."""
        return [m.as_template_dict() for m in self.messages]

    @property
    def text(self) -> str:
        """The last turn's text: what a reward function sees as the prompt."""
        return self.messages[-1].content


def parse_prompt(obj: Any, path: str, line: int) -> PromptExample:
    """One decoded JSON object as a prompt, or a DataError naming its line and field."""
    if not isinstance(obj, dict):
        raise DataError(path, line, None, f"expected a JSON object, got {type(obj).__name__}")
    key = next((k for k in PROMPT_KEYS if k in obj), None)
    if key is None:
        raise DataError(
            path, line, None,
            f"expected 'prompt' or 'messages' (prompts only), got keys {sorted(obj)}",
        )  # fmt: skip
    value = obj[key]
    if isinstance(value, str):
        if not value.strip():
            raise DataError(path, line, key, "empty")
        value = [{"role": "user", "content": value}]
    elif not isinstance(value, list):
        raise DataError(
            path, line, key, f"expected a string or a list of messages, got {type(value).__name__}"
        )
    messages = parse_messages(value, path, line, key, trained=False)
    if messages[-1].role not in ("user", "tool"):
        raise DataError(
            path, line, f"{key}[{len(messages) - 1}].role",
            "prompts end with a user turn: the model writes the next one",
        )  # fmt: skip
    return PromptExample(messages, {k: v for k, v in obj.items() if k not in PROMPT_KEYS})
