"""The models an evaluation compares: one base model in memory, and the adapters of that
base attached to it, so N adapters cost one load of the base, not N.

    models = ModelSet(base="smollm2-135m-instruct", adapters=["runs/a", "runs/b"])
    for model_id in models.ids:            # the base, then each adapter as given
        with models.use(model_id) as (model, tokenizer):
            ...                            # the base alone, or base + that adapter

Adapters stay unmerged (PEFT's `set_adapter`, `disable_adapter()` for the base): merging
and unmerging per task would round the base weights a little each time. A run whose
product is a full model (`model/`) is loaded on its own, as its own base, and so is a
reward model's run (with its scalar head, for the preference task's reward accuracy).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tuneforge.errors import TuneForgeError
from tuneforge.log import info
from tuneforge.run_dir import RunDir, base_model_of, resolve_adapter_dir


class ModelSet:
    def __init__(self, base: str | None, adapters: list[str] | None = None, log=info):
        """`base`: an alias, folder or hub id; None takes the adapters' own base.
        `adapters`: run directories, adapter folders or full fine-tuned model folders."""
        self.log = log
        self._adapters: dict[str, str] = {}  # id as given -> PEFT adapter name
        self._full: dict[str, str] = {}  # id as given -> model folder
        bases = set()
        self._reward: set[str] = set()  # reward models: a scalar head, loaded on their own
        for given in adapters or []:
            folder, kind = resolve_adapter_dir(given)
            run = RunDir(Path(given))
            if run.is_run and run.method() == "reward":
                self._full[given] = str(folder)
                self._reward.add(given)
                bases.add(base_model_of(given))
            elif kind == "model":
                self._full[given] = str(folder)
                if run.is_run:  # a full fine-tune's run names its start
                    bases.add(base_model_of(given))
            else:
                self._adapters[given] = str(folder)
                bases.add(base_model_of(given))
        if base is None:
            if len(bases) > 1:
                raise TuneForgeError(
                    f"the adapters were trained on different bases ({', '.join(sorted(bases))}); "
                    "evaluate each base's adapters in their own run, or name --model"
                )
            base = next(iter(bases), None)
        if base is None:
            raise TuneForgeError("name a model (--model) or an adapter to evaluate")
        self.base = base
        self.ids = [base, *self._adapters, *self._full]
        self._loaded: tuple[Any, Any] | None = None
        self._names: dict[str, str] = {}

    @contextmanager
    def use(self, model_id: str) -> Iterator[tuple[Any, Any]]:
        """(model, tokenizer) computing as `model_id`, in eval mode, for the block."""
        if model_id in self._full:
            if model_id in self._reward:
                from tuneforge.models.reward import load_reward_model

                model, tokenizer = load_reward_model(model_id, self.log)
            else:
                model, tokenizer = _load(self._full[model_id], self.log)
            try:
                yield model, tokenizer
            finally:
                del model
            return
        model, tokenizer = self._base()
        if model_id == self.base:
            if self._names:  # adapters attached: compute as the base without them
                with model.disable_adapter():
                    yield model, tokenizer
            else:
                yield model, tokenizer
            return
        if model_id not in self._adapters:
            raise KeyError(f"{model_id!r} is not one of {self.ids}")
        model = self._attach(model_id)
        model.set_adapter(self._names[model_id])
        yield model, tokenizer

    def _base(self) -> tuple[Any, Any]:
        if self._loaded is None:
            self._loaded = _load(self.base, self.log)
        return self._loaded

    def _attach(self, model_id: str) -> Any:
        """Load the adapter into the base on first use (all of them stay in memory:
        LoRA adapters are small next to the base)."""
        from peft import PeftModel

        model, tokenizer = self._base()
        if model_id not in self._names:
            name = f"adapter{len(self._names)}"
            folder = self._adapters[model_id]
            if isinstance(model, PeftModel):
                model.load_adapter(folder, adapter_name=name)
            else:
                model = PeftModel.from_pretrained(model, folder, adapter_name=name)
            model.eval()
            self._names[model_id] = name
            self._loaded = (model, tokenizer)
        return model


def _load(name_or_path: str | Path, log) -> tuple[Any, Any]:
    from tuneforge.config import ModelConfig
    from tuneforge.models.loading import load_model, load_tokenizer

    tokenizer = load_tokenizer(str(name_or_path), log)
    model = load_model(ModelConfig(name_or_path=str(name_or_path)), progress=log)
    model.eval()
    return model, tokenizer
