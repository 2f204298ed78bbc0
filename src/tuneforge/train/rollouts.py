"""Rollouts for the online methods (ppo, grpo): prompts in, sampled completions with
rewards and per-token log-probabilities out, as batches the shared loop can train on.

The loop asks its plan for batch i; a RolloutPlan answers by generating (the policy
samples completions for the step's prompts, the reward source scores them, the recipe
turns scores into advantages), and serves the same rollout for `updates_per_rollout`
consecutive steps, as PPO's several epochs over one batch of experience. Prompt order
is a pure function of (seed, epoch) and sampling draws on the RNG state checkpoints
restore. A checkpoint taken between two updates of one rollout also keeps that rollout
(the policy that sampled it has moved on) and the recipe's carried state, such as PPO's
adaptive KL coefficient, so a resumed run continues exactly as a straight one.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch

from tuneforge.data.batching import Batch
from tuneforge.data.prompts import PromptExample
from tuneforge.data.templating import IGNORE, TokenizedExample


class RewardSource:
    """Scores completions with a Python function or a trained reward model."""

    def __init__(
        self, function: str | None, reward_model: str | None, log,
        kwargs: dict[str, Any] | None = None,
    ):  # fmt: skip
        if (function is None) == (reward_model is None):
            raise ValueError("set exactly one of method.reward_function and method.reward_model")
        self.function = None
        self.kwargs = dict(kwargs or {})
        self.model = self.tokenizer = None
        if function:
            from tuneforge.rewards import load_reward_function

            self.function = load_reward_function(function)
        else:
            from tuneforge.models.reward import load_reward_model

            self.model, self.tokenizer = load_reward_model(reward_model, log)

    def check_columns(self, columns: set[str]) -> None:
        """A reward_kwargs key that is also a column name would shadow one or the other."""
        clash = sorted(set(self.kwargs) & columns)
        if clash:
            raise ValueError(
                f"reward_kwargs {clash} are also columns of the training records; "
                "rename the column or the keyword argument"
            )

    def __call__(self, records: list[PromptExample], completions: list[str]) -> list[float]:
        if self.function is not None:
            prompts = [r.text for r in records]
            names = {k for r in records for k in r.columns}
            columns = {k: [r.columns.get(k) for r in records] for k in names}
            self.check_columns(names)
            scores = self.function(prompts, completions, **columns, **self.kwargs)
            if len(scores) != len(completions):
                raise ValueError(
                    f"the reward function returned {len(scores)} scores for "
                    f"{len(completions)} completions"
                )
            return [float(s) for s in scores]
        from tuneforge.models.reward import score_conversations

        conversations = [
            [*r.template_messages(), {"role": "assistant", "content": c}]
            for r, c in zip(records, completions, strict=True)
        ]
        return score_conversations(self.model, self.tokenizer, conversations)


@dataclass
class Rollout:
    """Sampled sequences (prompt + completion rows) with what the losses need. Per-token
    tensors are flat, in the order of the batch's target positions (row-major)."""

    sequences: Batch
    rewards: torch.Tensor  # [rows]
    advantages: torch.Tensor  # [rows] (GRPO) or [tokens] (PPO)
    old_logps: torch.Tensor  # [tokens], the policy when it sampled
    ref_logps: torch.Tensor | None  # [tokens]
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
    """Method-specific per-token tensors (PPO: values, returns)."""

    @property
    def rows(self) -> int:
        return self.sequences.input_ids.shape[0]

    @property
    def n_units(self) -> int:
        return self.rows

    @property
    def n_tokens(self) -> int:
        return self.sequences.n_tokens

    @property
    def n_trained(self) -> int:
        return self.sequences.n_trained

    def token_rows(self) -> torch.Tensor:
        return (self.sequences.targets != IGNORE).nonzero()[:, 0]

    def split(self, max_tokens: int | None) -> list[Rollout]:
        rows, width = self.sequences.input_ids.shape
        per_chunk = max(1, (max_tokens or rows * width) // width)
        if per_chunk >= rows:
            return [self]
        return [self.slice(i, min(i + per_chunk, rows)) for i in range(0, rows, per_chunk)]

    def slice(self, start: int, stop: int) -> Rollout:
        token_row = self.token_rows()
        tokens = (token_row >= start) & (token_row < stop)
        per_token = lambda t: None if t is None else t[tokens.to(t.device)]  # noqa: E731
        per_row_or_token = (  # noqa: E731
            lambda t: t[start:stop] if len(t) == self.rows else per_token(t)
        )
        return Rollout(
            self.sequences.row_slice(start, stop),
            self.rewards[start:stop],
            per_row_or_token(self.advantages),
            per_token(self.old_logps),
            per_token(self.ref_logps),
            {k: per_token(v) for k, v in self.extras.items()},
        )

    def to(self, device: torch.device) -> Rollout:
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return replace(
            self,
            sequences=self.sequences.to(device),
            rewards=move(self.rewards),
            advantages=move(self.advantages),
            old_logps=move(self.old_logps),
            ref_logps=move(self.ref_logps),
            extras={k: move(v) for k, v in self.extras.items()},
        )


class RolloutPlan:
    """The loop's plan for online methods: batch i generates (or re-serves) a rollout."""

    def __init__(
        self,
        prompts: list[PromptExample],
        prompts_per_step: int,
        seed: int,
        updates_per_rollout: int,
        make_rollout: Callable[[list[PromptExample]], Rollout],
        carry: Any = None,
    ):
        """`carry`: an object with state_dict()/load_state_dict() whose state changes as
        rollouts are made and must survive a resume (PPO's adaptive KL controller)."""
        self.prompts, self.size, self.seed = prompts, prompts_per_step, seed
        self.updates, self.make_rollout, self.carry = updates_per_rollout, make_rollout, carry
        self.rollouts_per_epoch = -(-len(prompts) // prompts_per_step)
        self.num_batches = self.rollouts_per_epoch * updates_per_rollout
        self._cached: tuple[tuple[int, int], Rollout] | None = None

    def batch(self, epoch: int, i: int) -> Rollout:
        key = (epoch, i // self.updates)
        if self._cached is None or self._cached[0] != key:
            order = list(range(len(self.prompts)))
            random.Random(self.seed * 1_000_003 + epoch).shuffle(order)
            chosen = order[key[1] * self.size : (key[1] + 1) * self.size]
            self._cached = (key, self.make_rollout([self.prompts[j] for j in chosen]))
        return self._cached[1]

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"carry": self.carry.state_dict() if self.carry else None}
        if self._cached is not None:
            state["key"], state["rollout"] = self._cached[0], asdict(self._cached[1])
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.carry is not None and state["carry"] is not None:
            self.carry.load_state_dict(state["carry"])
        if "rollout" in state:
            saved = dict(state["rollout"])
            saved["sequences"] = Batch(**saved["sequences"])
            self._cached = (tuple(state["key"]), Rollout(**saved))


@torch.no_grad()
def sample(
    model, accelerator, tokenizer, prompts: list[PromptExample], per_prompt: int,
    max_new_tokens: int, temperature: float,
) -> tuple[list[TokenizedExample], list[str]]:  # fmt: skip
    """`per_prompt` sampled completions of each prompt (prompt-major order), as
    sequences whose targets are the completion tokens (through end-of-turn), and the
    completions' text."""
    unwrapped = accelerator.unwrap_model(model)
    was_training = model.training
    model.eval()
    texts = [
        tokenizer.apply_chat_template(
            p.template_messages(), tokenize=False, add_generation_prompt=True
        )
        for p in prompts
    ]
    inputs = tokenizer(
        texts, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False
    ).to(accelerator.device)
    sampling = {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0}
    if temperature == 0:
        sampling = {"do_sample": False}
    output = unwrapped.generate(
        **inputs, max_new_tokens=max_new_tokens, num_return_sequences=per_prompt,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        use_cache=True, **sampling,
    )  # fmt: skip
    model.train(was_training)
    width = inputs["input_ids"].shape[1]
    sequences, completions = [], []
    for row, generated in enumerate(output.tolist()):
        prompt_row = inputs["input_ids"][row // per_prompt]
        prompt = prompt_row[inputs["attention_mask"][row // per_prompt].bool()].tolist()
        completion = generated[width:]
        if tokenizer.eos_token_id in completion:
            completion = completion[: completion.index(tokenizer.eos_token_id) + 1]
        ids = prompt + completion
        targets = [IGNORE] * (len(prompt) - 1) + completion + [IGNORE]
        sequences.append(TokenizedExample(ids, targets))
        completions.append(tokenizer.decode(completion, skip_special_tokens=True).strip())
    return sequences, completions
