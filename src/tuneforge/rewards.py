"""Reward functions for `method: grpo` and `method: ppo`, usable as
`method.reward_function: "tuneforge.rewards:json_valid"`.

A reward function is any importable callable

    fn(prompts: list[str], completions: list[str], **columns) -> list[float]

where `columns` holds the other fields of the training records as lists aligned with
the prompts (a reference answer, a JSON schema, ...). Each one here ignores columns it
does not use, so they combine freely.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

RewardFunction = Callable[..., list[float]]


def json_valid(prompts: list[str], completions: list[str], **columns: Any) -> list[float]:
    """1.0 when the completion (or a ```json fenced block in it) parses as JSON."""
    return [1.0 if _parse_json(c) is not None else 0.0 for c in completions]


def json_schema(
    prompts: list[str], completions: list[str], schema: list[Any] | None = None, **columns: Any
) -> list[float]:
    """1.0 when the completion is a JSON object with exactly the schema's required keys
    and values of the declared JSON types; 0.5 when it parses but does not match; 0 when
    it does not parse. `schema` is a column of JSON-schema objects (or JSON strings)."""
    if schema is None:
        raise ValueError("json_schema needs a 'schema' column in the training records")
    scores = []
    for completion, spec in zip(completions, schema, strict=True):
        value = _parse_json(completion)
        spec = json.loads(spec) if isinstance(spec, str) else spec
        scores.append(0.0 if value is None else 1.0 if _matches(value, spec) else 0.5)
    return scores


def exact_match(
    prompts: list[str], completions: list[str], reference: list[str] | None = None, **columns: Any
) -> list[float]:
    """1.0 when the completion equals the `reference` column, ignoring case and spacing."""
    if reference is None:
        raise ValueError("exact_match needs a 'reference' column in the training records")
    fold = lambda text: " ".join(str(text).lower().split())  # noqa: E731
    return [1.0 if fold(c) == fold(r) else 0.0 for c, r in zip(completions, reference, strict=True)]


def length_penalty(
    prompts: list[str], completions: list[str], target_words: int = 50, **columns: Any
) -> list[float]:
    """0 at or under `target_words`, falling linearly to -1 at twice the target."""
    return [-min(1.0, max(0, len(c.split()) - target_words) / target_words) for c in completions]


def keyword_presence(
    prompts: list[str], completions: list[str], keywords: list[Any] | None = None, **columns: Any
) -> list[float]:
    """Share of the record's `keywords` (a list, or a comma-separated string) that the
    completion contains, case-insensitively."""
    if keywords is None:
        raise ValueError("keyword_presence needs a 'keywords' column in the training records")
    scores = []
    for completion, words in zip(completions, keywords, strict=True):
        wanted = [w.strip() for w in (words.split(",") if isinstance(words, str) else words)]
        wanted = [w for w in wanted if w]
        found = sum(1 for w in wanted if w.lower() in completion.lower())
        scores.append(found / len(wanted) if wanted else 0.0)
    return scores


def load_reward_function(spec: str) -> RewardFunction:
    """'module:function', importable from the working directory or PYTHONPATH."""
    module_name, sep, name = spec.partition(":")
    if not sep or not module_name or not name:
        raise ValueError(f"reward_function {spec!r}: expected 'module:function'")
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        function = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"reward_function {spec!r}: cannot import it ({exc})") from None
    if not callable(function):
        raise ValueError(f"reward_function {spec!r}: not callable")
    return function


_FENCED = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def _parse_json(text: str) -> Any:
    for candidate in (text.strip(), *(m.strip() for m in _FENCED.findall(text))):
        try:
            return json.loads(candidate)
        except (json.JSONDecodeError, ValueError):
            continue
    return None


_TYPES = {
    "string": str, "integer": int, "number": (int, float), "boolean": bool,
    "object": dict, "array": list, "null": type(None),
}  # fmt: skip


def _matches(value: Any, schema: dict) -> bool:
    if schema.get("type") != "object":
        expected = _TYPES.get(schema.get("type", ""), object)
        return isinstance(value, expected) and not (
            schema.get("type") in ("integer", "number") and isinstance(value, bool)
        )
    if not isinstance(value, dict):
        return False
    properties = schema.get("properties", {})
    required = set(schema.get("required", properties))
    if not required <= set(value) or (
        schema.get("additionalProperties") is False and set(value) - set(properties)
    ):
        return False
    return all(_matches(value[k], properties[k]) for k in value if k in properties)
