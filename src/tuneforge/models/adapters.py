"""Adapters through PEFT: one builder per adapter type, chosen through a dict."""

from __future__ import annotations

from collections.abc import Callable

from tuneforge.config import AdapterConfig


def _lora(cfg: AdapterConfig, use_dora: bool = False):
    from peft import LoraConfig

    return LoraConfig(
        task_type="CAUSAL_LM",
        r=cfg.r,
        lora_alpha=cfg.alpha,
        lora_dropout=cfg.dropout,
        target_modules=cfg.target_modules,
        use_dora=use_dora,
    )


def _ia3(cfg: AdapterConfig):
    from peft import IA3Config

    # IA3 needs to know which targets are feed-forward layers; for "all-linear" PEFT's
    # per-architecture defaults (attention k/v and the MLP down projection) know that.
    if cfg.target_modules == "all-linear":
        return IA3Config(task_type="CAUSAL_LM")
    return IA3Config(
        task_type="CAUSAL_LM", target_modules=cfg.target_modules, feedforward_modules=[]
    )


def _prompt_tuning(cfg: AdapterConfig):
    from peft import PromptTuningConfig

    return PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=cfg.num_virtual_tokens)


def _prefix_tuning(cfg: AdapterConfig):
    from peft import PrefixTuningConfig

    return PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=cfg.num_virtual_tokens)


PEFT_CONFIGS: dict[str, Callable] = {
    "lora": _lora,
    "qlora": _lora,
    "dora": lambda cfg: _lora(cfg, use_dora=True),
    "ia3": _ia3,
    "prompt_tuning": _prompt_tuning,
    "prefix_tuning": _prefix_tuning,
}


def attach_adapter(
    model, cfg: AdapterConfig, gradient_checkpointing: bool = False, scalar_head: bool = False
):
    """Wrap the base model for training. Full fine-tuning returns the model itself. With
    `scalar_head` (a reward model), the freshly initialised score head trains in full
    alongside the adapter and is saved with it."""
    if gradient_checkpointing:
        # Non-reentrant checkpointing works with frozen inputs (adapters) without hooks.
        kwargs = {"use_reentrant": False}
        if hasattr(model, "activation_checkpointing_enable"):  # the name from transformers 5.2x
            model.activation_checkpointing_enable(kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
        model.config.use_cache = False
    if cfg.type == "full":
        model.requires_grad_(True)
        return model
    from peft import get_peft_model, prepare_model_for_kbit_training

    if cfg.type == "qlora":
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=gradient_checkpointing
        )
    peft_config = PEFT_CONFIGS[cfg.type](cfg)
    if scalar_head:
        peft_config.task_type = "SEQ_CLS"
        peft_config.modules_to_save = ["score"]
    return get_peft_model(model, peft_config)


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total
