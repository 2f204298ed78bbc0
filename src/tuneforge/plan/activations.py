"""Activation memory of one forward pass: what autograd keeps for the backward pass.

The accounting follows Korthikanti et al. 2022 ("Reducing Activation Recomputation in
Large Transformer Models", section 4.1), adapted to the Llama decoder layer as
transformers runs it under TuneForge: RMSNorm instead of LayerNorm, a SwiGLU MLP, SDPA
attention (its kernels keep the output and a log-sum-exp, never the seq x seq
probabilities), no dropout outside a LoRA branch. Notation: h hidden, i intermediate,
q = heads x head_dim, n_h heads; s, a, m the bytes of the residual stream, of the
attention tensors and of the MLP intermediates (plan/numerics.py). Per token and layer:

    norms      2 x 4h                   each RMSNorm keeps its input upcast to float32
               + 2 x s h                and, when its weight trains, the normalised input
    attention  4 a q + 4 n_h            Q, K, V (K and V repeated to every query head) and
                                        the output; a float32 log-sum-exp per head
    mlp        3 m i                    gate, up and silu(gate)
    inputs     what the trained Linears (or their adapters) keep to compute weight
               gradients: see kept_inputs
    + per layer and row, when an attention mask is passed: width^2 x a (SDPA converts the
      boolean mask to an additive one per call and keeps it)

A frozen Linear keeps nothing of its input (the input gradient needs only the weight).
Outside the layers, per token: the final norm's 4h (+ s h when it trains); per pass:
RoPE's cos and sin, and under autocast the 16-bit copy autograd keeps of every float32
Linear weight a matmul uses (2 bytes per weight). With gradient checkpointing each layer
keeps only its input (s h per token), and the layer being recomputed holds its own
activations again during the backward pass.

Validated against the tensors autograd actually saves for a tiny Llama (the unit test
walks the graph); the first layer keeps a little less when nothing before it trains.
"""

from __future__ import annotations

from dataclasses import dataclass

from tuneforge.config import AdapterConfig
from tuneforge.plan.architecture import ATTENTION_OUTPUTS, Architecture, Linear
from tuneforge.plan.numerics import Device, Numerics
from tuneforge.plan.trainable import LORA_FAMILY, ia3_targets, targeted

LOGITS_BACKWARD = 12
"""Bytes per trained token and vocabulary entry at the start of the backward pass: the
float32 log-softmax the cross-entropy keeps (4), the gradient arriving at it (4) and the
gradient it passes back to the logits (4), alive together."""


@dataclass(frozen=True)
class ForwardPass:
    """One forward pass of a micro-batch (or of a part of one, train.max_tokens_per_forward)."""

    rows: int
    """Sequences that go through the model with gradients."""
    width: int
    """Padded tokens per row (a multiple of 8, as data/batching.py pads)."""
    trained: int
    """Tokens whose logits the loss needs (the LM head runs on these only)."""
    masked: bool
    """An attention mask reaches SDPA: padded rows, or packed ones (block-diagonal)."""
    no_grad_rows: int = 0
    """Sequences of the same width that go through without gradients (KTO's KL twins)."""

    @property
    def tokens(self) -> int:
        return self.rows * self.width


def input_kind(linear: Linear, arch: Architecture) -> str:
    """Which tensor a decoder Linear reads: attn_in (the normalised stream), attn_out
    (the attention's output), mlp_in (the normalised stream) or mlp_mid (gate x up)."""
    if linear.kind == "attention":
        return "attn_out" if linear.name in ATTENTION_OUTPUTS else "attn_in"
    return "mlp_mid" if linear.in_features == arch.intermediate else "mlp_in"


def input_bytes(kind: str, num: Numerics) -> int:
    return {"attn_in": num.stream, "attn_out": num.attention, "mlp_in": num.stream}.get(
        kind, num.mlp
    )


def shared_inputs(arch: Architecture, num: Numerics, linears: list[Linear]) -> int:
    """Bytes per token of the inputs `linears` (one layer's) keep for weight gradients.
    Readers of one tensor share it, except under autocast from a float32 tensor, where
    each matmul keeps its own 16-bit cast. The attention output is kept by SDPA already."""
    readers: dict[str, list[Linear]] = {}
    for linear in linears:
        readers.setdefault(input_kind(linear, arch), []).append(linear)
    total = 0
    for kind, group in readers.items():
        width, size = group[0].in_features, input_bytes(kind, num)
        if num.autocast and size == 4:
            total += len(group) * 2 * width
        elif kind != "attn_out":
            total += size * width
    return total


def lora_inputs(
    arch: Architecture, num: Numerics, adapter: AdapterConfig, linears: list[Linear], device: Device
) -> int:
    """Bytes per token a LoRA-family branch keeps per layer. Each targeted module keeps
    its A-projection's output (r); with dropout, its dropped-out input (16-bit under
    autocast) and the dropout mask (float on CPU, bool on CUDA); without dropout, the
    input itself (shared_inputs). DoRA also keeps the base and LoRA results (2 out)
    for the magnitude's gradient."""
    branch = 2 if num.autocast else 4
    total = len(linears) * adapter.r * branch
    if adapter.dropout > 0:
        for linear in linears:
            size = input_bytes(input_kind(linear, arch), num)
            kept = 2 if num.autocast else size
            mask = size if device == "cpu" else 1
            total += (kept + mask) * linear.in_features
    else:
        total += shared_inputs(arch, num, linears)
    if adapter.type == "dora":
        total += sum(2 * num.compute * linear.out_features for linear in linears)
    return total


def ia3_inputs(arch: Architecture, num: Numerics, adapter: AdapterConfig) -> int:
    """IA3's multiply keeps what it scales: a feed-forward module's input, or another
    module's output (in the compute dtype)."""
    linears, feedforward = ia3_targets(arch, adapter)
    return sum(
        input_bytes(input_kind(lin, arch), num) * lin.in_features
        if lin.name in feedforward
        else num.compute * lin.out_features
        for lin in linears
        if lin.kind != "head"
    )


def kept_inputs(arch: Architecture, num: Numerics, adapter: AdapterConfig, device: Device) -> int:
    """Bytes per token and layer kept for the gradients of what trains in the layer."""
    if adapter.type == "full":
        return shared_inputs(arch, num, arch.decoder_linears())
    if adapter.type in LORA_FAMILY:
        layer = [lin for lin in targeted(arch, adapter.target_modules) if lin.kind != "head"]
        return lora_inputs(arch, num, adapter, layer, device)
    if adapter.type == "ia3":
        return ia3_inputs(arch, num, adapter)
    return 0  # prompt and prefix tuning train nothing inside the layers


def layer_bytes_per_token(
    arch: Architecture, num: Numerics, adapter: AdapterConfig, device: Device
) -> int:
    """Bytes one decoder layer keeps per token (the formula in the module docstring)."""
    h, full = arch.hidden, adapter.type == "full"
    norms = 2 * 4 * h + (2 * num.stream * h if full else 0)
    attention = 4 * num.attention * arch.q_dim + 4 * arch.heads
    mlp = 3 * num.mlp * arch.intermediate
    return norms + attention + mlp + kept_inputs(arch, num, adapter, device)


def layer_bytes(
    arch: Architecture, num: Numerics, adapter: AdapterConfig, device: Device, p: ForwardPass
) -> int:
    """Bytes one decoder layer keeps in pass `p`: per token, plus the additive mask."""
    mask = p.rows * p.width * p.width * num.attention if p.masked else 0
    return p.tokens * layer_bytes_per_token(arch, num, adapter, device) + mask


def weight_copies(
    arch: Architecture, num: Numerics, adapter: AdapterConfig, scalar_head: bool = False
) -> tuple[int, int]:
    """(bytes per decoder layer, bytes for the head) of the 16-bit copies autograd keeps
    of float32 Linear weights under autocast. DoRA keeps two per module (its own matmul
    with the base weight, besides the base layer's). A reward model's score head is
    hidden x 1: nothing to count."""
    if not num.autocast:
        return 0, 0
    decoder = arch.linear_weights() // arch.layers
    if adapter.type == "full":
        stored = num.weight
    elif adapter.type == "qlora":
        stored = 0  # 4-bit weights are dequantised per matmul instead (dequantised())
    else:
        stored = int(num.frozen_linear)
    layer = 2 * decoder * (2 if adapter.type == "dora" else 1) if stored == 4 else 0
    head = arch.head()
    head_stored = num.weight if arch.tied_embeddings or adapter.type == "full" else stored
    if adapter.type == "qlora":
        head_stored = 4  # prepare_model_for_kbit_training made it float32
    if head is None or scalar_head or head_stored != 4:
        return layer, 0
    return layer, 2 * head.weight_numel


def dequantised(arch: Architecture, num: Numerics, adapter: AdapterConfig) -> int:
    """Transient full-precision weights: QLoRA dequantises one 4-bit weight per matmul
    (in the compute dtype); DoRA composes W + BA for its norm (two float32 matrices)."""
    largest = max((lin.weight_numel for lin in arch.decoder_linears()), default=0)
    if adapter.type == "qlora":
        return num.weight * largest
    if adapter.type == "dora":
        return 2 * 4 * largest
    return 0


def activation_bytes(
    arch: Architecture,
    num: Numerics,
    adapter: AdapterConfig,
    device: Device,
    p: ForwardPass,
    checkpointing: bool,
    scalar_head: bool = False,
) -> int:
    """Everything pass `p` keeps for its backward pass, at the moment it starts."""
    one_layer = layer_bytes(arch, num, adapter, device, p)
    layer_copy, head_copy = weight_copies(arch, num, adapter, scalar_head)
    if checkpointing:
        layers = arch.layers * p.tokens * num.stream * arch.hidden + one_layer + layer_copy
    else:
        layers = arch.layers * (one_layer + layer_copy)
    final_norm = p.tokens * (4 + (num.stream if adapter.type == "full" else 0)) * arch.hidden
    rope = 2 * p.width * arch.head_dim * num.stream
    extra = head_copy + dequantised(arch, num, adapter)
    return layers + final_norm + rope + extra


def logits_forward_per_entry(num: Numerics, entropy: bool) -> int:
    """Bytes per trained token and vocabulary entry while the loss is taken: the logits
    (compute dtype), their float32 copy (none when already float32) and the kept
    log-softmax; the entropy metric (grpo, ppo) adds a float32 log-softmax, its exp and
    their product."""
    copy = 0 if num.compute == 4 else 4
    return num.compute + copy + 4 + (12 if entropy else 0)


def logits_bytes(
    arch: Architecture,
    num: Numerics,
    p: ForwardPass,
    *,
    direct_head: bool = True,
    entropy: bool = False,
    head_trains: bool = False,
    scalar_head: bool = False,
) -> int:
    """The loss's peak over the vocabulary: trained tokens x vocab x the larger of the
    forward's and the backward's bytes per entry. Without the direct head (prompt
    learning) the head projects every position first (rows x width x vocab in the
    compute dtype, and its gradient in the backward). A trained head keeps its input.
    A reward model's scalar head keeps its input at every position instead."""
    if scalar_head:
        return p.tokens * arch.hidden * num.compute
    per_entry = max(LOGITS_BACKWARD, logits_forward_per_entry(num, entropy))
    total = p.trained * arch.vocab * per_entry
    if head_trains:
        total += p.trained * arch.hidden * num.compute
    if not direct_head:
        total += p.tokens * arch.vocab * num.compute
    return total
