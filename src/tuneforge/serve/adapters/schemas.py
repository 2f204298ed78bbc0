"""vLLM's load_lora_adapter body, so its clients and scripts work unchanged."""

from __future__ import annotations

from pydantic import Field

from tuneforge.serve.chat.schemas import Strict


class LoadAdapter(Strict):
    lora_name: str = Field(min_length=1, max_length=128)
    lora_path: str = Field(min_length=1, max_length=4096)


class Deleted(Strict):
    id: str
    object: str = "model"
    deleted: bool = True
