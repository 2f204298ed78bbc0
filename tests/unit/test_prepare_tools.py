"""`data prepare` keeps tool-calling records: a turn that only calls a tool is trained
content, so the length filter, the empty-text check and the quality heuristics must not
take it for an empty reply. Both shapes files write tools in: LLaMA-Factory's Glaive
ShareGPT (`function_call` / `observation` turns, `tools` as a JSON string) and OpenAI
chat (`tool_calls`, `role: tool`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import TINY, write_jsonl
from tests.unit.test_tools import AREA
from tuneforge.config.prepare import PrepareConfig
from tuneforge.data.prepare import prepare
from tuneforge.data.records import ChatExample, Message, parse_record
from tuneforge.data.serialise import message_text, texts

SIDES = ((5, 3), (7, 2), (4, 9))


def glaive(width: int, height: int) -> dict:
    call = {"name": "calculate_area", "arguments": {"shape": "rectangle", "dims": [width, height]}}
    return {
        "conversations": [
            {"from": "human", "value": f"What is the area of a {width} by {height} rectangle?"},
            {"from": "function_call", "value": json.dumps(call)},
            {"from": "observation", "value": json.dumps({"area": width * height})},
            {"from": "gpt", "value": f"The rectangle covers {width * height} square units."},
        ],
        "tools": json.dumps([AREA]),
    }


def openai_chat(width: int, height: int, answered: bool = True) -> dict:
    arguments = json.dumps({"shape": "rectangle", "dims": [width, height]})
    call = {"id": "call_1", "type": "function",
            "function": {"name": "calculate_area", "arguments": arguments}}  # fmt: skip
    messages = [
        {"role": "user", "content": f"How large is a {width} by {height} rectangle?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
    ]
    if answered:
        messages += [
            {"role": "tool", "tool_call_id": "call_1", "content": str(width * height)},
            {"role": "assistant", "content": f"It measures {width * height} square units."},
        ]
    return {"messages": messages, "tools": [{"type": "function", "function": AREA}]}


def prepared(tmp_path: Path, name: str, records: list[dict]) -> list[dict]:
    source = tmp_path / name
    if name.endswith(".json"):
        source.write_text(json.dumps(records, indent=1))
    else:
        write_jsonl(source, records)
    cfg = PrepareConfig(model=TINY, num_proc=1, split=(1.0, 0.0, 0.0))
    result = prepare(str(source), tmp_path / "out", cfg)
    assert result.report["records_written"] == len(records), result.report["steps"]
    return [json.loads(line) for line in (tmp_path / "out" / "train.jsonl").open()]


def calls_of(record: dict) -> list[dict]:
    return [call for m in record["messages"] for call in m.get("tool_calls", [])]


@pytest.mark.parametrize(
    ("name", "make"),
    [("glaive_toolcall.json", glaive), ("openai_tools.jsonl", openai_chat)],
    ids=["glaive-sharegpt", "openai-chat"],
)
def test_tool_records_survive_prepare_with_tools_and_calls_kept(tmp_path, name, make):
    records = prepared(tmp_path, name, [make(*sides) for sides in SIDES])
    for record in records:
        assert record["tools"] == [{"type": "function", "function": AREA}]
        (call,) = calls_of(record)
        assert call["function"]["name"] == "calculate_area"
        assert [m["role"] for m in record["messages"]] == ["user", "assistant", "tool", "assistant"]
        assert "content" not in record["messages"][1]  # still a call, not text
    dims = sorted(json.loads(calls_of(r)[0]["function"]["arguments"])["dims"] for r in records)
    assert dims == sorted([list(sides) for sides in SIDES])


def test_a_conversation_ending_in_a_call_is_kept(tmp_path):
    # OpenAI's own tool-calling examples end with the call: it is the reply being learned,
    # and the quality heuristics for prose must not call it a short reply.
    records = [openai_chat(*sides, answered=False) for sides in SIDES]
    kept = prepared(tmp_path, "calls.jsonl", records)
    assert sorted(json.dumps(calls_of(r)) for r in kept) == sorted(
        json.dumps(calls_of(r)) for r in records
    )


def test_a_call_counts_as_the_text_of_its_turn():
    example = parse_record(openai_chat(5, 3), "chat.jsonl", 1)
    assert isinstance(example, ChatExample)
    role, text = texts(example)[1]
    assert role == "assistant"
    assert json.loads(text) == {
        "name": "calculate_area",
        "arguments": {"shape": "rectangle", "dims": [5, 3]},
    }
    both = Message("assistant", "Let me compute that.", extra=example.messages[1].extra)
    assert message_text(both) == f"Let me compute that.\n{text}"


def email_call(i: int) -> dict:
    """An assistant that sends an email: the recipient and a phone number exist only in the
    call's arguments (as a JSON string, nested one level), never in any message's text."""
    arguments = {"to": f"dana.lee{i}@fastmail.com", "body": {"callback": "+1 415-555-0132"}}
    call = {"id": "call_1", "type": "function",
            "function": {"name": "send_email", "arguments": json.dumps(arguments)}}  # fmt: skip
    return {
        "messages": [
            {"role": "user", "content": f"Tell my landlord the heating is broken (note {i})."},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sent"},
            {"role": "assistant", "content": "Done: your landlord has the message."},
        ],
        "tools": [{"type": "function", "function": {"name": "send_email", "parameters": {}}}],
    }


def test_personal_data_in_call_arguments_is_redacted_and_the_call_stays_a_call(tmp_path):
    records = [email_call(i) for i in range(3)]
    kept = prepared(tmp_path, "emails.jsonl", records)
    for record in kept:
        (call,) = calls_of(record)
        arguments = json.loads(call["function"]["arguments"])  # still JSON
        assert set(arguments) == {"to", "body"} and set(arguments["body"]) == {"callback"}
        assert "@" not in call["function"]["arguments"] and "555" not in json.dumps(arguments)
        assert call["function"]["name"] == "send_email"
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["pii_found"] == {"EMAIL": 3, "PHONE": 3}, report["pii_found"]


def test_personal_data_in_call_arguments_drops_the_record_when_asked(tmp_path):
    source = write_jsonl(tmp_path / "emails.jsonl", [email_call(0), openai_chat(5, 3)])
    cfg = PrepareConfig(model=TINY, num_proc=1, split=(1.0, 0.0, 0.0), pii="drop")
    result = prepare(str(source), tmp_path / "out", cfg)
    assert result.report["records_written"] == 1
    (record,) = [json.loads(line) for line in (tmp_path / "out" / "train.jsonl").open()]
    assert calls_of(record)[0]["function"]["name"] == "calculate_area"
