"""OpenAI's grader templates: `{{ namespace.path }}` replaced by a value.

The namespaces are `item` (the dataset record) and `sample` (the model's output:
`output_text`, `output_json` when the output is valid JSON, `output_tools`, `choices`).
Paths go down JSON objects and lists, `{{item.answer.value}}` or `{{item.steps[0]}}`. A
string is inserted as it is, anything else as JSON. A path that leads nowhere is an
error naming it: silently inserting nothing would grade every sample against "".
"""

from __future__ import annotations

import json
import re
from typing import Any

from tuneforge.graders.outcome import GraderFailure

_VARIABLE = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_STEP = re.compile(r"\.?([^.\[\]]+)|\[(-?\d+)\]")


def make_sample(model_sample: str) -> dict[str, Any]:
    """The `sample` namespace of one model output."""
    try:
        output_json = json.loads(model_sample)
    except ValueError:
        output_json = None
    return {"output_text": model_sample, "output_json": output_json, "output_tools": [],
            "choices": []}  # fmt: skip


def render(template: str, sample: dict[str, Any], item: dict[str, Any]) -> str:
    """`template` with every {{...}} replaced; GraderFailure naming an unknown variable."""
    namespaces = {"sample": sample, "item": item}
    return _VARIABLE.sub(lambda m: _text(lookup(m.group(1), namespaces)), template)


def lookup(path: str, namespaces: dict[str, Any]) -> Any:
    steps = _steps(path)
    if not steps or steps[0] not in namespaces:
        raise GraderFailure(
            "invalid_variable_error",
            f"{{{{{path}}}}}: a variable is item.<field> or sample.<field>",
        )
    value = namespaces[steps[0]]
    for depth, step in enumerate(steps[1:], start=1):
        if steps[:2] == ["sample", "output_json"] and depth == 1 and value.get(step) is None:
            raise GraderFailure(
                "sample_parse_error",
                f"{{{{{path}}}}}: the model's output is not valid JSON",
            )
        found, value = _step(value, step)
        if not found:
            where = ".".join(str(s) for s in steps[: depth + 1])
            raise GraderFailure("invalid_variable_error", f"{{{{{path}}}}}: {where} does not exist")
    return value


def _steps(path: str) -> list[Any]:
    steps: list[Any] = []
    position = 0
    while position < len(path):
        match = _STEP.match(path, position)
        if match is None or match.end() == position:
            raise GraderFailure("invalid_variable_error", f"{{{{{path}}}}}: not a variable path")
        name, index = match.groups()
        steps.append(name if name is not None else int(index))
        position = match.end()
    return steps


def _step(value: Any, step: Any) -> tuple[bool, Any]:
    if isinstance(step, int):
        if isinstance(value, list) and -len(value) <= step < len(value):
            return True, value[step]
        return False, None
    if isinstance(value, dict) and step in value:
        return True, value[step]
    return False, None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
