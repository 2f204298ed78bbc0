"""Reading an export back and checking it computes what its source computes.

Both models run in float32 on the same token ids: the source from its HF folder, the
export through transformers' GGUF loader (which dequantises every tensor and undoes the
Q/K permutation, an implementation independent of our writer). On a few fixed chat
prompts, rendered by the source's template, we compare the next-token distribution at
every position, with p the source's and q the export's softmax:

    top-1 agreement   fraction of positions where argmax p == argmax q
    mean KL           mean over positions of KL(p || q) = sum_v p_v (log p_v - log q_v), nats
    max |diff|        largest absolute logit difference anywhere

and each model's greedy continuation (`max_new_tokens`, stopping at EOS). The tokenizer
read back from the GGUF must also encode every prompt to the same ids.

What passes depends on what the export may lose (RULES): f16 and bf16 only round each
weight, so greedy continuations must be identical; q8_0 loses more, so top-1 agreement must
be at least 0.95 and the KL is reported. A failure raises ParityError carrying the numbers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from tuneforge.export.errors import ParityError

Message = dict[str, str]

DEFAULT_PROMPTS: tuple[tuple[Message, ...], ...] = (
    ({"role": "user", "content": "What is the capital of France?"},),
    ({"role": "user", "content": "Write a haiku about autumn leaves."},),
    ({"role": "user", "content": "Explain in one sentence why the sky is blue."},),
    (
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "List three prime numbers."},
    ),
    (
        {"role": "user", "content": "Hi!"},
        {"role": "assistant", "content": "Hello! How can I help you today?"},
        {"role": "user", "content": "Tell me one fact about octopuses."},
    ),
)
Q8_0_MIN_TOP1 = 0.95


@dataclass
class PromptParity:
    prompt_tokens: int
    top1_agreement: float
    mean_kl: float
    max_abs_logit_diff: float
    source_greedy: list[int]
    export_greedy: list[int]

    @property
    def greedy_identical(self) -> bool:
        return self.source_greedy == self.export_greedy


@dataclass
class ParityReport:
    """The numbers of one check; `to_dict()` is what parity.json holds."""

    quant: str
    source: str
    export: str
    rule: str
    passed: bool
    positions: int
    top1_agreement: float
    mean_kl: float
    max_abs_logit_diff: float
    greedy_identical: bool
    tokenizer_identical: bool
    seconds: float
    prompts: list[PromptParity] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for prompt, row in zip(self.prompts, data["prompts"], strict=True):
            row["greedy_identical"] = prompt.greedy_identical
        return data

    def write(self, path: Path) -> Path:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return Path(path)


def _greedy_rule(report: ParityReport) -> tuple[bool, str]:
    return report.greedy_identical, "greedy continuations identical on every prompt"


def _top1_rule(report: ParityReport) -> tuple[bool, str]:
    passed = report.top1_agreement >= Q8_0_MIN_TOP1
    return passed, f"top-1 agreement >= {Q8_0_MIN_TOP1} (KL reported)"


RULES: dict[str, Callable[[ParityReport], tuple[bool, str]]] = {
    "f16": _greedy_rule,
    "bf16": _greedy_rule,
    # An HF export: the weights as saved, at most rounded to the dtype asked for.
    "float32": _greedy_rule,
    "float16": _greedy_rule,
    "bfloat16": _greedy_rule,
    "q8_0": _top1_rule,
}


def check_parity(
    source_folder: Path,
    gguf_path: Path,
    quant: str,
    prompts: Sequence[Sequence[Message]] = DEFAULT_PROMPTS,
    max_new_tokens: int = 16,
) -> ParityReport:
    """Compare the GGUF at `gguf_path` with the HF model in `source_folder`; raise
    ParityError if it fails `RULES[quant]`, else return the report."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if quant not in RULES:
        raise ValueError(f"quant {quant!r}: no parity rule (known: {', '.join(RULES)})")
    started = time.monotonic()
    gguf_path = Path(gguf_path)
    tokenizer = AutoTokenizer.from_pretrained(source_folder)
    read_back = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    source = AutoModelForCausalLM.from_pretrained(source_folder, dtype=torch.float32)
    export = AutoModelForCausalLM.from_pretrained(
        gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32
    )
    texts = [
        tokenizer.apply_chat_template(list(p), tokenize=False, add_generation_prompt=True)
        for p in prompts
    ]
    ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    same_tokens = all(
        read_back(t, add_special_tokens=False)["input_ids"] == i
        for t, i in zip(texts, ids, strict=True)
    )
    rows = compare_models(source, export, ids, tokenizer.eos_token_id, max_new_tokens)
    report = summarise(rows, quant, str(source_folder), str(gguf_path), same_tokens)
    report.seconds = round(time.monotonic() - started, 2)
    return enforce(report)


def compare_models(
    source, export, prompt_ids: list[list[int]], eos_token_id: int | None, max_new_tokens: int
) -> list[PromptParity]:
    """Per prompt: next-token logits compared at every position, and greedy continuations."""
    rows = []
    for ids in prompt_ids:
        batch = torch.tensor([ids])
        with torch.no_grad():
            # (positions, vocab), in float64 so a KL near zero is not rounding noise
            p_logits = source(batch).logits[0].double()
            q_logits = export(batch).logits[0].double()
        log_p = torch.log_softmax(p_logits, dim=-1)
        log_q = torch.log_softmax(q_logits, dim=-1)
        kl = (log_p.exp() * (log_p - log_q)).sum(-1)  # (positions,)
        rows.append(
            PromptParity(
                prompt_tokens=len(ids),
                top1_agreement=(p_logits.argmax(-1) == q_logits.argmax(-1)).float().mean().item(),
                mean_kl=kl.mean().item(),
                max_abs_logit_diff=(p_logits - q_logits).abs().max().item(),
                source_greedy=greedy(source, ids, eos_token_id, max_new_tokens),
                export_greedy=greedy(export, ids, eos_token_id, max_new_tokens),
            )
        )
    return rows


def greedy(model, ids: list[int], eos_token_id: int | None, max_new_tokens: int) -> list[int]:
    """The argmax continuation under an explicit config, so both models decode by the same
    rules (a GGUF-loaded model carries no generation_config of its own)."""
    from transformers import GenerationConfig

    config = GenerationConfig(
        do_sample=False,
        max_new_tokens=max_new_tokens,
        eos_token_id=eos_token_id,
        pad_token_id=eos_token_id,
    )
    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), generation_config=config)
    return out[0, len(ids) :].tolist()


def summarise(
    rows: list[PromptParity], quant: str, source: str, export: str, same_tokens: bool
) -> ParityReport:
    positions = sum(r.prompt_tokens for r in rows)

    def weighted(values: list[float]) -> float:
        return sum(v * r.prompt_tokens for v, r in zip(values, rows, strict=True)) / positions

    return ParityReport(
        quant=quant,
        source=source,
        export=export,
        rule="",
        passed=False,
        positions=positions,
        top1_agreement=weighted([r.top1_agreement for r in rows]),
        mean_kl=weighted([r.mean_kl for r in rows]),
        max_abs_logit_diff=max(r.max_abs_logit_diff for r in rows),
        greedy_identical=all(r.greedy_identical for r in rows),
        tokenizer_identical=same_tokens,
        seconds=0.0,
        prompts=rows,
    )


def enforce(report: ParityReport) -> ParityReport:
    """Apply the quant's rule (and the tokenizer check); raise ParityError on failure."""
    passed, rule = RULES[report.quant](report)
    report.rule = rule + "; tokenizer read back encodes every prompt identically"
    finite = all(
        torch.isfinite(torch.tensor([r.mean_kl, r.max_abs_logit_diff])).all()
        for r in report.prompts
    )
    report.passed = passed and report.tokenizer_identical and finite
    if not report.passed:
        raise ParityError(
            f"{report.export}: parity check failed ({report.rule}): "
            f"top-1 agreement {report.top1_agreement:.4f}, mean KL {report.mean_kl:.3g} nats, "
            f"max |logit diff| {report.max_abs_logit_diff:.3g}, greedy identical "
            f"{report.greedy_identical}, tokenizer identical {report.tokenizer_identical}",
            report.to_dict(),
        )
    return report
