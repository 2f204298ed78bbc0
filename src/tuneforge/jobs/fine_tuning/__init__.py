"""OpenAI's fine-tuning jobs API: jobs, their events and checkpoints."""
