"""YAML loading, dotted `key=value` overrides, and errors that point at the line and the fix."""

from __future__ import annotations

import difflib
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from tuneforge.config.methods import METHOD_NAMES, method_config_class
from tuneforge.config.schema import RunConfig
from tuneforge.errors import ConfigError

Schema = TypeVar("Schema", bound=BaseModel)

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
    return load_yaml_into(RunConfig, path, overrides)


def load_yaml_into(
    schema: type[Schema],
    path: str | Path | None,
    overrides: Sequence[str] = (),
    updates: dict[str, Any] | None = None,
) -> Schema:
    """Read a YAML file into `schema`, after `a.b=value` overrides and top-level
    `updates` (command-line flags), with errors naming the file line and the fix."""
    raw: dict[str, Any] = {}
    lines: dict[tuple[str, ...], int] = {}
    source = str(path) if path else "<defaults>"
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not a YAML text file (not UTF-8)") from None
        try:
            raw = yaml.safe_load(text) or {}
            lines = _key_lines(yaml.compose(text))
        except yaml.YAMLError as exc:
            raise ConfigError(_yaml_problem(path, exc)) from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping of sections (model:, train:, ...)")
    # Where each command-line value came from: an error in it blames the command line,
    # not the YAML line it replaced.
    blame: dict[tuple[str, ...], str] = {}
    for item in overrides:
        blame[_apply_override(raw, item)] = "command-line override"
    for key, value in (updates or {}).items():
        raw[key] = value
        blame[(key,)] = f"command-line option --{key.replace('_', '-')}"
    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, source, lines, blame, schema)) from None


def dump_config(config: RunConfig, path: Path) -> None:
    """Write the resolved config (every default filled in) as YAML."""
    path.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))


def _apply_override(raw: dict[str, Any], item: str) -> tuple[str, ...]:
    """Set `a.b=value` in `raw` (the value read as YAML); returns the key path."""
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
    return tuple(parts)


def _yaml_problem(path: Path, exc: yaml.YAMLError) -> str:
    """PyYAML's error as one line that starts with file:line, like every config error."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if mark is None or problem is None:
        return f"{path}: not valid YAML: {exc}"
    context = getattr(exc, "context", None)
    where = f"{path}:{mark.line + 1}: not valid YAML: {problem} (column {mark.column + 1})"
    return where + (f", {context}" if context else "")


def _key_lines(node: yaml.Node | None, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], int]:
    """Map each key path of a YAML document to its 1-based line number."""
    found: dict[tuple[str, ...], int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = (*prefix, str(key_node.value))
            found[path] = key_node.start_mark.line + 1
            found.update(_key_lines(value_node, path))
    return found


AUTO = "literal['auto']"
"""The branch pydantic names when a `... | Literal["auto"]` key is given neither."""


def _explain(
    exc: ValidationError,
    source: str,
    lines: dict[tuple[str, ...], int],
    blame: dict[tuple[str, ...], str] | None = None,
    schema: type[BaseModel] = RunConfig,
) -> str:
    messages = []
    errors = exc.errors()
    # A `number | "auto"` key fails once per branch of its union (train.lr.constrained-float,
    # train.lr.literal['auto']): report the number's problem once, saying auto is allowed.
    auto_keys = {
        tuple(map(str, e["loc"][:-1])) for e in errors if e["loc"] and str(e["loc"][-1]) == AUTO
    }
    for error in errors:
        loc = tuple(str(part) for part in error["loc"])
        or_auto = bool(loc) and loc[:-1] in auto_keys
        if or_auto:
            if loc[-1] == AUTO:
                continue
            loc = loc[:-1]
        method = None
        if loc[:1] == ("method",) and len(loc) > 1 and loc[1] in METHOD_NAMES:
            # pydantic puts the union's tag in the path (method.dpo.beta): keep it aside.
            method, loc = loc[1], loc[:1] + loc[2:]
        if error["type"] == "union_tag_invalid":
            tag = error.get("ctx", {}).get("tag")
            where = _where((*loc, "name"), source, lines, blame or {})
            messages.append(f"{where}: got {tag!r}, expected one of {METHOD_NAMES}")
            continue
        detail = _detail(error, loc, method, schema) + (" (or auto)" if or_auto else "")
        messages.append(f"{_where(loc, source, lines, blame or {})}: {detail}")
    return "invalid config\n  " + "\n  ".join(messages)


def _where(
    loc: tuple[str, ...],
    source: str,
    lines: dict[tuple[str, ...], int],
    blame: dict[tuple[str, ...], str],
) -> str:
    """Where a bad key came from, with its dotted path: the command-line override or
    option that set it (or set a section above or a value inside it), else the file
    line, else the file."""
    dotted = ".".join(loc) or "(top level)"
    # The longest key path that the command line set and that contains or lies in `loc`.
    setters = [key for key in blame if loc and (key == loc[: len(key)] or loc == key[: len(loc)])]
    if setters:
        origin = blame[max(setters, key=len)]
        if origin.startswith("command-line option"):  # named after its top-level key
            return origin if len(loc) == 1 else f"{origin} ({dotted})"
        return f"{origin} {dotted}"
    line = lines.get(loc)
    return f"{source}:{line}: {dotted}" if line else f"{source}: {dotted}"


def _detail(
    error: Any, loc: tuple[str, ...], method: str | None, schema: type[BaseModel] = RunConfig
) -> str:
    """What is wrong with one value, and what was expected."""
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown key{_suggest(loc, method, schema)}"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"got {error.get('input')!r}, expected one of {expected}"
    if kind in ("greater_than", "greater_than_equal", "less_than"):
        bound = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<"}[kind]
        limit = next(iter(error.get("ctx", {}).values()), "")
        return f"expected a number {bound} {limit}, got {error.get('input')!r}"
    if kind == "missing":
        return "missing: this key has no default, set it"
    if kind == "value_error":  # our own validators' messages, without pydantic's prefix
        return str(error.get("ctx", {}).get("error", error["msg"]))
    expected = _EXPECTED.get(kind)
    return f"expected {expected}, got {error.get('input')!r}" if expected else error["msg"]


def _suggest(
    loc: tuple[str, ...], method: str | None = None, schema: type[BaseModel] = RunConfig
) -> str:
    """A 'did you mean' hint for an unknown key, from the fields of its section (for
    `method:`, of the named method's own class; in a list, of its items' class)."""
    model: type[BaseModel] = schema
    item: Any = None  # a list field's item type, which the next (index) part selects
    for part in loc[:-1]:
        if item is not None and part.isdigit():
            annotation = item
        else:
            field = model.model_fields.get(part)
            annotation = field.annotation if field else None
            if part == "method" and model is RunConfig and method is not None:
                annotation = method_config_class(method)
        item = None
        if typing.get_origin(annotation) is list and typing.get_args(annotation):
            item = typing.get_args(annotation)[0]
            continue
        annotation = _section_of(annotation)
        if annotation is None:
            return ""
        model = annotation
    # Keys as YAML writes them: a field named after a Python keyword goes by its alias.
    known = [field.alias or name for name, field in model.model_fields.items()]
    close = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.5)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; known keys: {', '.join(known)}"


def _section_of(annotation: Any) -> type[BaseModel] | None:
    """The config class of a field: itself, or the one of an optional section (X | None)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    sections = [_section_of(arg) for arg in typing.get_args(annotation) if arg is not type(None)]
    found = [section for section in sections if section is not None]
    return found[0] if len(found) == 1 else None
