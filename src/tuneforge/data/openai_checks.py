"""The format checks of OpenAI's chat fine-tuning data guide, counted the way it counts them.

OpenAI's cookbook ("Data preparation and analysis for chat model fine-tuning") counts a
file's format errors under fixed names; a user moving from OpenAI knows those names, and
a file that passes here should pass there. `data validate` reports these counts beside its
own line-numbered problems (which say *where*; these say *how many of each*).
"""

from __future__ import annotations

from typing import Any

from tuneforge.data.records import format_of

CHECKS = (
    "data_type",
    "missing_messages_list",
    "message_missing_key",
    "message_unrecognized_key",
    "unrecognized_role",
    "missing_content",
    "example_missing_assistant_message",
    "example_missing_user_message",
)
MESSAGE_KEYS = {"role", "content", "name", "weight", "tool_calls", "tool_call_id", "function_call"}
ROLES = {"system", "user", "assistant", "tool", "function"}


def openai_checks(obj: Any) -> set[str]:
    """The checks one decoded record fails. Records of other formats (Alpaca, ShareGPT,
    pairs, ...) are converted to messages by us, so only chat records and records of no
    format at all are OpenAI's to judge."""
    if not isinstance(obj, dict):
        return {"data_type"}
    if "messages" not in obj:
        return {"missing_messages_list"} if format_of(obj) == "unknown" else set()
    messages = obj["messages"]
    if not isinstance(messages, list) or not messages:
        return {"missing_messages_list"}
    failed = set()
    for message in messages:
        if not isinstance(message, dict):
            failed.add("data_type")
            continue
        calls = message.get("tool_calls") or message.get("function_call")
        if "role" not in message or ("content" not in message and not calls):
            failed.add("message_missing_key")
        if set(message) - MESSAGE_KEYS:
            failed.add("message_unrecognized_key")
        if message.get("role") not in ROLES:
            failed.add("unrecognized_role")
        content = message.get("content")
        if not calls and (not isinstance(content, str) or not content.strip()):
            failed.add("missing_content")
    roles = {m.get("role") for m in messages if isinstance(m, dict)}
    if "assistant" not in roles:
        failed.add("example_missing_assistant_message")
    if "user" not in roles:
        failed.add("example_missing_user_message")
    return failed
