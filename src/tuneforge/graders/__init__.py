"""OpenAI's graders (string_check, text_similarity, python, score_model, multi), run
locally: as the `/v1/fine_tuning/alpha/graders` routes and as a GRPO reward
(`tuneforge.graders.reward:grade_reward`)."""

from tuneforge.graders.outcome import GraderUnavailable
from tuneforge.graders.run import GradeResult, check_available, grade
from tuneforge.graders.settings import GraderSettings
from tuneforge.graders.spec import Grader, GraderSpecError, normalised, parse_grader

__all__ = [
    "GradeResult", "Grader", "GraderSettings", "GraderSpecError", "GraderUnavailable",
    "check_available", "grade", "normalised", "parse_grader",
]  # fmt: skip
