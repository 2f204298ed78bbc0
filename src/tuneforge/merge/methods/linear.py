"""Linear merge: a weighted average of the models (Wortsman et al. 2022, "Model soups").

For models x_1..x_n with weights w_1..w_n:

    out = sum_i w_i x_i                     normalize false
    out = sum_i w_i x_i / sum_i w_i         normalize true (the default, as mergekit's)

No base model: a model to be included, the base among them, is listed with a weight.
Conventions followed, those of mergekit 0.1.5's `linear`: the weights are rounded to the
working dtype (float32) before use, the products are accumulated in model order and the
sum divided once at the end, so float32 results agree with mergekit's to the last bit.
Where mergekit divides by a zero sum of weights (and returns inf or NaN), this is an
error that names the fix.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from tuneforge.errors import ConfigError
from tuneforge.merge.methods.common import check_tensors, per_model, working_dtype


def linear(
    tensors: Sequence[torch.Tensor], *, weight: Sequence[float], normalize: bool = True
) -> torch.Tensor:
    check_tensors("linear", tensors)
    dtype = working_dtype(tensors)
    first = tensors[0]
    weights = torch.tensor(
        per_model("linear", "weight", weight, len(tensors)), dtype=dtype, device=first.device
    )
    out = torch.zeros(first.shape, dtype=dtype, device=first.device)
    for tensor, w in zip(tensors, weights, strict=True):
        out.addcmul_(tensor.to(dtype), w)
    if normalize:
        total = weights.sum()
        if total == 0:
            raise ConfigError(
                f"linear: the weights {list(weight)} sum to 0, so normalize cannot divide "
                "by their sum; change the weights or set normalize: false"
            )
        out.div_(total)
    return out.to(first.dtype)
