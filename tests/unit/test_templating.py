"""Loss masks: which tokens are trained, checked by decoding the targets.

Targets are pre-shifted (targets[t] is input_ids[t + 1] or IGNORE), so the trained
tokens are input positions t + 1 for every t with a target.
"""

from __future__ import annotations

import copy

import pytest

from tuneforge.data import IGNORE, TokenizedExample, tokenize_examples
from tuneforge.data.records import parse_record
from tuneforge.errors import DataError

SYSTEM = {"role": "system", "content": "Be brief."}


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def assistant(text: str, **extra) -> dict:
    return {"role": "assistant", "content": text, **extra}


def tokenize(records: list[dict], tokenizer, max_length: int = 512):
    examples = [parse_record(r, "test.jsonl", i) for i, r in enumerate(records, start=1)]
    return tokenize_examples(examples, tokenizer, max_length)


def trained_segments(example: TokenizedExample, tokenizer) -> list[str]:
    """The decoded runs of consecutive trained tokens."""
    assert len(example.targets) == len(example.input_ids) and example.targets[-1] == IGNORE
    for t, target in enumerate(example.targets):
        assert target in (IGNORE, example.input_ids[min(t + 1, len(example.input_ids) - 1)])
    trained = [t + 1 for t, target in enumerate(example.targets) if target != IGNORE]
    runs: list[list[int]] = []
    for position in trained:
        if runs and runs[-1][-1] == position - 1:
            runs[-1].append(position)
        else:
            runs.append([position])
    return [tokenizer.decode([example.input_ids[p] for p in run]) for run in runs]


def test_chat_trains_assistant_turns_through_end_of_turn_only(tokenizer):
    record = {
        "messages": [
            SYSTEM,
            user("Hi there"),
            assistant("Hello!"),
            user("Again"),
            assistant("Not this one", weight=0),
            user("Last"),
            assistant("Bye now"),
        ]
    }
    (example,), stats = tokenize([record], tokenizer)
    text = tokenizer.decode(example.input_ids)
    assert text.endswith("<|im_start|>assistant\nBye now<|im_end|>\n")
    # <|im_end|> is trained (it teaches the model to stop); the newline after it, the
    # role headers, the system and user turns and the weight-0 reply are not.
    assert trained_segments(example, tokenizer) == ["Hello!<|im_end|>", "Bye now<|im_end|>"]
    assert stats.missing_end_of_turn == 0


def test_default_system_prompt_is_not_trained(tokenizer):
    (example,), _ = tokenize([{"messages": [user("ping"), assistant("pong")]}], tokenizer)
    assert "You are a helpful AI assistant" in tokenizer.decode(example.input_ids)
    assert trained_segments(example, tokenizer) == ["pong<|im_end|>"]


def test_prompt_completion_trains_completion_and_eos(tokenizer):
    (example,), _ = tokenize([{"prompt": "Q: 2+2?", "completion": " A: 4"}], tokenizer)
    assert tokenizer.decode(example.input_ids) == "Q: 2+2? A: 4<|im_end|>"
    assert trained_segments(example, tokenizer) == [" A: 4<|im_end|>"]


def test_text_trains_every_token_but_the_first_and_eos(tokenizer):
    (example,), _ = tokenize([{"text": "Plain text here."}], tokenizer)
    assert tokenizer.decode(example.input_ids) == "Plain text here.<|im_end|>"
    assert trained_segments(example, tokenizer) == [tokenizer.decode(example.input_ids[1:])]
    assert example.n_trained == len(example.input_ids) - 1


def test_conversational_prompt_completion_trains_completion_turns(tokenizer):
    record = {
        "prompt": [SYSTEM, user("ping")],
        "completion": [assistant("pong"), user("again"), assistant("pong pong")],
    }
    (example,), _ = tokenize([record], tokenizer)
    assert trained_segments(example, tokenizer) == ["pong<|im_end|>", "pong pong<|im_end|>"]


def test_truncation_drops_examples_left_without_targets(tokenizer):
    long_prompt = {"messages": [user("word " * 100), assistant("answer")]}
    long_answer = {"messages": [user("q"), assistant("word " * 100)]}
    short = {"messages": [user("q"), assistant("a")]}
    examples, stats = tokenize([long_prompt, long_answer, short], tokenizer, max_length=64)
    assert (stats.examples, stats.kept, stats.truncated, stats.dropped_no_target) == (3, 2, 1, 1)
    cut, kept = examples
    assert len(cut.input_ids) == 64 and cut.targets[-1] == IGNORE
    (segment,) = trained_segments(cut, tokenizer)
    assert segment.startswith("word word") and "<|im_end|>" not in segment
    assert trained_segments(kept, tokenizer) == ["a<|im_end|>"]


def test_example_of_exactly_max_length_is_not_truncated(tokenizer):
    record = {"messages": [user("q"), assistant("a")]}
    (full,), _ = tokenize([record], tokenizer)
    (same,), stats = tokenize([record], tokenizer, max_length=len(full.input_ids))
    assert same == full and stats.truncated == 0


def test_no_examples(tokenizer):
    examples, stats = tokenize_examples([], tokenizer, 64)
    assert examples == [] and stats.examples == 0


def _with_template(tokenizer, template: str):
    other = copy.deepcopy(tokenizer)
    other.chat_template = template
    return other


def test_template_without_end_of_turn_is_counted(tokenizer):
    plain = _with_template(
        tokenizer,
        "{% for m in messages %}{{ m['role'] }}:\n{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant:\n{% endif %}",
    )
    (example,), stats = tokenize([{"messages": [user("q"), assistant("yes")]}], plain)
    assert stats.missing_end_of_turn == 1
    assert trained_segments(example, plain) == ["yes\n"]


def test_template_that_rewrites_earlier_turns_is_an_error(tokenizer):
    unstable = _with_template(
        tokenizer,
        "{% for m in messages %}{% if loop.last %}LAST {% endif %}{{ m['content'] }}\n{% endfor %}",
    )
    with pytest.raises(DataError, match=r"messages\[1\]: the chat template renders earlier"):
        tokenize([{"messages": [user("q"), assistant("a")]}], unstable)
