"""Typed examples back to JSON records, in the one format per kind that `data prepare`
writes: OpenAI chat (`messages`) for supervised conversations, `prompt`/`chosen`/
`rejected` message lists for pairs, `prompt`/`completion`/`label` for KTO, and `text`
and `prompt`/`completion` strings kept as they came. `parse_record` reads every one of
them back to an equal example.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tuneforge.data.records import (
    ChatExample,
    CompletionExample,
    Example,
    FeedbackExample,
    Message,
    PreferenceExample,
    TextExample,
)
from tuneforge.data.tools import call_json, map_call_arguments


def to_json(example: Example) -> dict[str, Any]:
    if isinstance(example, ChatExample):
        record: dict[str, Any] = {
            "messages": [_message(m, weighted=True) for m in example.messages]
        }
        if example.tools:
            record["tools"] = list(example.tools)
        return record
    if isinstance(example, PreferenceExample):
        record = {
            "prompt": [_message(m) for m in example.prompt],
            "chosen": [_message(m) for m in example.chosen],
            "rejected": [_message(m) for m in example.rejected],
        }
        if example.margin is not None:
            record["margin"] = example.margin
        if example.tools:
            record["tools"] = list(example.tools)
        return record
    if isinstance(example, FeedbackExample):
        return {
            "prompt": [_message(m) for m in example.prompt],
            "completion": [_message(m) for m in example.completion],
            "label": example.desirable,
        }
    if isinstance(example, CompletionExample):
        return {"prompt": example.prompt, "completion": example.completion}
    return {"text": example.text}


def texts(example: Example) -> list[tuple[str, str]]:
    """(role, text) of every piece of text in the example, in order; plain text has the
    role "text", a completion's prompt and answer "user" and "assistant"."""
    if isinstance(example, TextExample):
        return [("text", example.text)]
    if isinstance(example, CompletionExample):
        return [("user", example.prompt), ("assistant", example.completion)]
    return [(m.role, message_text(m)) for m in messages_of(example)]


def message_text(message: Message) -> str:
    """What a message writes into the sequence: its content, then each tool call as JSON.
    A call is what the model learns to write, so lengths, duplicates and near-duplicates
    count it like any reply: a turn that only calls a tool is not an empty turn."""
    calls = [call_json(call) for call in message.extra.get("tool_calls") or ()]
    return "\n".join(([message.content] if message.content else []) + calls)


def map_texts(example: Example, change, *, tool_arguments: bool = False) -> Example:
    """The example with `change(text)` applied to every piece of text, and with
    `tool_arguments` to the string values in its tool calls' arguments too; the same
    object when nothing changed (the common case, and cheap to test with `is`)."""
    if isinstance(example, TextExample):
        text = change(example.text)
        return example if text == example.text else TextExample(text)
    if isinstance(example, CompletionExample):
        prompt, completion = change(example.prompt), change(example.completion)
        if prompt == example.prompt and completion == example.completion:
            return example
        return CompletionExample(prompt, completion)

    def changed(messages: tuple[Message, ...]) -> tuple[Message, ...] | None:
        return _changed(messages, change, tool_arguments)

    if isinstance(example, ChatExample):
        messages = changed(example.messages)
        return example if messages is None else replace(example, messages=messages)
    if isinstance(example, PreferenceExample):
        prompt, chosen, rejected = (
            changed(example.prompt), changed(example.chosen), changed(example.rejected)
        )  # fmt: skip
        if prompt is chosen is rejected is None:
            return example
        return replace(
            example,
            prompt=prompt or example.prompt,
            chosen=chosen or example.chosen,
            rejected=rejected or example.rejected,
        )
    prompt, completion = changed(example.prompt), changed(example.completion)
    if prompt is completion is None:
        return example
    return replace(
        example, prompt=prompt or example.prompt, completion=completion or example.completion
    )


def _changed(
    messages: tuple[Message, ...], change, tool_arguments: bool
) -> tuple[Message, ...] | None:
    """The messages with changed texts, or None when no text changed."""
    out, any_changed = [], False
    for m in messages:
        content = change(m.content) if m.content else m.content
        calls = m.extra.get("tool_calls") if tool_arguments else None
        new_calls = map_call_arguments(calls, change) if calls else None
        if content == m.content and new_calls is None:
            out.append(m)
            continue
        any_changed = True
        extra = m.extra if new_calls is None else {**m.extra, "tool_calls": new_calls}
        out.append(Message(m.role, content, m.weight, extra))
    return tuple(out) if any_changed else None


def messages_of(example: ChatExample | PreferenceExample | FeedbackExample) -> list[Message]:
    if isinstance(example, ChatExample):
        return list(example.messages)
    if isinstance(example, PreferenceExample):
        return [*example.prompt, *example.chosen, *example.rejected]
    return [*example.prompt, *example.completion]


def prompt_and_reply(example: Example) -> tuple[str, str | None]:
    """The turn being answered, and the prose of the reply the model is taught to give,
    for the quality heuristics. None when there is no prose to judge: an undesirable KTO
    completion teaches no reply, and a reply that only calls tools is JSON, which the
    heuristics for prose (words, symbols) would call too short or mostly symbols."""
    if isinstance(example, TextExample):
        return "", example.text
    if isinstance(example, CompletionExample):
        return example.prompt, example.completion
    if isinstance(example, ChatExample):
        last = max(i for i, m in enumerate(example.messages) if m.trained)
        return _last_content(example.messages[:last]), _prose(example.messages[last : last + 1])
    if isinstance(example, PreferenceExample):
        return _last_content(example.prompt), _prose(example.chosen)
    reply = _prose(example.completion) if example.desirable else None
    return _last_content(example.prompt), reply


def _prose(reply: tuple[Message, ...]) -> str | None:
    text = _joined(reply)
    return None if not text and any(m.extra.get("tool_calls") for m in reply) else text


def prompt_text(example: Example) -> str:
    """Everything the model is shown before its reply: what the split groups by, so one
    prompt never lands in two splits."""
    if isinstance(example, TextExample):
        return example.text
    if isinstance(example, CompletionExample):
        return example.prompt
    if isinstance(example, ChatExample):
        last = max(i for i, m in enumerate(example.messages) if m.trained)
        return _joined(example.messages[:last])
    return _joined(example.prompt)


def _last_content(messages) -> str:
    return next((m.content for m in reversed(messages) if m.content), "")


def _joined(messages) -> str:
    return "\n".join(m.content for m in messages if m.content)


def _message(message: Message, weighted: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role}
    if message.content or "tool_calls" not in message.extra:
        out["content"] = message.content
    out.update(message.extra)
    if weighted and message.role == "assistant" and message.weight == 0:
        out["weight"] = 0
    return out
