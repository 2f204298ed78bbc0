"""The built-in demo task and the end-to-end quickstart."""
