"""The built-in general-ability probe: conversations and prose written for this project
(eval/general/README.md), read as the data layer reads any file.

- prompts.jsonl: 64 everyday requests over 16 topics, each with a short reply; the KL
  probe compares the tuned and base models' next-token distributions on the replies.
- text.txt: expository prose and a short story; general perplexity is measured on it,
  one example per paragraph (blank-line separated; `---` lines separate documents), so
  its interval and paired test resample about 40 paragraphs, not a dozen documents.

Both stay fixed: editing them changes every report's numbers (their version is in the
README and each report's manifest records their hashes).
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from tuneforge.data import Example, TextExample, read_examples

FOLDER = Path(str(resources.files("tuneforge.eval"))) / "general"
PROMPTS = FOLDER / "prompts.jsonl"
TEXT = FOLDER / "text.txt"
MIN_WORDS = 8


def general_conversations() -> list[Example]:
    return list(read_examples(PROMPTS, kind="sft"))


def general_paragraphs(path: Path = TEXT) -> list[Example]:
    """One TextExample per paragraph, in file order; a document's title line (fewer than
    MIN_WORDS words) is not a paragraph: its few tokens would swing like noise."""
    text = re.sub(r"(?m)^\s*---\s*$", "", path.read_text(encoding="utf-8"))
    paragraphs = (" ".join(p.split()) for p in re.split(r"\n\s*\n", text))
    return [TextExample(p) for p in paragraphs if len(p.split()) >= MIN_WORDS]
