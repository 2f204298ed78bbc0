"""Typed training examples, and their conversion from raw JSON objects with exact errors.

Supervised shapes (kind "sft"):
- ChatExample: a conversation; assistant turns are trained unless their weight is 0;
- CompletionExample: raw text prompt + completion, only the completion is trained;
- TextExample: plain text (continued pretraining), every token is trained.
Preference shapes: PreferenceExample (kind "preference": a prompt with a chosen and a
rejected reply) and FeedbackExample (kind "kto": one reply labelled desirable or not).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tuneforge.data.formats import FORMATS, detect_format
from tuneforge.data.preference_formats import PAIR_FORMATS, detect_pair_format, feedback
from tuneforge.data.tools import parse_tool_calls, parse_tools, template_calls
from tuneforge.errors import DataError

ROLES = ("system", "user", "assistant", "tool")
MESSAGE_KEYS = {"role", "content", "weight", "name", "tool_calls", "tool_call_id"}
CHAT_RECORD_KEYS = {"messages", "tools", "id", "parallel_tool_calls", "metadata"}
"""The keys of an OpenAI chat record that readers use (KTO records add `label`)."""

# Unknown keys follow the rule of OpenAI's own format checks (data/openai_checks.py),
# so validate, prepare and train agree on every file:
# - inside a message, an unknown key is an error (`message_unrecognized_key`): the record
#   is refused by parse_messages, so validate reports an error, prepare removes the
#   record and train stops at it;
# - beside `messages`, it fails none of OpenAI's checks: the record is valid, and the key
#   is a warning in validate, counted and left out of prepare's output, ignored by train.


def unknown_record_keys(obj: Any) -> list[str]:
    """Keys beside `messages` that no reader uses: a warning in `data validate`, counted
    and left out by `data prepare`, ignored by training (the rule above). Other formats
    keep their own extra columns."""
    if not isinstance(obj, dict) or "messages" not in obj:
        return []
    return sorted(set(obj) - CHAT_RECORD_KEYS - ({"label"} if "label" in obj else set()))


@dataclass(frozen=True)
class Message:
    role: str
    content: str
    weight: int = 1
    """OpenAI semantics: assistant messages with weight 0 are context, not targets."""
    extra: dict[str, Any] = field(default_factory=dict)
    """name, tool_calls, tool_call_id: passed through to the chat template."""

    def as_template_dict(self) -> dict[str, Any]:
        rendered = {"role": self.role, "content": self.content, **self.extra}
        if "tool_calls" in self.extra:
            rendered["tool_calls"] = template_calls(self.extra["tool_calls"])
        return rendered

    @property
    def trained(self) -> bool:
        return self.role == "assistant" and self.weight == 1


@dataclass(frozen=True)
class ChatExample:
    messages: tuple[Message, ...]
    tools: tuple[dict, ...] | None = None


@dataclass(frozen=True)
class CompletionExample:
    prompt: str
    completion: str


@dataclass(frozen=True)
class TextExample:
    text: str


@dataclass(frozen=True)
class PreferenceExample:
    prompt: tuple[Message, ...]
    chosen: tuple[Message, ...]
    rejected: tuple[Message, ...]
    margin: float | None = None
    """How much better chosen is (from scores), for reward models trained with a margin."""
    tools: tuple[dict, ...] | None = None


@dataclass(frozen=True)
class FeedbackExample:
    prompt: tuple[Message, ...]
    completion: tuple[Message, ...]
    desirable: bool


Example = ChatExample | CompletionExample | TextExample | PreferenceExample | FeedbackExample
KINDS = ("sft", "preference", "kto")


def kind_of(example: Example) -> str:
    if isinstance(example, PreferenceExample):
        return "preference"
    if isinstance(example, FeedbackExample):
        return "kto"
    return "sft"


def parse_record(obj: Any, path: str, line: int) -> Example:
    """Turn one decoded JSON object into a typed example, or raise a DataError naming
    the file, line and field that is wrong. Ranked replies expand to several pairs:
    use `parse_records` for those."""
    examples = parse_records(obj, path, line)
    if len(examples) != 1:
        raise DataError(path, line, None, f"record expands to {len(examples)} examples")
    return examples[0]


SUPERVISED_FORMATS = ("openai", "prompt_completion", "text")
FORMAT_NAMES = (*SUPERVISED_FORMATS, *FORMATS, *PAIR_FORMATS, "kto")


def format_of(obj: dict[str, Any]) -> str:
    """The name of the record's format, detected from its keys ("unknown" if none fits)."""
    if "label" in obj and ("completion" in obj or "messages" in obj):
        return "kto"
    if name := detect_pair_format(obj) or ("openai" if "messages" in obj else detect_format(obj)):
        return name
    if "prompt" in obj or "completion" in obj:
        return "prompt_completion"
    return "text" if "text" in obj else "unknown"


def parse_records(obj: Any, path: str, line: int, format: str = "auto") -> list[Example]:
    """The typed examples of one decoded JSON object (one, except for ranked replies);
    `format` forces a format instead of detecting it from the keys."""
    if not isinstance(obj, dict):
        if isinstance(obj, str):
            raise DataError(
                path, line, None,
                'a bare JSON string, not a record: write {"text": "..."} for plain text or '
                '{"messages": [...]} for a conversation',
            )  # fmt: skip
        raise DataError(path, line, None, f"expected a JSON object, got {type(obj).__name__}")
    name = format_of(obj) if format == "auto" else format
    if name == "kto":
        if "label" not in obj:
            raise DataError(path, line, "label", "missing (KTO records are labelled true or false)")
        return [_parse_feedback(feedback(obj, path, line), path, line)]
    if name in PAIR_FORMATS:
        converted = PAIR_FORMATS[name](obj, path, line)
        pairs = converted if isinstance(converted, list) else [converted]
        return [_parse_pair(pair, path, line) for pair in pairs]
    if name in FORMATS:
        obj = {"messages": FORMATS[name](obj, path, line), "tools": obj.get("tools")}
    elif format == "auto" and name == "prompt_completion" and "completion" not in obj:
        raise DataError(path, line, "completion", PROMPT_ONLY)
    elif name in SUPERVISED_FORMATS and _FORMAT_KEYS[name] not in obj:
        raise DataError(path, line, _FORMAT_KEYS[name], f"missing (required by format {name})")
    elif name not in SUPERVISED_FORMATS and name != "unknown":
        raise DataError(
            path, line, None, f"unknown format {name!r}; expected one of {FORMAT_NAMES}"
        )
    return [_parse_supervised(obj, path, line)]


PROMPT_ONLY = (
    "missing: a prompt-only record has no reply to learn; add a completion, or train a "
    "method that writes its own replies on prompts (grpo, ppo: --method grpo)"
)
_FORMAT_KEYS = {"openai": "messages", "prompt_completion": "completion", "text": "text"}


def _parse_pair(pair: dict, path: str, line: int) -> PreferenceExample:
    prompt = parse_messages(pair["prompt"], path, line, "prompt", trained=False)
    chosen = _parse_reply(pair["chosen"], path, line, "chosen")
    rejected = _parse_reply(pair["rejected"], path, line, "rejected")
    if chosen == rejected:
        raise DataError(
            path, line, "rejected", "identical to chosen, so there is nothing to prefer"
        )
    tools = parse_tools(pair.get("tools"), path, line)
    margin = pair.get("margin")
    if margin is not None and (isinstance(margin, bool) or not isinstance(margin, (int, float))):
        raise DataError(path, line, "margin", f"expected a number, got {margin!r}")
    return PreferenceExample(prompt, chosen, rejected, margin, tools)


def _parse_feedback(record: dict, path: str, line: int) -> FeedbackExample:
    prompt = parse_messages(record["prompt"], path, line, "prompt", trained=False)
    completion = _parse_reply(record["completion"], path, line, "completion")
    return FeedbackExample(prompt, completion, record["label"])


def _parse_reply(raw: Any, path: str, line: int, key: str) -> tuple[Message, ...]:
    reply = parse_messages(raw, path, line, key)
    if reply[0].role != "assistant":
        raise DataError(
            path,
            line,
            f"{key}[0].role",
            f"a reply starts with an assistant turn, got {reply[0].role!r}",
        )
    return reply


def _parse_supervised(obj: dict, path: str, line: int) -> Example:
    if "messages" in obj:
        messages = parse_messages(obj["messages"], path, line, "messages")
        _require_target(messages, path, line)
        if messages[0].trained:
            # Its trained span starts after the rendering of the turns before it: none.
            raise DataError(
                path, line, "messages[0]",
                "the conversation starts with a trained assistant message, so there is no "
                "prompt to learn it from; put a system or user message first, or give it weight 0",
            )  # fmt: skip
        return ChatExample(messages, parse_tools(obj.get("tools"), path, line))
    if "prompt" in obj or "completion" in obj:
        return _parse_prompt_completion(obj, path, line)
    if "text" in obj:
        return TextExample(_nonempty_string(obj["text"], path, line, "text"))
    raise DataError(
        path,
        line,
        None,
        f"unrecognised record with keys {sorted(obj)}; expected 'messages' (OpenAI chat), "
        "'conversations' (ShareGPT), 'instruction' + 'output' (Alpaca), 'instruction' + "
        "'response' (Dolly), 'prompt' + 'completion', 'text', 'chosen' + 'rejected' "
        "(preference) or 'label' (KTO)",
    )


def _parse_prompt_completion(obj: dict, path: str, line: int) -> Example:
    if "completion" not in obj:
        raise DataError(path, line, "completion", PROMPT_ONLY)
    if "prompt" not in obj:
        raise DataError(path, line, "prompt", "missing (records with a completion need a prompt)")
    prompt, completion = obj["prompt"], obj["completion"]
    if isinstance(prompt, list) and isinstance(completion, list):
        # Conversational prompt/completion (TRL style): the completion turns are trained.
        context = parse_messages(prompt, path, line, "prompt", trained=False)
        answer = parse_messages(completion, path, line, "completion")
        _require_target(answer, path, line, field="completion")
        return ChatExample(context + answer)
    return CompletionExample(
        _nonempty_string(prompt, path, line, "prompt", allow_empty=True),
        _nonempty_string(completion, path, line, "completion"),
    )


def parse_messages(
    raw: Any, path: str, line: int, key: str, trained: bool = True
) -> tuple[Message, ...]:
    if not isinstance(raw, list):
        raise DataError(path, line, key, f"expected a list of messages, got {type(raw).__name__}")
    if not raw:
        raise DataError(path, line, key, "empty conversation: expected at least one message")
    messages = []
    for i, item in enumerate(raw):
        where = f"{key}[{i}]"
        if not isinstance(item, dict):
            raise DataError(path, line, where, f"expected an object, got {type(item).__name__}")
        unknown = set(item) - MESSAGE_KEYS
        if unknown:
            raise DataError(
                path, line, f"{where}.{sorted(unknown)[0]}", f"unknown key; expected {MESSAGE_KEYS}"
            )
        if "role" not in item:
            raise DataError(path, line, f"{where}.role", "missing")
        role = item["role"]
        if role not in ROLES:
            raise DataError(
                path, line, f"{where}.role", f"unknown role {role!r}; expected one of {ROLES}"
            )
        extra = {k: item[k] for k in ("name", "tool_calls", "tool_call_id") if k in item}
        if "tool_calls" in extra:
            if role != "assistant":
                message = "only assistant messages call tools"
                raise DataError(path, line, f"{where}.tool_calls", message)
            parse_tool_calls(extra["tool_calls"], path, line, f"{where}.tool_calls")
        content = item.get("content")
        if content is None and not (role == "assistant" and extra.get("tool_calls")):
            raise DataError(path, line, f"{where}.content", "missing")
        if content is not None and not isinstance(content, str):
            raise DataError(
                path, line, f"{where}.content", f"expected a string, got {type(content).__name__}"
            )
        weight = item.get("weight", 1 if trained else 0)
        if weight not in (0, 1) or isinstance(weight, bool):
            raise DataError(path, line, f"{where}.weight", f"expected 0 or 1, got {weight!r}")
        if "weight" in item and role != "assistant":
            raise DataError(path, line, f"{where}.weight", "only assistant messages take a weight")
        messages.append(Message(role, content or "", weight if trained else 0, extra))
    return tuple(messages)


def _require_target(messages: tuple[Message, ...], path: str, line: int, field="messages") -> None:
    if not any(m.trained for m in messages):
        raise DataError(
            path, line, field, "no assistant message to learn from (all missing or weight 0)"
        )


def _nonempty_string(value: Any, path: str, line: int, key: str, allow_empty=False) -> str:
    if not isinstance(value, str):
        raise DataError(path, line, key, f"expected a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise DataError(path, line, key, "empty")
    return value
