"""OpenAI's Files API: POST/GET /v1/files, GET/DELETE /v1/files/{id}, GET .../content."""
