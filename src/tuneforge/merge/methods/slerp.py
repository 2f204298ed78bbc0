"""SLERP: spherical linear interpolation between two models, one tensor at a time.

For the base a (t = 0) and the other model b (t = 1), each flattened to a vector:

    cos theta = <a / |a|, b / |b|>, clamped to [-1, 1]
    out = sin((1 - t) theta) / sin theta * a  +  sin(t theta) / sin theta * b

(Shoemake 1985). The angle comes from the directions, but the coefficients multiply the
raw tensors, so |out| is not interpolated on a sphere: a = [1, 0], b = [0, 2] at t = 0.5
give [0.707, 1.414], of norm 1.58 where a lerp of the norms would say 1.5. That is
mergekit's convention, followed here with its constants:

- the whole tensor is one vector (mergekit 0.1.5 keeps a leading axis only to batch
  several tensors together);
- a norm at most 1e-8 is replaced by 1, so a zero tensor has dot 0 with anything
  (theta = pi/2: at t = 0.5 a zero base gives 0.707 b, not 0.5 b);
- when |cos theta| > 0.9995 the vectors are (anti)parallel, sin theta is near 0, and
  the result is the lerp (1 - t) a + t b;
- t may lie outside [0, 1] (extrapolation), as mergekit allows;
- the working dtype is float32 (float64 for float64 inputs), the result is cast to the
  base's dtype;
- the norms and the dot are reduced over chunks of 2^20 entries, and the chunks' results
  combined. mergekit chunks to bound its scratch memory, and so does this function, but
  the chunks matter for the numbers too: a float32 reduction rounds differently with
  the chunking (torch's vector_norm of 2.15M float32 entries is 3.4e-5 relative off the
  float64 value in one piece, 1.1e-5 in chunks), and reduced in one piece the result
  was 2.5e-6 off mergekit's at t = 1.4; in chunks it is bit-identical.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from tuneforge.merge.methods.common import check_tensors, working_dtype

DOT_THRESHOLD = 0.9995  # |cos theta| above this: (anti)parallel, lerp instead
EPS = 1e-8  # norms at most this are treated as 1 (no direction to normalise)
CHUNK = 1 << 20  # entries per reduction chunk, as mergekit's


def slerp(base: torch.Tensor, tensors: Sequence[torch.Tensor], *, t: float) -> torch.Tensor:
    """`base` at t = 0, the single model in `tensors` at t = 1."""
    if len(tensors) != 1:
        raise ValueError(
            f"slerp merges exactly two models, the base and one other; got {len(tensors)} "
            "besides the base"
        )
    check_tensors("slerp", [base, tensors[0]])
    dtype = working_dtype([base, tensors[0]])
    a, b = base.reshape(-1), tensors[0].reshape(-1)  # views in the inputs' dtype
    starts = range(0, a.numel(), CHUNK)
    if not starts:
        return base.clone()

    def chunk(x: torch.Tensor, start: int) -> torch.Tensor:
        return x[start : start + CHUNK].to(dtype)

    norm_a = _norm([chunk(a, s) for s in starts])
    norm_b = _norm([chunk(b, s) for s in starts])
    parts = [((chunk(a, s) / norm_a) * (chunk(b, s) / norm_b)).sum() for s in starts]
    dot = torch.stack(parts).sum().clamp(-1, 1)
    t_ = torch.tensor(t, dtype=dtype, device=a.device)  # rounded like mergekit's t
    coef_a, coef_b = 1 - t_, t_
    if dot.abs() <= DOT_THRESHOLD:
        theta = torch.acos(dot)
        sin_theta = torch.sin(theta)
        coef_a = torch.sin((1 - t_) * theta) / sin_theta
        coef_b = torch.sin(t_ * theta) / sin_theta
    out = torch.empty_like(a)
    for s in starts:
        out[s : s + CHUNK] = coef_a * chunk(a, s) + coef_b * chunk(b, s)
    return out.reshape(base.shape)


def _norm(chunks: list[torch.Tensor]) -> torch.Tensor:
    """|x| from its chunks, or 1 when at most EPS."""
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(c) for c in chunks]))
    return torch.where(norm > EPS, norm, 1.0)
