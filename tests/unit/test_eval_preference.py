"""The preference task: pair metrics worked by hand, against log-probabilities and reward
scores computed without batching, and the length-controlled win rate on hand-derived data.

For pair i with summed reply log-probabilities pi_c, pi_r (policy), ref_c, ref_r (the base:
the adapter switched off) and reply lengths n_c, n_r in tokens:

    h_i                 = (pi_c - ref_c) - (pi_r - ref_r)
    dpo_reward_accuracy = 1[h_i > 0], 0.5 when h_i = 0
    dpo_reward_margin   = beta h_i
    preference_accuracy = 1[pi_c / n_c > pi_r / n_r], 0.5 on a tie

The reference recipe for one sequence: tokenize it as DPO training does (the data layer's
template and reply mask), run ONE unpadded forward pass, and sum log p(target) over the
positions the mask marks.
"""

from __future__ import annotations

import math
import random

import pytest
import torch

from tests.helpers import TINY, WORDS, sentence, write_jsonl
from tuneforge.config import ModelConfig
from tuneforge.config.eval import JudgeConfig
from tuneforge.data import IGNORE
from tuneforge.data.kinds import sequence_views
from tuneforge.data.records import parse_records
from tuneforge.data.templating import tokenize_examples
from tuneforge.eval.judge.length_control import length_controlled
from tuneforge.eval.judge.llm import pair_outcome, read_verdict
from tuneforge.eval.tasks.preference import (
    PairLogps,
    language_model_metrics,
    reward_model_metrics,
    run_preference,
)
from tuneforge.models.loading import load_model


def quiet(message: str) -> None:
    pass


def pair_records(n: int, seed: int) -> list[dict]:
    """Pairs whose replies differ in length (chosen usually longer), as real sets do."""
    rng = random.Random(seed)
    return [
        {
            "prompt": sentence(rng, 2, 8),
            "chosen": sentence(rng, 4, 12),
            "rejected": sentence(rng, 1, 6),
        }
        for _ in range(n)
    ]


def tiny_base():
    """The tiny model with its final norm scaled up 20 times: random-init logits are so
    small (std ~0.16) that its log-probabilities barely move whatever the layers below do;
    scaled, an adapter on those layers changes a reply's log-probability by whole units."""
    model = load_model(ModelConfig(name_or_path=TINY, dtype="float32"), progress=quiet)
    with torch.no_grad():
        model.model.norm.weight.mul_(20)
    return model.eval()


def tiny_lora(seed: int = 0):
    """tiny_base with a LoRA adapter whose B matrices are random (PEFT starts them at
    zero, which would make the adapter the identity)."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules="all-linear")
    model = get_peft_model(tiny_base(), config)
    torch.manual_seed(seed)
    for name, parameter in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(parameter, std=0.3)
    return model.eval()


@pytest.fixture(scope="module")
def lora(tuneforge_cache, tokenizer):
    return tiny_lora()


@pytest.fixture(scope="module")
def base(tuneforge_cache, tokenizer):
    return tiny_base()


def sequences(tokenizer, record: dict, max_length: int = 1024):
    """(prompt + chosen, prompt + rejected) tokenized as DPO training tokenizes them."""
    (pair,) = parse_records(record, "pairs", 1)
    tokenized, _ = tokenize_examples(sequence_views(pair), tokenizer, max_length)
    return tokenized


@torch.no_grad()
def reference_logp(model, example) -> tuple[float, int]:
    """(summed log p of the reply tokens, their count): one sequence, one forward pass."""
    logits = model(input_ids=torch.tensor([example.input_ids])).logits[0]
    logps = torch.log_softmax(logits.float(), -1)
    targets = torch.tensor(example.targets)
    at = targets != IGNORE
    return float(logps[at].gather(1, targets[at][:, None]).sum()), int(at.sum())


# -- the metrics from per-pair numbers ---------------------------------------------------


def test_language_model_metrics_by_hand():
    """Pair 1: h = (-10 + 11) - (-12 + 11) = 2; per token -10/5 = -2 > -12/4 = -3.
    Pair 2: h = (-12 + 10) - (-6 + 5) = -1; summed, rejected is likelier (-6 > -12), but per
    token chosen is (-12/6 = -2 > -6/2 = -3): the normalisation decides.
    Pair 3: everything equal, a tie on both: 0.5.
    dpo_reward_accuracy = (1 + 0 + 0.5) / 3 = 0.5; dpo_reward_margin = 0.1 (2 - 1 + 0) / 3;
    preference_accuracy = (1 + 1 + 0.5) / 3."""
    logps = PairLogps(
        chosen_logp=[-10.0, -12.0, -8.0],
        rejected_logp=[-12.0, -6.0, -8.0],
        chosen_tokens=[5.0, 6.0, 4.0],
        rejected_tokens=[4.0, 2.0, 4.0],
        chosen_ref_logp=[-11.0, -10.0, -8.0],
        rejected_ref_logp=[-11.0, -5.0, -8.0],
    )
    metrics = language_model_metrics(logps, beta=0.1)
    assert metrics["dpo_reward_accuracy"].values == [1.0, 0.0, 0.5]
    assert metrics["dpo_reward_margin"].values == pytest.approx([0.2, -0.1, 0.0])
    assert metrics["preference_accuracy"].values == [1.0, 1.0, 0.5]
    assert metrics["dpo_reward_accuracy"].value() == 0.5
    assert metrics["dpo_reward_margin"].value() == pytest.approx(0.1 / 3)
    assert metrics["preference_accuracy"].value() == pytest.approx(2.5 / 3)
    # beta scales the margin, never the accuracy.
    other = language_model_metrics(logps, beta=2.0)
    assert other["dpo_reward_accuracy"].values == [1.0, 0.0, 0.5]
    assert other["dpo_reward_margin"].values == pytest.approx([4.0, -2.0, 0.0])
    no_reference = PairLogps([-1.0], [-2.0], [1.0], [1.0])
    assert set(language_model_metrics(no_reference)) == {"preference_accuracy"}


def test_reward_model_metrics_by_hand():
    """Scores (2, 1): right; (1, 3): wrong; (0.5, 0.5): a tie. accuracy (1 + 0 + 0.5) / 3,
    margin (1 - 2 + 0) / 3."""
    metrics = reward_model_metrics([2.0, 1.0, 0.5], [1.0, 3.0, 0.5])
    assert metrics["reward_accuracy"].values == [1.0, 0.0, 0.5]
    assert metrics["reward_margin"].values == [1.0, -2.0, 0.0]
    assert metrics["reward_margin"].value() == pytest.approx(-1 / 3)


# -- a causal LM: policy and reference log-probabilities ---------------------------------


def test_adapter_pairs_match_plain_forward_passes(lora, tokenizer, tmp_path):
    records = pair_records(4, seed=1)
    path = write_jsonl(tmp_path / "pairs.jsonl", records)
    scores = run_preference(lora, tokenizer, path, batch_size=3, beta=0.5)
    assert scores.n == 4 and scores.dropped == 0
    assert set(scores.metrics) == {
        "preference_accuracy",
        "dpo_reward_accuracy",
        "dpo_reward_margin",
    }
    h, per_token = [], []
    for record, example in zip(records, scores.examples, strict=True):
        chosen, rejected = sequences(tokenizer, record)
        pi_c, n_c = reference_logp(lora, chosen)
        pi_r, n_r = reference_logp(lora, rejected)
        with lora.disable_adapter():
            ref_c, _ = reference_logp(lora, chosen)
            ref_r, _ = reference_logp(lora, rejected)
        assert example["prompt"] == record["prompt"]
        assert example["chosen_logp"] == pytest.approx(pi_c, abs=1e-3)
        assert example["rejected_logp"] == pytest.approx(pi_r, abs=1e-3)
        assert example["chosen_ref_logp"] == pytest.approx(ref_c, abs=1e-3)
        assert example["rejected_ref_logp"] == pytest.approx(ref_r, abs=1e-3)
        assert (example["chosen_tokens"], example["rejected_tokens"]) == (n_c, n_r)
        assert abs(pi_c - ref_c) > 1  # the adapter changes the numbers
        h.append((pi_c - ref_c) - (pi_r - ref_r))
        per_token.append(float(pi_c / n_c > pi_r / n_r))
    assert scores.metrics["dpo_reward_accuracy"].values == [float(x > 0) for x in h]
    assert scores.metrics["dpo_reward_margin"].values == pytest.approx(
        [0.5 * x for x in h], abs=1e-3
    )
    assert scores.metrics["preference_accuracy"].values == per_token
    assert lora.has_active_enabled_adapter  # the reference pass switched the adapter back on


def test_the_base_has_no_dpo_reward(base, lora, tokenizer, tmp_path):
    """The base alone, and the adapter's model with the adapter switched off (as ModelSet
    gives the base once adapters are attached), have no reference but themselves: only
    preference_accuracy, from the base's own log-probabilities."""
    records = pair_records(3, seed=2)
    path = write_jsonl(tmp_path / "pairs.jsonl", records)
    alone = run_preference(base, tokenizer, path)
    assert set(alone.metrics) == {"preference_accuracy"}
    with lora.disable_adapter():
        off = run_preference(lora, tokenizer, path)
        assert not lora.has_active_enabled_adapter  # the task left the adapter off
    assert set(off.metrics) == {"preference_accuracy"}
    for record, example in zip(records, alone.examples, strict=True):
        chosen, rejected = sequences(tokenizer, record)
        assert example["chosen_logp"] == pytest.approx(reference_logp(base, chosen)[0], abs=1e-3)
        assert "chosen_ref_logp" not in example
    # The same base weights: both are tiny_base().
    assert off.examples[0]["chosen_logp"] == pytest.approx(
        alone.examples[0]["chosen_logp"], abs=1e-3
    )


def test_batch_size_does_not_change_a_number(lora, tokenizer, tmp_path):
    path = write_jsonl(tmp_path / "pairs.jsonl", pair_records(7, seed=3))
    one = run_preference(lora, tokenizer, path, batch_size=1)
    many = run_preference(lora, tokenizer, path, batch_size=8)
    for a, b in zip(one.examples, many.examples, strict=True):
        assert a["chosen_logp"] == pytest.approx(b["chosen_logp"], abs=1e-3)
        assert a["rejected_ref_logp"] == pytest.approx(b["rejected_ref_logp"], abs=1e-3)
    assert one.metrics["dpo_reward_accuracy"].values == many.metrics["dpo_reward_accuracy"].values


def test_pairs_are_tokenized_as_dpo_training_tokenizes_them(tokenizer, tmp_path):
    """At max_length 40 the SmolLM2 template's default system turn takes half the budget:
    the long prompt is fitted by cutting its text, and a pair whose prompt cannot fit is
    dropped; the task keeps and drops exactly what train/paired.py's tokenize_pairs does
    (after the same prompt fitting), token for token."""
    from tuneforge.data.prompt_fit import fit_prompts
    from tuneforge.data.readers import read_examples
    from tuneforge.eval.tasks.preference import fitted_pairs
    from tuneforge.train.paired import tokenize_pairs as training_tokenize_pairs

    long_prompt = " ".join(WORDS * 4)
    records = [*pair_records(2, seed=4), {"prompt": long_prompt, "chosen": "Y.", "rejected": "N."}]
    path = write_jsonl(tmp_path / "p.jsonl", records)
    pairs = read_examples(path, kind="preference")
    kept, dropped = fitted_pairs(pairs, tokenizer, 40)
    fitted, fit = fit_prompts(pairs, tokenizer, 40, None, "template")
    trained, trained_dropped, _ = training_tokenize_pairs(fitted, tokenizer, 40)
    assert (len(kept), dropped) == (2, 1) == (len(trained), trained_dropped + fit.dropped)
    for (_, chosen, rejected), pair in zip(kept, trained, strict=True):
        assert chosen == pair.chosen and rejected == pair.rejected


def test_a_file_with_no_pair_left_is_an_error(lora, tokenizer, tmp_path):
    from tuneforge.errors import DataError

    path = write_jsonl(tmp_path / "p.jsonl", pair_records(2, seed=4))
    with pytest.raises(DataError, match="max_length=24"):
        run_preference(lora, tokenizer, path, max_length=24)


# -- a reward model ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reward_model(tuneforge_cache, tokenizer):
    """The tiny backbone with a one-output score head (random: seeded), as `method: reward`
    builds it."""
    torch.manual_seed(5)
    model = load_model(
        ModelConfig(name_or_path=TINY, dtype="float32"), progress=quiet, scalar_head=True
    )
    return model.eval()


def test_reward_model_scores_match_plain_forward_passes(reward_model, tokenizer, tmp_path):
    records = pair_records(5, seed=6)
    path = write_jsonl(tmp_path / "pairs.jsonl", records)
    scores = run_preference(reward_model, tokenizer, path, batch_size=2)
    assert set(scores.metrics) == {"reward_accuracy", "reward_margin"}
    accuracy, margin = [], []
    for record, example in zip(records, scores.examples, strict=True):
        with torch.no_grad():
            found = [
                float(reward_model(input_ids=torch.tensor([s.input_ids])).logits[0, 0])
                for s in sequences(tokenizer, record)
            ]
        assert [example["chosen_score"], example["rejected_score"]] == pytest.approx(
            found, abs=1e-4
        )
        accuracy.append(float(found[0] > found[1]))
        margin.append(found[0] - found[1])
    assert scores.metrics["reward_accuracy"].values == accuracy
    assert scores.metrics["reward_margin"].values == pytest.approx(margin, abs=1e-4)
    assert 0 < sum(accuracy) < len(accuracy) or len(set(margin)) > 1  # not a constant head


def test_a_reward_model_has_no_win_rate(reward_model, tokenizer, tmp_path):
    from tuneforge.errors import ConfigError

    path = write_jsonl(tmp_path / "pairs.jsonl", pair_records(1, seed=0))
    with pytest.raises(ConfigError, match="judge.reward_model"):
        run_preference(reward_model, tokenizer, path, judge=JudgeConfig(reward_model="rm"))


# -- the win rate with a reward-model judge ------------------------------------------------


def test_win_rate_is_skipped_for_the_base(base, tokenizer, tmp_path):
    path = write_jsonl(tmp_path / "pairs.jsonl", pair_records(2, seed=0))
    scores = run_preference(base, tokenizer, path, judge=JudgeConfig(reward_model="not-loaded"))
    assert scores.metrics == {} and scores.n == 0
    assert "no win rate" in scores.examples[0]["skipped"]


def test_reward_model_judge_scores_each_reply_once(lora, reward_model, tokenizer, tmp_path):
    """The adapter and its base each reply to 4 prompts; the judge (a reward model saved
    as a model folder) scores both replies in their conversation; outcome 1[tuned > base].
    The expected scores are one unpadded forward pass per conversation."""
    folder = tmp_path / "rm"
    reward_model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    records = pair_records(4, seed=7)
    path = write_jsonl(tmp_path / "pairs.jsonl", records)
    judge = JudgeConfig(reward_model=str(folder))
    scores = run_preference(lora, tokenizer, path, judge=judge, max_new_tokens=6, batch_size=3)
    assert scores.n == 4
    assert set(scores.metrics) == {
        "win_rate",
        "lc_win_rate",
        "mean_length_tuned",
        "mean_length_base",
    }
    outcomes = []
    for record, example in zip(records, scores.examples, strict=True):
        assert example["prompt"] == record["prompt"]
        prompt = [{"role": "user", "content": record["prompt"]}]
        found = []
        for reply in (example["tuned"], example["base"]):
            text = tokenizer.apply_chat_template(
                [*prompt, {"role": "assistant", "content": reply}], tokenize=False
            )
            ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
            with torch.no_grad():
                found.append(float(reward_model(input_ids=ids).logits[0, 0]))
        assert [example["tuned_score"], example["base_score"]] == pytest.approx(found, abs=1e-4)
        outcomes.append(1.0 if found[0] > found[1] else 0.0 if found[0] < found[1] else 0.5)
    assert scores.metrics["win_rate"].values == outcomes
    tuned = [len(e["tuned"]) for e in scores.examples]
    basis = [len(e["base"]) for e in scores.examples]
    assert scores.metrics["mean_length_tuned"].value() == sum(tuned) / 4
    assert scores.metrics["mean_length_base"].value() == sum(basis) / 4
    expected = length_controlled(outcomes, [t - b for t, b in zip(tuned, basis, strict=True)])
    assert scores.metrics["lc_win_rate"].value() == pytest.approx(expected.win_rate, abs=1e-9)
    assert any(e["tuned"] != e["base"] for e in scores.examples)  # the adapter did something


# -- the length-controlled win rate --------------------------------------------------------


def test_length_control_on_a_saturated_design():
    """Two length differences, +10 and -10, so x takes two values +t and -t and the
    unpenalised logistic fit is exact at both: sigmoid(a + b t) = 0.8 (4 wins, 1 loss when
    the tuned reply is longer), sigmoid(a - b t) = 0.5 (2 ties when shorter). Then
    a = (logit 0.8 + logit 0.5) / 2 = ln(4) / 2 = ln 2, and the win rate at equal length
    is sigmoid(ln 2) = 2/3, below the raw 5/7. (A vanishing penalty: none means no fit
    for separable data.)"""
    outcomes = [1, 1, 1, 1, 0, 0.5, 0.5]
    fit = length_controlled(outcomes, [10] * 5 + [-10] * 2, penalty=1e-9)
    assert fit.win_rate == pytest.approx(2 / 3, abs=1e-7)
    assert fit.intercept == pytest.approx(math.log(2), abs=1e-7)
    assert sum(fit.adjusted) / 7 == pytest.approx(fit.win_rate, abs=1e-9)
    assert sum(outcomes) / 7 == pytest.approx(5 / 7)


def test_a_judge_that_only_counts_length_gives_one_half():
    """The longer reply wins 80% of the time, whichever model wrote it: 8 of 10 pairs where
    the tuned reply is longer, 1 of 5 where it is shorter. The raw win rate is 9/15 = 0.6;
    at equal lengths a = (logit 0.8 + logit 0.2) / 2 = 0, a coin flip. The default
    penalty shrinks the length slope, so part of the length effect stays: between."""
    outcomes = [1] * 8 + [0] * 2 + [1] + [0] * 4
    differences = [10] * 10 + [-10] * 5
    assert length_controlled(outcomes, differences, penalty=1e-9).win_rate == pytest.approx(
        0.5, abs=1e-7
    )
    shrunk = length_controlled(outcomes, differences)
    assert 0.5 < shrunk.win_rate < 0.6 and shrunk.slope > 0


def test_symmetric_outcomes_give_one_half():
    """Every length difference d has its mirror -d with the opposite outcome (1 - y): the
    penalised objective is symmetric under (a, b) -> (-a, b) with x -> -x, so a = 0."""
    fit = length_controlled([1, 0.5, 0, 0.5, 1, 0, 1, 0], [5, 5, -5, -5, 20, -20, 3, -3])
    assert fit.win_rate == pytest.approx(0.5, abs=1e-9)
    assert fit.slope > 0


def test_no_length_effect_to_remove():
    """No spread in the lengths, or none in the outcomes: the raw win rate, unchanged."""
    same_length = length_controlled([1, 0, 0.5, 1], [3, 3, 3, 3])
    assert same_length.win_rate == 0.625 and same_length.adjusted == [1, 0, 0.5, 1]
    all_wins = length_controlled([1, 1, 1], [5, -2, 40])
    assert all_wins.win_rate == 1.0 and all_wins.slope == 0.0


def test_adjusted_values_average_to_the_fitted_rate():
    """The intercept's score equation: sum p_i = sum y_i, so mean(y - p + sigmoid(a)) is
    sigmoid(a), the number the Metric reports and bootstraps."""
    rng = random.Random(0)
    outcomes = [rng.choice([0, 0.5, 1]) for _ in range(60)]
    differences = [rng.gauss(30 * (y - 0.5), 100) for y in outcomes]
    fit = length_controlled(outcomes, differences)
    assert sum(fit.adjusted) / 60 == pytest.approx(fit.win_rate, abs=1e-9)
    with pytest.raises(ValueError, match="penalty"):
        length_controlled(outcomes, differences, penalty=0)


# -- an LLM judge's verdicts (over HTTP: tests/integration/test_eval_preference_judge.py) --


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("[[A]]", "A"), ("[[B]]", "B"), ("Reply B is clearer.\n\n[[B]]", "B"), ("[[ a ]]", "A"),
        ("A", "A"), ("**B**.", "B"), ("(A)", "A"),
        ("[[A]] or [[B]]", None), ("Both are good.", None), ("Reply A", None), ("", None),
        (None, None),
    ],
)  # fmt: skip
def test_read_verdict(text, verdict):
    assert read_verdict(text) == verdict


@pytest.mark.parametrize(
    ("tuned_as_a", "tuned_as_b", "outcome"),
    [
        ("A", "B", 1.0), ("B", "A", 0.0),  # consistent
        ("A", "A", 0.5), ("B", "B", 0.5),  # the position decided: a tie
        (None, "B", 0.5), ("A", None, 0.5), (None, None, 0.5),  # unreadable: a tie
    ],
)  # fmt: skip
def test_pair_outcome(tuned_as_a, tuned_as_b, outcome):
    assert pair_outcome(tuned_as_a, tuned_as_b) == outcome
