"""OpenAI's graders API: run a grader on one sample, or validate a grader object."""

from tuneforge.jobs.graders_api.router import router

__all__ = ["router"]
