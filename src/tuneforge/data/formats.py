"""Other common SFT record shapes, converted to OpenAI chat messages.

Each converter checks the fields of its own format, so errors name the field the user
wrote (`output`, `conversations[2].from`), then the messages are validated again as
OpenAI chat by `records.parse_record`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tuneforge.data.tools import sharegpt_call
from tuneforge.errors import DataError

SHAREGPT_ROLES = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "function_call": "assistant",  # the model's tool call is something it should learn
    "observation": "tool",
    "tool": "tool",
}


def detect_format(obj: dict[str, Any]) -> str | None:
    """The name of a non-OpenAI SFT format by its keys, or None."""
    if "conversations" in obj and "chosen" not in obj:
        return "sharegpt"
    if "instruction" in obj and "output" in obj:
        return "alpaca"
    if "instruction" in obj and "response" in obj:
        return "dolly"
    return None


def alpaca(obj: dict[str, Any], path: str, line: int) -> list[dict]:
    """instruction (+ input) -> output, with optional system and [user, assistant] history."""
    messages = system_turn(obj, path, line)
    history = obj.get("history") or []
    if not isinstance(history, list):
        raise DataError(path, line, "history", "expected a list of [instruction, response] pairs")
    for i, pair in enumerate(history):
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(t, str) for t in pair)
        ):
            raise DataError(path, line, f"history[{i}]", "expected [instruction, response] strings")
        messages += [message("user", pair[0]), message("assistant", pair[1])]
    prompt = _joined(obj, "instruction", "input", path, line)
    return messages + [
        message("user", prompt),
        message("assistant", required_text(obj, "output", path, line)),
    ]


def dolly(obj: dict[str, Any], path: str, line: int) -> list[dict]:
    """Databricks Dolly: instruction (+ context) -> response."""
    prompt = _joined(obj, "instruction", "context", path, line)
    return [
        message("user", prompt),
        message("assistant", required_text(obj, "response", path, line)),
    ]


def sharegpt(obj: dict[str, Any], path: str, line: int) -> list[dict]:
    """conversations of {from, value} turns, with an optional top-level system prompt."""
    turns = obj["conversations"]
    if not isinstance(turns, list):
        raise DataError(path, line, "conversations", "expected a list of {from, value} turns")
    return system_turn(obj, path, line) + sharegpt_messages(turns, path, line, "conversations")


def sharegpt_messages(
    turns: list, path: str, line: int, key: str, call_prefix: str = "call_", bare: bool = False
) -> list[dict]:
    """ShareGPT turns as OpenAI messages. A `function_call` turn becomes an assistant
    message with `tool_calls` (a call is something the model should learn to make), an
    `observation` the `tool` result answering the oldest unanswered call. `bare`: the one
    turn was written on its own, not in a list, so errors name `key` itself."""
    messages: list[dict] = []
    unanswered: list[str] = []
    calls = 0
    for i, turn in enumerate(turns):
        where = key if bare else f"{key}[{i}]"
        if not isinstance(turn, dict):
            raise DataError(path, line, where, f"expected an object, got {type(turn).__name__}")
        speaker = turn.get("from")
        if speaker not in SHAREGPT_ROLES:
            raise DataError(
                path, line, f"{where}.from",
                f"unknown speaker {speaker!r}; expected one of {', '.join(SHAREGPT_ROLES)}",
            )  # fmt: skip
        value = required_text(turn, "value", path, line, where)
        if speaker == "function_call":
            made = sharegpt_call(value, path, line, f"{where}.value", f"{call_prefix}{calls}")
            calls += len(made)
            unanswered += [call["id"] for call in made]
            messages.append({"role": "assistant", "tool_calls": made})
        elif SHAREGPT_ROLES[speaker] == "tool":
            result = message("tool", value)
            if unanswered:
                result["tool_call_id"] = unanswered.pop(0)
            messages.append(result)
        else:
            messages.append(message(SHAREGPT_ROLES[speaker], value))
    return messages


FORMATS: dict[str, Callable[[dict[str, Any], str, int], list[dict]]] = {
    "alpaca": alpaca,
    "dolly": dolly,
    "sharegpt": sharegpt,
}


def message(role: str, content: str) -> dict[str, str]:
    return {"role": role, "content": content}


def system_turn(obj: dict[str, Any], path: str, line: int) -> list[dict]:
    """The record's optional `system` field as a system message: none when it is absent,
    null or blank; an error when it is not text."""
    system = obj.get("system")
    if system is None or (isinstance(system, str) and not system.strip()):
        return []
    return [message("system", required_text(obj, "system", path, line))]


def _joined(obj: dict[str, Any], main: str, extra: str, path: str, line: int) -> str:
    """The main text, then a blank line and the optional extra text when there is one."""
    text = required_text(obj, main, path, line)
    more = obj.get(extra) or ""
    if not isinstance(more, str):
        raise DataError(path, line, extra, f"expected a string, got {type(more).__name__}")
    return f"{text}\n\n{more}" if more.strip() else text


def required_text(obj: dict[str, Any], key: str, path: str, line: int, prefix: str = "") -> str:
    """obj[key] as non-blank text, or a DataError naming `prefix.key` (absent or null is
    "missing")."""
    field = f"{prefix}.{key}" if prefix else key
    value = obj.get(key)
    if value is None:
        raise DataError(path, line, field, "missing")
    if not isinstance(value, str):
        raise DataError(path, line, field, f"expected a string, got {type(value).__name__}")
    if not value.strip():
        raise DataError(path, line, field, "empty")
    return value
