"""One decoding step's choice of token for one request: penalties, constraint, sampler."""

from __future__ import annotations

import torch

from tuneforge.serve.engine.base import SamplingParams, TopLogprob


def penalised(logits: torch.Tensor, counts: dict[int, int], params: SamplingParams) -> torch.Tensor:
    """OpenAI's presence and frequency penalties over the tokens generated so far."""
    if not counts or (params.presence_penalty == 0 and params.frequency_penalty == 0):
        return logits
    ids = torch.tensor(list(counts), dtype=torch.long)
    seen = torch.tensor(list(counts.values()), dtype=logits.dtype)
    logits = logits.clone()
    logits[ids] -= params.frequency_penalty * seen + params.presence_penalty
    return logits


def choose(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator | None) -> int:
    """Greedy at temperature 0, else nucleus sampling (top_p) at the temperature."""
    if params.temperature == 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits / params.temperature, dim=-1)
    if params.top_p < 1:
        sorted_probs, order = torch.sort(probs, descending=True)
        # keep the smallest prefix whose mass reaches top_p (the first token always stays)
        outside = torch.cumsum(sorted_probs, 0) - sorted_probs >= params.top_p
        sorted_probs[outside] = 0
        probs = torch.zeros_like(probs).scatter_(0, order, sorted_probs)
    return int(torch.multinomial(probs, 1, generator=generator))


def top_logprobs(logprobs: torch.Tensor, k: int, decode) -> tuple[TopLogprob, ...]:
    if k == 0:
        return ()
    values, ids = torch.topk(logprobs, k)
    return tuple(
        TopLogprob(int(i), decode(int(i)), float(v)) for v, i in zip(values, ids, strict=True)
    )
