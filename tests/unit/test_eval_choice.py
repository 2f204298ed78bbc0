"""The multiple-choice task on the tiny model, against numbers worked without batching.

The reference for a (context, choice) pair is the harness's recipe done by hand: move the
context's trailing whitespace to the choice, tokenize context and context + choice, take
the tokens after the context's as the choice's, run ONE unpadded forward pass over that
sequence and sum log p(token) over the choice's tokens. The task must give the same sums
from its shared, padded rows; acc, acc_norm and prob_correct then follow by arithmetic:

    acc          = 1[argmax_i ll_i == answer]
    acc_norm     = 1[argmax_i ll_i / bytes_i == answer]
    prob_correct = exp(ll_answer) / sum_i exp(ll_i)
"""

from __future__ import annotations

import csv
import io
import json
import math
import random

import pytest
import torch

from tests.helpers import TINY, sentence, write_jsonl
from tuneforge.errors import DataError
from tuneforge.eval.models import ModelSet
from tuneforge.eval.tasks.choice import _passes, encode_pairs, run_choice
from tuneforge.eval.tasks.choice_formats import read_choice_file

QUESTIONS = [  # (question, options, answer letter)
    ("What colour is the sky?", ["red", "blue", "green", "dark"], "B"),
    ("Which one runs?", ["the stone", "a tree", "the fast dog", "light"], "C"),
    ('Pick "under", with quotes, commas', ["over", "under, near", "far", "quiet"], "B"),
]
HEADER = "The following are multiple choice questions (with answers) about high school physics.\n\n"


@pytest.fixture(scope="module")
def tiny(tuneforge_cache):
    models = ModelSet(TINY, log=lambda message: None)
    with models.use(TINY) as (model, tokenizer):
        yield model, tokenizer


def reference_ll(model, tokenizer, context: str, choice: str) -> float:
    """One pair, one sequence, no padding, no batching (the module docstring's recipe)."""
    stripped = context.rstrip()
    context, choice = stripped, context[len(stripped) :] + choice
    context_ids = tokenizer(context)["input_ids"]
    choice_ids = tokenizer(context + choice)["input_ids"][len(context_ids) :]
    ids = torch.tensor([context_ids + choice_ids])
    with torch.no_grad():
        logps = torch.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)
    # The logits at position t predict token t + 1.
    start = len(context_ids)
    return sum(float(logps[start + j - 1, tok]) for j, tok in enumerate(choice_ids))


def test_encode_pairs_splits_context_and_choice_as_the_harness_does(tokenizer):
    """The common case is "Answer:" + " A"; a trailing space in the context moves to the
    choice, so "Answer: " + "A" is scored as the same tokens; an empty context is BOS."""
    answer, space_a = tokenizer("Answer:")["input_ids"], tokenizer(" A")["input_ids"]
    assert len(space_a) == 1  # " A" is one token of SmolLM2's vocabulary
    pairs = [("Answer:", " A"), ("Answer: ", "A"), ("", " A")]
    assert encode_pairs(tokenizer, pairs) == [
        (answer, space_a),
        (answer, space_a),
        ([tokenizer.bos_token_id], space_a),
    ]


def test_per_choice_loglikelihoods_and_metrics_by_hand(tiny, tmp_path):
    """Two records: every choice's sum against the reference, then the three metrics from
    those sums. Record 2's prompt ends in a space and its choices do not start with one."""
    model, tokenizer = tiny
    records = [
        {"prompt": "The cat sat on the", "choices": [" mat", " river", " blue light"], "answer": 0},
        {"prompt": "Answer: ", "choices": ["yes", "no"], "answer": 1},
    ]
    path = write_jsonl(tmp_path / "two.jsonl", records)
    scores = run_choice(model, tokenizer, path, batch_size=4)
    assert scores.n == 2
    acc, acc_norm, prob = [], [], []
    for record, example in zip(records, scores.examples, strict=True):
        expected = [reference_ll(model, tokenizer, record["prompt"], c) for c in record["choices"]]
        assert example["loglikelihoods"] == pytest.approx(expected, abs=1e-4)
        lengths = [len(c.encode()) for c in record["choices"]]
        best = max(range(len(expected)), key=lambda i: expected[i])
        best_norm = max(range(len(expected)), key=lambda i: expected[i] / lengths[i])
        acc.append(float(best == record["answer"]))
        acc_norm.append(float(best_norm == record["answer"]))
        weights = [math.exp(ll) for ll in expected]
        prob.append(weights[record["answer"]] / sum(weights))
    assert scores.metrics["acc"].values == acc
    assert scores.metrics["acc_norm"].values == acc_norm
    assert scores.metrics["prob_correct"].values == pytest.approx(prob, abs=1e-5)
    assert scores.summary()["metrics"]["prob_correct"] == pytest.approx(sum(prob) / 2, abs=1e-5)


def test_acc_and_acc_norm_disagree_when_byte_lengths_differ(tiny, tmp_path):
    """A near-uniform random model gives every token about -log(49152) = -10.8. " a" is one
    token in 2 bytes; " internationalization" a few tokens in 21 bytes: its sum is lower
    (acc picks " a") but its sum per byte is far higher (acc_norm picks it)."""
    model, tokenizer = tiny
    choices = [" a", " internationalization"]
    record = {"prompt": "The word is", "choices": choices, "answer": 1}
    scores = run_choice(model, tokenizer, write_jsonl(tmp_path / "norm.jsonl", [record]))
    ll = [reference_ll(model, tokenizer, "The word is", c) for c in choices]
    assert [len(c.encode()) for c in choices] == [2, 21]
    assert ll[0] > ll[1]  # acc's argmax: " a"
    assert ll[0] / 2 < ll[1] / 21  # acc_norm's argmax: " internationalization"
    assert scores.examples[0]["prediction"] == 0 and scores.examples[0]["prediction_norm"] == 1
    assert scores.summary()["metrics"] == {
        "acc": 0.0,
        "acc_norm": 1.0,
        "prob_correct": pytest.approx(1 / (1 + math.exp(ll[0] - ll[1])), abs=1e-5),
    }


def test_batch_size_does_not_change_any_value(tiny, tmp_path):
    model, tokenizer = tiny
    rng = random.Random(3)
    records = [
        {
            "prompt": sentence(rng, 1, 12),
            "choices": [" " + sentence(rng, 1, 6) for _ in range(rng.randint(2, 4))],
            "answer": 0,
        }
        for _ in range(12)
    ]
    path = write_jsonl(tmp_path / "mixed.jsonl", records)
    one = run_choice(model, tokenizer, path, batch_size=1)
    many = run_choice(model, tokenizer, path, batch_size=16)
    for a, b in zip(one.examples, many.examples, strict=True):
        assert a["loglikelihoods"] == pytest.approx(b["loglikelihoods"], abs=1e-5)
    for name in ("acc", "acc_norm", "prob_correct"):
        assert one.metrics[name].values == pytest.approx(many.metrics[name].values, abs=1e-5)


def test_passes_are_cut_where_padding_costs_more_than_a_pass():
    """Rows of 100, 10, 10, 10 tokens, batch_size 4, a pass costing 48 tokens: one pass is
    4 x 100 + 48 = 448, [100] + [10, 10, 10] is 100 + 48 + 30 + 48 = 226. Rows of 20..17
    stay together (4 x 20 + 48 = 128 against at least 20 + 48 + 3 x 19 + 48 = 173)."""
    assert _passes([100, 10, 10, 10], 4, 48) == [(0, 1), (1, 4)]
    assert _passes([20, 19, 18, 17], 4, 48) == [(0, 4)]
    assert _passes([20, 19, 18, 17, 5], 4, 48) == [(0, 4), (4, 5)]  # never over batch_size
    assert _passes([100, 10, 10, 10, 9], 2, None) == [(0, 2), (2, 4), (4, 5)]


def _csv_line(question: str, options: list[str], answer: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow([question, *options, answer])
    return out.getvalue()


def test_mmlu_prompt_is_the_harness_default_template(tmp_path):
    """lm_eval/tasks/mmlu/default: description, question.strip(), lettered options,
    "Answer:", continuations " A".." D"; the subject comes from the file name."""
    path = tmp_path / "high_school_physics_test.csv"
    path.write_text(_csv_line("  What colour is the sky?  ", ["red", "blue", "green", "dark"], "B"))
    (record,) = read_choice_file(path).records
    assert record.description + record.prompt == (
        HEADER + "What colour is the sky?\nA. red\nB. blue\nC. green\nD. dark\nAnswer:"
    )
    assert (record.choices, record.answer, read_choice_file(path).delimiter) == (
        ["A", "B", "C", "D"],
        1,
        " ",
    )


def test_csv_with_and_without_header_and_jsonl_give_the_same_scores(tiny, tmp_path):
    model, tokenizer = tiny
    rows = [_csv_line(*q) for q in QUESTIONS]
    headerless = tmp_path / "high_school_physics_test.csv"
    headerless.write_text("\n".join(rows) + "\n")
    headed = tmp_path / "headed" / "high_school_physics_test.csv"
    headed.parent.mkdir()
    headed.write_text("\n".join(["question,A,B,C,D,answer", *rows]) + "\n")
    jsonl = write_jsonl(
        tmp_path / "mmlu.jsonl",
        [
            {
                "prompt": HEADER
                + q
                + "".join(f"\n{letter}. {o}" for letter, o in zip("ABCD", options, strict=True))
                + "\nAnswer:",
                "choices": [" A", " B", " C", " D"],
                "answer": "ABCD".index(answer),
            }
            for q, options, answer in QUESTIONS
        ],
    )
    results = [run_choice(model, tokenizer, p) for p in (headerless, headed, jsonl)]
    first = results[0]
    for other in results[1:]:
        # The same token sequences in the same rows: the same numbers, bit for bit.
        assert [e["loglikelihoods"] for e in other.examples] == [
            e["loglikelihoods"] for e in first.examples
        ]
        assert other.summary() == first.summary()
    assert first.n == 3 and [e["line"] for e in results[1].examples] == [2, 3, 4]


def test_choices_of_many_records_share_padded_forward_passes(tiny, tmp_path):
    """Three MMLU questions, four one-token letters each: the four share one row, and the
    three rows go through the decoder in one padded forward pass of batch_size 16, after
    one pass over the subject line that every row starts with (its KV cache is reused)."""
    model, tokenizer = tiny
    path = tmp_path / "quiz.csv"
    path.write_text("\n".join(_csv_line(*q) for q in QUESTIONS) + "\n")
    shapes = []
    hook = model.get_decoder().register_forward_hook(
        lambda module, args, kwargs, output: shapes.append(tuple(kwargs["input_ids"].shape)),
        with_kwargs=True,
    )
    try:
        scores = run_choice(model, tokenizer, path, batch_size=16)
    finally:
        hook.remove()
    contexts = [r.description + r.prompt for r in read_choice_file(path).records]
    ids = [tokenizer(context)["input_ids"] for context in contexts]
    shared = next(i for i in range(len(ids[0])) if len({tuple(x[: i + 1]) for x in ids}) > 1)
    assert shared >= len(tokenizer(HEADER)["input_ids"]) - 2  # the subject line, at least
    assert shapes == [(1, shared), (3, max(map(len, ids)) - shared)]
    for context, example in zip(contexts, scores.examples, strict=True):
        expected = [reference_ll(model, tokenizer, context, " " + c) for c in "ABCD"]
        assert example["loglikelihoods"] == pytest.approx(expected, abs=1e-4)


def test_few_shot_prepends_solved_examples_and_scores_the_rest(tiny, tmp_path):
    model, tokenizer = tiny
    records = [
        {"prompt": "Q: two plus two?\nA:", "choices": [" four", " five"], "answer": 0},
        {"prompt": "Q: the sky is?\nA:", "choices": [" blue", " loud"], "answer": 0},
        {"prompt": "Q: cats say?\nA:", "choices": [" woof", " meow"], "answer": 1},
    ]
    path = write_jsonl(tmp_path / "shots.jsonl", records)
    scores = run_choice(model, tokenizer, path, few_shot=1)
    assert scores.n == 2 and [e["line"] for e in scores.examples] == [2, 3]
    shot = records[0]["prompt"] + " four" + "\n\n"
    for record, example in zip(records[1:], scores.examples, strict=True):
        expected = [
            reference_ll(model, tokenizer, shot + record["prompt"], c) for c in record["choices"]
        ]
        assert example["loglikelihoods"] == pytest.approx(expected, abs=1e-4)
    with pytest.raises(DataError, match="few_shot=3"):
        run_choice(model, tokenizer, path, few_shot=3)


def test_chat_template_renders_the_prompt_as_a_user_turn(tiny, tmp_path):
    """The choice follows the assistant header with no delimiter; the header's final
    newline moves into the choice, as any trailing whitespace does."""
    model, tokenizer = tiny
    record = {"prompt": "Is the sky blue?", "choices": ["yes", "no"], "answer": 0}
    scores = run_choice(
        model, tokenizer, write_jsonl(tmp_path / "chat.jsonl", [record]), chat_template=True
    )
    context = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Is the sky blue?"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert context.endswith("<|im_start|>assistant\n")
    expected = [reference_ll(model, tokenizer, context, c) for c in ("yes", "no")]
    assert scores.examples[0]["loglikelihoods"] == pytest.approx(expected, abs=1e-4)


GOOD = {"prompt": "Q?", "choices": [" a", " b"], "answer": 0}


@pytest.mark.parametrize(
    ("name", "lines", "line", "field"),
    [
        ("answer.jsonl", [GOOD, GOOD, {**GOOD, "answer": 2}], 3, "answer"),
        ("bool.jsonl", [GOOD, {**GOOD, "answer": True}], 2, "answer"),
        ("missing.jsonl", [GOOD, {"prompt": "Q?", "answer": 0}], 2, "choices"),
        ("empty_choice.jsonl", [{**GOOD, "choices": [" a", ""]}], 1, "choices[1]"),
        ("prompt.jsonl", [GOOD, GOOD, GOOD, {**GOOD, "prompt": ["Q?"]}], 4, "prompt"),
        ("broken.jsonl", [GOOD, '{"prompt": "Q?", "choices": ['], 2, None),
        ("letter.csv", ["question,A,B,C,D,answer", "q,a,b,c,d,A", "q,a,b,c,d,E"], 3, "answer"),
        ("cells_test.csv", ["q,a,b,c,d,A", "q,a,b,c,A"], 2, None),
        ("blank_test.csv", ["q,a,b,c,d,A", "", '" ",a,b,c,d,B'], 3, "question"),
    ],
)
def test_bad_records_name_their_file_line_and_field(tmp_path, name, lines, line, field):
    path = tmp_path / name
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    with pytest.raises(DataError) as caught:
        read_choice_file(path)
    assert (caught.value.path, caught.value.line, caught.value.field) == (str(path), line, field)
    assert f"{path}:{line}" in str(caught.value)
