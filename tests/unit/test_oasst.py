"""OpenAssistant message trees expand to the best-ranked conversation (sft), ranked
sibling pairs (preference), best/worst labelled replies (kto), or the first prompt."""

from __future__ import annotations

import json

import pytest

from tuneforge.data.kinds import examples_of
from tuneforge.data.readers import read_examples
from tuneforge.data.records import ChatExample, FeedbackExample, PreferenceExample
from tuneforge.data.validate import validate_file
from tuneforge.errors import DataError


def node(role: str, text: str, rank: int | None = None, *replies: dict, **extra) -> dict:
    return {"message_id": text, "role": role, "text": text, "rank": rank,
            "replies": list(replies), **extra}  # fmt: skip


def tree() -> dict:
    """The README's example shape: a prompt, two ranked answers, follow-ups under each."""
    return {
        "message_tree_id": "t1",
        "tree_state": "ready_for_export",
        "prompt": node(
            "prompter", "Why can't we divide by 0?", None,
            node("assistant", "Second-best answer.", 1,
                 node("prompter", "Explain more.", None,
                      node("assistant", "More, worse.", 1),
                      node("assistant", "More, better.", 0))),
            node("assistant", "Best answer.", 0,
                 node("prompter", "And irrational numbers?", None,
                      node("assistant", "Irrational, ranked 2.", 2),
                      node("assistant", "Deleted.", 0, deleted=True),
                      node("assistant", "Irrational, ranked 1.", 1),
                      node("assistant", "Spam.", 0, review_result=False))),
            node("assistant", "Not ranked.", None),
        ),
    }  # fmt: skip


def turns(messages) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in messages]


def test_sft_is_the_best_ranked_path(tmp_path):
    (example,) = examples_of(tree(), "sft", "trees.jsonl", 1)
    assert isinstance(example, ChatExample)
    # Rank 0 at every branch; deleted and spam replies (rank 0 too) are left out.
    assert turns(example.messages) == [
        ("user", "Why can't we divide by 0?"),
        ("assistant", "Best answer."),
        ("user", "And irrational numbers?"),
        ("assistant", "Irrational, ranked 1."),
    ]
    assert examples_of(tree(), None, "trees.jsonl", 1) == [example]


def test_preference_pairs_every_differently_ranked_sibling_pair():
    pairs = examples_of(tree(), "preference", "trees.jsonl", 1)
    assert all(isinstance(p, PreferenceExample) for p in pairs)
    found = {(p.prompt[-1].content, p.chosen[0].content, p.rejected[0].content) for p in pairs}
    assert found == {
        ("Why can't we divide by 0?", "Best answer.", "Second-best answer."),
        ("Explain more.", "More, better.", "More, worse."),
        ("And irrational numbers?", "Irrational, ranked 1.", "Irrational, ranked 2."),
    }
    deep = next(p for p in pairs if p.prompt[-1].content == "Explain more.")
    assert turns(deep.prompt) == [
        ("user", "Why can't we divide by 0?"),
        ("assistant", "Second-best answer."),
        ("user", "Explain more."),
    ]


def test_kto_labels_the_best_and_worst_of_each_group():
    three = tree()
    three["prompt"]["replies"][1]["rank"] = 2  # "Best answer." is now ranked worst of three
    three["prompt"]["replies"][2]["rank"] = 0
    examples = examples_of(three, "kto", "trees.jsonl", 1)
    assert all(isinstance(e, FeedbackExample) for e in examples)
    labels = {(e.completion[0].content, e.desirable) for e in examples}
    # The first group ranks three replies: the middle one ("Second-best", rank 1) is
    # better than one and worse than another, so it is not labelled.
    assert ("Not ranked.", True) in labels and ("Best answer.", False) in labels
    assert not any(text == "Second-best answer." for text, _ in labels)
    assert len(examples) == 6


def test_prompts_are_the_first_message():
    (prompt,) = examples_of(tree(), "prompts", "trees.jsonl", 1)
    assert turns(prompt.messages) == [("user", "Why can't we divide by 0?")]


def test_a_path_ending_with_the_user_ends_at_the_last_reply():
    record = {"message_tree_id": "t", "prompt": node("prompter", "Hi", None,
              node("assistant", "Hello!", None, node("prompter", "Bye", None)))}  # fmt: skip
    (example,) = examples_of(record, "sft", "t.jsonl", 3)
    assert turns(example.messages) == [("user", "Hi"), ("assistant", "Hello!")]


@pytest.mark.parametrize("broken, kind, field, message", [
    (lambda t: t["prompt"]["replies"][1].pop("text"), "sft",
     "prompt.replies[1].text", "missing"),
    (lambda t: t["prompt"]["replies"][0]["replies"][0].update(role="moderator"), "sft",
     "prompt.replies[0].replies[0].role", "expected 'prompter' or 'assistant', got 'moderator'"),
    (lambda t: t["prompt"]["replies"][1].update(rank="first"), "preference",
     "prompt.replies[1].rank", "expected an integer (0 is best), got 'first'"),
    (lambda t: t["prompt"].update(role="assistant"), "sft",
     "prompt.role", "the tree's first message is the user's, 'prompter'; got 'assistant'"),
    (lambda t: t["prompt"].update(replies=[]), "sft",
     "prompt.replies", "no assistant reply to learn from"),
    (lambda t: t.update(prompt=None), "sft",
     "prompt", "missing: a tree starts with its prompt message"),
])  # fmt: skip
def test_errors_name_the_field_in_the_tree(broken, kind, field, message):
    record = tree()
    broken(record)
    with pytest.raises(DataError) as info:
        examples_of(record, kind, "trees.jsonl", 4)
    assert (info.value.line, info.value.field, info.value.detail) == (4, field, message)


def test_a_tree_without_ranked_siblings_has_no_pair():
    record = {"message_tree_id": "t", "prompt": node("prompter", "Hi", None,
              node("assistant", "Hello!"))}  # fmt: skip
    with pytest.raises(DataError, match="no two sibling replies are ranked differently"):
        examples_of(record, "preference", "t.jsonl", 1)


def test_a_flat_message_export_points_at_the_trees_export():
    flat = {"message_id": "m2", "parent_id": "m1", "role": "assistant", "text": "Hi", "rank": 0}
    with pytest.raises(DataError, match=r"read the \*\.trees\.jsonl export"):
        examples_of(flat, "sft", "messages.jsonl", 2)


def test_validate_and_read_report_trees_not_missing_completions(tmp_path):
    path = tmp_path / "2023-04-12_oasst_ready.trees.jsonl"
    bad = tree()
    bad["prompt"]["replies"][0]["replies"][0]["text"] = "  "
    path.write_text(json.dumps(tree()) + "\n" + json.dumps(bad) + "\n")
    report = validate_file(path, kind="preference")
    assert report.valid == 1
    assert [str(p) for p in report.errors] == [
        f"{path}:2: prompt.replies[0].replies[0].text: empty"
    ]
    assert len(read_examples(path, limit=1, kind="preference")) == 3
    assert "completion" not in str(validate_file(path, kind="sft").problems)
