"""The preference task's LLM judge over real HTTP: a scripted OpenAI-style server under
uvicorn on 127.0.0.1, answered through the official SDK, each pair judged in both orders.

The server reads replies A and B out of the judge's question and answers by a rule the
test sets, so every outcome is known in advance:

    tuned as A -> A and tuned as B -> B   (both pick the tuned reply)  1
    tuned as A -> B and tuned as B -> A   (both pick the base's)       0
    anything else, an unreadable verdict included                      0.5
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.helpers import write_jsonl
from tests.threaded_server import serve_in_thread
from tests.unit.test_eval_preference import pair_records, tiny_lora
from tuneforge.config.eval import JudgeConfig
from tuneforge.errors import ConfigError, TuneForgeError
from tuneforge.eval.judge.length_control import length_controlled
from tuneforge.eval.judge.llm import LLMJudge
from tuneforge.eval.tasks.preference import run_preference

QUESTION = re.compile(r"\[Reply A\]\n(.*)\n\n\[Reply B\]\n(.*)\n\nGive your verdict", re.DOTALL)
Rule = Callable[[str, str], "str | None"]


class ScriptedJudge:
    """Answers each chat completion with rule(reply A, reply B); None answers HTTP 400."""

    def __init__(self):
        self.rule: Rule = lambda a, b: "[[A]]"
        self.seen: list[dict] = []
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self._complete)

    async def _complete(self, request: Request):
        body = await request.json()
        a, b = QUESTION.search(body["messages"][-1]["content"]).groups()
        self.seen.append({"a": a, "b": b, "auth": request.headers.get("authorization"), **body})
        verdict = self.rule(a, b)
        if verdict is None:
            error = {"message": "no such model", "type": "invalid_request_error"}
            return JSONResponse({"error": error}, status_code=400)
        message = {"role": "assistant", "content": verdict}
        return {
            "id": "chatcmpl-1", "object": "chat.completion", "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }  # fmt: skip


@pytest.fixture(scope="module")
def server():
    scripted = ScriptedJudge()
    with serve_in_thread(scripted.app) as url:
        scripted.url = f"{url}/v1"
        yield scripted


@pytest.fixture
def judge(server):
    server.seen.clear()
    return server


def config(server, **overrides) -> JudgeConfig:
    return JudgeConfig(base_url=server.url, model="judge-1", **overrides)


def test_every_pair_is_judged_in_both_orders(judge):
    """Six pairs (tuned reply, base reply) and what the judge says with A and B as shown:
    1. t1 | b1: picks t1 both times                      -> 1
    2. t2 | b2: picks b2 both times                      -> 0
    3. t3 | b3: always "[[A]]", whichever reply is A     -> 0.5 (position bias)
    4. t4 | b4: unreadable, then a bare "B" (tuned)      -> 0.5, 1 unreadable
    5. same | same: identical replies, never asked       -> 0.5
    6. t6 | b6: t6 both times, marks amid prose          -> 1
    win rate = (1 + 0 + 0.5 + 0.5 + 0.5 + 1) / 6 = 3.5 / 6, from 10 requests."""
    said = {
        ("t1", "b1"): "[[A]]", ("b1", "t1"): "[[B]]",
        ("t2", "b2"): "[[B]]", ("b2", "t2"): "[[A]]",
        ("t4", "b4"): "I cannot decide.", ("b4", "t4"): "B",
        ("t6", "b6"): "Reply A is more helpful. [[A]]", ("b6", "t6"): "**[[B]]**",
    }  # fmt: skip
    judge.rule = lambda a, b: said.get((a, b), "[[A]]")
    tuned = ["t1", "t2", "t3", "t4", "same", "t6"]
    base = ["b1", "b2", "b3", "b4", "same", "b6"]
    prompts = [[{"role": "user", "content": f"question {i}"}] for i in range(6)]
    outcomes, details = LLMJudge(config(judge, concurrency=3)).compare(prompts, tuned, base)
    assert outcomes == [1.0, 0.0, 0.5, 0.5, 0.5, 1.0]
    assert sum(outcomes) / 6 == pytest.approx(3.5 / 6)
    assert len(judge.seen) == 10
    assert sorted((r["a"], r["b"]) for r in judge.seen) == sorted(
        pair for t, b in zip(tuned, base, strict=True) if t != b for pair in ((t, b), (b, t))
    )
    assert details[2]["verdicts"] == ["A", "A"]
    assert details[3]["verdicts"] == [None, "B"] and details[3]["unreadable"] == 1
    assert details[4] == {"verdicts": [], "identical": True}
    assert all(r["model"] == "judge-1" and r["temperature"] == 0 for r in judge.seen)
    assert sum("User: question 0" in r["messages"][-1]["content"] for r in judge.seen) == 2


def test_the_key_comes_from_the_named_variable(judge, monkeypatch):
    monkeypatch.delenv("TF_TEST_JUDGE_KEY", raising=False)
    with pytest.raises(ConfigError, match="TF_TEST_JUDGE_KEY"):
        LLMJudge(config(judge, api_key_env="TF_TEST_JUDGE_KEY"))
    monkeypatch.setenv("TF_TEST_JUDGE_KEY", "sk-test")
    prompt = [[{"role": "user", "content": "q"}]]
    LLMJudge(config(judge, api_key_env="TF_TEST_JUDGE_KEY")).compare(prompt, ["x"], ["y"])
    assert {r["auth"] for r in judge.seen} == {"Bearer sk-test"}


def test_a_failing_endpoint_stops_the_task(judge):
    judge.rule = lambda a, b: None  # HTTP 400, which the SDK does not retry
    prompt = [[{"role": "user", "content": "q"}]]
    with pytest.raises(TuneForgeError, match=re.escape(judge.url)):
        LLMJudge(config(judge)).compare(prompt, ["x"], ["y"])


# -- the whole task: the adapter's replies against its base's ---------------------------


@pytest.fixture(scope="module")
def lora(tuneforge_cache, tokenizer):
    return tiny_lora()


def test_a_judge_that_always_says_a_gives_ties(judge, lora, tokenizer, tmp_path):
    """A judge that only looks at the position: every pair it is asked about splits its
    verdicts, so every outcome is 0.5, and so are both win rates. The requests show each
    pair's replies in both orders."""
    judge.rule = lambda a, b: "[[A]]"
    path = write_jsonl(tmp_path / "pairs.jsonl", pair_records(4, seed=7))
    scores = run_preference(
        lora, tokenizer, path, judge=config(judge), max_new_tokens=6, batch_size=4
    )
    summary = scores.summary()
    assert summary["n"] == 4
    assert summary["metrics"]["win_rate"] == 0.5 and summary["metrics"]["lc_win_rate"] == 0.5
    asked = [e for e in scores.examples if e["tuned"] != e["base"]]
    assert asked and len(judge.seen) == 2 * len(asked)
    shown = {(r["a"], r["b"]) for r in judge.seen}
    for example in asked:
        assert {(example["tuned"], example["base"]), (example["base"], example["tuned"])} <= shown
        assert example["verdicts"] == ["A", "A"] and example["outcome"] == 0.5


def test_a_judge_that_prefers_length(judge, lora, tokenizer, tmp_path):
    """The longer reply wins in either position (equal lengths: "[[A]]", a split). So the
    outcome is 1[tuned longer], 0[tuned shorter], 0.5 otherwise, and lc_win_rate is the
    length fit of those outcomes on the character differences."""
    judge.rule = lambda a, b: "[[B]]" if len(b) > len(a) else "[[A]]"
    path = write_jsonl(tmp_path / "pairs.jsonl", pair_records(5, seed=8))
    scores = run_preference(
        lora, tokenizer, path, judge=config(judge), max_new_tokens=6, batch_size=2
    )
    differences = [len(e["tuned"]) - len(e["base"]) for e in scores.examples]
    expected = [1.0 if d > 0 else 0.0 if d < 0 else 0.5 for d in differences]
    assert scores.metrics["win_rate"].values == expected
    assert scores.metrics["lc_win_rate"].value() == pytest.approx(
        length_controlled(expected, differences).win_rate, abs=1e-9
    )
    assert scores.metrics["mean_length_tuned"].value() == pytest.approx(
        sum(len(e["tuned"]) for e in scores.examples) / 5
    )
