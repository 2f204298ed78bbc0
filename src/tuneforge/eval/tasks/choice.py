"""Multiple choice by log-likelihood, scored the way lm-evaluation-harness scores it.

For a record with context c and choices x_1..x_k (each joined to c by the file's delimiter:
" " for MMLU, nothing for JSONL), the score of choice i is the summed log-probability of
its continuation tokens given everything before them,

    ll_i = sum_t log p(y_t | c, y_<t)      over the tokens y of x_i that follow c's own tokens,

and per record

    acc          = 1[argmax_i ll_i == answer]
    acc_norm     = 1[argmax_i ll_i / bytes(x_i) == answer]     (UTF-8 length of the choice)
    prob_correct = softmax(ll)_answer                          (exp ll_answer / sum_i exp ll_i)

Ties go to the first choice (numpy's argmax). `prob_correct` moves with every change in the
model's preference, where accuracy only moves when the argmax flips: the number to read for
a small model near chance.

Tokenization copies the harness's `LM._encode_pair` and `LM.loglikelihood`
(`lm_eval/api/model.py`, v0.4): whitespace that ends the context moves to the front of the
continuation (so "Answer: A" tokenizes as "Answer:" + " A", the way the model saw such text
in training); the continuation's tokens are those of `encode(context + continuation)` after
the first `len(encode(context))`; a text that starts with the BOS token's text is encoded
without special tokens; an empty context is the BOS token (EOS when there is none).
Sequences longer than the model's context keep their last tokens, as the harness does.

Batching: (context, choice) pairs whose model inputs (context + continuation minus its last
token) are equal, or one a prefix of another, share one row: MMLU's four one-token letters
are one forward pass per question, as in the harness's logits cache. Rows are sorted
longest first and right-padded without an attention mask: a causal model's logits at a
position never see the padding after it. Tokens that every row starts with (MMLU's subject
line; few-shot examples) run once into a KV cache that each batch continues from, and the
LM head runs only where a continuation token is scored (models/logprobs.py), not over the
whole prompt. Measured on 5 MMLU subjects (docs/benchmarks.md): the same 819 predictions as
the harness, log-likelihoods within 5e-5.
"""

from __future__ import annotations

import copy
import inspect
import math
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from tuneforge.data import IGNORE, Batch
from tuneforge.errors import ConfigError, DataError
from tuneforge.eval.task import Metric, TaskScores
from tuneforge.eval.tasks.choice_formats import ChoiceRecord, read_choice_file
from tuneforge.models.logprobs import direct_head_supported, trained_outputs

FEW_SHOT_DELIMITER = "\n\n"  # the harness's default fewshot_delimiter
_DEFAULT_MAX_LENGTH = 2048  # the harness's, for a model whose config names no context length
_PASS_COST_TOKENS = {"cpu": 48}
"""A forward pass's fixed cost in tokens, per device type. On a CPU padding costs as much as
a real token: SmolLM2-135M on 2 cores runs 1 row of 62 tokens in 94 ms and 16 such rows in
820 ms (51 ms a row), so a pass costs ~43 ms, ~50 tokens, beyond its tokens; cutting
batches where that saves padding took 5 MMLU subjects from 55 s to 50 s. Not measured on
GPUs, where padding is nearly free until the device is busy: full batches there."""
_TOKENIZER_INFINITY = 10**20  # transformers' model_max_length when the tokenizer sets none


def run_choice(
    model,
    tokenizer,
    path: Path,
    *,
    batch_size: int = 16,
    few_shot: int = 0,
    chat_template: bool = False,
    seed: int = 0,
) -> TaskScores:
    """Score every record of a multiple-choice file (choice_formats.py): `acc`, `acc_norm`
    and `prob_correct`, one value per record.

    `few_shot` > 0 takes the file's first `few_shot` records as solved examples, placed
    before every other record's question (in an order fixed by `seed`) and not scored.
    `chat_template` renders each whole context (description, examples, question) as one
    user turn of the tokenizer's chat template with the generation prompt; the choice then
    follows the assistant header with no delimiter, as under the harness's
    `--apply_chat_template` (which puts the description in a system turn instead).
    """
    if batch_size < 1:
        raise ConfigError(f"choice task: batch_size must be at least 1, got {batch_size}")
    if few_shot < 0:
        raise ConfigError(f"choice task: few_shot must be 0 or more, got {few_shot}")
    file = read_choice_file(path)
    if few_shot >= len(file.records):
        raise DataError(
            str(path), None, None,
            f"few_shot={few_shot} uses every one of the file's {len(file.records)} records as "
            "an example, leaving none to score; lower few_shot or add records",
        )  # fmt: skip
    shots = file.records[:few_shot]
    random.Random(seed).shuffle(shots)
    scored = file.records[few_shot:]
    shot_text = "".join(_solved(shot, file.delimiter) + FEW_SHOT_DELIMITER for shot in shots)
    delimiter = "" if chat_template else file.delimiter

    pairs: list[tuple[str, str]] = []
    for record in scored:
        context = record.description + shot_text + record.prompt
        if chat_template:
            context = _render_user_turn(tokenizer, context)
        pairs += [(context, delimiter + choice) for choice in record.choices]
    lls = loglikelihoods(model, tokenizer, pairs, batch_size=batch_size)
    return _scores(scored, lls)


def _solved(record: ChoiceRecord, delimiter: str) -> str:
    return record.prompt + delimiter + record.choices[record.answer]


def _render_user_turn(tokenizer, text: str) -> str:
    if getattr(tokenizer, "chat_template", None) is None:
        raise ConfigError(
            "choice task: chat_template is on but the tokenizer has no chat template; "
            "turn it off or use a chat model"
        )
    messages = [{"role": "user", "content": text}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def _scores(records: Sequence[ChoiceRecord], lls: list[float]) -> TaskScores:
    acc, acc_norm, prob_correct, examples = [], [], [], []
    start = 0
    for record in records:
        ll = np.array(lls[start : start + len(record.choices)])
        start += len(record.choices)
        lengths = np.array([len(choice.encode("utf-8")) for choice in record.choices])
        pred, pred_norm = int(np.argmax(ll)), int(np.argmax(ll / lengths))
        probs = np.exp(ll - ll.max())
        p = float(probs[record.answer] / probs.sum())
        acc.append(float(pred == record.answer))
        acc_norm.append(float(pred_norm == record.answer))
        prob_correct.append(p)
        examples.append(
            {
                "line": record.line,
                "prompt": record.prompt,
                "choices": record.choices,
                "answer": record.answer,
                "loglikelihoods": ll.tolist(),
                "prediction": pred,
                "prediction_norm": pred_norm,
                "prob_correct": p,
            }
        )
    metrics = {
        "acc": Metric(acc),
        "acc_norm": Metric(acc_norm),
        "prob_correct": Metric(prob_correct),
    }
    return TaskScores(metrics=metrics, n=len(records), examples=examples)


# -- log-likelihoods of (context, continuation) pairs ------------------------------------


def encode_pairs(tokenizer, pairs: Sequence[tuple[str, str]]) -> list[tuple[list[int], list[int]]]:
    """(context tokens, continuation tokens) for each pair, as the harness splits them."""
    prefix_id = tokenizer.bos_token_id
    if prefix_id is None:
        prefix_id = tokenizer.eos_token_id
    prefix_text = tokenizer.decode([prefix_id])
    moved = []
    for context, continuation in pairs:
        stripped = context.rstrip()
        moved.append((stripped, context[len(stripped) :] + continuation))
    contexts = sorted({c for c, _ in moved if c})
    context_ids = dict(zip(contexts, _encode(tokenizer, contexts, prefix_text), strict=True))
    wholes = _encode(tokenizer, [c + x for c, x in moved if c], prefix_text)
    empties = [x for c, x in moved if not c]
    alone = iter(tokenizer(empties, add_special_tokens=False)["input_ids"] if empties else [])
    whole = iter(wholes)
    encoded = []
    for context, _ in moved:
        if not context:  # conditioned on BOS alone, unless the continuation starts with it
            ids = list(next(alone))
            encoded.append(([prefix_id], ids) if ids[:1] != [prefix_id] else (ids[:1], ids[1:]))
        else:
            ctx = context_ids[context]
            encoded.append((ctx, next(whole)[len(ctx) :]))
    return encoded


def _encode(tokenizer, texts: list[str], prefix_text: str) -> list[list[int]]:
    """tokenizer(text) with its default special tokens, or without them when the text
    already starts with the BOS text (a rendered chat template), in one call per kind."""
    out: list[list[int]] = [[] for _ in texts]
    for special in (True, False):
        picked = [i for i, t in enumerate(texts) if t.startswith(prefix_text) != special]
        if picked:
            ids = tokenizer([texts[i] for i in picked], add_special_tokens=special)["input_ids"]
            for i, row in zip(picked, ids, strict=True):
                out[i] = list(row)
    return out


def max_length(model, tokenizer) -> int:
    """The model's context length, looked up as the harness's `resolve_max_length` does."""
    config = getattr(model.config, "text_config", None) or model.config
    for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
        if getattr(config, attr, None) is not None:
            return int(getattr(config, attr))
    limit = getattr(tokenizer, "model_max_length", None)
    return int(limit) if limit is not None and limit < _TOKENIZER_INFINITY else _DEFAULT_MAX_LENGTH


@torch.inference_mode()
def loglikelihoods(
    model, tokenizer, pairs: Sequence[tuple[str, str]], batch_size: int = 16
) -> list[float]:
    """The summed log-probability of each pair's continuation given its context."""
    requests = _requests(model, tokenizer, pairs)  # (model input, continuation tokens)
    host = _shared_rows({inp for inp, _ in requests})
    rows = sorted(set(host.values()), key=lambda row: (-len(row), row))
    row_of = {row: i for i, row in enumerate(rows)}
    by_row: list[list[int]] = [[] for _ in rows]
    for r, (inp, _) in enumerate(requests):
        by_row[row_of[host[inp]]].append(r)

    forward = _Forward(model, rows, requests)
    skip = forward.prefix  # tokens every row starts with, run once
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    totals = [0.0] * len(requests)
    pass_cost = _PASS_COST_TOKENS.get(forward.device.type)
    for start, end in _passes([len(row) - skip for row in rows], batch_size, pass_cost):
        chunk = rows[start:end]
        width = len(chunk[0]) - skip  # rows are sorted longest first
        input_ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        wanted = torch.zeros((len(chunk), width), dtype=torch.bool)
        for i, row in enumerate(chunk):
            input_ids[i, : len(row) - skip] = torch.tensor(row[skip:])
            for r in by_row[start + i]:
                inp, continuation = requests[r]
                wanted[i, len(inp) - len(continuation) - skip : len(inp) - skip] = True
        lengths = torch.tensor([len(row) - skip for row in chunk])
        logps = torch.log_softmax(forward(input_ids, wanted, lengths).float(), dim=-1).cpu()
        flat = torch.full((len(chunk), width), -1, dtype=torch.long)
        flat[wanted] = torch.arange(int(wanted.sum()))  # (row, position) -> row of logps
        for i in range(len(chunk)):
            for r in by_row[start + i]:
                inp, continuation = requests[r]
                at = flat[i, len(inp) - len(continuation) - skip : len(inp) - skip]
                picked = logps[at, torch.tensor(continuation)]
                totals[r] = float(picked.double().sum())
    return totals


def _passes(lengths: list[int], batch_size: int, pass_cost: int | None) -> list[tuple[int, int]]:
    """(start, end) of each forward pass over rows sorted longest first, at most
    `batch_size` rows each. With a `pass_cost` (in tokens) the cuts minimise padded tokens
    plus that cost per pass (dynamic programming, O(rows x batch_size)); without, every
    pass but the last has `batch_size` rows."""
    if pass_cost is None:
        return [(i, min(i + batch_size, len(lengths))) for i in range(0, len(lengths), batch_size)]
    best, cut = [0.0] + [math.inf] * len(lengths), [0] * (len(lengths) + 1)
    for end in range(1, len(lengths) + 1):
        for start in range(max(0, end - batch_size), end):
            cost = best[start] + (end - start) * lengths[start] + pass_cost
            if cost < best[end]:
                best[end], cut[end] = cost, start
    passes, end = [], len(lengths)
    while end:
        passes.append((cut[end], end))
        end = cut[end]
    return passes[::-1]


def _requests(model, tokenizer, pairs) -> list[tuple[tuple[int, ...], list[int]]]:
    """(model input, continuation tokens) per pair: the input is context + continuation
    without its last token, its last `limit` tokens when longer than the model's context."""
    limit = max_length(model, tokenizer)
    requests = []
    for context, continuation in encode_pairs(tokenizer, pairs):
        if not continuation:
            raise ConfigError(
                "choice task: a choice has no tokens of its own after the context "
                f"(context ends {tokenizer.decode(context[-5:])!r}); give every choice text"
            )
        if len(continuation) > limit:
            raise ConfigError(
                f"choice task: a choice of {len(continuation)} tokens is longer than the "
                f"model's context ({limit} tokens)"
            )
        tokens = (context + continuation)[-(limit + 1) :]
        requests.append((tuple(tokens[:-1]), continuation))
    return requests


class _Forward:
    """Logits at the `wanted` positions of right-padded rows, every row having the same
    first `prefix` tokens already run once into a KV cache.

    The prefix is what all rows share before the first scored position: MMLU's subject line
    (14 of ~76 tokens a question for SmolLM2, 18% of the work), or with few-shot examples
    most of every row. Without the model's decoder and head to call directly (PEFT prompt
    learning puts virtual tokens in front) rows run whole through `trained_outputs`.
    """

    def __init__(self, model, rows: list[tuple[int, ...]], requests) -> None:
        self.model, self.device = model, next(model.parameters()).device
        self.direct = direct_head_supported(model, distributed=False)
        self.prefix, self.cache = 0, None
        if not self.direct:
            return
        # The longest prefix common to a set of sequences is that of its first and last
        # in sorted order; it must stop before the first position anything is scored at.
        first, last = min(rows), max(rows)
        shared = next(
            (i for i, (a, b) in enumerate(zip(first, last, strict=False)) if a != b), len(first)
        )
        self.prefix = min(shared, *(len(inp) - len(cont) for inp, cont in requests))
        if self.prefix == 0:
            return
        from transformers import DynamicCache

        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        self.decoder, self.head = base.get_decoder(), base.get_output_embeddings()
        # transformers renamed the decoder's `past_key_values` argument to `cache` (5.24).
        params = inspect.signature(self.decoder.forward).parameters
        self.cache_arg = "cache" if "cache" in params else "past_key_values"
        self.cache = DynamicCache(config=self.decoder.config)
        prefix_ids = torch.tensor([first[: self.prefix]], device=self.device)
        self.decoder(input_ids=prefix_ids, use_cache=True, **{self.cache_arg: self.cache})

    def __call__(
        self, input_ids: torch.Tensor, wanted: torch.Tensor, lengths: torch.Tensor
    ) -> torch.Tensor:
        """[n wanted, vocab] for input_ids [rows, width] (the tokens after the prefix,
        `lengths` of them real in each row, the rest padding)."""
        input_ids, wanted = input_ids.to(self.device), wanted.to(self.device)
        if self.cache is None:
            # Only `wanted` positions reach the LM head; the target values are
            # placeholders, since pairs sharing a row score different tokens there.
            targets = torch.where(wanted, 0, IGNORE)
            batch = Batch(input_ids, targets, None, None, lengths)
            return trained_outputs(self.model, batch, self.direct).logits
        cache = copy.deepcopy(self.cache)  # the forward pass appends to it
        cache.batch_repeat_interleave(input_ids.shape[0])
        # No attention mask: positions follow the cache's length, and a causal model's
        # logits at a position never see the padding after it.
        out = self.decoder(input_ids=input_ids, use_cache=True, **{self.cache_arg: cache})
        return self.head(out.last_hidden_state[wanted])


def _shared_rows(inputs: set[tuple[int, ...]]) -> dict[tuple[int, ...], tuple[int, ...]]:
    """Each input -> the longest input it is a prefix of (itself when none): one forward
    pass over that row gives the logits of all of them. In sorted order an input's
    extensions follow it directly, so one backward sweep finds them."""
    ordered = sorted(inputs)
    host: dict[tuple[int, ...], tuple[int, ...]] = {}
    following = None
    for inp in reversed(ordered):
        extends = following is not None and following[: len(inp)] == inp
        host[inp] = host[following] if extends else inp
        following = inp
    return host
