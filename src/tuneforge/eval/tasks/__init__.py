"""Eval tasks: each scores a file of examples with one model and returns TaskScores."""
