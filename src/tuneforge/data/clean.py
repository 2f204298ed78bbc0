"""Text normalisation and the quality heuristics `data prepare` filters with.

Each check takes the reply the model would learn (and its prompt) and returns the
reason to drop the record, or None. Thresholds are deliberately loose: they remove
what is clearly broken (a reply that loops, a page of symbols, an echo of the prompt),
not what is merely unusual.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from tuneforge.config.prepare import QualityConfig
from tuneforge.errors import ConfigError

_INVISIBLE = re.compile("[\u200b-\u200d\u2060\ufeff\u00ad]|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SYMBOLS = re.compile(r"[\w\s]+")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_BLANK_LINES = re.compile(r"\n{3,}")
_REFUSALS = re.compile(
    r"\bas an ai(?: language)? model\b|\bi(?:'m| am) (?:sorry|afraid),? (?:but )?i (?:can(?:no|')t|"
    r"am (?:not able|unable))\b|\bi cannot (?:fulfil|fulfill|comply|assist|help) with\b|"
    r"\bi(?:'m| am) (?:not able|unable) to (?:help|assist|provide|comply)\b",
    re.IGNORECASE,
)


def normalise_text(text: str) -> str:
    """Unicode NFC, no invisible or control characters, '\\n' line ends, no trailing
    spaces, at most one blank line in a row, no surrounding whitespace."""
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if " \n" in text or "\t\n" in text:
        text = _TRAILING_SPACE.sub("\n", text)
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


class QualityFilter:
    """The heuristics of a `quality:` section (config/prepare.py documents each)."""

    def __init__(self, rules: QualityConfig):
        self.rules = rules
        words = [*rules.blocklist, *read_blocklist(rules.blocklist_file)]
        self._blocked = (
            re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b", re.I)
            if words
            else None
        )

    def reason_to_drop(self, reply: str, prompt: str) -> str | None:
        rules = self.rules
        words = reply.split()
        if len(words) < rules.min_reply_words:
            return "short reply"
        if rules.drop_echo and _echoes(reply, prompt):
            return "reply repeats the prompt"
        if repetition_ratio(words) > rules.max_repetition:
            return "repetitive reply"
        if symbol_ratio(reply) > rules.max_symbol_ratio:
            return "mostly symbols"
        if rules.drop_refusals and _REFUSALS.search(reply):
            return "refusal boilerplate"
        return None

    def blocked(self, text: str) -> bool:
        return bool(self._blocked and self._blocked.search(text))


def repetition_ratio(words: list[str], n: int = 3) -> float:
    """Share of word n-grams that already occurred earlier in the text."""
    if len(words) < n + 1:
        return 0.0
    total = len(words) - n + 1
    return (total - len(set(zip(*(words[i:] for i in range(n)), strict=False)))) / total


def symbol_ratio(text: str) -> float:
    if not text:
        return 0.0
    return len(_SYMBOLS.sub("", text)) / len(text)


def _echoes(reply: str, prompt: str) -> bool:
    """Only an exact echo: a reply quoting part of its prompt is often the right answer."""
    return " ".join(reply.lower().split()) == " ".join(prompt.lower().split())


def read_blocklist(path: str | None) -> list[str]:
    """One word or phrase per line; blank lines and lines starting with # are skipped."""
    if path is None:
        return []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"quality.blocklist_file: cannot read {path}: {exc.strerror}") from None
    return [w.strip() for w in lines if w.strip() and not w.lstrip().startswith("#")]
