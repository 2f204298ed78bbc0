"""`data prepare`: stream records through the per-record steps in worker processes, then
deduplicate, split and write, with memory bounded by a few chunks plus ~100 bytes of
keys per record.

Pass 1 writes surviving records to a staging file and keeps only their keys; the
whole-dataset steps (dedup, split, leakage check) work on those keys; pass 2 copies the
staged lines into the split files. Everything is written under OUT.partial and renamed
to OUT at the end, so an interrupted run leaves no half-written output behind.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
from array import array
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from tuneforge.config.prepare import PrepareConfig
from tuneforge.data.dedup import kept_mask, near_duplicate_groups, same_key_groups
from tuneforge.data.kinds import examples_of
from tuneforge.data.minhash import lsh_params, shingle_hashes
from tuneforge.data.prepare.process import ChunkProcessor, ChunkResult, reason_of
from tuneforge.data.prepare.split import SPLITS, assign_splits, leaks, split_groups
from tuneforge.data.readers import raw_records
from tuneforge.data.records import FORMAT_NAMES, kind_of
from tuneforge.errors import ConfigError, DataError, TuneForgeError

STAGING = "staged.jsonl"


@dataclass
class Collected:
    """Everything pass 1 keeps per surviving record (arrays) and per step (counts)."""

    chunks: list[ChunkResult] = field(default_factory=list)
    offsets: array = field(default_factory=lambda: array("q"))
    """Byte offset of each staged record, to show dropped records in the report."""

    def column(self, name: str, dtype) -> np.ndarray:
        parts = [np.asarray(getattr(c, name), dtype=dtype).ravel() for c in self.chunks]
        return np.concatenate(parts) if parts else np.zeros(0, dtype)


@dataclass
class PrepareResult:
    out_dir: Path
    kind: str
    counts: dict[str, int]
    report: dict[str, Any]


def prepare(source: str, out_dir: str | Path, cfg: PrepareConfig, overwrite=False, progress=None):
    """Validate, clean, deduplicate and split `source` into OUT/{train,validation,test}.jsonl
    with report.json/md/html and plots. Returns a PrepareResult."""
    from tuneforge.data.prepare.report import write_reports

    out_dir = Path(out_dir)
    if cfg.format not in ("auto", *FORMAT_NAMES):
        raise ConfigError(f"format: unknown {cfg.format!r}; expected auto or one of {FORMAT_NAMES}")
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise TuneForgeError(f"{out_dir}: exists and is not empty; pass --overwrite to replace it")
    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        records = raw_records(source, cfg.format)
        kind, records = _detect_kind(records, cfg, source)
        collected = _pass_one(records, staging / STAGING, cfg, kind, progress)
        if not len(collected.offsets):
            raise _nothing_survived(source, collected.chunks)
        summary = _dedup_and_split(collected, staging / STAGING, cfg)
        counts = _pass_two(staging / STAGING, staging, summary["split"])
        (staging / STAGING).unlink()
        report = write_reports(staging, source, cfg, kind, collected, summary, counts)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if out_dir.exists():
        shutil.rmtree(out_dir)
    staging.rename(out_dir)
    return PrepareResult(out_dir, kind, counts, report)


def _detect_kind(records: Iterator, cfg: PrepareConfig, source: str) -> tuple[str, Iterator]:
    """The configured kind, or that of the first record that parses."""
    if cfg.kind != "auto":
        return cfg.kind, records
    peeked = []
    failed: Counter[tuple[str, str]] = Counter()
    for item in records:
        peeked.append(item)
        where, line, obj = item
        try:
            if isinstance(obj, DataError):
                raise obj
            examples = examples_of(obj, None, where, line, cfg.format)
        except DataError as exc:
            failed["parse", reason_of(exc)] += 1
            continue
        if examples:
            return kind_of(examples[0]), _chain(peeked, records)
    raise _nothing_survived(source, [ChunkResult(read=len(peeked), removed=failed)])


def _nothing_survived(source: str, chunks: list[ChunkResult]) -> DataError:
    """The error for an input of which no record survived: how many were read, and the
    three most common reasons records were removed, so the fix is in the message."""
    read = sum(chunk.read for chunk in chunks)
    removed: Counter[tuple[str, str]] = sum((chunk.removed for chunk in chunks), Counter())
    top = "; ".join(f"{step}: {why} ({n:,})" for (step, why), n in removed.most_common(3))
    return DataError(
        str(source), None, None,
        f"no record survived ({read:,} read); most common reasons: {top or 'none recorded'}",
    )  # fmt: skip


def _chain(first: list, rest: Iterator) -> Iterator:
    yield from first
    yield from rest


def _pass_one(records, staged: Path, cfg: PrepareConfig, kind: str, progress) -> Collected:
    contamination = _contamination_hashes(cfg.decontaminate)
    workers = cfg.num_proc or min(8, os.cpu_count() or 1)
    collected = Collected()
    offset = 0
    with staged.open("w", encoding="utf-8") as out:
        for result in _map_chunks(records, cfg, kind, contamination, workers):
            collected.chunks.append(result)
            for line in result.lines:
                collected.offsets.append(offset)
                data = line + "\n"
                out.write(data)
                offset += len(data.encode("utf-8"))
            result.lines = []  # written: do not hold them
            if progress:
                progress(result.read)
    return collected


_processor: ChunkProcessor | None = None


def _start_worker(processor: ChunkProcessor) -> None:
    global _processor
    _processor = processor


def _run_chunk(first_index: int, chunk: list) -> ChunkResult:
    assert _processor is not None
    return _processor(chunk, first_index)


def _map_chunks(records, cfg, kind, contamination, workers: int) -> Iterator[ChunkResult]:
    """Chunks processed in order, at most two per worker in flight, so memory holds a
    few chunks however large the input is. The tokenizer is loaded once, here, and
    inherited by forked workers."""
    processor = ChunkProcessor(cfg, kind, _token_counter(cfg.model), contamination)
    chunks = iter(lambda: list(islice(records, cfg.chunk_size)), [])
    numbered = ((i * cfg.chunk_size, chunk) for i, chunk in enumerate(chunks))
    if workers == 1 or os.name != "posix":
        yield from (processor(chunk, first) for first, chunk in numbered)
        return
    # The Rust tokenizer must not have started its thread pool before the fork.
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, context, _start_worker, (processor,)) as pool:
        pending: deque = deque()
        for first, chunk in numbered:
            pending.append(pool.submit(_run_chunk, first, chunk))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _token_counter(model: str):
    """The Rust tokenizer alone: counting tokens needs neither transformers nor torch."""
    from tokenizers import Tokenizer

    from tuneforge.models.registry import tokenizer_file

    if path := tokenizer_file(model):
        return Tokenizer.from_file(str(path))
    from tuneforge.models.loading import load_tokenizer

    return load_tokenizer(model).backend_tokenizer


def _contamination_hashes(files: list[str]) -> np.ndarray:
    """Sorted 13-word shingle hashes of every string in the evaluation files, whatever
    their format (GSM8K's question/answer, MMLU rows, chat records)."""
    hashes = [np.zeros(0, np.uint64)]
    for file in files:
        # Format "text": a plain-text evaluation file contaminates as much as any other.
        for _, _, obj in raw_records(file, "text"):
            if not isinstance(obj, DataError):
                hashes.append(shingle_hashes(" ".join(_strings(obj)), 13))
    return np.unique(np.concatenate(hashes))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _dedup_and_split(collected: Collected, staged: Path, cfg: PrepareConfig) -> dict[str, Any]:
    digests = collected.column("digests", np.uint64)
    prompts = collected.column("prompt_digests", np.uint64)
    lengths = collected.column("lengths", np.int64)
    n_bands = lsh_params(cfg.minhash.threshold, cfg.minhash.num_perm)[0]
    bands = collected.column("bands", np.uint64).reshape(len(digests), n_bands)
    everything = np.ones(len(digests), dtype=bool)
    keep_exact, keep_near, samples = everything, everything, []
    if cfg.dedup != "off":
        exact_groups = same_key_groups(digests)
        keep_exact = kept_mask(exact_groups, lengths, cfg.dedup_keep)
        samples += _twin_samples(staged, collected.offsets, exact_groups, keep_exact, cfg.samples)
    if cfg.dedup == "minhash":
        near_groups = near_duplicate_groups(bands)
        keep_near = kept_mask(near_groups, lengths, cfg.dedup_keep)
        newly = keep_exact & ~keep_near  # near twins that are not exact ones
        samples += _twin_samples(staged, collected.offsets, near_groups, ~newly, cfg.samples)
    keep = keep_exact & keep_near
    kept = np.flatnonzero(keep)
    split = np.full(len(digests), -1, dtype=np.int8)
    keys = np.column_stack([digests[kept], prompts[kept], bands[kept]])
    if len(kept):
        split[kept] = assign_splits(split_groups(keys), cfg.split, cfg.seed)
    return {
        "split": split,
        "removed": {
            "exact": int((~keep_exact).sum()),
            "near": int((keep_exact & ~keep_near).sum()),
        },
        "samples": samples,
        "leaking_records": leaks(split[kept], keys),
        "kept_tokens": _measured(collected.column("tokens", np.int64)[kept]),
    }


def _measured(tokens: np.ndarray) -> np.ndarray:
    return tokens[tokens >= 0]


def _twin_samples(staged: Path, offsets, groups, keep, n: int) -> list[dict[str, str]]:
    """Dropped records next to the record kept in their place, for the report."""
    kept_of_group = np.full(len(groups), -1)
    kept_of_group[groups[keep]] = np.flatnonzero(keep)
    samples = []
    with staged.open("rb") as file:
        for dropped in np.flatnonzero(~keep)[:n]:
            twin = kept_of_group[groups[dropped]]
            texts = []
            for index in (dropped, twin):
                file.seek(offsets[index])
                texts.append(file.readline().decode("utf-8").rstrip("\n"))
            samples.append({"dropped": texts[0], "kept": texts[1]})
    return samples


def _pass_two(staged: Path, out_dir: Path, split: np.ndarray) -> dict[str, int]:
    counts = dict.fromkeys(SPLITS, 0)
    handles = {name: (out_dir / f"{name}.jsonl").open("w", encoding="utf-8") for name in SPLITS}
    try:
        with staged.open(encoding="utf-8") as lines:
            for line, where in zip(lines, split, strict=True):
                if where >= 0:
                    name = SPLITS[where]
                    handles[name].write(line)
                    counts[name] += 1
    finally:
        for handle in handles.values():
            handle.close()
    return counts
