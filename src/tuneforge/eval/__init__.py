"""Evaluation: scorers for generated text, bootstrap statistics, and the eval tasks."""
