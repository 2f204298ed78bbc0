"""Judges of a preference task's win rate: a reward model or an LLM at an OpenAI-compatible
endpoint (one file each), the length-controlled win rate, and the task mode that puts them
together (win_rate.py)."""
