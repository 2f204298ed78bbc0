"""/v1/adapters: load and unload LoRA adapters at run time (admin only)."""
