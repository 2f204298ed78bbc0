"""Forward passes on the tiny model: the head-only-where-trained shortcut matches the
full forward, and an example packed with others sees exactly what it sees alone."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import TINY, chat_records
from tuneforge.config import AdapterConfig, ModelConfig
from tuneforge.data import collate, collate_packed, tokenize_examples
from tuneforge.data.records import parse_record
from tuneforge.models import attach_adapter, load_model
from tuneforge.models.logprobs import direct_head_supported, trained_logits


@pytest.fixture(scope="module")
def model():
    return load_model(ModelConfig(name_or_path=TINY), progress=lambda m: None).eval()


@pytest.fixture(scope="module")
def examples(tokenizer):
    records = chat_records(3, seed=7)
    parsed = [parse_record(r, "test", i) for i, r in enumerate(records)]
    tokenized, _ = tokenize_examples(parsed, tokenizer, max_length=128)
    return tokenized


PAD = 2  # the tiny tokenizer's pad token (<|im_end|>)


def alone_logits(model, examples, direct: bool) -> torch.Tensor:
    return torch.cat([trained_logits(model, collate([e], PAD), direct)[0] for e in examples])


@torch.no_grad()
@pytest.mark.parametrize("direct", [True, False])
def test_packed_example_matches_the_example_alone(model, examples, direct):
    rows = [examples[:2], examples[2:]]  # two examples in row 0, one in row 1, padded
    logits, targets = trained_logits(model, collate_packed(rows, PAD), direct)
    assert targets.tolist() == [t for e in examples for t in e.targets if t >= 0]
    torch.testing.assert_close(logits, alone_logits(model, examples, direct), atol=1e-4, rtol=1e-4)


@torch.no_grad()
def test_without_position_restarts_examples_would_see_each_other(model, examples):
    """The check above is sensitive: one causal mask over the row changes the logits."""
    packed = collate_packed([examples], PAD)
    packed.position_ids = torch.arange(packed.input_ids.shape[1]).unsqueeze(0)
    logits, _ = trained_logits(model, packed, True)
    assert not torch.allclose(logits, alone_logits(model, examples, True), atol=1e-4)


@torch.no_grad()
def test_direct_head_matches_full_forward_with_padding(model, examples):
    batch = collate(examples, PAD)
    direct = trained_logits(model, batch, direct_head=True)
    full = trained_logits(model, batch, direct_head=False)
    torch.testing.assert_close(direct, full, atol=1e-5, rtol=1e-5)


def test_prompt_learning_and_ddp_take_the_full_forward():
    base = load_model(ModelConfig(name_or_path=TINY), progress=lambda m: None)
    lora = attach_adapter(base, AdapterConfig(type="lora"))
    assert direct_head_supported(lora, distributed=False)
    assert not direct_head_supported(lora, distributed=True)
    base = load_model(ModelConfig(name_or_path=TINY), progress=lambda m: None)
    prompt = attach_adapter(base, AdapterConfig(type="prompt_tuning", num_virtual_tokens=4))
    assert not direct_head_supported(prompt, distributed=False)


@torch.no_grad()
@pytest.mark.parametrize("packed", [False, True])
def test_split_batch_gives_the_same_summed_loss(model, examples, packed):
    """train.max_tokens_per_forward: the chunks' summed loss and token counts equal the batch's."""
    from tuneforge.train.methods.sft.loss import token_cross_entropy

    batch = collate_packed([[e] for e in examples], PAD) if packed else collate(examples, PAD)
    chunks = batch.split(max_tokens=batch.input_ids.shape[1])  # one row per chunk
    assert len(chunks) == len(examples)
    assert sum(c.n_tokens for c in chunks) == batch.n_tokens
    assert sum(c.n_trained for c in chunks) == batch.n_trained
    assert all(c.input_ids.shape[1] <= batch.input_ids.shape[1] for c in chunks)
    whole, _ = token_cross_entropy(*trained_logits(model, batch, direct_head=True))
    parts = sum(token_cross_entropy(*trained_logits(model, c, direct_head=True))[0] for c in chunks)
    assert parts.item() == pytest.approx(whole.item(), rel=1e-5)
    assert batch.split(None) == [batch]
