"""Reference log-probs are computed for the pairs the run uses, cached, and extended."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from tuneforge.data.templating import IGNORE, TokenizedExample
from tuneforge.train.pair_batches import PairPlan, TokenizedPair
from tuneforge.train.reference import precomputed


class CountingReference:
    """Stands in for the model: log-prob = the sequence's first token id, and it
    remembers how many pairs each call computed."""

    accelerator = SimpleNamespace(device=torch.device("cpu"))

    def __init__(self):
        self.calls: list[int] = []

    def logps(self, sequences, segments, n_sequences):
        self.calls.append(n_sequences // 2)
        return sequences.input_ids[:, 0].float()


def plan_of(n_pairs: int, batch_size: int = 2) -> PairPlan:
    def sequence(first: int) -> TokenizedExample:
        return TokenizedExample([first, 7, 8], [IGNORE, 8, IGNORE])

    pairs = [TokenizedPair(sequence(10 + i), sequence(100 + i)) for i in range(n_pairs)]
    return PairPlan(pairs, batch_size, pad_id=0, seed=0, group_by_length=False)


def test_a_short_run_computes_only_the_pairs_it_trains_on(tmp_path):
    plan, reference = plan_of(10), CountingReference()
    order = plan.pairs_in_use(batches=2)  # a 2-step run of batch 2 uses 4 of 10 pairs
    out = precomputed(reference, plan, tmp_path / "ref.pt", "m", order)
    used = sorted(i for batch in order for i in batch)
    assert reference.calls == [2, 2] and len(used) == 4
    assert out[used].tolist() == [[10.0 + i, 100.0 + i] for i in used]
    unused = [i for i in range(10) if i not in used]
    assert out[unused].isnan().all()
    assert plan.collate(order[0]).reference is None  # the plan has no cache set
    plan.reference = out
    assert plan.collate(order[0]).precomputed_reference is not None
    assert plan.collate(unused[:2]).precomputed_reference is None  # computed on the fly


def test_resume_reuses_the_cache_and_computes_only_what_is_new(tmp_path):
    plan, cache = plan_of(10), tmp_path / "ref.pt"
    precomputed(CountingReference(), plan, cache, "m", plan.pairs_in_use(batches=2))
    again = CountingReference()
    precomputed(again, plan, cache, "m", plan.pairs_in_use(batches=2))
    assert again.calls == []  # same run resumed: nothing recomputed
    more = CountingReference()
    out = precomputed(more, plan, cache, "m", plan.pairs_in_use(batches=None))
    assert more.calls == [2, 2, 2]  # max_steps raised to a whole epoch: the 6 missing pairs
    assert not out.isnan().any()


def test_a_cache_for_other_tokens_or_another_model_is_not_used(tmp_path):
    cache = tmp_path / "ref.pt"
    precomputed(CountingReference(), plan_of(4), cache, "m", plan_of(4).pairs_in_use(None))
    other_model = CountingReference()
    precomputed(other_model, plan_of(4), cache, "another", plan_of(4).pairs_in_use(None))
    assert other_model.calls == [2, 2]


def test_a_whole_epoch_or_more_uses_every_pair_in_dataset_order():
    plan = plan_of(5)
    assert plan.pairs_in_use(None) == [[0, 1], [2, 3], [4]]
    assert plan.pairs_in_use(plan.num_batches * 3) == plan.pairs_in_use(None)
