"""Records per second of the whole `tuneforge data prepare` pipeline (parse, normalise,
PII, quality, token lengths, exact + MinHash dedup, split, report) on a generated file.

The file imitates Alpaca-style data: ~120-word records built from a 5,000-word
vocabulary, with 5% exact copies, 5% lightly edited near-copies, 2% carrying an email
or phone number, and 1% broken records. The pipeline runs as the CLI in a subprocess so
its peak RSS (with its workers) is measured on its own.

    python benchmarks/prepare_throughput.py --records 200000
    python benchmarks/prepare_throughput.py --records 1000000 --keep-file  # memory check

The LAST line of output is one JSON object with records, seconds, records_per_second,
peak_rss_mb (main process + workers) and the written split sizes.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

SYLLABLES = "ka lo mi ne ra su te vo an el is or un by da fe gi ho ju ly".split()


def vocabulary(rng: random.Random, size: int = 5000) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4))))
    return sorted(words)


def sentence(rng: random.Random, words: list[str]) -> str:
    body = " ".join(rng.choice(words) for _ in range(rng.randint(6, 18)))
    return body[0].upper() + body[1:] + rng.choice(".!?")


def generate(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    words = vocabulary(rng)
    previous: list[dict] = []
    with path.open("w") as out:
        for i in range(n):
            roll = rng.random()
            if roll < 0.05 and previous:
                record = dict(rng.choice(previous))  # exact copy
            elif roll < 0.10 and previous:
                record = dict(rng.choice(previous))
                output = record["output"].split()
                output[rng.randrange(len(output))] = rng.choice(words)
                record["output"] = " ".join(output)  # near copy
            else:
                record = {
                    "instruction": sentence(rng, words),
                    "input": sentence(rng, words) if rng.random() < 0.4 else "",
                    "output": " ".join(sentence(rng, words) for _ in range(rng.randint(3, 12))),
                }
                if rng.random() < 0.02:
                    record["output"] += (
                        f" Write to user{i}@example.com or call 555-{i % 900 + 100}-0199."
                    )
            if rng.random() < 0.01:
                out.write('{"instruction": "broken\n')
                continue
            out.write(json.dumps(record) + "\n")
            if len(previous) < 2000:
                previous.append(record)
            elif rng.random() < 0.01:
                previous[rng.randrange(2000)] = record


def run_prepare(data: Path, out: Path, extra: list[str]) -> tuple[float, float]:
    """Seconds and peak RSS (MB, summed over the process tree) of one CLI run."""
    command = [sys.executable, "-m", "tuneforge.cli.main", "data", "prepare", str(data),
               "-o", str(out), "--overwrite", *extra]  # fmt: skip
    started = time.perf_counter()
    process = psutil.Popen(command)
    peak = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                tree = [process, *process.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = process.wait()
    done.set()
    sampler.join()
    if code:
        raise SystemExit(f"prepare failed with exit code {code}")
    return time.perf_counter() - started, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--workdir", help="keep the generated file and output here")
    parser.add_argument("--keep-file", action="store_true", help="reuse a generated file")
    parser.add_argument("prepare_args", nargs="*", help="extra flags for data prepare")
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="tuneforge-prepare-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / f"generated-{args.records}.jsonl"
    if not (args.keep_file and data.exists()):
        started = time.perf_counter()
        generate(data, args.records)
        print(f"generated {data} ({data.stat().st_size / 2**20:.0f} MB) "
              f"in {time.perf_counter() - started:.0f}s", file=sys.stderr)  # fmt: skip
    seconds, peak_mb = run_prepare(data, workdir / "out", args.prepare_args)
    report = json.loads((workdir / "out" / "report.json").read_text())
    print(
        json.dumps(
            {
                "records": args.records,
                "seconds": round(seconds, 1),
                "records_per_second": round(args.records / seconds),
                "peak_rss_mb": round(peak_mb),
                "splits": report["splits"],
                "removed": {s["step"]: s["removed"] for s in report["steps"]},
            }
        )
    )


if __name__ == "__main__":
    main()
