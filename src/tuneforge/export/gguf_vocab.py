"""A byte-level BPE tokenizer (GPT-2 style, SmolLM2's) as GGUF `tokenizer.*` metadata.

llama.cpp tokenizes from this metadata alone, so every id must match the HF tokenizer:

- `tokenizer.ggml.model = "gpt2"`, the tokens in id order (ids the tokenizer lacks up to
  the model's vocab_size become `[PAD<id>]`, UNUSED), their types (special added tokens
  and `<|...|>` look-alikes CONTROL, other added tokens USER_DEFINED, the rest NORMAL), as
  llama.cpp's converter assigns them;
- merges, special token ids and the chat template through the gguf package's own
  `SpecialVocab` (it reads tokenizer.json, tokenizer_config.json, chat_template.jinja and
  config.json exactly as llama.cpp's converter does);
- `add_bos_token` / `add_eos_token` from what the tokenizer does to a plain string, not
  from a flag that may be missing (SmolLM2 adds neither; its template writes the markers);
- `tokenizer.ggml.pre`, the name that selects llama.cpp's pre-tokenizer regex. llama.cpp's
  converter finds it by hashing the tokenization of a fixed test text against a table of
  known models; we recognise the known vocabularies by a hash of their merges instead, and
  take the name from the caller for any other. A wrong name silently changes how digits
  and punctuation split, so an unknown vocabulary without a name is an error.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from tuneforge.export.errors import ExportError
from tuneforge.export.llama_layout import require_gguf

KNOWN_PRE_TOKENIZERS: dict[str, str] = {
    # SmolLM / SmolLM2 (135M to 1.7B): digits split one by one, then GPT-2's regex.
    # The hash of the embedded SmolLM2 GGUF's merges, which llama.cpp names "smollm".
    "aea6ed50becdb3beed814d2fde2dea2e655d1039addf269d74a4708ce2ed4d63": "smollm",
}


def merges_fingerprint(merges: list[str]) -> str:
    return hashlib.sha256("\n".join(merges).encode()).hexdigest()


def add_tokenizer_metadata(
    writer, folder: Path, vocab_size: int, pre_tokenizer: str | None = None
) -> None:
    """Write the tokenizer of `folder` into `writer` (a gguf.GGUFWriter, before its header)."""
    gguf = require_gguf()
    from transformers import AutoTokenizer

    _check_byte_level_bpe(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokens, token_types = _tokens_and_types(tokenizer, vocab_size, gguf.TokenType)

    special = gguf.SpecialVocab(folder, load_merges=True, n_vocab=vocab_size)
    if not special.merges:
        raise ExportError(f"{folder}/tokenizer.json: a BPE tokenizer without merges")
    special.add_special_token = {
        "bos": adds_special_token(tokenizer, tokenizer.bos_token_id, first=True),
        "eos": adds_special_token(tokenizer, tokenizer.eos_token_id, first=False),
    }
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre_tokenizer or _known_pre_tokenizer(folder, special.merges))
    writer.add_token_list(tokens)
    writer.add_token_types(token_types)
    special.add_to_gguf(writer, quiet=True)


def _check_byte_level_bpe(folder: Path) -> None:
    path = Path(folder) / "tokenizer.json"
    if not path.is_file():
        raise ExportError(
            f"{folder}: no tokenizer.json; GGUF export needs a fast (tokenizers) tokenizer"
        )
    spec = json.loads(path.read_text())
    model, decoder = spec.get("model") or {}, spec.get("decoder") or {}
    decoders = decoder.get("decoders", [decoder])
    if model.get("type") != "BPE" or not any(d.get("type") == "ByteLevel" for d in decoders):
        raise ExportError(
            f"{path}: a {model.get('type')} tokenizer; the GGUF export writes byte-level BPE "
            "tokenizers (GPT-2 style, as SmolLM2 and Llama 3 use), not sentencepiece ones"
        )


def _tokens_and_types(tokenizer, vocab_size: int, token_type) -> tuple[list[str], list[int]]:
    by_id = {index: token for token, index in tokenizer.get_vocab().items()}
    if max(by_id) >= vocab_size:
        raise ExportError(
            f"the tokenizer has token id {max(by_id)} but the model's vocab_size is "
            f"{vocab_size}: the embedding has no row for it (resize the embeddings first)"
        )
    added = tokenizer.added_tokens_decoder
    tokens, types = [], []
    for index in range(vocab_size):
        token = by_id.get(index)
        if token is None:
            tokens.append(f"[PAD{index}]")
            types.append(token_type.UNUSED)
        elif index in added:
            tokens.append(token)
            looks_special = token.startswith("<|") and token.endswith("|>")
            control = added[index].special or looks_special
            types.append(token_type.CONTROL if control else token_type.USER_DEFINED)
        else:
            tokens.append(token)
            types.append(token_type.NORMAL)
    return tokens, [int(t) for t in types]


def adds_special_token(tokenizer, token_id: int | None, first: bool) -> bool:
    """Whether encoding plain text with special tokens puts `token_id` at its start/end."""
    if token_id is None:
        return False
    ids: list[Any] = tokenizer("a", add_special_tokens=True)["input_ids"]
    return bool(ids) and ids[0 if first else -1] == token_id


def _known_pre_tokenizer(folder: Path, merges: list[str]) -> str:
    name = KNOWN_PRE_TOKENIZERS.get(merges_fingerprint(merges))
    if name is None:
        raise ExportError(
            f"{folder}/tokenizer.json: a vocabulary TuneForge does not know, so it cannot tell "
            "llama.cpp which pre-tokenizer it needs (tokenizer.ggml.pre). Pass the name "
            "llama.cpp uses for this model family (for example 'llama-bpe' for Llama 3, "
            "'smollm' for SmolLM2)."
        )
    return name
