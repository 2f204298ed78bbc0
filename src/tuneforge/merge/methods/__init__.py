"""The merge methods, by mergekit's names, and what each one takes.

`METHODS[name]` declares a method: the file under `merge/methods/` whose function of the
same name merges one tensor; whether it needs a base model; how many other models it
takes; its global parameters (one value for the whole merge) and per-model parameters
(one value per model), each with its default or `REQUIRED`, named and defaulted as in
mergekit 0.1.5. Declarations import no torch, so a config layer can check parameter
names without loading it; the function is imported on first use.

The streaming loop calls `METHODS[name].merge(base, tensors, per_model, parameters,
generator)` once per tensor name. As in mergekit, a per-model parameter given among the
global ones is the default of every model that does not set it. `check_parameters`
makes the same checks up front: unknown names (with a "did you mean"), a global
parameter set on one model, a required one missing, a value of the wrong kind.
"""

from __future__ import annotations

import importlib
import keyword
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuneforge.errors import ConfigError
from tuneforge.suggest import did_you_mean

if TYPE_CHECKING:
    import torch


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
"""The default of a parameter that has none: the config must set it."""


@dataclass(frozen=True)
class MergeMethod:
    name: str
    module: str
    """The file under merge/methods/ that defines a function called `name`."""
    needs_base: bool
    """Task vectors are taken from the base; slerp's base is its t = 0 end. Without a
    base (linear), a base to be averaged in is listed among the models."""
    global_parameters: Mapping[str, Any]
    per_model_parameters: Mapping[str, Any]
    max_models: int | None = None
    """How many models besides the base the method takes (None: any number)."""
    random: bool = False
    """Takes a torch.Generator (DARE's masks)."""
    no_effect: tuple[str, ...] = ()
    """mergekit options accepted so its configs load, which never change the result
    (int8_mask only sets the dtype of its sign-election scratch)."""

    @property
    def function(self) -> Callable[..., torch.Tensor]:
        module = importlib.import_module(f"{__name__}.{self.module}")
        return getattr(module, self.name)  # type: ignore[no-any-return]

    def merge(
        self,
        base: torch.Tensor | None,
        tensors: Sequence[torch.Tensor],
        per_model: Sequence[Mapping[str, Any]] | None = None,
        parameters: Mapping[str, Any] | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """The merged tensor of one name: `base` (None for methods without one), the
        models' tensors and their parameters in the same order, the global parameters,
        and for DARE the generator its masks are drawn from."""
        parameters = dict(parameters or {})
        per_model = [{} for _ in tensors] if per_model is None else list(per_model)
        if len(per_model) != len(tensors):
            raise ValueError(
                f"{self.name}: {len(tensors)} tensor(s) but parameters for {len(per_model)}"
            )
        if self.needs_base and base is None:
            raise ValueError(f"{self.name} needs the base model's tensor")
        if not self.needs_base and base is not None:
            raise ValueError(
                f"{self.name} takes no base model; list the base among the models, "
                "with its own parameters, to average it in"
            )
        check_parameters(self, parameters, per_model)
        kwargs: dict[str, Any] = {
            _python_name(name): parameters.get(name, default)
            for name, default in self.global_parameters.items()
        }
        for name, default in self.per_model_parameters.items():
            fallback = parameters.get(name, default)
            kwargs[name] = [model.get(name, fallback) for model in per_model]
        if self.random:
            kwargs["generator"] = generator
        if self.needs_base:
            return self.function(base, tensors, **kwargs)
        return self.function(tensors, **kwargs)


def _python_name(name: str) -> str:
    """mergekit's `lambda` is a Python keyword; the functions take it as `lambda_`."""
    return f"{name}_" if keyword.iskeyword(name) else name


_TASK_VECTOR_MODELS = {"weight": REQUIRED, "density": 1.0}

METHODS: dict[str, MergeMethod] = {
    method.name: method
    for method in (
        MergeMethod(
            "linear",
            "linear",
            needs_base=False,
            global_parameters={"normalize": True},
            per_model_parameters={"weight": REQUIRED},
        ),
        MergeMethod(
            "task_arithmetic",
            "task_arithmetic",
            needs_base=True,
            global_parameters={"normalize": False, "lambda": 1.0},
            per_model_parameters={"weight": REQUIRED},
            no_effect=("int8_mask",),
        ),
        MergeMethod(
            "slerp",
            "slerp",
            needs_base=True,
            global_parameters={"t": REQUIRED},
            per_model_parameters={},
            max_models=1,
        ),
        MergeMethod(
            "ties",
            "ties",
            needs_base=True,
            global_parameters={"normalize": True, "rescale": False, "lambda": 1.0},
            per_model_parameters=_TASK_VECTOR_MODELS,
            no_effect=("int8_mask",),
        ),
        MergeMethod(
            "dare_linear",
            "dare",
            needs_base=True,
            global_parameters={"normalize": False, "rescale": True, "lambda": 1.0},
            per_model_parameters=_TASK_VECTOR_MODELS,
            random=True,
            no_effect=("int8_mask",),
        ),
        MergeMethod(
            "dare_ties",
            "dare",
            needs_base=True,
            global_parameters={"normalize": False, "rescale": True, "lambda": 1.0},
            per_model_parameters=_TASK_VECTOR_MODELS,
            random=True,
            no_effect=("int8_mask",),
        ),
    )
}


def get_method(name: str) -> MergeMethod:
    if name not in METHODS:
        hint = did_you_mean(name, list(METHODS), "merge methods")
        raise ConfigError(f"unknown merge method {name!r}; {hint}")
    return METHODS[name]


def check_parameters(
    method: str | MergeMethod,
    global_params: Mapping[str, Any],
    per_model_params: Sequence[Mapping[str, Any]],
    model_names: Sequence[str] | None = None,
) -> None:
    """Raise a ConfigError naming the fix for the first wrong parameter name or value
    kind; `model_names` (else "model 1", "model 2", ...) say which model's."""
    spec = get_method(method) if isinstance(method, str) else method
    own = spec.global_parameters
    models = spec.per_model_parameters
    for name, value in global_params.items():
        if name in spec.no_effect:
            continue
        if name not in own and name not in models:
            hint = did_you_mean(name, [*own, *models], "parameters")
            raise ConfigError(f"merge method {spec.name!r} has no parameter {name!r}; {hint}")
        _check_kind(spec, name, value, "")
    for index, params in enumerate(per_model_params):
        who = f"model {model_names[index]!r}" if model_names else f"model {index + 1}"
        for name, value in params.items():
            if name in own or name in spec.no_effect:
                raise ConfigError(
                    f"{who}: {name!r} is a parameter of the whole {spec.name} merge, not of "
                    "one model; set it once, with the merge's parameters"
                )
            if name not in models:
                hint = did_you_mean(name, list(models), "per-model parameters")
                raise ConfigError(
                    f"{who}: merge method {spec.name!r} has no per-model parameter {name!r}; {hint}"
                )
            _check_kind(spec, name, value, f"{who}: ")
        for name, default in models.items():
            if default is REQUIRED and name not in params and name not in global_params:
                raise ConfigError(f"{who}: merge method {spec.name!r} needs its {name!r}")
    for name, default in own.items():
        if default is REQUIRED and name not in global_params:
            raise ConfigError(f"merge method {spec.name!r} needs the parameter {name!r}")


def _check_kind(spec: MergeMethod, name: str, value: Any, who: str) -> None:
    # The kind follows the default: flags are booleans (a YAML "false" in quotes would
    # otherwise be a true string), everything else a number.
    default = {**spec.global_parameters, **spec.per_model_parameters}[name]
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{who}{spec.name}: {name} is true or false, got {value!r}")
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{who}{spec.name}: {name} is a number, got {value!r}")


__all__ = ["METHODS", "REQUIRED", "MergeMethod", "check_parameters", "get_method"]
