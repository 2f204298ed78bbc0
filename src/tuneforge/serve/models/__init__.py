"""`/v1/models`: the servable models (bases, adapters, full fine-tuned models)."""
