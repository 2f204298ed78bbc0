"""A model's shape, for memory planning: sizes, parameter counts by module kind, and
every Linear layer, read from an HF config without a single weight.

Counts are exact: the model is instantiated on the meta device (transformers'
`from_config` under `torch.device("meta")`: shapes only, no storage), and its modules
are walked, so whatever the architecture adds (biases, tied heads, extra norms) is
counted as the training run would load it. A laptop can describe a 405B model this way
in a few seconds. Memory formulas (plan/memory.py) then need only this object.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

ATTENTION_OUTPUTS = ("o_proj",)
"""Llama-family attention output projections: their input is the attention's output,
not the normalised residual stream (activation accounting needs to know which)."""


@dataclass(frozen=True)
class Linear:
    """One kind of Linear layer: all the modules of the model at the same path (one per
    decoder layer, or the head alone)."""

    path: str
    """The module path with layer indices as '*', e.g. model.layers.*.self_attn.q_proj."""
    in_features: int
    out_features: int
    count: int
    """How many modules share this path (the number of decoder layers, or 1)."""
    bias: bool
    kind: str
    """attention | mlp | head (the output projection to the vocabulary) | other."""

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def weight_numel(self) -> int:
        """Weight elements of one module."""
        return self.in_features * self.out_features

    def matches(self, target: str) -> bool:
        """PEFT's rule for a target_modules entry: the module's name, or a suffix of its
        path starting at a dot."""
        return self.name == target or self.path.endswith(f".{target}")


@dataclass(frozen=True)
class Architecture:
    """Sizes and exact parameter counts of a decoder-only language model."""

    model_type: str
    vocab: int
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    tied_embeddings: bool
    embeddings: int
    """Parameters of the input embedding (which is also the head when tied)."""
    attention_linear: int
    """Weights and biases of the attention projections, all layers."""
    mlp_linear: int
    norms: int
    lm_head: int
    """Parameters of the output head; 0 when it is the (tied) input embedding."""
    other: int = 0
    """Anything else with parameters (none for the Llama family)."""
    linears: tuple[Linear, ...] = ()
    tensor_sizes: tuple[tuple[int, int], ...] = field(default=())
    """(elements, how many parameter tensors have that many), for per-tensor rules: 8-bit
    optimizers keep small tensors in 32 bits, a CPU optimizer step allocates per tensor."""

    @property
    def total(self) -> int:
        return (
            self.embeddings
            + self.attention_linear
            + self.mlp_linear
            + self.norms
            + self.lm_head
            + self.other
        )

    @property
    def parameters(self) -> int:
        """Every parameter, a tied head once (what the model's parameters() yields)."""
        return self.total

    @property
    def kv_dim(self) -> int:
        """Width of a layer's keys (and values): kv_heads x head_dim."""
        return self.kv_heads * self.head_dim

    @property
    def q_dim(self) -> int:
        """Width of a layer's queries and attention output: heads x head_dim."""
        return self.heads * self.head_dim

    def decoder_linears(self) -> list[Linear]:
        """The Linear layers inside the decoder blocks (every Linear but the head)."""
        return [linear for linear in self.linears if linear.kind in ("attention", "mlp")]

    def head(self) -> Linear | None:
        return next((linear for linear in self.linears if linear.kind == "head"), None)

    def linear_weights(self) -> int:
        """Weight elements of the decoder's Linear layers (what NF4 quantises)."""
        return sum(linear.weight_numel * linear.count for linear in self.decoder_linears())

    def linear_biases(self) -> int:
        return sum(
            linear.out_features * linear.count for linear in self.decoder_linears() if linear.bias
        )


def architecture_of(model: Any) -> Architecture:
    """The Architecture of an alias (`tuneforge models`), a local HF folder, a hub id
    (needs network), a transformers config object, or a config.json's dict. Only the
    config is read; the model is built on the meta device."""
    return from_config(load_config(model))


def load_config(model: Any):
    """A transformers config from any of the forms architecture_of accepts."""
    from transformers import AutoConfig, PretrainedConfig

    if isinstance(model, PretrainedConfig):
        return model
    if isinstance(model, dict):
        values = dict(model)
        model_type = values.pop("model_type", None)
        if model_type is None:
            raise ValueError("a config dict needs its model_type (llama, mistral, qwen2, ...)")
        return AutoConfig.for_model(model_type, **values)
    from tuneforge.errors import ModelNotFoundError
    from tuneforge.models.registry import resolve_model_path

    path = resolve_model_path(str(model))
    try:
        return AutoConfig.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(
            f"model {path!r}: its config could not be read ({exc}); hub ids need network "
            "access, offline use a local folder with a config.json or an alias"
        ) from None


def from_config(config) -> Architecture:
    """Instantiate `config`'s causal LM on the meta device and count what it holds."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    heads = text.num_attention_heads
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // heads
    counts, tied = count_parameters(model)
    return Architecture(
        model_type=text.model_type,
        vocab=text.vocab_size,
        hidden=text.hidden_size,
        layers=text.num_hidden_layers,
        heads=heads,
        kv_heads=getattr(text, "num_key_value_heads", None) or heads,
        head_dim=head_dim,
        intermediate=text.intermediate_size,
        tied_embeddings=tied,
        linears=tuple(linear_layers(model)),
        tensor_sizes=tuple(sorted(tensor_sizes(model).items())),
        **counts,
    )


def count_parameters(model) -> tuple[dict[str, int], bool]:
    """(parameters by module kind, each tensor counted once, whether the head is tied to
    the input embedding: then it is counted there)."""
    import torch

    embedding = model.get_input_embeddings()
    head = model.get_output_embeddings()
    tied = head is not None and head.weight is embedding.weight
    counts = dict.fromkeys(("embeddings", "attention_linear", "mlp_linear", "norms"), 0)
    counts |= {"lm_head": 0, "other": 0}
    seen: set[int] = set()
    for name, module in model.named_modules():
        own = [p for p in module.parameters(recurse=False) if id(p) not in seen]
        seen.update(id(p) for p in own)
        size = sum(p.numel() for p in own)
        if module is embedding:
            counts["embeddings"] += size
        elif module is head:
            counts["lm_head"] += size
        elif isinstance(module, torch.nn.Linear):
            counts[LINEAR_COUNTS.get(module_kind(name), "other")] += size
        elif "norm" in type(module).__name__.lower():
            counts["norms"] += size
        else:
            counts["other"] += size
    return counts, tied


LINEAR_COUNTS = {"attention": "attention_linear", "mlp": "mlp_linear"}


def module_kind(path: str) -> str:
    """attention or mlp from a module path, by the names decoder layers use."""
    parts = path.split(".")
    if any(p in ("self_attn", "attention", "attn") for p in parts):
        return "attention"
    if any(p in ("mlp", "feed_forward", "ffn") for p in parts):
        return "mlp"
    return "other"


def linear_layers(model) -> list[Linear]:
    """Every Linear (and the head), grouped by path with layer indices replaced by '*'."""
    import torch

    head = model.get_output_embeddings()
    groups: Counter[tuple[str, int, int, bool, str]] = Counter()
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear):
            continue
        path = ".".join("*" if part.isdigit() else part for part in name.split("."))
        kind = "head" if module is head else module_kind(name)
        key = (path, module.in_features, module.out_features, module.bias is not None, kind)
        groups[key] += 1
    return [
        Linear(path, n_in, n_out, count, bias, kind)
        for (path, n_in, n_out, bias, kind), count in groups.items()
    ]


def tensor_sizes(model) -> Counter[int]:
    """How many parameter tensors have each size (tied tensors once)."""
    return Counter(p.numel() for p in model.parameters())
