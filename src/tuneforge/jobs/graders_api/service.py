"""Running and validating graders for the HTTP routes: the request's grader object is
checked (a 400 naming the field in `param`), refused when this server cannot run it
(python graders off, no score model endpoint, an unsupported metric), then graded."""

from __future__ import annotations

from typing import Any

from tuneforge.graders import (
    GradeResult,
    GraderSettings,
    GraderSpecError,
    GraderUnavailable,
    check_available,
    grade,
    normalised,
    parse_grader,
)  # fmt: skip
from tuneforge.jobs.graders_api.schemas import (
    GraderErrors,
    GraderRunMetadata,
    RunGraderRequest,
    RunGraderResponse,
    TokenUsage,
    ValidateGraderRequest,
    ValidateGraderResponse,
)  # fmt: skip
from tuneforge.serve.errors import APIError


def validate_grader(
    request: ValidateGraderRequest, settings: GraderSettings
) -> ValidateGraderResponse:
    return ValidateGraderResponse(grader=normalised(_checked(request.grader, settings)))


def run_grader(request: RunGraderRequest, settings: GraderSettings) -> RunGraderResponse:
    grader = _checked(request.grader, settings)
    item = request.item if request.item is not None else {}
    return _response(grade(grader, request.model_sample, item, settings))


def _checked(obj: dict[str, Any], settings: GraderSettings) -> Any:
    try:
        grader = parse_grader(obj)
        check_available(grader, settings)
    except GraderSpecError as exc:
        raise APIError(400, exc.message, param=_param(exc.param)) from None
    except GraderUnavailable as exc:
        raise APIError(
            400, exc.message, param=_param(exc.param), code="grader_unsupported"
        ) from None
    return grader


def _param(inner: str | None) -> str:
    return f"grader.{inner}" if inner else "grader"


def _response(result: GradeResult) -> RunGraderResponse:
    kind, message = result.error_kind, result.error_message
    errors = GraderErrors(
        **result.errors,
        python_grader_server_error_type="sandbox" if kind == "python_grader_server_error" else None,
        python_grader_runtime_error_details=message
        if kind == "python_grader_runtime_error"
        else None,
        model_grader_server_error_details=message if kind == "model_grader_server_error" else None,
        error_message=message,
    )
    metadata = GraderRunMetadata(
        name=result.name, type=result.type, errors=errors, execution_time=result.execution_time,
        scores=result.scores, sampled_model_name=result.sampled_model_name,
        token_usage=TokenUsage(**result.token_usage) if result.token_usage else None,
    )  # fmt: skip
    return RunGraderResponse(
        reward=result.reward, metadata=metadata, sub_rewards=result.sub_rewards,
        model_grader_token_usage_per_model={
            model: TokenUsage(**usage) for model, usage in result.token_usage_per_model.items()
        },
    )  # fmt: skip
