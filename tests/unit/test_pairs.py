"""Every preference and feedback shape is detected and becomes typed pairs or labelled
replies, with errors naming the field the user wrote."""

from __future__ import annotations

import pytest

from tests.helpers import write_jsonl
from tuneforge.data.kinds import as_kind
from tuneforge.data.readers import read_examples
from tuneforge.data.records import (
    ChatExample,
    FeedbackExample,
    Message,
    PreferenceExample,
    parse_record,
    parse_records,
)
from tuneforge.errors import DataError


def turns(messages: tuple[Message, ...]) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in messages]


def pair_of(record: dict) -> PreferenceExample:
    (example,) = parse_records(record, "pairs.jsonl", 1)
    assert isinstance(example, PreferenceExample)
    return example


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict:
    return {"role": "assistant", "content": text}


# --- prompt / chosen / rejected ----------------------------------------------------------


def test_prompt_chosen_rejected_strings_become_user_and_assistant_turns():
    pair = pair_of({"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Lyon."})
    assert turns(pair.prompt) == [("user", "Capital of France?")]
    assert turns(pair.chosen) == [("assistant", "Paris.")]
    assert turns(pair.rejected) == [("assistant", "Lyon.")]
    assert pair.margin is None and pair.tools is None


def test_prompt_is_context_and_replies_are_trained():
    pair = pair_of({"prompt": "q", "chosen": "good", "rejected": "bad"})
    assert [m.trained for m in pair.prompt] == [False]
    assert [m.trained for m in pair.chosen + pair.rejected] == [True, True]


def test_prompt_chosen_rejected_message_lists():
    pair = pair_of(
        {
            "prompt": [user("Hi"), assistant("Hello!"), user("2+2?")],
            "chosen": [assistant("4")],
            "rejected": [assistant("5")],
        }
    )
    assert turns(pair.prompt) == [("user", "Hi"), ("assistant", "Hello!"), ("user", "2+2?")]
    assert not any(m.trained for m in pair.prompt)
    assert turns(pair.chosen) == [("assistant", "4")]
    assert turns(pair.rejected) == [("assistant", "5")]


def test_top_level_system_opens_the_prompt():
    pair = pair_of({"system": "Be brief.", "prompt": "q", "chosen": "a", "rejected": "b"})
    assert turns(pair.prompt) == [("system", "Be brief."), ("user", "q")]


def test_implicit_prompt_is_the_shared_prefix():
    pair = pair_of(
        {
            "chosen": [user("Capital of France?"), assistant("Paris.")],
            "rejected": [user("Capital of France?"), assistant("Lyon.")],
        }
    )
    assert turns(pair.prompt) == [("user", "Capital of France?")]
    assert turns(pair.chosen) == [("assistant", "Paris.")]
    assert turns(pair.rejected) == [("assistant", "Lyon.")]


def test_implicit_prompt_keeps_earlier_assistant_turns_and_ends_before_the_replies():
    history = [user("Hi"), assistant("Hello!"), user("2+2?")]
    pair = pair_of({"chosen": [*history, assistant("4")], "rejected": [*history, assistant("5")]})
    assert turns(pair.prompt) == [("user", "Hi"), ("assistant", "Hello!"), ("user", "2+2?")]
    assert turns(pair.chosen) == [("assistant", "4")]
    assert turns(pair.rejected) == [("assistant", "5")]


def test_implicit_prompt_gives_a_shared_first_reply_turn_to_the_replies():
    """A shared assistant turn right before the split is the start of both replies:
    otherwise the replies would not start with an assistant turn."""
    pair = pair_of(
        {
            "chosen": [user("q"), assistant("Let me think."), assistant("Yes.")],
            "rejected": [user("q"), assistant("Let me think."), assistant("No.")],
        }
    )
    assert turns(pair.prompt) == [("user", "q")]
    assert turns(pair.chosen) == [("assistant", "Let me think."), ("assistant", "Yes.")]
    assert turns(pair.rejected) == [("assistant", "Let me think."), ("assistant", "No.")]


def test_implicit_prompt_needs_a_shared_prefix():
    with pytest.raises(DataError) as info:
        pair_of({"chosen": [user("a"), assistant("b")], "rejected": [user("c"), assistant("d")]})
    assert info.value.field == "chosen"
    assert "share no prompt" in str(info.value)


# --- OpenAI DPO --------------------------------------------------------------------------


def test_openai_dpo_with_tools():
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    pair = pair_of(
        {
            "input": {
                "messages": [{"role": "system", "content": "Be kind."}, user("Weather?")],
                "tools": tools,
                "parallel_tool_calls": True,
            },
            "preferred_output": [assistant("Let me check.")],
            "non_preferred_output": [assistant("No.")],
        }
    )
    assert turns(pair.prompt) == [("system", "Be kind."), ("user", "Weather?")]
    assert turns(pair.chosen) == [("assistant", "Let me check.")]
    assert turns(pair.rejected) == [("assistant", "No.")]
    assert pair.tools == tuple(tools)


# --- ShareGPT pairs (LLaMA-Factory) -------------------------------------------------------


def test_sharegpt_pairs_with_single_turn_replies():
    pair = pair_of(
        {
            "system": "Be brief.",
            "conversations": [
                {"from": "human", "value": "Hi"},
                {"from": "gpt", "value": "Hello!"},
                {"from": "human", "value": "2+2?"},
            ],
            "chosen": {"from": "gpt", "value": "4"},
            "rejected": {"from": "gpt", "value": "5"},
        }
    )
    assert turns(pair.prompt) == [
        ("system", "Be brief."),
        ("user", "Hi"),
        ("assistant", "Hello!"),
        ("user", "2+2?"),
    ]
    assert turns(pair.chosen) == [("assistant", "4")]
    assert turns(pair.rejected) == [("assistant", "5")]


def test_sharegpt_pairs_with_list_valued_replies():
    pair = pair_of(
        {
            "conversations": [{"from": "human", "value": "Weather in Paris?"}],
            "chosen": [
                {"from": "function_call", "value": '{"name": "weather"}'},
                {"from": "observation", "value": "sunny"},
                {"from": "gpt", "value": "Sunny."},
            ],
            "rejected": [{"from": "gpt", "value": "No idea."}],
        }
    )
    assert turns(pair.prompt) == [("user", "Weather in Paris?")]
    call = pair.chosen[0].extra["tool_calls"][0]
    assert call["function"] == {"name": "weather", "arguments": "{}"}
    assert pair.chosen[1].extra == {"tool_call_id": call["id"]}
    assert turns(pair.chosen) == [
        ("assistant", ""),
        ("tool", "sunny"),
        ("assistant", "Sunny."),
    ]
    assert turns(pair.rejected) == [("assistant", "No idea.")]


# --- Anthropic HH -----------------------------------------------------------------------


def test_anthropic_hh_splits_at_the_last_shared_assistant_turn():
    shared = "\n\nHuman: Hi there\n\nAssistant: Hello! How can I help?\n\nHuman: Name a fruit."
    pair = pair_of(
        {
            "chosen": shared + "\n\nAssistant: An apple.",
            "rejected": shared + "\n\nAssistant: I won't.",
        }
    )
    assert turns(pair.prompt) == [
        ("user", "Hi there"),
        ("assistant", "Hello! How can I help?"),
        ("user", "Name a fruit."),
    ]
    assert turns(pair.chosen) == [("assistant", "An apple.")]
    assert turns(pair.rejected) == [("assistant", "I won't.")]


def test_anthropic_hh_speaker_name_inside_a_turn_is_text():
    question = "What does 'Human:' mean in a transcript?"
    pair = pair_of(
        {
            "chosen": f"\n\nHuman: {question}\n\nAssistant: It marks the person.",
            "rejected": f"\n\nHuman: {question}\n\nAssistant: No idea.",
        }
    )
    assert turns(pair.prompt) == [("user", question)]


# --- StackExchange ----------------------------------------------------------------------


def test_stack_exchange_response_j_is_chosen():
    pair = pair_of(
        {
            "qid": 7,
            "question": "How do I reverse a list?",
            "response_j": "Use reversed().",
            "response_k": "You can't.",
        }
    )
    assert turns(pair.prompt) == [("user", "How do I reverse a list?")]
    assert turns(pair.chosen) == [("assistant", "Use reversed().")]
    assert turns(pair.rejected) == [("assistant", "You can't.")]


# --- ranked replies ---------------------------------------------------------------------


def test_ranked_completions_expand_into_every_ordered_pair():
    record = {
        "prompt": "Name a colour.",
        "completions": [
            {"text": "Blue.", "rank": 2},
            {"text": "Red.", "rank": 1},
            {"text": "Dunno.", "rank": 3},
        ],
    }
    pairs = parse_records(record, "ranked.jsonl", 4)
    assert [(p.chosen[0].content, p.rejected[0].content) for p in pairs] == [
        ("Red.", "Blue."),
        ("Blue.", "Dunno."),
        ("Red.", "Dunno."),
    ]
    assert all(turns(p.prompt) == [("user", "Name a colour.")] for p in pairs)
    assert all(p.margin is None for p in pairs)


def test_ranked_ties_are_skipped():
    record = {
        "prompt": "q",
        "completions": [
            {"text": "a", "rank": 2},
            {"text": "b", "rank": 1},
            {"text": "c", "rank": 2},
        ],
    }
    pairs = parse_records(record, "ranked.jsonl", 1)
    assert [(p.chosen[0].content, p.rejected[0].content) for p in pairs] == [
        ("b", "a"),
        ("b", "c"),
    ]


def test_ranked_scores_give_the_margin():
    record = {"prompt": "q", "responses": ["ok", "best", "bad"], "scores": [5, 9.5, 1]}
    pairs = parse_records(record, "scored.jsonl", 1)
    assert [(p.chosen[0].content, p.rejected[0].content, p.margin) for p in pairs] == [
        ("best", "ok", 4.5),
        ("ok", "bad", 4.0),
        ("best", "bad", 8.5),
    ]


def test_ranked_all_tied_is_an_error():
    record = {"prompt": "q", "completions": [{"text": "a", "rank": 1}, {"text": "b", "rank": 1}]}
    with pytest.raises(DataError) as info:
        parse_records(record, "ranked.jsonl", 9)
    assert (info.value.line, info.value.field) == (9, "completions")
    assert "no two replies are ranked differently" in str(info.value)


def test_parse_record_refuses_a_record_that_expands_to_several_pairs():
    record = {"prompt": "q", "responses": ["a", "b", "c"], "scores": [1, 2, 3]}
    with pytest.raises(DataError, match="expands to 3 examples"):
        parse_record(record, "ranked.jsonl", 1)


# --- KTO --------------------------------------------------------------------------------


def test_kto_prompt_completion_label():
    (example,) = parse_records({"prompt": "2+2?", "completion": "4", "label": True}, "kto.jsonl", 1)
    assert example == FeedbackExample(
        prompt=(Message("user", "2+2?", weight=0),),
        completion=(Message("assistant", "4"),),
        desirable=True,
    )


def test_kto_messages_trailing_assistant_turns_are_the_completion():
    record = {
        "messages": [
            user("Hi"),
            assistant("Hello!"),
            user("Tell a joke."),
            assistant("Why did the chicken..."),
            assistant("...cross the road?"),
        ],
        "label": False,
    }
    (example,) = parse_records(record, "kto.jsonl", 1)
    assert isinstance(example, FeedbackExample)
    assert turns(example.prompt) == [
        ("user", "Hi"),
        ("assistant", "Hello!"),
        ("user", "Tell a joke."),
    ]
    assert turns(example.completion) == [
        ("assistant", "Why did the chicken..."),
        ("assistant", "...cross the road?"),
    ]
    assert example.desirable is False


@pytest.mark.parametrize(("label", "desirable"), [(1, True), (0, False)])
def test_kto_label_accepts_one_and_zero(label, desirable):
    (example,) = parse_records({"prompt": "q", "completion": "a", "label": label}, "k", 1)
    assert example.desirable is desirable


def test_kto_string_label_is_rejected():
    with pytest.raises(DataError) as info:
        parse_records({"prompt": "q", "completion": "a", "label": "true"}, "kto.jsonl", 5)
    assert (info.value.line, info.value.field) == (5, "label")
    assert "expected true or false, got 'true'" in str(info.value)


# --- errors name the user's field --------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "field", "message"),
    [
        ({"prompt": "q", "chosen": "a"}, "rejected", "missing"),
        (
            {"prompt": "q", "chosen": [user("a")], "rejected": "b"},
            "chosen[0].role",
            "a reply starts with an assistant turn, got 'user'",
        ),
        ({"prompt": "q", "chosen": "same", "rejected": "same"}, "rejected", "identical"),
        (
            {"input": {}, "preferred_output": [assistant("a")], "non_preferred_output": []},
            "input.messages",
            "missing",
        ),
        (
            {
                "conversations": [{"from": "human", "value": "q"}],
                "chosen": {"from": "bot", "value": "a"},
                "rejected": {"from": "gpt", "value": "b"},
            },
            "chosen.from",
            "unknown speaker 'bot'",
        ),
        (
            {
                "conversations": [{"from": "human", "value": "q"}],
                "chosen": [{"from": "gpt", "value": "a"}, {"from": "bot", "value": "b"}],
                "rejected": {"from": "gpt", "value": "c"},
            },
            "chosen[1].from",
            "unknown speaker 'bot'",
        ),
        ({"question": "q", "response_j": "a"}, "response_k", "missing"),
    ],
)
def test_errors_name_the_users_field(record, field, message):
    with pytest.raises(DataError) as info:
        parse_records(record, "prefs.jsonl", 12)
    assert info.value.field == field
    assert str(info.value).startswith(f"prefs.jsonl:12: {field}: ")
    assert message in str(info.value)


# --- conversion between kinds -----------------------------------------------------------


def test_pair_as_sft_is_prompt_plus_chosen():
    pair = pair_of({"system": "s", "prompt": "q", "chosen": "good", "rejected": "bad"})
    (example,) = as_kind(pair, "sft", "prefs.jsonl", 1)
    assert isinstance(example, ChatExample)
    assert turns(example.messages) == [("system", "s"), ("user", "q"), ("assistant", "good")]
    assert [m.trained for m in example.messages] == [False, False, True]


def test_pair_as_kto_is_one_desirable_and_one_undesirable_reply():
    pair = pair_of({"prompt": "q", "chosen": "good", "rejected": "bad"})
    good, bad = as_kind(pair, "kto", "prefs.jsonl", 1)
    assert (turns(good.prompt), turns(good.completion), good.desirable) == (
        [("user", "q")],
        [("assistant", "good")],
        True,
    )
    assert (turns(bad.prompt), turns(bad.completion), bad.desirable) == (
        [("user", "q")],
        [("assistant", "bad")],
        False,
    )


def test_sft_example_is_not_a_preference_pair():
    example = parse_record({"messages": [user("q"), assistant("a")]}, "sft.jsonl", 3)
    with pytest.raises(DataError) as info:
        as_kind(example, "preference", "sft.jsonl", 3)
    assert info.value.line == 3
    assert "preference pairs" in str(info.value)


def test_kto_file_read_for_sft_keeps_only_desirable_replies(tmp_path):
    path = write_jsonl(
        tmp_path / "kto.jsonl",
        [
            {"prompt": "q1", "completion": "good one", "label": True},
            {"prompt": "q2", "completion": "bad one", "label": False},
            {"messages": [user("q3"), assistant("good two")], "label": 1},
        ],
    )
    examples = read_examples(path, kind="sft")
    assert [turns(e.messages) for e in examples] == [
        [("user", "q1"), ("assistant", "good one")],
        [("user", "q3"), ("assistant", "good two")],
    ]
