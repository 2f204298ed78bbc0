"""Exporting a trained model or adapter for other runtimes.

gguf_model.py writes a Llama-family HF folder as one GGUF file (f16, bf16 or q8_0),
gguf_vocab.py its tokenizer metadata, gguf_adapter.py a PEFT LoRA adapter as a llama.cpp
LoRA adapter, llama_layout.py what both share (shapes, GGUF tensor names, the Q/K row
permutation), modelfile.py an Ollama Modelfile translated from the chat template, and
parity.py / adapter_parity.py the checks that read every export back and fail loudly
when it does not compute what the source computes. Paths go in, dataclass reports come out.
"""
