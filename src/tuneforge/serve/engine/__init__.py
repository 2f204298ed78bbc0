"""Engines generate tokens; the HTTP layer only knows the interface in base.py."""
