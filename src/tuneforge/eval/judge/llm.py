"""An LLM judge at any OpenAI-compatible endpoint, asked which of two replies is better, in
both orders.

LLM judges favour a position (MT-Bench's judges often picked the first reply whatever it
was: Zheng et al. 2023, "Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena", section
3.3). Their remedy is followed: every pair is judged twice, the tuned reply as A then as B,
and only a verdict that survives the swap counts:

    both verdicts pick the tuned reply                      -> 1 (a win)
    both pick the base's                                    -> 0 (a loss)
    anything else (they disagree, or either is unreadable)  -> 0.5 (a tie)

A verdict is read from the judge's text: MT-Bench's marks [[A]] or [[B]], or a bare letter
("A", "**B**."); anything else (no mark, both marks, a refusal) is unreadable, counts as a
tie, and is counted in the samples. Identical replies are a tie without asking. A request
that fails after the client's retries stops the task: a judge that could not be reached
is not a tie.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tuneforge.errors import ConfigError, TuneForgeError

SYSTEM = "You are an impartial judge of the replies of AI assistants."
QUESTION = """Which reply answers the user better? Weigh helpfulness, correctness and \
clarity. Do not let the order of the replies or their length sway you.

[Conversation]
{conversation}

[Reply A]
{a}

[Reply B]
{b}

Give your verdict alone: [[A]] if Reply A is better, [[B]] if Reply B is better."""
MAX_RETRIES = 3  # the SDK's, with its exponential backoff, on timeouts, 429 and 5xx
_MARK = re.compile(r"\[\[\s*([AB])\s*\]\]")
_BARE = re.compile(r"^\W*([AB])\W*$")


def judge_messages(conversation: Sequence[dict[str, Any]], a: str, b: str) -> list[dict]:
    """The chat request asking which of replies a and b better continues the conversation."""
    shown = "\n\n".join(f"{m['role'].capitalize()}: {m.get('content') or ''}" for m in conversation)
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": QUESTION.format(conversation=shown, a=a, b=b)},
    ]


def read_verdict(text: str | None) -> str | None:
    """The verdict, A or B; None when the text gives neither, or both."""
    text = (text or "").upper()
    marks = set(_MARK.findall(text))
    if marks:
        return marks.pop() if len(marks) == 1 else None
    bare = _BARE.match(text.strip())
    return bare.group(1) if bare else None


def pair_outcome(tuned_as_a: str | None, tuned_as_b: str | None) -> float:
    """The pair's outcome from its two verdicts (the module docstring's table)."""
    if tuned_as_a == "A" and tuned_as_b == "B":
        return 1.0
    if tuned_as_a == "B" and tuned_as_b == "A":
        return 0.0
    return 0.5


class LLMJudge:
    def __init__(self, config):
        """`config`: a config.eval.JudgeConfig with base_url and model."""
        self.config = config
        self.client = _client(config)

    def compare(
        self, prompts: Sequence[list[dict]], tuned: Sequence[str], base: Sequence[str]
    ) -> tuple[list[float], list[dict[str, Any]]]:
        """(outcome per pair, what the judge said per pair), both orders asked at once."""
        asked = [i for i in range(len(prompts)) if tuned[i] != base[i]]
        requests = [judge_messages(prompts[i], tuned[i], base[i]) for i in asked]
        requests += [judge_messages(prompts[i], base[i], tuned[i]) for i in asked]
        texts = self._ask_all(requests)
        said = dict(zip(asked, texts[: len(asked)], strict=True))
        swapped = dict(zip(asked, texts[len(asked) :], strict=True))
        outcomes, details = [], []
        for i in range(len(prompts)):
            if i not in said:
                outcomes.append(0.5)
                details.append({"verdicts": [], "identical": True})
                continue
            verdicts = [read_verdict(said[i]), read_verdict(swapped[i])]
            outcomes.append(pair_outcome(*verdicts))
            details.append(
                {
                    "verdicts": verdicts,  # tuned reply as A, then as B
                    "judge_said": [said[i], swapped[i]],
                    "unreadable": sum(v is None for v in verdicts),
                }
            )
        return outcomes, details

    def _ask_all(self, requests: list[list[dict]]) -> list[str]:
        pool = ThreadPoolExecutor(self.config.concurrency)
        try:
            return list(pool.map(self._ask, requests))
        finally:
            pool.shutdown(cancel_futures=True)  # one failure stops the requests not yet sent

    def _ask(self, messages: list[dict]) -> str:
        import openai

        try:
            response = self.client.chat.completions.create(
                model=self.config.model, messages=messages, temperature=0.0
            )
        except openai.APIError as exc:
            raise TuneForgeError(
                f"judge {self.config.model!r} at {self.config.base_url}: {exc} (after "
                f"{MAX_RETRIES} retries); check judge.base_url, judge.model and the key "
                "named by judge.api_key_env"
            ) from None
        return response.choices[0].message.content or ""


def _client(config):
    try:
        from openai import OpenAI  # optional: only an LLM judge needs it
    except ImportError:
        raise ConfigError(
            "judge.base_url: an LLM judge needs the openai package; pip install openai"
        ) from None
    # An explicit placeholder, so a local endpoint never receives the user's OPENAI_API_KEY.
    key = "none"
    if config.api_key_env is not None:
        key = os.environ.get(config.api_key_env, "")
        if not key:
            raise ConfigError(
                f"judge.api_key_env: the environment variable {config.api_key_env} is not "
                "set; export it with the endpoint's API key"
            )
    return OpenAI(
        base_url=config.base_url, api_key=key, timeout=config.timeout_s, max_retries=MAX_RETRIES
    )
