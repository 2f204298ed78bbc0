"""POST /v1/fine_tuning/alpha/graders/run and /validate (OpenAI's graders API)."""

from __future__ import annotations

from fastapi import APIRouter

from tuneforge.jobs.deps import GradersDep
from tuneforge.jobs.graders_api import service
from tuneforge.jobs.graders_api.schemas import (
    RunGraderRequest,
    RunGraderResponse,
    ValidateGraderRequest,
    ValidateGraderResponse,
)  # fmt: skip

router = APIRouter()


# Plain `def`: grading blocks (a sandboxed process, an HTTP call to the score model), so
# FastAPI runs it in its thread pool, off the event loop.
@router.post("/v1/fine_tuning/alpha/graders/run", response_model=RunGraderResponse)
def run_grader(body: RunGraderRequest, graders: GradersDep) -> RunGraderResponse:
    return service.run_grader(body, graders)


@router.post("/v1/fine_tuning/alpha/graders/validate", response_model=ValidateGraderResponse)
def validate_grader(body: ValidateGraderRequest, graders: GradersDep) -> ValidateGraderResponse:
    return service.validate_grader(body, graders)
