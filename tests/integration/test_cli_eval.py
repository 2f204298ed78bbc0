"""`tuneforge eval` through the CLI on the tiny model: the base and a trained adapter on one
load, loss and generation tasks, results.json with intervals and a manifest, samples."""

from __future__ import annotations

import json

import pytest

from tests.helpers import TINY, chat_records, tiny_overrides, write_jsonl, write_yaml
from tuneforge.cli.main import main as tuneforge
from tuneforge.eval.models import ModelSet
from tuneforge.eval.tasks.generate import cut_at_stop, run_generate
from tuneforge.models.inference import generate_replies


@pytest.fixture(scope="module")
def run(tmp_path_factory, tuneforge_cache):
    root = tmp_path_factory.mktemp("cli-eval")
    train = write_jsonl(root / "train.jsonl", chat_records(16, seed=1))
    config = write_yaml(root / "run.yaml", {})
    assert tuneforge(["train", str(config), *tiny_overrides(train, root / "run")]) == 0
    return root


def test_eval_writes_results_for_the_base_and_the_adapter(run, capsys):
    valid = write_jsonl(run / "valid.jsonl", chat_records(5, seed=2))
    replies = write_jsonl(run / "replies.jsonl", chat_records(3, seed=5))
    out = run / "out"
    code = tuneforge(
        ["eval", "--adapter", str(run / "run"), "--task", f"loss:{valid}",
         "--task", f"generate:{replies}", "--output", str(out), "--batch-size", "4"]
    )  # fmt: skip
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert list(results["models"]) == [TINY, str(run / "run")]
    for entry in results["models"].values():
        assert entry["tasks"]["valid"]["n"] == 5 and entry["tasks"]["replies"]["n"] == 3
    base, tuned = (m["tasks"]["valid"]["metrics"]["loss"] for m in results["models"].values())
    assert base != tuned
    manifest = results["manifest"]
    assert manifest["tasks"]["valid"]["sha256"] and manifest["batch_size"] == 4
    assert manifest["libraries"]["torch"] and manifest["models"][str(run / "run")]["sha256"]
    assert "results:" in capsys.readouterr().out


def test_two_tasks_on_one_file_need_names(run):
    valid = write_jsonl(run / "same.jsonl", chat_records(3, seed=3))
    code = tuneforge(
        ["eval", "--model", TINY, "--task", f"loss:{valid}", "--task", f"generate:{valid}",
         "--output", str(run / "same-out")]
    )  # fmt: skip
    assert code == 1 and not (run / "same-out").exists()


def test_eval_config_names_tasks_and_samples_hold_predictions(run):
    valid = write_jsonl(run / "named.jsonl", chat_records(4, seed=4))
    config = write_yaml(
        run / "eval.yaml",
        {"model": TINY, "adapters": [str(run / "run")], "output": str(run / "named-out"),
         "tasks": [{"kind": "loss", "path": str(valid), "max_length": 64},
                   {"kind": "generate", "path": str(valid), "name": "gen",
                    "scorers": ["exact", "rouge_l"], "max_new_tokens": 6}]},
    )  # fmt: skip
    assert tuneforge(["eval", str(config)]) == 0
    results = json.loads((run / "named-out" / "results.json").read_text())
    base = results["models"][TINY]["tasks"]
    assert set(base) == {"named", "gen"}
    assert set(base["named"]["metrics"]) == {"loss", "perplexity", "token_accuracy"}
    assert set(base["gen"]["metrics"]) == {"exact", "rouge_l"}
    low, high = base["named"]["ci"]["loss"]
    assert low <= base["named"]["metrics"]["loss"] <= high
    samples = (run / "named-out" / "samples" / TINY / "gen.jsonl").read_text().splitlines()
    assert len(samples) == 4 and "prediction" in json.loads(samples[0])


def test_generate_scores_each_reply_against_its_reference(run):
    """Record 1's reference is the model's own greedy reply, record 2's is not: exact
    match is 1 and 0, so its mean is 0.5, worked by hand."""
    prompts = [[{"role": "user", "content": "The cat sat."}], [{"role": "user", "content": "Hi"}]]
    with ModelSet(TINY).use(TINY) as (model, tokenizer):
        (own, _) = generate_replies(model, tokenizer, prompts, max_new_tokens=5)
        records = [
            {"messages": [*prompts[0], {"role": "assistant", "content": own}]},
            {"messages": [*prompts[1], {"role": "assistant", "content": own + " not this"}]},
        ]
        path = write_jsonl(run / "gen.jsonl", records)
        scores = run_generate(model, tokenizer, path, scorers=["exact"], max_new_tokens=5)
    assert scores.metrics["exact"].values == [1.0, 0.0]
    assert scores.summary()["metrics"]["exact"] == 0.5


def test_stop_strings_cut_at_the_earliest():
    assert cut_at_stop("a\nb END c", ["END", "\n"]) == "a"
    assert cut_at_stop("no stop here", ["\n\n"]) == "no stop here"
    assert cut_at_stop("x", []) == "x"


def test_choice_task_through_the_cli(run):
    records = [
        {"prompt": "The cat sat on the", "choices": [" mat", " river", " light"], "answer": 0},
        {"prompt": "Two plus two is", "choices": [" four", " blue"], "answer": 0},
    ]
    path = write_jsonl(run / "quiz.jsonl", records)
    out = run / "quiz-out"
    arguments = ["eval", "--model", TINY, "--task", f"choice:{path}", "--output", str(out)]
    assert tuneforge(arguments) == 0
    quiz = json.loads((out / "results.json").read_text())["models"][TINY]["tasks"]["quiz"]
    assert set(quiz["metrics"]) == {"acc", "acc_norm", "prob_correct"} and quiz["n"] == 2


def test_a_preference_task_through_the_cli(run):
    """The base ranks pairs by its own per-token log-probabilities only; the adapter also
    gets the implicit DPO reward against the base it was trained from."""
    import random

    from tests.helpers import sentence

    rng = random.Random(8)
    pairs = [
        {"prompt": sentence(rng, 2, 6), "chosen": sentence(rng, 3, 8),
         "rejected": sentence(rng, 1, 5)}
        for _ in range(6)
    ]  # fmt: skip
    path = write_jsonl(run / "pairs.jsonl", pairs)
    out = run / "pairs-out"
    code = tuneforge(
        [
            "eval",
            "--adapter",
            str(run / "run"),
            "--task",
            f"preference:{path}",
            "--output",
            str(out),
        ]
    )
    assert code == 0
    models = json.loads((out / "results.json").read_text())["models"]
    assert set(models[TINY]["tasks"]["pairs"]["metrics"]) == {"preference_accuracy"}
    tuned = models[str(run / "run")]["tasks"]["pairs"]
    assert {"preference_accuracy", "dpo_reward_accuracy", "dpo_reward_margin"} <= set(
        tuned["metrics"]
    )
    assert tuned["n"] == 6
