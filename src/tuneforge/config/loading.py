"""YAML loading, dotted `key=value` overrides, and errors that point at the line and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from tuneforge.config.methods import METHOD_NAMES, method_config_class
from tuneforge.config.schema import RunConfig
from tuneforge.errors import ConfigError

Model = TypeVar("Model", bound=BaseModel)

_EXPECTED = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping of keys to values",
    "model_type": "a mapping of keys to values",
    "list_type": "a list",
}


def load_config(path: str | Path | None, overrides: Sequence[str] = ()) -> RunConfig:
    """Read a YAML config, apply `a.b=value` overrides, and validate it into a RunConfig."""
    return load_model(RunConfig, path, overrides)


def load_model(
    schema: type[Model],
    path: str | Path | None,
    overrides: Sequence[str] = (),
    updates: dict[str, Any] | None = None,
) -> Model:
    """Read a YAML file into `schema`, after `a.b=value` overrides and top-level
    `updates` (command-line flags), with errors naming the file line and the fix."""
    raw: dict[str, Any] = {}
    lines: dict[tuple[str, ...], int] = {}
    source = str(path) if path else "<defaults>"
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        text = path.read_text()
        try:
            raw = yaml.safe_load(text) or {}
            lines = _key_lines(yaml.compose(text))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping of sections (model:, train:, ...)")
    for item in overrides:
        _apply_override(raw, item)
    raw.update(updates or {})
    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, source, lines)) from None


def dump_config(config: RunConfig, path: Path) -> None:
    """Write the resolved config (every default filled in) as YAML."""
    path.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))


def _apply_override(raw: dict[str, Any], item: str) -> None:
    key, sep, value = item.partition("=")
    parts = key.strip().split(".")
    if not sep or len(parts) < 2 or not all(parts):
        raise ConfigError(f"override {item!r}: expected section.key=value, e.g. train.lr=1e-4")
    *parents, leaf = parts
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {item!r}: {part!r} is not a section")
    try:
        node[leaf] = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        node[leaf] = value


def _key_lines(node: yaml.Node | None, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], int]:
    """Map each key path of a YAML document to its 1-based line number."""
    found: dict[tuple[str, ...], int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = (*prefix, str(key_node.value))
            found[path] = key_node.start_mark.line + 1
            found.update(_key_lines(value_node, path))
    return found


def _explain(exc: ValidationError, source: str, lines: dict[tuple[str, ...], int]) -> str:
    messages = []
    for error in exc.errors():
        loc = tuple(str(part) for part in error["loc"])
        method = None
        if loc[:1] == ("method",) and len(loc) > 1 and loc[1] in METHOD_NAMES:
            # pydantic puts the union's tag in the path (method.dpo.beta): keep it aside.
            method, loc = loc[1], loc[:1] + loc[2:]
        dotted = ".".join(loc) or "(top level)"
        line = lines.get(loc)
        where = f"{source}:{line}" if line else source
        if error["type"] == "union_tag_invalid":
            tag = error.get("ctx", {}).get("tag")
            line = lines.get((*loc, "name"))
            where = f"{source}:{line}" if line else source
            messages.append(f"{where}: {dotted}.name: got {tag!r}, expected one of {METHOD_NAMES}")
            continue
        if error["type"] == "extra_forbidden":
            messages.append(f"{where}: {dotted}: unknown key{_suggest(loc, method)}")
        elif error["type"] == "literal_error":
            expected = error.get("ctx", {}).get("expected", "")
            got = error.get("input")
            messages.append(f"{where}: {dotted}: got {got!r}, expected one of {expected}")
        elif error["type"] in ("greater_than", "greater_than_equal", "less_than"):
            bound = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<"}[
                error["type"]
            ]
            limit = next(iter(error.get("ctx", {}).values()), "")
            messages.append(
                f"{where}: {dotted}: expected a number {bound} {limit}, got {error.get('input')!r}"
            )
        else:
            expected = _EXPECTED.get(error["type"])
            detail = (
                f"expected {expected}, got {error.get('input')!r}" if expected else error["msg"]
            )
            messages.append(f"{where}: {dotted}: {detail}")
    return "invalid config\n  " + "\n  ".join(messages)


def _suggest(loc: tuple[str, ...], method: str | None = None) -> str:
    """A 'did you mean' hint for an unknown key, from the fields of its section (for
    `method:`, of the named method's own class)."""
    model: type[BaseModel] = RunConfig
    for part in loc[:-1]:
        field = model.model_fields.get(part)
        annotation = field.annotation if field else None
        if part == "method" and model is RunConfig and method is not None:
            annotation = method_config_class(method)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        model = annotation
    known = list(model.model_fields)
    close = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.5)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; known keys: {', '.join(known)}"
