"""Scorers that compare text as text: exact, normalised, contains, regex, numeric.

Each is `score(prediction, reference, **options) -> float` in [0, 1], pure, and depends on
the standard library only.
"""

from __future__ import annotations

import functools
import math
import re
import string
import unicodedata

from tuneforge.errors import ConfigError


def exact(prediction: str, reference: str) -> float:
    """1 when the two strings are equal after stripping surrounding whitespace (case,
    punctuation and inner whitespace all count)."""
    return float(prediction.strip() == reference.strip())


def _is_punctuation(char: str) -> bool:
    # SQuAD's ASCII set (`string.punctuation`, symbols such as $ and + included) plus every
    # Unicode punctuation character, so curly quotes, dashes and CJK full stops go too.
    return char in string.punctuation or unicodedata.category(char).startswith("P")


_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalise_text(text: str) -> str:
    """SQuAD's answer normalisation (the official v1.1 evaluation script): lowercase, drop
    punctuation, drop the articles a/an/the as whole words, collapse whitespace to single
    spaces. Departs from SQuAD only in also dropping non-ASCII punctuation.

    >>> normalise_text("  The Eiffel-Tower, Paris! ")
    'eiffeltower paris'
    """
    text = "".join(c for c in text.lower() if not _is_punctuation(c))
    return " ".join(_ARTICLES.sub(" ", text).split())


def normalised(prediction: str, reference: str) -> float:
    """1 when both texts are equal after `normalise_text` (SQuAD's exact match)."""
    return float(normalise_text(prediction) == normalise_text(reference))


def contains(prediction: str, reference: str) -> float:
    """1 when the normalised reference occurs in the normalised prediction as whole words:
    "paris" is in "it is paris", but "cat" is not in "concatenate". An empty normalised
    reference is contained only in an empty normalised prediction, so a blank reference
    cannot credit every answer."""
    wanted, said = normalise_text(reference), normalise_text(prediction)
    if not wanted:
        return float(not said)
    return float(f" {wanted} " in f" {said} ")


@functools.cache
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The compiled regex, or a ConfigError naming the pattern and what is wrong with it."""
    try:
        return re.compile(pattern)
    except re.error as error:
        raise ConfigError(f"regex scorer: invalid pattern {pattern!r}: {error}") from None


def regex(prediction: str, reference: str, *, pattern: str) -> float:
    """With no group in `pattern`: 1 when it matches anywhere in the prediction
    (`re.search`; the reference is ignored). With groups: 1 when the first match's group 1
    equals the reference, both stripped of surrounding whitespace, so
    `pattern="answer: (\\w+)"` checks the extracted answer. Use inline flags such as
    `(?i)` for case-insensitive matching."""
    compiled = compile_pattern(pattern)
    match = compiled.search(prediction)
    if match is None:
        return 0.0
    if compiled.groups == 0:
        return 1.0
    group = match.group(1)
    return float(group is not None and group.strip() == reference.strip())


# A number that does not start inside another number or word: in "3-4" the numbers are 3 and
# 4, not 3 and -4; in "1.5" there is one number, not 1 and .5.
_NUMBER = re.compile(r"(?:(?<![\w.])-)?(?<![\d.])(?:\d+(?:\.\d+)?|\.\d+)")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def extract_number(text: str) -> float | None:
    """The answer number of a GSM8K-style text: the first number after the last `####`
    when the text has one, else the last number in the text; None when there is none
    (including a `####` followed by no number). Thousands commas and `$` are removed and a
    Unicode minus is a minus, so "#### $-1,234.50" gives -1234.5. Fractions and exponents
    are not parsed: "1/2" holds the numbers 1 and 2.

    >>> extract_number("Natalia sold 48 + 24 = 72 clips.\\n#### 72")
    72.0
    """
    text = text.replace("\u2212", "-").replace("$", "")
    text = _THOUSANDS.sub("", text)
    if "####" in text:
        found = _NUMBER.search(text.rpartition("####")[2])
        return float(found.group(0)) if found else None
    numbers = _NUMBER.findall(text)
    return float(numbers[-1]) if numbers else None


def numeric(prediction: str, reference: str, *, tolerance: float = 1e-6) -> float:
    """1 when the prediction's answer number (`extract_number`) equals the reference's
    within a relative `tolerance` (`math.isclose`, so a reference of 0 needs exactly 0).
    A prediction with no number scores 0; a reference with no number is a ValueError,
    because it is the data that is wrong."""
    expected = extract_number(reference)
    if expected is None:
        raise ValueError(f"numeric scorer: the reference has no number: {reference!r}")
    got = extract_number(prediction)
    return float(got is not None and math.isclose(got, expected, rel_tol=tolerance))
