"""`tuneforge merge CONFIG.yaml OUTPUT_DIR`: sources resolved, their compatibility checked
before any compute, weights merged one tensor at a time, and the result written whole
(through OUTPUT_DIR.partial) as an HF model folder with its tokenizer, `merge.json`
(sources and their hashes, method, parameters, seed, the compatibility report) and a
model card; with `evaluate:`, the merge and its sources scored side by side
(merge/evaluate.py).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tuneforge.config.merge import LORA_MERGE, MergeConfig
from tuneforge.errors import ConfigError
from tuneforge.log import info
from tuneforge.merge.compat import check_compatibility
from tuneforge.merge.methods import check_parameters, get_method
from tuneforge.merge.sources import Source, resolve_source

CONFIG_FILES = ("config.json", "generation_config.json")


def run_merge(cfg: MergeConfig, output: Path, log=info) -> dict[str, Any]:
    """Merge as `cfg` says into `output`; returns merge.json's content."""
    started = time.perf_counter()
    output = Path(output)
    partial = output.with_name(output.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        with tempfile.TemporaryDirectory(dir=partial.parent, prefix=".merge-sources-") as scratch:
            record = _merge_into(cfg, partial, Path(scratch), log)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    record["seconds"] = round(time.perf_counter() - started, 2)
    (partial / "merge.json").write_text(json.dumps(record, indent=2) + "\n")
    (partial / "README.md").write_text(model_card(cfg, record))
    shutil.rmtree(output, ignore_errors=True)
    os.replace(partial, output)
    log(f"merged model: {output}")
    if cfg.evaluate is not None:  # the merge is whole and kept whatever the evaluation does
        from tuneforge.merge.evaluate import evaluate_candidates

        table = evaluate_candidates(cfg, output, log)
        record["evaluation"] = {"best": table["best"], "by": table["by"]}
        (output / "merge.json").write_text(json.dumps(record, indent=2) + "\n")
        log(f"best by {table['by']}: {table['best']} ({output / 'evaluation.md'})")
    return record


def _merge_into(cfg: MergeConfig, folder: Path, scratch: Path, log) -> dict[str, Any]:
    if cfg.merge_method == LORA_MERGE:
        return _merge_adapter(cfg, folder, log)
    import torch

    from tuneforge.merge.stream import merge_weights

    method = get_method(cfg.merge_method)
    given = [m for m in cfg.models if not (method.needs_base and m.model == cfg.base_model)]
    for variant in _variants(cfg.parameters, [m.parameters for m in given]):
        check_parameters(method, *variant, model_names=[m.model for m in given])
    if method.needs_base and cfg.base_model is None:
        raise ConfigError(
            f"merge method {method.name} needs base_model: the model task vectors start from"
        )
    if method.max_models is not None and len(given) > method.max_models:
        raise ConfigError(
            f"merge method {method.name} merges the base with {method.max_models} "
            f"model(s); got {len(given)}"
        )
    base = resolve_source(cfg.base_model, scratch, log) if cfg.base_model else None
    sources = [resolve_source(m.model, scratch, log) for m in given]
    compat = check_compatibility(sources, base, cfg.tokenizer_source)
    for note in compat.notes:
        log(f"compatibility: {note}")
    log(f"merging {len(sources)} model(s) with {method.name}")
    count = merge_weights(
        method, base if method.needs_base else None, sources, [m.parameters for m in given],
        cfg.parameters, folder, getattr(torch, cfg.dtype), cfg.seed,
        progress=_progress(log),
    )  # fmt: skip
    layout = base or sources[0]
    _copy_configs(layout, folder, cfg.dtype)
    _copy_tokenizer(_tokenizer_source(cfg, base, sources), folder)
    return {
        "method": method.name,
        "base_model": _describe(base) if base else None,
        "models": [
            _describe(s) | {"parameters": m.parameters} for s, m in zip(sources, given, strict=True)
        ],
        "parameters": cfg.parameters,
        "dtype": cfg.dtype,
        "seed": cfg.seed,
        "tokenizer_source": cfg.tokenizer_source,
        "tensors": count,
        "compatibility": compat.as_dict(),
    }


def _merge_adapter(cfg: MergeConfig, folder: Path, log) -> dict[str, Any]:
    from tuneforge.merge.lora import adapter_type, merge_adapter
    from tuneforge.run_dir import resolve_adapter_dir

    given = cfg.models[0].model
    merge_adapter(given, folder, cfg.dtype, base=cfg.base_model, log=log)
    adapter, _ = resolve_adapter_dir(given)
    source = Source(given, folder, adapter=adapter)
    return {
        "method": LORA_MERGE,
        "adapter": _describe(source) | {"type": adapter_type(adapter)},
        "base_model": cfg.base_model,
        "dtype": cfg.dtype,
    }


def _variants(
    parameters: dict[str, Any], per_model: list[dict[str, Any]]
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each alternative value of filtered parameters, for checking: variant i takes entry
    i of every list (its last entry once a list runs out)."""
    lists = [v for p in [parameters, *per_model] for v in p.values() if isinstance(v, list)]
    for i in range(max((len(v) for v in lists), default=1)):
        yield _pick(parameters, i), [_pick(p, i) for p in per_model]


def _pick(params: dict[str, Any], i: int) -> dict[str, Any]:
    return {k: _entry(v, i, k) if isinstance(v, list) else v for k, v in params.items()}


def _entry(entries: list, i: int, name: str) -> Any:
    entry = entries[min(i, len(entries) - 1)]
    if not isinstance(entry, dict) or "value" not in entry or set(entry) - {"filter", "value"}:
        raise ConfigError(
            f"parameter {name}: a filtered value is a list of {{filter, value}} entries, "
            f"got {entry!r}"
        )
    return entry["value"]


def _tokenizer_source(cfg: MergeConfig, base: Source | None, sources: list[Source]) -> Source:
    choice = cfg.tokenizer_source
    reference = base or sources[0]
    if choice is None or choice == "base":
        if choice == "base" and base is None:
            raise ConfigError("tokenizer_source: base, but the merge has no base_model")
        return reference
    for source in sources:
        if choice == source.given:
            return source
    names = ["base", *(s.given for s in sources)]
    raise ConfigError(
        f"tokenizer_source {choice!r}: not one of the merge's models ({', '.join(names)})"
    )


def _copy_configs(layout: Source, folder: Path, dtype: str) -> None:
    config = layout.config()
    config["torch_dtype"] = config["dtype"] = dtype
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    generation = layout.folder / "generation_config.json"
    if generation.is_file():
        shutil.copyfile(generation, folder / "generation_config.json")


def _copy_tokenizer(source: Source, folder: Path) -> None:
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(str(source.folder)).save_pretrained(folder)


def _describe(source: Source) -> dict[str, Any]:
    described: dict[str, Any] = {"model": source.given, "sha256": source.digest()}
    if source.adapter is not None:
        described["adapter_of"] = source.trained_from
    return described


def _progress(log):
    shown = {"at": 0.0}

    def report(done: int, total: int) -> None:
        now = time.perf_counter()
        if done == total or now - shown["at"] > 5:
            shown["at"] = now
            log(f"merged {done}/{total} tensors")

    return report


def model_card(cfg: MergeConfig, record: dict[str, Any]) -> str:
    config = yaml.safe_dump(cfg.model_dump(mode="json", exclude_defaults=True), sort_keys=False)
    sources = record.get("models") or [record.get("adapter")]
    lines = [
        "---",
        "tags: [merge, tuneforge]",
        "---",
        "",
        f"# Merged with `tuneforge merge` ({record['method']})",
        "",
        "Sources (sha256 of their weights):",
        "",
        *(f"- `{s['model']}`: `{s['sha256'][:16]}`" for s in sources if s),
        "",
        "Configuration:",
        "",
        "```yaml",
        config.rstrip(),
        "```",
        "",
    ]
    return "\n".join(lines)
