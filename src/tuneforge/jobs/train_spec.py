"""A fine-tuning job request -> the TuneForge config its worker runs with `tuneforge train`.

The mapping is validated here by the same RunConfig that `tuneforge train` loads, so a
request that cannot become a run fails when it is created, with the request field to
fix, and never later in the subprocess.

| request (OpenAI)                         | TuneForge config                               |
| ---------------------------------------- | ---------------------------------------------- |
| method.type supervised / dpo             | method.name sft / dpo (beta)                   |
| method.type reinforcement                | method.name grpo, the grader as reward_kwargs  |
| method.type orpo / simpo / kto (ours)    | method.name orpo / simpo / kto (beta)          |
| n_epochs, batch_size                     | train.epochs, train.batch_size                 |
| learning_rate_multiplier                 | train.lr = multiplier x the method's default   |
| compute_multiplier (reinforcement)       | method.num_generations                         |
| eval_interval (reinforcement)            | train.eval_every                               |
| seed                                     | train.seed                                     |
| adapter {type, r, alpha} (ours)          | adapter (default lora, r 16, alpha 32)         |
| training_file / validation_file          | data.train / data.validation                   |
| eval {tasks: [{kind, file, ...}]} (ours)  | eval (the report when training ends)           |

Checkpoints follow OpenAI's: one per epoch, the last three kept; with a validation file
it is evaluated once per epoch too; about 20 metrics rows per run.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tuneforge.config.schema import RunConfig
from tuneforge.jobs.eval_spec import eval_file_ids, eval_section
from tuneforge.jobs.hyperparameters import (
    COMMON_KEYS,
    LEARNING_RATE_KEY,
    MAX_BATCH_SIZE,
    METHOD_DEFAULT_LR,
    METHOD_NAMES,
    JobSpecError,
    grpo_group_size,
    resolve_hyperparameters,
    steps_per_epoch,
)

GRADER_REWARD = "tuneforge.graders.reward:grade_reward"
KEEP_CHECKPOINTS = 3  # OpenAI keeps the checkpoints of the last three epochs
METRIC_ROWS_PER_RUN = 20
MAX_SUFFIX_LENGTH = 64  # the API reference: "a string of up to 64 characters"
SUFFIX_CHARACTERS = re.compile(r"^[A-Za-z0-9_.-]+$")
NOT_ID_CHARACTERS = re.compile(r"[^A-Za-z0-9_.@-]+")  # ':' separates the id's parts
SHORT_ID_LENGTH = 8
ADAPTER_TYPES = ("lora", "qlora", "dora", "full")
ADAPTER_KEYS = ("type", "r", "alpha")
DEFAULT_ADAPTER: dict[str, Any] = {
    "type": "lora",
    "r": 16,
    "alpha": 32,
    "target_modules": "all-linear",
}


def build_train_config(
    job: Any,
    base_model: str,
    train_file: Path,
    validation_file: Path | None,
    run_dir: Path,
    n_train_examples: int,
    grader_reward: str = GRADER_REWARD,
    eval_files: Mapping[str, Path] | None = None,
) -> dict[str, Any]:
    """The resolved TuneForge config (every default filled in, as YAML-able data) for a
    job request: a mapping, a dataclass or a pydantic model with OpenAI's create-job
    fields (method, hyperparameters, seed, suffix) and TuneForge's `adapter` and `eval`.
    `base_model` is an alias or local folder; the files are local paths (`eval_files`:
    the local path of each file id the `eval` extension names)."""
    request = _as_mapping(job)
    validate_suffix(request.get("suffix"))
    method_type, hp = job_hyperparameters(request, n_train_examples)
    adapter = _adapter(request.get("adapter"))
    per_epoch = steps_per_epoch(n_train_examples, hp["batch_size"])
    eval_every = hp.get("eval_interval", per_epoch) if validation_file is not None else None
    train: dict[str, Any] = {
        "epochs": hp["n_epochs"],
        "batch_size": hp["batch_size"],
        "grad_accum": 1,  # so that one epoch is `per_epoch` optimizer steps
        "lr": hp[LEARNING_RATE_KEY],
        "save_every": per_epoch,
        "keep_checkpoints": KEEP_CHECKPOINTS,
        "eval_every": eval_every,
        "log_every": max(1, per_epoch * hp["n_epochs"] // METRIC_ROWS_PER_RUN),
    }
    if (seed := _seed(request.get("seed"))) is not None:
        train["seed"] = seed
    method_config = request.get("method") or {}
    section = METHOD_SECTIONS[method_type](hp, method_config.get(method_type) or {}, grader_reward)
    mapping = {
        "model": {"name_or_path": base_model},
        "adapter": adapter,
        "data": {
            "train": str(train_file),
            "validation": str(validation_file) if validation_file is not None else None,
            "validation_split": 0.0,  # only a validation_file validates, as at OpenAI
        },
        "method": {"name": METHOD_NAMES[method_type], **section},
        "train": train,
        "output": {"dir": str(run_dir)},
        "eval": eval_section(request.get("eval"), eval_files or {}, validation_file is not None),
    }
    try:
        config = RunConfig.model_validate(mapping)
    except ValidationError as exc:
        raise _job_error(exc, method_type) from None
    return config.model_dump(mode="json")


def job_hyperparameters(job: Any, n_train_examples: int) -> tuple[str, dict[str, Any]]:
    """(method type, every hyperparameter of the job resolved for the file's size)."""
    request = _as_mapping(job)
    method_type, requested, param_prefix = _method_and_hyperparameters(request)
    adapter = _adapter(request.get("adapter"))
    hp = resolve_hyperparameters(
        method_type, requested, n_train_examples, METHOD_DEFAULT_LR[method_type],
        adapter["type"], param_prefix,
    )  # fmt: skip
    return method_type, hp


def check_job_request(job: Any, base_model: str) -> None:
    """Refuse now what no training file could make valid: every check of
    build_train_config except those that depend on the number of examples (a batch larger
    than the file), which are made when the file is validated."""
    request = _as_mapping(job)
    validation = Path("validation.jsonl") if request.get("validation_file") else None
    eval_files = {
        file_id: Path(f"{file_id}.jsonl") for _, file_id in eval_file_ids(request.get("eval"))
    }
    build_train_config(
        request, base_model, Path("train.jsonl"), validation, Path("run"), MAX_BATCH_SIZE,
        eval_files=eval_files,
    )  # fmt: skip


def total_steps(config: Mapping[str, Any], n_train_examples: int) -> int:
    """Optimizer steps of a job's run, as its progress events count them."""
    train = config["train"]
    return train["epochs"] * steps_per_epoch(n_train_examples, train["batch_size"])


def validate_suffix(suffix: Any) -> str | None:
    """The suffix, if it is one OpenAI accepts and a model id can carry."""
    if suffix is None:
        return None
    if not isinstance(suffix, str) or not suffix:
        raise JobSpecError(f"expected a non-empty string, got {suffix!r}", "suffix")
    if len(suffix) > MAX_SUFFIX_LENGTH:
        raise JobSpecError(
            f"{len(suffix)} characters; a suffix has at most {MAX_SUFFIX_LENGTH}", "suffix"
        )
    if not SUFFIX_CHARACTERS.match(suffix):
        raise JobSpecError(
            f"{suffix!r}: use letters, digits, '-', '_' and '.' only (it becomes part of "
            "the model id, whose parts ':' separates)",
            "suffix",
        )
    return suffix


def fine_tuned_model_id(base_alias: str, org: str, suffix: str | None, job_id: str) -> str:
    """OpenAI's name for a fine-tuned model: `ft:<base>:<org>:<suffix>:<short id>`, the
    suffix empty when none was given; a base that is a path (or hub id) is named by its
    last component."""
    base = _id_part(base_alias.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]) or "model"
    short = re.sub(r"[^A-Za-z0-9]", "", job_id.removeprefix("ftjob-"))[-SHORT_ID_LENGTH:]
    if not short:
        raise JobSpecError(f"job id {job_id!r} has no letters or digits", "job_id")
    return f"ft:{base}:{_id_part(org) or 'tuneforge'}:{_id_part(suffix or '')}:{short}"


def checkpoint_model_id(model_id: str, step: int) -> str:
    """OpenAI's name for a checkpoint of a fine-tuned model."""
    return f"{model_id}:ckpt-step-{step}"


def _id_part(text: str) -> str:
    return NOT_ID_CHARACTERS.sub("-", text).strip("-")


def _as_mapping(job: Any) -> dict[str, Any]:
    """The request's fields, absent ones (None) left out."""
    if isinstance(job, Mapping):
        fields = dict(job)
    elif dataclasses.is_dataclass(job) and not isinstance(job, type):
        fields = dataclasses.asdict(job)
    elif hasattr(job, "model_dump"):
        fields = job.model_dump()
    else:
        raise TypeError(f"expected a mapping, dataclass or pydantic model, got {type(job)}")
    return {key: value for key, value in fields.items() if value is not None}


def _method_and_hyperparameters(request: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
    """(method type, requested hyperparameters, the request field that holds them). The
    deprecated top-level `hyperparameters` apply to a request without `method` (as
    supervised), and may repeat but never contradict the method's own."""
    top = request.get("hyperparameters") or {}
    _require_mapping(top, "hyperparameters")
    for key in top:
        if key not in COMMON_KEYS:
            raise JobSpecError(
                f"unknown hyperparameter; expected one of {list(COMMON_KEYS)}",
                f"hyperparameters.{key}",
            )
    method = request.get("method")
    if method is None:
        return "supervised", dict(top), "hyperparameters"
    _require_mapping(method, "method")
    method_type = method.get("type")
    if method_type not in METHOD_NAMES:
        raise JobSpecError(
            f"got {method_type!r}, expected one of {list(METHOD_NAMES)}", "method.type"
        )
    for key in method:
        if key not in ("type", method_type) and method[key] is not None:
            raise JobSpecError(f"given, but method.type is {method_type!r}", f"method.{key}")
    settings = method.get(method_type) or {}
    _require_mapping(settings, f"method.{method_type}")
    allowed = (
        ("hyperparameters", "grader") if method_type == "reinforcement" else ("hyperparameters",)
    )
    for key in settings:
        if key not in allowed:
            raise JobSpecError(
                f"unknown key; expected one of {list(allowed)}", f"method.{method_type}.{key}"
            )
    prefix = f"method.{method_type}.hyperparameters"
    own = dict(settings.get("hyperparameters") or {})
    _require_mapping(own, prefix)
    for key, value in top.items():
        if _is_set(value) and _is_set(own.get(key)) and own[key] != value:
            raise JobSpecError(
                f"{value!r} contradicts {prefix}.{key} = {own[key]!r}; give it in one place",
                f"hyperparameters.{key}",
            )
        if not _is_set(own.get(key)):
            own[key] = value
    return method_type, own, prefix


def _is_set(value: Any) -> bool:
    return value is not None and value != "auto"


def _require_mapping(value: Any, param: str) -> None:
    if not isinstance(value, Mapping):
        raise JobSpecError(f"expected an object, got {value!r}", param)


def _adapter(requested: Any) -> dict[str, Any]:
    """The adapter section: TuneForge's `adapter` extension over the default LoRA."""
    if requested is None:
        return dict(DEFAULT_ADAPTER)
    _require_mapping(requested, "adapter")
    for key in requested:
        if key not in ADAPTER_KEYS:
            raise JobSpecError(
                f"unknown key; expected one of {list(ADAPTER_KEYS)}", f"adapter.{key}"
            )
    kind = requested.get("type", "lora")
    if kind not in ADAPTER_TYPES:
        raise JobSpecError(f"got {kind!r}, expected one of {list(ADAPTER_TYPES)}", "adapter.type")
    if kind == "full":
        for key in ("r", "alpha"):
            if key in requested:
                raise JobSpecError(
                    "applies to lora, qlora and dora adapters, not full fine-tuning",
                    f"adapter.{key}",
                )
        return {"type": "full"}
    return {**DEFAULT_ADAPTER, **requested, "type": kind}


def _seed(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise JobSpecError(f"expected an integer, got {value!r}", "seed")
    return value


def _sft(hp: dict[str, Any], settings: dict[str, Any], grader_reward: str) -> dict[str, Any]:
    return {}


def _with_beta(hp: dict[str, Any], settings: dict[str, Any], grader_reward: str) -> dict[str, Any]:
    return {"beta": hp["beta"]}


def _grpo(hp: dict[str, Any], settings: dict[str, Any], grader_reward: str) -> dict[str, Any]:
    grader = settings.get("grader")
    if not isinstance(grader, Mapping) or not grader:
        raise JobSpecError(
            "a reinforcement job needs a grader object", "method.reinforcement.grader"
        )
    return {
        "reward_function": grader_reward,
        "reward_kwargs": {"grader": dict(grader)},
        "num_generations": grpo_group_size(hp["compute_multiplier"]),
    }


METHOD_SECTIONS: dict[str, Callable[[dict[str, Any], dict[str, Any], str], dict[str, Any]]] = {
    "supervised": _sft,
    "dpo": _with_beta,
    "orpo": _with_beta,
    "simpo": _with_beta,
    "kto": _with_beta,
    "reinforcement": _grpo,
}
"""Method type -> the settings of its `method:` section beyond the name."""


def _job_error(exc: ValidationError, method_type: str) -> JobSpecError:
    """The first thing RunConfig refused, named by the request field that set it."""
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    if loc[:1] == ["method"] and len(loc) > 1 and loc[1] in METHOD_NAMES.values():
        loc = loc[:1] + loc[2:]  # pydantic puts the union's tag in the path
    section = loc[0] if loc else ""
    params = {
        "adapter": "adapter." + ".".join(loc[1:]),
        "model": "model",
        "data": "training_file",
        "method": f"method.{method_type}",
        "train": f"method.{method_type}.hyperparameters",
        # A task's path came from its `file` id.
        "eval": ".".join(["eval", *loc[1:]]).replace(".path", ".file"),
    }
    where = ".".join(loc) or "(top level)"
    return JobSpecError(
        f"the training config is invalid at {where}: {error['msg']}", params.get(section)
    )
