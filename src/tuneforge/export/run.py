"""`tuneforge export RUN --format hf | gguf [--quant f16 | bf16 | q8_0] --output DIR`.

RUN is a run directory, an adapter folder, a model folder or an alias. Whatever the
format, the export is written into DIR.partial and renamed when its parity check has
passed: a failed check leaves no export behind and exits non-zero.

- hf: export/hf.py (DIR holds the model folder and parity.json).
- gguf: the model (an adapter merged into its base first) as DIR/model-<quant>.gguf,
  checked by reading it back (parity.py), with an Ollama Modelfile beside it when the chat
  template is one the translator knows. With `lora_adapter`, a LoRA run is written instead
  as its base's GGUF plus DIR/adapter-f16.gguf for llama.cpp's --lora and Ollama's ADAPTER,
  the adapter checked weight by weight against PEFT's merge (adapter_parity.py).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuneforge.errors import TuneForgeError
from tuneforge.log import info
from tuneforge.run_dir import base_model_of, resolve_adapter_dir


@dataclass(frozen=True)
class ExportSource:
    given: str
    folder: Path
    """The model's HF folder; for an adapter, its base's."""
    adapter: Path | None = None


def resolve_export_source(given: str, log=info) -> ExportSource:
    from tuneforge.models.registry import ALIASES, ensure_cached, resolve_model_path

    if given in ALIASES:
        return ExportSource(given, ensure_cached(given, log))
    folder, kind = resolve_adapter_dir(given)
    if kind == "model":
        return ExportSource(given, folder)
    base = base_model_of(given)
    if base is None:
        raise TuneForgeError(f"{given}: cannot tell which base model the adapter was trained on")
    return ExportSource(given, Path(resolve_model_path(base, log)), adapter=folder)


def export(
    given: str, fmt: str, output: Path, quant: str = "f16", dtype: str = "float32",
    lora_adapter: bool = False, log=info,
) -> dict[str, Any]:  # fmt: skip
    """Export, check, and return what export.json records."""
    source = resolve_export_source(given, log)
    output = Path(output)
    partial = output.with_name(output.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        if fmt == "hf":
            from tuneforge.export.hf import export_hf

            report = export_hf(source, partial, dtype, log).to_dict()
            files = sorted(p.name for p in partial.iterdir())
        else:
            report, files = _export_gguf(source, partial, quant, lora_adapter, log)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    record = {"source": given, "format": fmt, "quant": quant if fmt == "gguf" else dtype,
              "files": files, "parity": _summary(report)}  # fmt: skip
    (partial / "export.json").write_text(json.dumps(record, indent=2) + "\n")
    shutil.rmtree(output, ignore_errors=True)
    os.replace(partial, output)
    return record


def _export_gguf(
    source: ExportSource, folder: Path, quant: str, lora_adapter: bool, log
) -> tuple[dict[str, Any], list[str]]:
    from tuneforge.export.gguf_model import write_gguf
    from tuneforge.export.parity import check_parity

    model_file = folder / f"model-{quant}.gguf"
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".export-") as scratch:
        model_folder = source.folder
        if source.adapter is not None and not lora_adapter:
            from tuneforge.merge.lora import merge_adapter

            model_folder = merge_adapter(source.given, Path(scratch) / "merged", log=log)
        log(f"writing {model_file.name}")
        write_gguf(model_folder, model_file, quant)  # type: ignore[arg-type]
        log("checking it: the GGUF read back against its source")
        report = check_parity(model_folder, model_file, quant)
        report.write(folder / "parity.json")
        checks: dict[str, Any] = {"model": report.to_dict()}
        adapter_file = None
        if lora_adapter:
            adapter_file = _export_adapter(source, folder, checks, log)
        _modelfile(model_folder, folder, model_file.name, adapter_file, log)
    return checks, sorted(p.name for p in folder.iterdir())


def _export_adapter(source: ExportSource, folder: Path, checks: dict[str, Any], log) -> str:
    from tuneforge.export.adapter_parity import check_adapter_parity
    from tuneforge.export.gguf_adapter import write_gguf_lora

    if source.adapter is None:
        raise TuneForgeError(f"{source.given}: --lora-adapter exports an adapter; this is a model")
    adapter_file = folder / "adapter-f16.gguf"
    log(f"writing {adapter_file.name}")
    write_gguf_lora(source.adapter, source.folder, adapter_file)
    adapter_report = check_adapter_parity(source.adapter, source.folder, adapter_file)
    adapter_report.write(folder / "adapter_parity.json")
    checks["adapter"] = adapter_report.to_dict()
    return adapter_file.name


def _modelfile(model_folder: Path, folder: Path, model: str, adapter: str | None, log) -> None:
    from tuneforge.export.modelfile import TemplateNotTranslatable, write_modelfile

    try:
        write_modelfile(
            model_folder, folder / "Modelfile", model=f"./{model}",
            adapter=f"./{adapter}" if adapter else None,
        )  # fmt: skip
    except TemplateNotTranslatable as exc:
        log(f"no Modelfile: {exc}")


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    """The verdicts and headline numbers of each check (the full reports are beside)."""
    keys = ("passed", "rule", "top1_agreement", "mean_kl", "max_abs_logit_diff", "greedy_identical")
    if "model" in report:
        return {name: {k: r.get(k) for k in keys if k in r} for name, r in report.items()}
    return {k: report.get(k) for k in keys}
