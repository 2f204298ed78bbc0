"""Generation scored against references: the model replies to each prompt (greedy by
default) and each scorer compares the reply with the reference.

Records are anything training reads as SFT data: the last assistant turn is the
reference and the conversation before it the prompt (so a validation file of a run is an
eval file as it stands). Stop strings cut the reply at the first one found, as an API's
`stop` does; a "\\n" written in YAML is a real newline by the time it gets here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tuneforge.data import ChatExample, CompletionExample, read_examples
from tuneforge.errors import DataError
from tuneforge.eval.scorers import get_scorer
from tuneforge.eval.task import Metric, TaskScores

DEFAULT_MAX_NEW_TOKENS = 256


def run_generate(
    model,
    tokenizer,
    path: Path,
    *,
    scorers: Sequence[str] = ("normalised",),
    scorer_options: dict[str, dict[str, Any]] | None = None,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    stop: Sequence[str] = (),
    temperature: float = 0.0,
    batch_size: int = 16,
) -> TaskScores:
    from tuneforge.models.inference import generate_replies

    options = scorer_options or {}
    score_with = {name: get_scorer(name, **options.get(name, {})) for name in scorers}
    prompts, references = prompts_and_references(path)
    replies = generate_replies(
        model, tokenizer, prompts, max_new_tokens, temperature, batch_size=batch_size
    )
    replies = [cut_at_stop(reply, stop) for reply in replies]
    values: dict[str, list[float]] = {name: [] for name in score_with}
    for reply, reference in zip(replies, references, strict=True):
        for name, score in score_with.items():
            try:
                values[name].append(float(score(reply, reference)))
            except ValueError as exc:  # a reference the scorer cannot read
                raise DataError(str(path), None, "reference", f"{name}: {exc}") from None
    details = [
        {"prompt": p[-1]["content"], "reference": r, "prediction": reply}
        | {name: values[name][i] for name in values}
        for i, (p, r, reply) in enumerate(zip(prompts, references, replies, strict=True))
    ]
    metrics = {name: Metric(v) for name, v in values.items()}
    return TaskScores(metrics, n=len(replies), examples=details)


def prompts_and_references(path: Path) -> tuple[list[list[dict]], list[str]]:
    """(conversation before the last assistant turn, that turn's text) per record; a
    prompt/completion record is a one-turn conversation whose reference is the completion."""
    prompts, references = [], []
    for i, example in enumerate(read_examples(path, kind="sft")):
        if isinstance(example, CompletionExample):
            prompts.append([{"role": "user", "content": example.prompt}])
            references.append(example.completion)
            continue
        if not isinstance(example, ChatExample) or example.messages[-1].role != "assistant":
            raise DataError(
                str(path), None, f"record {i + 1}",
                "a generation task needs records ending in the assistant's reference reply "
                "(messages, Alpaca, ShareGPT, prompt/completion)",
            )  # fmt: skip
        *before, last = example.messages
        prompts.append([m.as_template_dict() for m in before])
        references.append(last.content or "")
    return prompts, references


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """The text before the earliest stop string in it."""
    ends = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return text[: min(ends)] if ends else text
