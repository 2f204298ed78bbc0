"""`tuneforge data prepare`: any supported file in; validated, cleaned, deduplicated and
split training data out, with a report of what each step did."""

from tuneforge.data.prepare.pipeline import PrepareResult, prepare

__all__ = ["PrepareResult", "prepare"]
