"""Tool definitions and tool calls: read as files write them, checked, and rendered.

Files write tools two ways. OpenAI chat files carry `tools` as a list of
`{"type": "function", "function": {name, description, parameters}}` and calls as an
assistant message's `tool_calls`, with `arguments` a JSON string. ShareGPT files (Glaive,
LLaMA-Factory) carry `tools` as a JSON *string* of bare `{name, description, parameters}`
objects, a call as a `function_call` turn whose value is the JSON `{"name", "arguments"}`,
and the result as an `observation` turn. Both become the OpenAI shape here, so one
renderer serves both.

Rendering goes through the chat template's own `tools` argument, in the shape Hugging
Face templates expect (arguments as a dict). Many templates (SmolLM2's among them) render
neither tools nor calls and drop them without a word, which would train the model on a
reply with its call cut out: `require_tool_support` refuses that, and `inline_tools` is
the fallback a user can pick instead (`data.tool_format: json`), writing tools and calls
into the text in the Hermes function-calling layout (`<tools>`, `<tool_call>`,
`<tool_response>`), which any template can render.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from tuneforge.errors import DataError

TOOL_FORMATS = ("template", "json")
PROBE_NAME = "tuneforge_probe_function"


def parse_tools(raw: Any, path: str, line: int, key: str = "tools") -> tuple[dict, ...] | None:
    """The record's tool definitions in OpenAI's shape; None when there are none. A JSON
    string (ShareGPT's way) is decoded first; bare functions are wrapped."""
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else []
        except json.JSONDecodeError as exc:
            message = f"expected a list of tool definitions, or a JSON string of one: {exc.msg}"
            raise DataError(path, line, key, message) from None
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise DataError(path, line, key, "expected a list of tool definitions")
    tools = tuple(_tool(item, path, line, f"{key}[{i}]") for i, item in enumerate(raw))
    return tools or None


def _tool(item: Any, path: str, line: int, where: str) -> dict:
    if not isinstance(item, dict):
        raise DataError(path, line, where, f"expected an object, got {type(item).__name__}")
    if item.get("type", "function") != "function":
        return item  # other tool types (a code interpreter, ...) pass through untouched
    function = item.get("function", item)
    inner = f"{where}.function" if "function" in item else where
    if not isinstance(function, dict):
        raise DataError(path, line, inner, "expected an object with name and parameters")
    name = function.get("name")
    if not isinstance(name, str) or not name.strip():
        raise DataError(path, line, f"{inner}.name", "missing (every tool needs a name)")
    return {"type": "function", "function": function}


def parse_tool_calls(raw: Any, path: str, line: int, key: str) -> list[dict]:
    """An assistant message's `tool_calls`, checked: a non-empty list of function calls,
    each with a name and arguments that are a JSON object (as a string or already decoded)."""
    if not isinstance(raw, list) or not raw:
        raise DataError(path, line, key, "expected a non-empty list of tool calls")
    for i, call in enumerate(raw):
        where = f"{key}[{i}]"
        if not isinstance(call, dict):
            raise DataError(path, line, where, f"expected an object, got {type(call).__name__}")
        function = call.get("function")
        if not isinstance(function, dict):
            raise DataError(path, line, f"{where}.function", "missing (expected name, arguments)")
        if not isinstance(function.get("name"), str) or not function["name"].strip():
            raise DataError(path, line, f"{where}.function.name", "missing")
        _arguments(function.get("arguments"), path, line, f"{where}.function.arguments")
    return raw


def _arguments(raw: Any, path: str, line: int, where: str) -> dict:
    if raw is None:
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            raise DataError(path, line, where, f"not valid JSON: {exc.msg}") from None
    if not isinstance(raw, dict):
        raise DataError(path, line, where, f"expected a JSON object, got {type(raw).__name__}")
    return raw


def sharegpt_call(value: str, path: str, line: int, where: str, first_id: str) -> list[dict]:
    """A ShareGPT `function_call` turn's value (`{"name", "arguments"}`, or a list of them
    for parallel calls) as OpenAI tool calls, the first with id `first_id` ("call_3"),
    the next ones numbered on from it."""
    try:
        decoded = json.loads(value)
    except json.JSONDecodeError as exc:
        raise DataError(path, line, where, f"function call is not valid JSON: {exc.msg}") from None
    calls = decoded if isinstance(decoded, list) else [decoded]
    prefix, _, number = first_id.rpartition("_")
    out = []
    for offset, call in enumerate(calls):
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise DataError(path, line, where, 'expected {"name": ..., "arguments": {...}}')
        arguments = _arguments(call.get("arguments"), path, line, where)
        out.append({
            "id": f"{prefix}_{int(number) + offset}",
            "type": "function",
            "function": {"name": call["name"], "arguments": json.dumps(arguments)},
        })  # fmt: skip
    return out


def template_calls(tool_calls: list[dict]) -> list[dict]:
    """Tool calls as Hugging Face chat templates read them: arguments decoded to a dict
    (templates write `arguments | tojson`, which would quote a JSON string twice)."""
    rendered = []
    for call in tool_calls:
        function = dict(call.get("function") or {})
        if isinstance(function.get("arguments"), str):
            function["arguments"] = _arguments(function["arguments"], "", 0, "arguments")
        rendered.append({**call, "function": function})
    return rendered


def map_call_arguments(tool_calls: list[dict], change) -> list[dict] | None:
    """The calls with `change(text)` applied to every string value inside their arguments
    (at any depth; keys and function names stay as they are), each argument kept in its
    form (a JSON string stays a JSON string); None when nothing changed. Arguments are
    where a call carries what the user said: an email's recipient, a booking's phone."""
    changed, out = False, []
    for call in tool_calls:
        function = call.get("function") or {}
        raw = function.get("arguments")
        decoded = _arguments(raw, "", 0, "arguments") if isinstance(raw, str) else raw
        mapped = _map_strings(decoded, change)
        if mapped == decoded:
            out.append(call)
            continue
        changed = True
        value = json.dumps(mapped, ensure_ascii=False) if isinstance(raw, str) else mapped
        out.append({**call, "function": {**function, "arguments": value}})
    return out if changed else None


def _map_strings(value: Any, change) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {key: _map_strings(item, change) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_strings(item, change) for item in value]
    return value


def call_json(call: dict) -> str:
    """One tool call as the model writes it: `{"name": ..., "arguments": {...}}`, the JSON
    of the fallback's `<tool_call>` and of templates that write a call with `tojson`."""
    function = template_calls([call])[0]["function"]
    return json.dumps({"name": function["name"], "arguments": function.get("arguments")})


def tool_names(example) -> list[str]:
    """Names of the example's tool definitions (for `data inspect`)."""
    tools = getattr(example, "tools", None) or ()
    return [t.get("function", t).get("name", "?") for t in tools]


def uses_tools(example) -> bool:
    """Whether an example (any kind with messages) carries tool definitions or calls."""
    if getattr(example, "tools", None):
        return True
    messages = getattr(example, "messages", ())
    return any("tool_calls" in m.extra for m in messages)


def require_tool_support(tokenizer, example, where: str) -> None:
    """Refuse an example whose tools or calls the chat template would silently drop."""
    renders_tools, renders_calls = template_tool_support(tokenizer)
    missing = []
    if example.tools and not renders_tools:
        missing.append("tool definitions")
    if not renders_calls and any("tool_calls" in m.extra for m in example.messages):
        missing.append("tool calls")
    if missing:
        raise DataError(
            where, None, "tools" if example.tools and not renders_tools else "tool_calls",
            f"the model's chat template does not render {' or '.join(missing)}, so they "
            "would be dropped from what the model learns; use a model whose template "
            "supports tools, or set data.tool_format=json (--tool-format json) to write "
            "them into the text as JSON",
        )  # fmt: skip


def template_tool_support(tokenizer) -> tuple[bool, bool]:
    """(renders tool definitions, renders tool calls), found once per template by
    rendering a probe tool and a probe call and looking for them in the text."""
    key = (tokenizer.chat_template or "", tokenizer.bos_token, tokenizer.eos_token)
    if key not in _SUPPORT:
        _SUPPORT[key] = _render_probe(tokenizer)
    return _SUPPORT[key]


_SUPPORT: dict[tuple, tuple[bool, bool]] = {}


def _render_probe(tokenizer) -> tuple[bool, bool]:
    tool = {
        "type": "function",
        "function": {"name": PROBE_NAME, "description": "probe", "parameters": {}},
    }
    call = {"id": "call_0", "type": "function",
            "function": {"name": PROBE_NAME, "arguments": {"probe_arg": 1}}}  # fmt: skip
    user = {"role": "user", "content": "hi"}
    try:
        with_tools = tokenizer.apply_chat_template([user], tools=[tool], tokenize=False)
    except Exception:  # a template that raises on tools renders none
        with_tools = ""
    try:
        with_call = tokenizer.apply_chat_template(
            [user, {"role": "assistant", "content": "", "tool_calls": [call]}], tokenize=False
        )
    except Exception:
        with_call = ""
    return PROBE_NAME in with_tools, PROBE_NAME in with_call and "probe_arg" in with_call


def inline_tools(example):
    """The example with tools and calls written into the text (Hermes layout): the tool
    definitions in the system message, each call as `<tool_call>` JSON in its assistant
    turn, each result as a user turn in `<tool_response>`, which every template renders.
    Trained spans stay the assistant turns, so the calls are learned and results are not."""
    from tuneforge.data.records import Message

    messages = list(example.messages)
    if example.tools:
        listing = "\n".join(json.dumps(t.get("function", t)) for t in example.tools)
        preamble = (
            "You may call one or more functions. Function signatures are within <tools></tools>:"
            f"\n<tools>\n{listing}\n</tools>\nTo call a function, reply with a JSON object "
            'within <tool_call></tool_call>: {"name": <function-name>, "arguments": <args>}'
        )
        if messages and messages[0].role == "system":
            first = messages[0]
            messages[0] = replace(first, content=f"{first.content}\n\n{preamble}")
        else:
            messages.insert(0, Message("system", preamble))
    inlined = []
    for message in messages:
        extra = {k: v for k, v in message.extra.items() if k not in ("tool_calls", "tool_call_id")}
        if "tool_calls" in message.extra:
            calls = [
                f"<tool_call>\n{call_json(call)}\n</tool_call>"
                for call in message.extra["tool_calls"]
            ]
            content = "\n".join(([message.content] if message.content else []) + calls)
            inlined.append(replace(message, content=content, extra=extra))
        elif message.role == "tool":
            content = f"<tool_response>\n{message.content}\n</tool_response>"
            inlined.append(Message("user", content, 0, {}))
        else:
            inlined.append(message)
    return replace(example, messages=tuple(inlined), tools=None)
