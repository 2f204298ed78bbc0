"""Scorers for structured answers: json_valid, json_schema, field_accuracy.

Code fences: chat models often answer with the JSON inside one Markdown fence
(```` ```json ... ``` ````). `json_valid` and `json_schema` unwrap a prediction that is,
after stripping whitespace, exactly one fenced block (any info string, or none); anything
else around the JSON, prose before or after a fence included, makes it invalid, because a
program parsing the reply would fail on it too. `field_accuracy` is lenient on purpose:
it parses the first `{...}` wherever it stands, to credit the content of an answer.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from typing import Any

from tuneforge.errors import ConfigError

_FENCE = re.compile(r"```[^\n`]*\n(.*?)\n?```", flags=re.DOTALL)


def strip_code_fence(text: str) -> str:
    """The inside of one Markdown code fence that is the whole (stripped) text, else the
    stripped text unchanged.

    >>> strip_code_fence('```json\\n{"a": 1}\\n```')
    '{"a": 1}'
    """
    text = text.strip()
    match = _FENCE.fullmatch(text)
    return match.group(1) if match else text


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; RFC 8259 JSON does not.
    raise ValueError(f"{name} is not JSON")


def parse_json(text: str) -> tuple[bool, Any]:
    """(True, value) when the text, unwrapped from one code fence, is one RFC 8259 JSON
    value; (False, None) otherwise."""
    try:
        return True, json.loads(strip_code_fence(text), parse_constant=_reject_constant)
    except ValueError:  # json.JSONDecodeError is a ValueError
        return False, None


def json_valid(prediction: str, reference: str) -> float:
    """1 when the prediction is one JSON value (any type: object, array, string, number,
    true/false/null), unwrapped from one code fence; NaN and Infinity are not JSON. The
    reference is ignored."""
    return float(parse_json(prediction)[0])


@functools.cache
def _validator(schema_json: str) -> Any:
    import jsonschema

    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as error:
        raise ConfigError(f"json_schema scorer: invalid schema: {error.message}") from None
    return cls(schema)


def schema_validator(schema: dict[str, Any] | bool | str) -> Any:
    """The jsonschema validator for `schema` (a dict, a boolean schema, or its JSON text),
    of the draft its `$schema` names (the latest when it names none), built once per
    schema. An invalid schema is a ConfigError."""
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError as error:
            raise ConfigError(f"json_schema scorer: the schema is not JSON: {error}") from None
    return _validator(json.dumps(schema, sort_keys=True))


def json_schema(prediction: str, reference: str, *, schema: dict[str, Any] | bool | str) -> float:
    """1 when the prediction is JSON (as `json_valid`, one code fence unwrapped) and valid
    against `schema` under the `jsonschema` package. `format` keywords are annotations
    only, as the specification's default says. The reference is ignored."""
    ok, value = parse_json(prediction)
    return float(ok and schema_validator(schema).is_valid(value))


def field_accuracy(
    prediction: str, reference: str, *, fields: Sequence[str] | None = None
) -> float:
    """The share of the reference object's fields (or of `fields`) whose value the
    prediction gets exactly right; 0 when the prediction holds no JSON object.

    The first `{...}` in the prediction (non-greedy, so nested objects are not read) is
    parsed, so a correct answer wrapped in prose or a code fence still counts; a field
    matches when the prediction's value, as a string and stripped, equals the reference's
    as a string (so 12 and "12" match). The reference must be a JSON object with at least
    one field, and every one of `fields` when given (a ValueError otherwise: the data is
    wrong, not the prediction).
    """
    truth = json.loads(reference)
    names = list(truth if fields is None else fields) if isinstance(truth, dict) else []
    if not names or any(name not in truth for name in names):
        raise ValueError(
            f"field_accuracy: the reference must be a JSON object holding the fields "
            f"{names or '(at least one)'}: {reference!r}"
        )
    match = re.search(r"\{.*?\}", prediction, flags=re.DOTALL)
    if not match:
        return 0.0
    try:
        got = json.loads(match.group(0))
    except json.JSONDecodeError:
        return 0.0
    if not isinstance(got, dict):
        return 0.0
    return sum(str(got.get(f, "")).strip() == str(truth[f]) for f in names) / len(names)
