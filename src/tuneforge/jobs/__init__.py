"""The OpenAI fine-tuning jobs API: files, jobs, events, checkpoints."""
