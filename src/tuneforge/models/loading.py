"""Load a base model and its tokenizer: alias/folder/hub id, dtype, device, 4-bit."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection

import torch

from tuneforge.config import ModelConfig
from tuneforge.errors import ModelNotFoundError
from tuneforge.log import info
from tuneforge.models.registry import resolve_model_path

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def bf16_supported() -> bool:
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def resolve_dtype(name: str) -> torch.dtype:
    """auto: bfloat16 on GPUs that support it; float32 on CPU, where the weights are the
    optimizer's exact master weights and bf16 (where native) comes from autocast."""
    if name == "auto":
        return torch.bfloat16 if bf16_supported() else torch.float32
    return _DTYPES[name]


def load_tokenizer(name_or_path: str, progress: Callable[[str], None] = info):
    from transformers import AutoTokenizer

    path = resolve_model_path(name_or_path, progress)
    tokenizer = _from_pretrained(AutoTokenizer, path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.chat_template is None:
        raise ModelNotFoundError(
            f"{name_or_path}: the tokenizer has no chat template; use an instruct/chat model "
            "or train on {'text': ...} records"
        )
    return tokenizer


def load_model(
    config: ModelConfig,
    quantize_4bit: bool = False,
    progress: Callable[[str], None] = info,
    scalar_head: bool = False,
):
    """The base causal LM on the default device, in the configured dtype; with
    `scalar_head`, the same backbone with a one-output score head (a reward model,
    transformers' ...ForSequenceClassification, head freshly initialised).

    quantize_4bit loads the linear layers as bitsandbytes NF4 with double quantisation
    (QLoRA), computing in bf16 where supported and float32 elsewhere.
    """
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    path = resolve_model_path(config.name_or_path, progress)
    dtype = resolve_dtype(config.dtype)
    kwargs: dict = {"dtype": dtype}
    if scalar_head:
        kwargs["num_labels"] = 1
    if quantize_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
        )
        kwargs["device_map"] = (
            {"": default_device().index or 0} if torch.cuda.is_available() else {"": "cpu"}
        )
    cls = AutoModelForSequenceClassification if scalar_head else AutoModelForCausalLM
    model = _from_pretrained(cls, path, **kwargs)
    if scalar_head and model.config.pad_token_id is None:
        # The head scores the last non-padding token, so it must know the padding id.
        model.config.pad_token_id = load_tokenizer(str(path), progress).pad_token_id
    if not quantize_4bit:
        model.to(default_device())
    elif not torch.cuda.is_available():
        # Quantising read every float32 page of the checkpoint; the float tensors left
        # (embeddings, norms, the head) still point into its map and keep those pages
        # resident: 400 MB for SmolLM2-135M, more than its 4-bit weights.
        release_checkpoint_map(model)
    return model


def release_checkpoint_map(model, skip: Collection[int] = ()) -> None:
    """Copy the model's CPU tensors (except those whose id() is in `skip`) out of the
    checkpoint file. transformers loads weights as views of the memory-mapped safetensors
    file, and the map stays, with every page ever read, while one tensor points into it:
    after a conversion or a quantisation that read them all, the whole float32 checkpoint
    is resident beside the weights actually used."""
    with torch.no_grad():
        for tensor in itertools.chain(model.parameters(), model.buffers()):
            if id(tensor) not in skip and tensor.device.type == "cpu":
                tensor.data = tensor.data.clone()


def _from_pretrained(cls, path: str, **kwargs):
    try:
        return cls.from_pretrained(path, **kwargs)
    except OSError as exc:
        raise ModelNotFoundError(
            f"model {path!r} could not be loaded: {exc}\n"
            "Hub ids need network access; offline, use a local folder or an alias from "
            "`tuneforge models`."
        ) from None
