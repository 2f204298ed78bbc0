"""`tuneforge serve`: OpenAI-compatible routes in front of an engine (see engine/base.py)."""
