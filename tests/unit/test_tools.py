"""Tool-calling data is trained as it is written: definitions kept, calls kept as calls,
rendered by the template's own tools support or, when chosen, written in as JSON."""

from __future__ import annotations

import copy
import json

import pytest

from tuneforge.data.records import ChatExample, parse_record
from tuneforge.data.serialise import to_json
from tuneforge.data.templating import IGNORE, tokenize_examples
from tuneforge.data.tools import template_tool_support
from tuneforge.errors import DataError

AREA = {
    "name": "calculate_area",
    "description": "Area of a shape",
    "parameters": {"type": "object", "properties": {"shape": {"type": "string"}}},
}
# The shape of LLaMA-Factory's glaive_toolcall_en_demo.json: tools as a JSON string of bare
# functions, a call as a function_call turn, its result as an observation turn.
GLAIVE = {
    "conversations": [
        {"from": "human", "value": "Area of a 5 by 3 rectangle?"},
        {"from": "function_call", "value": json.dumps(
            {"name": "calculate_area", "arguments": {"shape": "rectangle", "dims": [5, 3]}})},
        {"from": "observation", "value": '{"area": 15}'},
        {"from": "gpt", "value": "The area is 15."},
    ],
    "tools": json.dumps([AREA]),
}  # fmt: skip

# A template in the Hermes layout that renders tools and calls, as Qwen's and Hermes' do.
TOOL_TEMPLATE = (
    "{% if tools %}<|im_start|>system\n<tools>{% for t in tools %}{{ t | tojson }}{% endfor %}"
    "</tools><|im_end|>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{% if m.content %}{{ m.content }}{% endif %}"
    "{% for c in m.tool_calls or [] %}<tool_call>{{ c.function | tojson }}</tool_call>{% endfor %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture
def tool_tokenizer(tokenizer):
    tool_aware = copy.deepcopy(tokenizer)
    tool_aware.chat_template = TOOL_TEMPLATE
    return tool_aware


def decoded(tokenizer, example, trained: bool) -> str:
    """The text of the trained (or untrained) tokens of a tokenized example."""
    shifted = [False] + [t != IGNORE for t in example.targets[:-1]]
    ids = [
        i for i, is_trained in zip(example.input_ids, shifted, strict=True) if is_trained == trained
    ]
    return tokenizer.decode(ids)


def test_sharegpt_tool_calls_become_openai_calls_with_their_results():
    example = parse_record(GLAIVE, "glaive.json", 3)
    assert isinstance(example, ChatExample)
    assert example.tools == ({"type": "function", "function": AREA},)
    user, call, result, answer = example.messages
    (tool_call,) = call.extra["tool_calls"]
    assert call.role == "assistant" and call.trained
    assert tool_call["function"]["name"] == "calculate_area"
    assert json.loads(tool_call["function"]["arguments"]) == {"shape": "rectangle", "dims": [5, 3]}
    assert (result.role, result.extra) == ("tool", {"tool_call_id": tool_call["id"]})
    assert answer.content == "The area is 15."


def test_prepared_records_keep_tools_and_calls():
    example = parse_record(GLAIVE, "glaive.json", 3)
    record = to_json(example)
    assert record["tools"] == [{"type": "function", "function": AREA}]
    assert "tool_calls" in record["messages"][1] and "content" not in record["messages"][1]
    assert parse_record(record, "prepared.jsonl", 1) == example


def test_a_template_without_tools_support_is_refused_not_silently_dropped(tokenizer):
    assert template_tool_support(tokenizer) == (False, False)  # SmolLM2's ChatML template
    example = parse_record(GLAIVE, "glaive.json", 3)
    with pytest.raises(DataError, match="does not render tool definitions or tool calls"):
        tokenize_examples([example], tokenizer, 512)


def test_calls_are_trained_and_results_are_not_through_the_template(tool_tokenizer):
    assert template_tool_support(tool_tokenizer) == (True, True)
    example = parse_record(GLAIVE, "glaive.json", 3)
    (tokenized,), _ = tokenize_examples([example], tool_tokenizer, 512)
    trained, context = (
        decoded(tool_tokenizer, tokenized, True),
        decoded(tool_tokenizer, tokenized, False),
    )
    assert "calculate_area" in context.split("<|im_start|>user")[0]  # the definition, rendered
    assert '<tool_call>{"name": "calculate_area"' in trained
    assert '"dims": [5, 3]' in trained  # arguments rendered as JSON, not a quoted string
    assert '{"area": 15}' in context and '{"area": 15}' not in trained
    assert "The area is 15." in trained


def test_json_tool_format_writes_tools_into_any_template(tokenizer):
    example = parse_record(GLAIVE, "glaive.json", 3)
    (tokenized,), _ = tokenize_examples([example], tokenizer, 512, tool_format="json")
    trained, context = decoded(tokenizer, tokenized, True), decoded(tokenizer, tokenized, False)
    assert "<tools>" in context and '"name": "calculate_area"' in context
    assert "<tool_call>" in trained and '"shape": "rectangle"' in trained
    assert "<tool_response>" in context and "<tool_response>" not in trained


@pytest.mark.parametrize(
    ("call", "field"),
    [
        ({"id": "1", "type": "function"}, "messages[1].tool_calls[0].function"),
        ({"id": "1", "function": {"arguments": "{}"}}, "messages[1].tool_calls[0].function.name"),
        (
            {"id": "1", "function": {"name": "f", "arguments": "{not json"}},
            "messages[1].tool_calls[0].function.arguments",
        ),
    ],
)
def test_malformed_openai_tool_calls_name_their_field(call, field):
    record = {
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "tool_calls": [call]},
            {"role": "tool", "content": "42", "tool_call_id": "1"},
            {"role": "assistant", "content": "42."},
        ]
    }
    with pytest.raises(DataError) as raised:
        parse_record(record, "chat.jsonl", 7)
    assert raised.value.field == field and raised.value.line == 7


def test_a_function_call_that_is_not_json_is_an_error_on_its_turn():
    record = copy.deepcopy(GLAIVE)
    record["conversations"][1]["value"] = "calculate_area(5, 3)"
    with pytest.raises(DataError, match="function call is not valid JSON") as raised:
        parse_record(record, "glaive.json", 3)
    assert raised.value.field == "conversations[1].value"
