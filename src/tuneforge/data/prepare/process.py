"""The per-record half of `data prepare`, run on chunks of records in worker processes.

Each record is parsed, converted to the output kind, normalised, scrubbed of personal
data, checked for quality and length, and reduced to the keys the whole-dataset steps
need (a digest, a prompt digest, MinHash LSH bands). Records never wait for each other
here, which is what lets this half run in parallel and stream.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tuneforge.config.prepare import PrepareConfig
from tuneforge.data import oasst
from tuneforge.data.clean import QualityFilter, normalise_text
from tuneforge.data.dedup import digest
from tuneforge.data.kinds import examples_of
from tuneforge.data.minhash import band_hashes, lsh_params, shingle_hashes, signatures
from tuneforge.data.pii import Scrubber
from tuneforge.data.records import Example, unknown_record_keys
from tuneforge.data.serialise import map_texts, prompt_and_reply, prompt_text, texts, to_json
from tuneforge.errors import DataError, location


@dataclass
class ChunkResult:
    """What a chunk hands back: its surviving records as JSON lines, their keys, and
    per-step counts and samples for the report."""

    lines: list[str] = field(default_factory=list)
    digests: Any = field(default_factory=list)
    """Lists while the chunk is processed, numpy arrays once `compact`ed."""
    prompt_digests: Any = field(default_factory=list)
    lengths: Any = field(default_factory=list)
    """Characters of text per record: `dedup_keep: longest` keeps the longest."""
    tokens: Any = field(default_factory=list)
    """Tokens of text per surviving record; -1 where it was not measured."""
    tokens_before: Any = field(default_factory=list)
    """Tokens of text per measured record that reached the length filter."""
    role_tokens: dict[str, Any] = field(default_factory=lambda: defaultdict(list))
    bands: np.ndarray | None = None
    read: int = 0
    removed: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(step, reason) -> records removed."""
    changed: Counter[str] = field(default_factory=Counter)
    """step -> records changed."""
    pii_found: Counter[str] = field(default_factory=Counter)
    formats: Counter[str] = field(default_factory=Counter)
    unknown_keys: Counter[str] = field(default_factory=Counter)
    """Keys of chat records no reader uses (records.unknown_record_keys), left out."""
    roles: Counter[str] = field(default_factory=Counter)
    turns: Counter[int] = field(default_factory=Counter)
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    def compact(self) -> ChunkResult:
        """Per-record lists as numpy arrays: an eighth of the memory, and fast to send."""
        for name in ("digests", "prompt_digests"):
            setattr(self, name, np.array(getattr(self, name), dtype=np.uint64))
        for name in ("lengths", "tokens", "tokens_before"):
            setattr(self, name, np.array(getattr(self, name), dtype=np.int64))
        self.role_tokens = {r: np.array(v, dtype=np.int32) for r, v in self.role_tokens.items()}
        return self


class ChunkProcessor:
    def __init__(self, cfg: PrepareConfig, kind: str, tokenizer, contamination: np.ndarray):
        self.cfg, self.kind, self.tokenizer = cfg, kind, tokenizer
        self.quality = QualityFilter(cfg.quality) if cfg.quality else None
        self.lsh = lsh_params(cfg.minhash.threshold, cfg.minhash.num_perm)
        self.longest_token = max(len(token.encode()) for token in tokenizer.get_vocab())
        self.count_chars = _count_chars(cfg, self.longest_token)
        self.contamination = contamination
        """Sorted 13-gram hashes of the evaluation files; a record sharing one is dropped."""
        # Built before the workers fork, so they share its name list (PERSON) copy-on-write.
        self.scrubber = Scrubber(cfg.pii_types, cfg.pii_regions) if cfg.pii != "off" else None

    def __call__(self, records: list[tuple[str, int, Any]], first_index: int) -> ChunkResult:
        """`first_index`: the position of the chunk's first record in the input."""
        result = ChunkResult(read=len(records))
        survivors: list[tuple[str, int | None, Example]] = []
        for where, line, obj in records:
            for example in self._clean(where, line, obj, result):
                survivors.append((where, line, example))
        survivors = self._length_filter(survivors, result, first_index)
        self._keys(survivors, result)
        return result.compact()

    def _clean(self, where: str, line: int, obj: Any, result: ChunkResult) -> list[Example]:
        try:
            if isinstance(obj, DataError):
                raise obj
            examples = examples_of(obj, self.kind, where, line, self.cfg.format)
            result.formats[_format_name(obj, self.cfg.format)] += 1
            result.unknown_keys.update(unknown_record_keys(obj))
        except DataError as exc:
            self._remove(result, "parse", reason_of(exc), exc, where, line)
            return []
        return [kept for e in examples if (kept := self._clean_one(e, where, line, result))]

    def _clean_one(self, example: Example, where: str, line: int, result) -> Example | None:
        cfg = self.cfg
        if cfg.normalise:
            tidy = map_texts(example, normalise_text)
            if tidy is not example:
                self._change(result, "normalise", example, tidy)
            if any(not text for _, text in texts(tidy)):
                self._remove(result, "normalise", "empty after normalising", tidy, where, line)
                return None
            example = tidy
        if self.scrubber is not None:
            found: Counter[str] = Counter()
            scrub = self.scrubber.scrub

            def redact(text: str) -> str:
                clean, kinds = scrub(text)
                if kinds:
                    found.update(kinds)
                return clean

            scrubbed = map_texts(example, redact, tool_arguments=True)
            if found:
                result.pii_found.update(found)
                if cfg.pii == "drop":
                    reason = "contains " + ", ".join(sorted(found))
                    self._remove(result, "pii", reason, example, where, line)
                    return None
                self._change(result, "pii", example, scrubbed)
                example = scrubbed
        if self.quality:
            prompt, reply = prompt_and_reply(example)
            reason = self.quality.reason_to_drop(reply, prompt) if reply is not None else None
            if reason is None and self.quality.blocked(f"{prompt_text(example)}\n{reply or ''}"):
                reason = "blocklisted"
            if reason:
                self._remove(result, "quality", reason, example, where, line)
                return None
        if len(self.contamination):
            shingles = shingle_hashes(" ".join(t for _, t in texts(example)), 13)
            hits = np.searchsorted(self.contamination, shingles)
            hits = np.minimum(hits, len(self.contamination) - 1)
            if np.any(self.contamination[hits] == shingles):
                self._remove(result, "decontaminate", "shares a 13-gram with an evaluation file",
                             example, where, line)  # fmt: skip
                return None
        return example

    def _length_filter(self, survivors, result: ChunkResult, first_index: int):
        """Drop records with a message outside its role's token bounds, or too long in
        total (message text tokens; the chat template adds a few per turn).

        Tokenizing is the costliest step, so a record is only tokenized when its UTF-8
        size cannot settle the bounds (a token spans at least one byte and at most the
        longest vocabulary entry), or when it is in the sample the report's token
        statistics come from: every record of the first STATS_ALL, then one in STATS_EVERY.
        """
        pieces = [texts(example) for *_, example in survivors]
        measure = [
            self._undecided(piece) or _in_stats_sample(first_index + i)
            for i, piece in enumerate(pieces)
        ]
        flat = [text for piece, m in zip(pieces, measure, strict=True) if m for _, text in piece]
        counts = iter(_token_counts(self.tokenizer, flat, self.count_chars))
        kept = []
        for (where, line, example), piece, measured in zip(survivors, pieces, measure, strict=True):
            if not measured:
                result.tokens.append(-1)
                kept.append((where, line, example))
                continue
            per_message = [(role, next(counts)) for role, _ in piece]
            total = sum(n for _, n in per_message)
            result.tokens_before.append(total)
            reason = self._length_problem(per_message, total)
            if reason:
                self._remove(result, "length", reason, example, where, line)
                continue
            for role, n in per_message:
                result.role_tokens[role].append(n)
            result.tokens.append(total)
            kept.append((where, line, example))
        return kept

    def _undecided(self, piece: list[tuple[str, str]]) -> bool:
        """Whether byte counts leave any length bound in doubt for this record."""
        sizes = [(role, len(text.encode())) for role, text in piece]
        total = sum(size for _, size in sizes)
        for role, size in [*sizes, ("total", total)]:
            bounds = self.cfg.lengths.get(role)  # type: ignore[call-overload]
            if bounds is None:
                continue
            fewest = -(-size // self.longest_token) if size else 0
            if bounds.min > fewest or (bounds.max is not None and size + 1 > bounds.max):
                return True
        return False

    def _length_problem(self, per_message: list[tuple[str, int]], total: int) -> str | None:
        for role, n in [*per_message, ("total", total)]:
            bounds = self.cfg.lengths.get(role)  # type: ignore[call-overload]
            if bounds is None:
                continue
            if n < bounds.min:
                return f"{role} under {bounds.min} tokens"
            if bounds.max is not None and n > bounds.max:
                return f"{role} over {bounds.max} tokens"
        return None

    def _keys(self, survivors, result: ChunkResult) -> None:
        full_texts = []
        for *_, example in survivors:
            pieces = texts(example)
            full = "\n".join(text for _, text in pieces)
            full_texts.append(full)
            result.lines.append(json.dumps(to_json(example), ensure_ascii=False))
            result.digests.append(digest(full))
            result.prompt_digests.append(digest(prompt_text(example)))
            result.lengths.append(len(full))
            result.roles.update(role for role, _ in pieces)
            result.turns[len(pieces)] += 1
        mh = self.cfg.minhash
        signature = signatures(full_texts, mh.num_perm, mh.shingle_size)
        result.bands = band_hashes(signature, *self.lsh)

    def _remove(self, result: ChunkResult, step: str, reason: str, record, where, line) -> None:
        result.removed[(step, reason)] += 1
        samples = result.samples[step]
        if len(samples) < self.cfg.samples:
            shown = _error_text(record) if isinstance(record, DataError) else _shown(record)
            samples.append({"where": location(where, line), "reason": reason, "record": shown})

    def _change(self, result: ChunkResult, step: str, before: Example, after: Example) -> None:
        result.changed[step] += 1
        samples = result.samples[step]
        if len(samples) < self.cfg.samples:
            pairs = zip(texts(before), texts(after), strict=True)
            old, new = next((b, a) for (_, b), (_, a) in pairs if b != a)
            samples.append(dict(zip(("before", "after"), _around_change(old, new), strict=True)))


_INDEX = re.compile(r"\[\d+\]")


def reason_of(error: DataError) -> str:
    """A short category for an error, so the report counts kinds of problem, not records:
    `messages[3].content: empty` and `messages[1].content: empty` are one kind."""
    detail = re.split(r"[;(]", error.detail)[0].strip()
    if error.field is None:
        return detail[:80]
    field = _INDEX.sub("[]", error.field)
    return f"{field}: {detail}"[:80]


STATS_ALL, STATS_EVERY = 20_000, 10


def _in_stats_sample(index: int) -> bool:
    return index < STATS_ALL or index % STATS_EVERY == 0


def _around_change(before: str, after: str, context: int = 80) -> tuple[str, str]:
    """The part of two texts where they first differ, with some context either side."""
    start = next((i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a != b), None)
    if start is None:
        start = min(len(before), len(after))
    tail = 0
    while tail < min(len(before), len(after)) - start and before[-1 - tail] == after[-1 - tail]:
        tail += 1
    lo = max(0, start - context)

    def window(text: str) -> str:
        hi = min(len(text), len(text) - tail + context)
        return ("..." if lo else "") + text[lo:hi] + ("..." if hi < len(text) else "")

    return window(before), window(after)


def _count_chars(cfg: PrepareConfig, longest_token: int) -> int | None:
    """How many characters of a message the length filter needs to see, or None for all.

    No token spans more than `longest_token` characters, so the first (B + 1) *
    longest_token characters of a message hold more than B tokens, B being the largest
    bound: counting further changes no decision, and would make a 50 MB message cost the
    tokenizer gigabytes. Only with a bound on the total: then a message cut for counting
    is over it, so every record written was counted whole and the report's token
    statistics of written records stay exact (dropped ones show at least B + 1).
    """
    total = cfg.lengths.get("total")
    if total is None or total.max is None:
        return None
    largest = max(n for bounds in cfg.lengths.values() for n in (bounds.min, bounds.max) if n)
    return (largest + 1) * longest_token


def _token_counts(tokenizer, batch: list[str], chars: int | None = None) -> list[int]:
    """Token counts from a `tokenizers.Tokenizer`, without offsets: all a filter needs.
    With `chars`, each text is counted on its first `chars` characters only."""
    if not batch:
        return []
    if chars is not None:
        batch = [text[:chars] for text in batch]
    return [len(e.ids) for e in tokenizer.encode_batch_fast(batch, add_special_tokens=False)]


def _format_name(obj: Any, forced: str) -> str:
    from tuneforge.data.records import format_of

    if forced != "auto":
        return forced
    return "oasst_tree" if oasst.claims(obj) else format_of(obj)


def _error_text(error: DataError) -> str:
    return f"{error.field}: {error.detail}" if error.field else error.detail


def _shown(example: Example) -> str:
    return json.dumps(to_json(example), ensure_ascii=False)
