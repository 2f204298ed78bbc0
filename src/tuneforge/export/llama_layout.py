"""What a Llama-family HF folder looks like to llama.cpp: its shape numbers, the GGUF
name of each tensor, and the row order of the attention projections.

Both the model writer and the LoRA adapter writer read this, so a base model and its
adapter always agree on names and on the Q/K permutation.

The permutation: HF Llama applies RoPE by `rotate_half`, pairing dimension i of a head
with dimension i + head_dim/2; llama.cpp's Llama graph pairs neighbours (2i, 2i+1). So
llama.cpp's converter reorders the rows of q_proj and k_proj, per head, from
[x_0 .. x_{d/2-1}, y_0 .. y_{d/2-1}] to [x_0, y_0, x_1, y_1, ...]; transformers' GGUF
loader undoes exactly this on read. A LoRA delta B @ A changes rows through B only, so
lora_B gets the same permutation and lora_A none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from tuneforge.export.errors import ExportError

ROPE_QUERY, ROPE_KEY = "q_proj", "k_proj"


def require_gguf():
    """The `gguf` package (llama.cpp's own reader and writer), or an error naming the extra."""
    try:
        import gguf
    except ImportError as exc:
        raise ExportError(
            "GGUF export needs the gguf package: pip install 'tuneforge[gguf]'"
        ) from exc
    return gguf


@dataclass(frozen=True)
class LlamaLayout:
    """The numbers GGUF metadata and tensor names are made of, read from config.json."""

    folder: Path
    n_layers: int
    hidden_size: int
    intermediate_size: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    context_length: int
    rope_theta: float
    rope_scaling: dict[str, Any] | None
    rms_norm_eps: float
    vocab_size: int
    tied_embeddings: bool

    @classmethod
    def read(cls, folder: Path) -> LlamaLayout:
        path = Path(folder) / "config.json"
        if not path.is_file():
            raise ExportError(f"{folder}: not a model folder (no config.json in it)")
        config = json.loads(path.read_text())
        model_type = config.get("model_type")
        if model_type != "llama":
            raise ExportError(
                f"{path}: model_type is {model_type!r}; GGUF export supports the Llama family "
                "(model_type 'llama', as SmolLM2 and Llama 3 are). Export --format hf instead."
            )
        n_heads = config["num_attention_heads"]
        rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
        return cls(
            folder=Path(folder),
            n_layers=config["num_hidden_layers"],
            hidden_size=config["hidden_size"],
            intermediate_size=config["intermediate_size"],
            n_heads=n_heads,
            n_kv_heads=config.get("num_key_value_heads") or n_heads,
            head_dim=config.get("head_dim") or config["hidden_size"] // n_heads,
            context_length=config["max_position_embeddings"],
            rope_theta=float(rope.get("rope_theta", config.get("rope_theta", 10000.0))),
            rope_scaling=_rope_scaling(path, rope),
            rms_norm_eps=float(config["rms_norm_eps"]),
            vocab_size=config["vocab_size"],
            tied_embeddings=bool(config.get("tie_word_embeddings", False)),
        )

    @cached_property
    def _tensor_map(self):
        gguf = require_gguf()
        return gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, self.n_layers)

    def gguf_name(self, hf_name: str) -> str:
        """`model.layers.3.self_attn.q_proj.weight` -> `blk.3.attn_q.weight`, by the gguf
        package's own table (the one llama.cpp's converter uses)."""
        name = self._tensor_map.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise ExportError(
                f"{self.folder}: tensor {hf_name!r} has no place in llama.cpp's Llama graph; "
                "export --format hf instead"
            )
        return name

    def is_tied_head(self, hf_name: str) -> bool:
        """lm_head of a model whose head is its embedding: llama.cpp reuses token_embd
        when `output.weight` is absent, so the copy is not written."""
        return self.tied_embeddings and hf_name == "lm_head.weight"

    def heads_of(self, hf_name: str) -> int | None:
        """The head count whose rows the permutation groups, or None for other tensors."""
        module = hf_name.rsplit(".", 2)[-2] if hf_name.count(".") >= 2 else ""
        return {ROPE_QUERY: self.n_heads, ROPE_KEY: self.n_kv_heads}.get(module)

    def to_gguf_rows(self, hf_name: str, tensor: torch.Tensor) -> torch.Tensor:
        """The tensor with its rows in llama.cpp's order (a no-op outside q/k_proj)."""
        heads = self.heads_of(hf_name)
        return tensor if heads is None else interleave_rope_rows(tensor, heads)

    def to_hf_rows(self, hf_name: str, tensor: torch.Tensor) -> torch.Tensor:
        heads = self.heads_of(hf_name)
        return tensor if heads is None else deinterleave_rope_rows(tensor, heads)


def interleave_rope_rows(tensor: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Rows of each head from halves [x.., y..] to pairs [x0, y0, x1, y1, ...]."""
    shape = tensor.shape
    # (heads, 2 halves, head_dim/2, *rest) -> (heads, head_dim/2, 2, *rest)
    return (
        tensor.reshape(n_heads, 2, shape[0] // n_heads // 2, *shape[1:])
        .transpose(1, 2)
        .reshape(shape)
    )


def deinterleave_rope_rows(tensor: torch.Tensor, n_heads: int) -> torch.Tensor:
    """The inverse of `interleave_rope_rows` (what transformers' GGUF loader applies)."""
    shape = tensor.shape
    return (
        tensor.reshape(n_heads, shape[0] // n_heads // 2, 2, *shape[1:])
        .transpose(1, 2)
        .reshape(shape)
    )


def _rope_scaling(path: Path, rope: dict[str, Any]) -> dict[str, Any] | None:
    """Linear scaling has GGUF keys of its own; the other kinds need tensors or keys this
    writer does not produce, so they are refused rather than silently dropped."""
    kind = rope.get("rope_type", rope.get("type", "default"))
    if kind in (None, "default"):
        return None
    if kind == "linear" and rope.get("factor") is not None:
        return {"type": "linear", "factor": float(rope["factor"])}
    raise ExportError(
        f"{path}: rope_type {kind!r} is not supported by the GGUF export (default and "
        "linear are); export --format hf and convert with llama.cpp's convert_hf_to_gguf.py"
    )
