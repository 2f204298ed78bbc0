"""Knowledge or behaviour? What the training data says about the task, from its replies.

Each supervised example is read through the data layer (`raw_records` + `examples_of`
as SFT, the path `read_examples` takes, but a refused record is counted and the rest
go on) and split into its prompt (everything the model is shown before the last trained
assistant turn, system turns included) and its reply (that turn, tool calls as JSON).
Plain-text examples have no prompt and are counted, not measured.

Measures, each over all replies:
- grounding: the share of a reply's distinct content words (lowercased word tokens, less
  STOP_WORDS and single letters; numbers stay, they are facts) that also occur in its
  prompt. A reply is grounded at GROUNDED (0.8) or more: it rearranges what it was given
  (format, style). Replies with facts the prompt lacks come from the model's memory
  (knowledge: consider RAG). A reply without content words counts as 1.0.
- format regularity: the share of replies that are JSON (an object or array, a ```json
  fence allowed), the share whose JSON key set is the most common one, and the share of
  the most common shape (`reply_shape`: quoted strings, numbers and runs of words each
  become one placeholder, so a fixed template with changing values has one shape), among
  shapes seen at least twice and other than one phrase (`w`, `w.`: any short answer).
- length spread: the coefficient of variation (population std / mean) of word counts.

The kind is the first of KIND_RULES that holds, and the example count is checked against
the course's table for it (EXAMPLE_RANGES). Calibrated on the quickstart's extraction
task (format, every reply grounded) and alpaca-gpt4 (knowledge, mean grounding 0.24):
docs/benchmarks.md, "Plan: data heuristics on real files".
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

from tuneforge.data.kinds import examples_of
from tuneforge.data.readers import raw_records
from tuneforge.data.records import ChatExample, CompletionExample, Example
from tuneforge.data.serialise import message_text, prompt_text
from tuneforge.errors import DataError

GROUNDED = 0.8
"""A reply is grounded when at least this share of its content words is in its prompt."""
KNOWLEDGE_BELOW = 0.5
"""Mean grounding under this: most of what the replies say is not in their prompts."""
BEHAVIOUR_SHARE = 0.5
"""Grounded replies at this share or more: the task rearranges its input (style)."""
JSON_REGULAR = 0.8
"""JSON replies, and replies with the common key set, at this share or more: a format."""
TEMPLATE_REGULAR = 0.5
"""Replies of the most common shape at this share or more: a template, so a format."""
SHOWN = 3
"""Refusals and contradictory prompts quoted in a profile."""

STOP_WORDS = frozenset(
    """
    a about above after again all also am an and any are as at be been before being below
    between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its
    itself just let me more most my myself no nor not now of off on once only or other our
    ours ourselves out over own same she should so some such than that the their theirs
    them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours
    yourself yourselves shall may might must ll re ve don doesn didn isn aren wasn
    weren won wouldn couldn shouldn hasn haven hadn
""".split()
)
WORD = re.compile(r"[^\W_]+")
_QUOTED = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD_RUN = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*(?:[ \t]+[^\W\d_]+(?:['’-][^\W\d_]+)*)*")
_SPACES = re.compile(r"[ \t]+")
_PROSE = re.compile(r"w[.!?]?")
"""The shape of a one-phrase reply: every short answer has it, so it is no template."""
_FENCE = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.DOTALL)


def words(text: str) -> list[str]:
    """Lowercased word tokens: runs of letters and digits (`don't` is `don`, `t`)."""
    return WORD.findall(text.lower())


def content_words(text: str) -> set[str]:
    """Distinct word tokens that carry meaning: not stop words, not single letters."""
    return {w for w in words(text) if w not in STOP_WORDS and (len(w) > 1 or w.isdigit())}


def grounding(prompt: str, reply: str) -> float:
    """The share of the reply's distinct content words that occur in the prompt; 1.0 for
    a reply without content words (it states nothing the prompt lacks)."""
    said = content_words(reply)
    return len(said & set(words(prompt))) / len(said) if said else 1.0


def reply_shape(reply: str) -> str:
    """The reply with its values taken out: a quoted string becomes `""`, a number `#`,
    a run of words on one line `w`, and runs of spaces one space; punctuation and line
    breaks stay. `Total: 12 items` and `Total: 7 boxes` share the shape `w: # w`."""
    shape = _QUOTED.sub('""', reply.strip())
    shape = _NUMBER.sub("#", shape)
    return _SPACES.sub(" ", _WORD_RUN.sub("w", shape))


def json_keys(reply: str) -> tuple[str, ...] | None:
    """The reply's top-level JSON key set, sorted (an array: "[]" and the keys of its
    objects); None when the reply is no JSON object or array."""
    text = reply.strip()
    if fenced := _FENCE.fullmatch(text):
        text = fenced.group(1)
    if text[:1] not in ("{", "["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, dict):
        return tuple(sorted(value))
    items = {k for item in value if isinstance(item, dict) for k in item}
    return ("[]", *sorted(items))


@dataclass(frozen=True)
class Measures:
    """The numbers every rule and check reads."""

    replies: int
    grounding_mean: float
    grounded_share: float
    json_share: float
    key_set_share: float
    common_key_set: list[str] | None
    template_share: float
    common_shape: str | None
    words_mean: float
    length_cv: float


def measure(pairs: Sequence[tuple[str, str]]) -> Measures:
    """The measures of (prompt, reply) pairs (module docstring)."""
    n = len(pairs)
    if not n:
        return Measures(0, 0.0, 0.0, 0.0, 0.0, None, 0.0, None, 0.0, 0.0)
    shares = [grounding(prompt, reply) for prompt, reply in pairs]
    keys = [k for _, reply in pairs if (k := json_keys(reply)) is not None]
    key_set, key_count = Counter(keys).most_common(1)[0] if keys else (None, 0)
    shapes = Counter(s for _, reply in pairs if not _PROSE.fullmatch(s := reply_shape(reply)))
    shape, shape_count = shapes.most_common(1)[0] if shapes else (None, 0)
    if shape_count < 2:  # a shape seen once is no template
        shape, shape_count = None, 0
    lengths = [len(words(reply)) for _, reply in pairs]
    mean_length = statistics.fmean(lengths)
    return Measures(
        replies=n,
        grounding_mean=statistics.fmean(shares),
        grounded_share=sum(s >= GROUNDED for s in shares) / n,
        json_share=len(keys) / n,
        key_set_share=key_count / n,
        common_key_set=list(key_set) if key_set is not None else None,
        template_share=shape_count / n,
        common_shape=shape[:200] if shape is not None else None,
        words_mean=mean_length,
        length_cv=statistics.pstdev(lengths) / mean_length if mean_length else 0.0,
    )


def regular(m: Measures) -> bool:
    """Most replies are JSON with one key set, or share one shape."""
    json_regular = m.json_share >= JSON_REGULAR and m.key_set_share >= JSON_REGULAR
    return json_regular or m.template_share >= TEMPLATE_REGULAR


@dataclass(frozen=True)
class KindRule:
    kind: str
    rule: str
    holds: Callable[[Measures], bool]


KIND_RULES = (
    KindRule(
        "knowledge",
        f"mean grounding < {KNOWLEDGE_BELOW}: most content words of the replies are absent "
        "from their prompts, so the replies carry facts (consider RAG)",
        lambda m: m.grounding_mean < KNOWLEDGE_BELOW,
    ),
    KindRule(
        "format",
        f"regular output: JSON share and common key-set share >= {JSON_REGULAR}, or one "
        f"shape in >= {TEMPLATE_REGULAR} of the replies (and mean grounding >= "
        f"{KNOWLEDGE_BELOW})",
        regular,
    ),
    KindRule(
        "style",
        f"free-form replies, >= {BEHAVIOUR_SHARE} of them grounded (content-word share >= "
        f"{GROUNDED}): the task rewrites what the prompt gives",
        lambda m: m.grounded_share >= BEHAVIOUR_SHARE,
    ),
    KindRule(
        "domain vocabulary",
        f"free-form replies, mean grounding >= {KNOWLEDGE_BELOW} but fewer than "
        f"{BEHAVIOUR_SHARE} of them grounded: they add words of their own to the prompt's",
        lambda m: True,
    ),
)
BEHAVIOUR_KINDS = ("format", "style")
EXAMPLE_RANGES: dict[str, tuple[int, int | None]] = {
    "format": (100, 500),
    "style": (500, 2_000),
    "domain vocabulary": (2_000, 10_000),
    "knowledge": (10_000, None),
}
"""The course's table: how many examples each kind of task usually needs."""


def kind_of_data(m: Measures) -> tuple[str, str]:
    """(kind, the rule that decided); "unknown" when there is no reply to measure."""
    if not m.replies:
        return "unknown", "no prompt and reply to measure"
    rule = next(r for r in KIND_RULES if r.holds(m))
    return rule.kind, rule.rule


def count_check(kind: str, n: int) -> dict[str, Any]:
    """The example count against the course's range for `kind`: below, within or above."""
    if kind not in EXAMPLE_RANGES:
        return {"kind": kind, "n": n, "low": None, "high": None, "status": "unknown"}
    low, high = EXAMPLE_RANGES[kind]
    status = "below" if n < low else "above" if high is not None and n > high else "within"
    return {"kind": kind, "n": n, "low": low, "high": high, "status": status}


def contradictions(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Prompts that occur more than once with different replies (whitespace ignored):
    how many such prompts, how many examples they hold, and the first few."""
    replies: dict[str, set[str]] = {}
    counts: Counter[str] = Counter()
    for prompt, reply in pairs:
        key = " ".join(prompt.split())
        replies.setdefault(key, set()).add(" ".join(reply.split()))
        counts[key] += 1
    found = [p for p, r in replies.items() if len(r) > 1]
    return {
        "prompts": len(found),
        "examples": sum(counts[p] for p in found),
        "shown": [p[:80] for p in found[:SHOWN]],
    }


@dataclass
class DataProfile:
    path: str
    n_examples: int
    """Examples read as SFT (a record may hold several, as a conversation tree does)."""
    n_refused: int
    """Records the data layer refused (each with the reason `data validate` gives)."""
    refusals: list[str]
    n_unmeasured: int
    """Plain-text examples: no prompt and reply to measure."""
    measures: Measures
    kind: str
    kind_rule: str
    count: dict[str, Any]
    contradictions: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def profile_pairs(
    pairs: Sequence[tuple[str, str]], path: str = "", n_examples: int | None = None,
    refusals: Sequence[str] = (), n_refused: int = 0,
) -> DataProfile:  # fmt: skip
    """The profile of (prompt, reply) pairs; `n_examples` counts unmeasured ones too."""
    measures = measure(pairs)
    kind, rule = kind_of_data(measures)
    n = len(pairs) if n_examples is None else n_examples
    return DataProfile(
        path=path,
        n_examples=n,
        n_refused=n_refused,
        refusals=list(refusals[:SHOWN]),
        n_unmeasured=n - len(pairs),
        measures=measures,
        kind=kind,
        kind_rule=rule,
        count=count_check(kind, n),
        contradictions=contradictions(pairs),
    )


def profile_data(path: str | Path, format: str = "auto") -> DataProfile:
    """The profile of a training file, folder or dataset id read as SFT examples."""
    examples, refusals = read_sft(path, format)
    pairs = [pair for example in examples if (pair := prompt_and_last_reply(example)) is not None]
    return profile_pairs(pairs, str(path), len(examples), refusals, len(refusals))


def read_sft(path: str | Path, format: str = "auto") -> tuple[list[Example], list[str]]:
    """The SFT examples of every record the data layer accepts, and one reason (file,
    line, field, message) per record it refuses."""
    examples: list[Example] = []
    refusals: list[str] = []
    for where, line, obj in raw_records(path, format):
        try:
            if isinstance(obj, DataError):
                raise obj
            # As "sft", a record gives Examples, never the PromptExamples of "prompts".
            examples += cast(list[Example], examples_of(obj, "sft", where, line, format))
        except DataError as exc:
            refusals.append(str(exc))
    return examples, refusals


def prompt_and_last_reply(example: Example) -> tuple[str, str] | None:
    """(everything before the last trained assistant turn, that turn); None for text."""
    if isinstance(example, CompletionExample):
        return example.prompt, example.completion
    if isinstance(example, ChatExample):
        last = max(i for i, m in enumerate(example.messages) if m.trained)
        return prompt_text(example), message_text(example.messages[last])
    return None
