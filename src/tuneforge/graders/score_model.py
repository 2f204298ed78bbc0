"""`score_model` graders: a served model reads the templated messages and answers with a
score, which is clamped to the grader's `range` ([0, 1] by default).

The model is reached through an OpenAI-compatible chat completions endpoint (this
server's own `tuneforge serve`, or any other), synchronously with httpx. OpenAI's own
score models answer in a structured format; ours may be any chat model, so the reply is
read leniently: a bare number, a JSON object with `result` or `score`, or else the last
number in the text (prompts usually end with "Return only the score").
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import httpx

from tuneforge.graders.outcome import GraderFailure, GraderUnavailable, Outcome
from tuneforge.graders.settings import GraderSettings
from tuneforge.graders.templates import render

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")


def check_score_model_available(settings: GraderSettings) -> None:
    if not settings.score_model_base_url:
        raise GraderUnavailable(
            "score_model graders need a model endpoint and this server has none configured "
            "(GraderSettings.score_model_base_url, an OpenAI-compatible '.../v1' URL)",
            param="model",
        )


def grade_score_model(
    grader: Any,
    sample: dict[str, Any],
    item: dict[str, Any],
    settings: GraderSettings,
) -> Outcome:
    check_score_model_available(settings)
    body: dict[str, Any] = {"model": grader.model, "messages": messages(grader, sample, item)}
    params = grader.sampling_params
    if params is not None:
        body.update({k: v for k, v in (
            ("temperature", params.temperature), ("top_p", params.top_p), ("seed", params.seed),
            ("max_completion_tokens", params.max_completions_tokens),
        ) if v is not None})  # fmt: skip
    reply = _post(body, settings)
    message = (reply.get("choices") or [{}])[0].get("message") or {}
    if message.get("refusal"):
        refusal = f"the model refused: {message['refusal']}"
        raise GraderFailure("model_grader_refusal_error", refusal)
    low, high = grader.bounds
    score = min(high, max(low, parse_score(message.get("content") or "")))
    usage = {k: int(v) for k, v in (reply.get("usage") or {}).items() if k in _USAGE_KEYS}
    model = str(reply.get("model") or grader.model)
    return Outcome(
        score, scores={"score": score}, token_usage=usage or None, sampled_model_name=model,
        usage_per_model={model: usage} if usage else {},
    )  # fmt: skip


def messages(grader: Any, sample: dict[str, Any], item: dict[str, Any]) -> list[dict[str, str]]:
    """The chat messages, templated; text parts joined. `developer` is sent as `system`,
    the role every chat template knows."""
    out = []
    for message in grader.input:
        parts = message.content if isinstance(message.content, list) else [message.content]
        text = "".join(p if isinstance(p, str) else p.text for p in parts)
        role = "system" if message.role == "developer" else message.role
        out.append({"role": role, "content": render(text, sample, item)})
    return out


def parse_score(reply: str) -> float:
    text = reply.strip()
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, dict):
        value = value.get("result", value.get("score"))
    if not isinstance(value, int | float) or isinstance(value, bool):
        numbers = _NUMBER.findall(text)
        value = float(numbers[-1]) if numbers else math.nan
    if not math.isfinite(value):
        raise GraderFailure(
            "model_grader_parse_error", f"the model's reply holds no score: {reply[:200]!r}"
        )
    return float(value)


def _post(body: dict[str, Any], settings: GraderSettings) -> dict[str, Any]:
    assert settings.score_model_base_url
    url = settings.score_model_base_url.rstrip("/") + "/chat/completions"
    headers = {}
    if settings.score_model_api_key:
        headers["Authorization"] = f"Bearer {settings.score_model_api_key}"
    try:
        with httpx.Client(timeout=settings.score_model_timeout_s) as client:
            response = client.post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise GraderFailure("model_grader_server_error", f"{url}: {exc}") from None
    if response.status_code != 200:
        raise GraderFailure(
            "model_grader_server_error",
            f"{url} answered {response.status_code}: {response.text[:500]}",
        )
    try:
        reply = response.json()
    except ValueError:
        raise GraderFailure("model_grader_server_error", f"{url} answered non-JSON") from None
    if not isinstance(reply, dict):
        raise GraderFailure("model_grader_server_error", f"{url} answered {reply!r:.200}")
    return reply
