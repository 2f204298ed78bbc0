"""OpenAI's grader objects (API reference "Graders"), validated on construction.

One model per grader type, discriminated on `type`; unknown keys are errors, as in
OpenAI's API. `parse_grader` turns the first validation error into a `GraderSpecError`
whose `param` is the dotted path of the bad field (`graders.exact.operation`), so the
HTTP layer and config errors can name it. `label_model` graders are known and refused.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)  # fmt: skip

from tuneforge.graders.multi import FormulaError, parse_formula

METRICS = (
    "cosine", "fuzzy_match", "bleu", "gleu", "meteor",
    "rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_5", "rouge_l",
)  # fmt: skip
GRADER_TYPES = ("string_check", "text_similarity", "python", "score_model", "multi", "label_model")


class _Object(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StringCheckGrader(_Object):
    type: Literal["string_check"]
    name: str
    input: str
    """The text to check; may hold {{templates}}."""
    reference: str
    """What `input` is compared with; may hold {{templates}}."""
    operation: Literal["eq", "ne", "like", "ilike"]
    """eq/ne: equal or not; like: input contains reference; ilike: the same, ignoring case."""


class TextSimilarityGrader(_Object):
    type: Literal["text_similarity"]
    name: str
    input: str
    reference: str
    evaluation_metric: Literal[METRICS]  # type: ignore[valid-type]
    pass_threshold: float | None = None
    """The evals API's variant carries one: a score at or above it passes."""


class PythonGrader(_Object):
    type: Literal["python"]
    name: str
    source: str = Field(max_length=256 * 1024)
    """Python defining `grade(sample, item) -> float` (OpenAI caps it at 256 KB)."""
    image_tag: str | None = None
    """OpenAI's sandbox image; ours is the server's own Python, so it is only recorded."""


class InputText(_Object):
    type: Literal["input_text"]
    text: str


class OutputText(_Object):
    type: Literal["output_text"]
    text: str


TextPart = Annotated[InputText | OutputText, Field(discriminator="type")]


class ScoreModelMessage(_Object):
    role: Literal["user", "assistant", "system", "developer"]
    content: str | TextPart | list[str | TextPart]
    """Text only: images and audio need a model this server does not serve."""
    type: Literal["message"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _text_only(cls, data: Any) -> Any:
        content = data.get("content") if isinstance(data, dict) else None
        parts = content if isinstance(content, list) else [content]
        kinds = {str(p.get("type")) for p in parts if isinstance(p, dict)}
        media = sorted(kinds & {"input_image", "input_audio"})
        if media:
            raise ValueError(f"content of type {media} is not supported: text only")
        return data


class SamplingParams(_Object):
    temperature: float | None = Field(None, ge=0)
    top_p: float | None = Field(None, gt=0, le=1)
    seed: int | None = None
    max_completions_tokens: int | None = Field(None, ge=1)


class ScoreModelGrader(_Object):
    type: Literal["score_model"]
    name: str
    model: str
    """A model id the score endpoint serves."""
    input: list[ScoreModelMessage] = Field(min_length=1)
    range: list[float] | None = None
    """[low, high] the score is clamped to; [0, 1] when absent."""
    sampling_params: SamplingParams | None = None

    @field_validator("range")
    @classmethod
    def _range(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and (len(value) != 2 or value[0] >= value[1]):
            raise ValueError("range must be two numbers [low, high] with low < high")
        return value

    @property
    def bounds(self) -> tuple[float, float]:
        low, high = self.range or (0.0, 1.0)
        return float(low), float(high)


class LabelModelGrader(BaseModel):
    type: Literal["label_model"]

    @model_validator(mode="before")
    @classmethod
    def _refuse(cls, data: Any) -> Any:
        raise ValueError(
            "label_model graders are not supported by this server; use a score_model "
            "grader (a numeric score) or string_check on the model's label"
        )


SubGrader = Annotated[
    StringCheckGrader | TextSimilarityGrader | PythonGrader | ScoreModelGrader | LabelModelGrader,
    Field(discriminator="type"),
]


class MultiGrader(_Object):
    type: Literal["multi"]
    name: str
    graders: dict[str, SubGrader] = Field(min_length=1)
    """Sub-graders by the names `calculate_output` uses."""
    calculate_output: str
    """Arithmetic over the sub-graders' names, e.g. "0.7 * exact + 0.3 * fuzzy"."""

    @model_validator(mode="before")
    @classmethod
    def _named(cls, data: Any) -> Any:
        graders = data.get("graders") if isinstance(data, dict) else None
        if isinstance(graders, dict) and isinstance(graders.get("type"), str):
            raise ValueError(
                "graders maps names (the variables of calculate_output) to grader "
                'objects, e.g. {"exact": {"type": "string_check", ...}}; got one grader'
            )
        return data

    @field_validator("graders")
    @classmethod
    def _names(cls, graders: dict[str, Any]) -> dict[str, Any]:
        bad = [name for name in graders if not name.isidentifier()]
        if bad:
            raise ValueError(f"grader names {bad} cannot be used in calculate_output")
        return graders

    @field_validator("calculate_output")
    @classmethod
    def _formula(cls, formula: str, info: ValidationInfo) -> str:
        if "graders" in info.data:  # else the graders' own error is the one to report
            try:
                parse_formula(formula, set(info.data["graders"]))
            except FormulaError as exc:
                raise ValueError(str(exc)) from None
        return formula


Grader = Annotated[
    StringCheckGrader | TextSimilarityGrader | PythonGrader | ScoreModelGrader | MultiGrader
    | LabelModelGrader,
    Field(discriminator="type"),
]  # fmt: skip
_ADAPTER: TypeAdapter[Any] = TypeAdapter(Grader)


class GraderSpecError(ValueError):
    """An invalid grader object; `param` is the dotted path of the bad field."""

    def __init__(self, message: str, param: str | None):
        super().__init__(message)
        self.message, self.param = message, param


def parse_grader(obj: Any) -> Any:
    """A grader model from its JSON object, or GraderSpecError naming the bad field."""
    try:
        return _ADAPTER.validate_python(obj)
    except ValidationError as exc:
        error = _first_error(exc.errors())
        param = _dotted(error["loc"])
        where = f"'{param}'" if param else "the grader"
        if error["type"] == "extra_forbidden":
            raise GraderSpecError(f"Unknown parameter {where}.", param) from None
        if error["type"] == "missing":
            raise GraderSpecError(f"Missing required parameter {where}.", param) from None
        message = str(error["msg"]).removeprefix("Value error, ")
        raise GraderSpecError(f"Invalid value for {where}: {message}.", param) from None


def normalised(grader: Any) -> dict[str, Any]:
    """The grader as JSON, without the optional fields left unset."""
    return grader.model_dump(mode="json", exclude_none=True)


def _first_error(errors: list[Any]) -> dict[str, Any]:
    # An unknown key usually explains the rest, as in the serve layer.
    return next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])


def _dotted(loc: tuple[Any, ...]) -> str | None:
    """The path of the bad field, without the tags pydantic puts in locations: a grader's
    type (at the top and after `graders.<name>`) and the members of union fields."""
    parts: list[Any] = []
    for i, part in enumerate(loc):
        is_name = i >= 1 and loc[i - 1] == "graders"
        grader_tag = part in GRADER_TYPES and (i == 0 or (i >= 2 and loc[i - 2] == "graders"))
        union_tag = isinstance(part, str) and (part == "str" or "[" in part)
        if not is_name and (grader_tag or union_tag):
            continue
        parts.append(part)
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or None
