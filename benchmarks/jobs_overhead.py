"""What the jobs API costs: one supervised job through `tuneforge serve` vs the same
training run with `tuneforge train` directly.

    .venv/bin/python benchmarks/jobs_overhead.py [--examples 100] [--epochs 1] [--repeats 2]

SmolLM2-135M-Instruct (the embedded default), LoRA r=16, the first N records of
../shared/data/sft/fastchat_alpaca_data_cleaned_1000.json as OpenAI chat JSONL, batch 4,
seed 0. The direct run trains from the very config the job ran (its run's config.yaml,
another output folder), so data, model and hyperparameters are the same by construction.

- api_wall_s: `jobs.create` returns -> `retrieve` first shows `succeeded` (polled every
  0.5 s, as a client would): file validation, queueing, the trainer subprocess, results,
  registration.
- direct_wall_s: `tuneforge train CONFIG` as a subprocess, start to exit.
- succeeded_to_first_token_s: `succeeded` seen -> the first streamed token of a chat
  completion from the new `ft:` model (the adapter loads on that first request).
The server is started and warm before the clock starts and stopped before each direct
run; the pairs alternate (api, direct, api, direct, ...) so drift in a shared machine's
speed falls on both, and the medians are reported. The last line printed is one JSON
object.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA_FILE = (
    Path(__file__).resolve().parents[2] / "shared/data/sft/fastchat_alpaca_data_cleaned_1000.json"
)
TARGET_RATIO = 1.10
TARGET_FIRST_TOKEN_S = 2.0


def log(msg: str) -> None:
    print(f"[jobs_overhead] {msg}", file=sys.stderr, flush=True)


def chat_jsonl(n: int) -> bytes:
    if not DATA_FILE.exists():
        raise SystemExit(f"error: {DATA_FILE} is missing (needs ../shared/data, see PROVENANCE.md)")
    records = json.loads(DATA_FILE.read_text(encoding="utf-8"))[:n]
    lines = []
    for r in records:
        prompt = r["instruction"] + (f"\n\n{r['input']}" if r.get("input") else "")
        messages = [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": r["output"]},
        ]
        lines.append(json.dumps({"messages": messages}))
    return ("\n".join(lines) + "\n").encode()


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    import httpx

    data_dir.mkdir(parents=True, exist_ok=True)
    log_file = open(data_dir / "server.log", "ab")  # noqa: SIM115 (lives with the server)
    server = subprocess.Popen(
        [sys.executable, "-m", "tuneforge.cli.main", "serve", "--no-auth",
         "--data-dir", str(data_dir), "--port", str(port)],
        stdout=log_file, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1)
            return server
        except httpx.HTTPError:
            if server.poll() is not None:
                raise SystemExit(f"the server exited; see {data_dir / 'server.log'}") from None
            time.sleep(0.5)
    raise SystemExit("the server did not start in 10 minutes")


def run_job(client, content: bytes, epochs: int) -> tuple[object, float]:
    file = client.files.create(file=("train.jsonl", io.BytesIO(content)), purpose="fine-tune")
    hyperparameters = {"n_epochs": epochs, "batch_size": 4, "learning_rate_multiplier": 1.0}
    start = time.perf_counter()
    job = client.fine_tuning.jobs.create(
        model="smollm2-135m-instruct", training_file=file.id, seed=0,
        method={"type": "supervised", "supervised": {"hyperparameters": hyperparameters}},
    )  # fmt: skip
    last_log = 0.0
    while True:
        job = client.fine_tuning.jobs.retrieve(job.id)
        if job.status in ("succeeded", "failed", "cancelled"):
            return job, time.perf_counter() - start
        if time.perf_counter() - last_log > 15:
            last_log = time.perf_counter()
            newest = client.fine_tuning.jobs.list_events(job.id, limit=1).data
            log(f"{job.status}: {newest[0].message if newest else ''}")
        time.sleep(0.5)


def first_token_s(client, model: str) -> float:
    start = time.perf_counter()
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Give three tips for staying healthy."}],
        max_tokens=8, temperature=0, stream=True,
    )  # fmt: skip
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            elapsed = time.perf_counter() - start
            stream.close()
            return elapsed
    raise SystemExit("the fine-tuned model streamed no token")


def run_direct(run_config: Path, out: Path) -> float:
    import yaml

    config = yaml.safe_load(run_config.read_text())
    config["output"] = {"dir": str(out), "overwrite": False}
    out.parent.mkdir(parents=True, exist_ok=True)
    direct_config = out.parent / "direct.yaml"
    direct_config.write_text(yaml.safe_dump(config, sort_keys=False))
    start = time.perf_counter()
    with open(out.parent / "direct.log", "wb") as log_file:
        subprocess.run(
            [sys.executable, "-m", "tuneforge.cli.main", "train", str(direct_config)],
            stdout=log_file, stderr=subprocess.STDOUT, check=True,
        )  # fmt: skip
    return time.perf_counter() - start


def api_run(root: Path, content: bytes, epochs: int) -> tuple[float, float, Path]:
    """One job through a fresh server: (api wall s, first token s, its run directory)."""
    import socket

    import openai

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log(f"starting tuneforge serve in {root}")
    server = start_server(root, port)
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="local")
        job, api_wall = run_job(client, content, epochs)
        if job.status != "succeeded":
            raise SystemExit(f"the job ended {job.status}: {job.error}")
        to_first_token = first_token_s(client, job.fine_tuned_model)
        log(f"api: {api_wall:.1f} s; first token {to_first_token:.2f} s after succeeded")
    finally:
        server.terminate()
        server.wait(60)
    return api_wall, to_first_token, root / "runs" / job.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    content = chat_jsonl(args.examples)
    root = Path(tempfile.mkdtemp(prefix="tuneforge-jobs-bench-"))
    api, first, direct = [], [], []
    for i in range(args.repeats):
        api_wall, to_first_token, run = api_run(root / f"server-{i}", content, args.epochs)
        api.append(api_wall)
        first.append(to_first_token)
        direct.append(run_direct(run / "config.yaml", root / f"direct-{i}" / "run"))
        log(f"direct: {direct[-1]:.1f} s")
    steps = json.loads((run / "summary.json").read_text())["steps"]
    api_wall, direct_wall = statistics.median(api), statistics.median(direct)
    to_first_token, ratio = statistics.median(first), api_wall / direct_wall
    result = {
        "examples": args.examples, "epochs": args.epochs, "steps": steps,
        "repeats": args.repeats, "api_wall_s": round(api_wall, 2),
        "direct_wall_s": round(direct_wall, 2), "ratio": round(ratio, 3),
        "succeeded_to_first_token_s": round(to_first_token, 3),
        "runs": {"api_wall_s": [round(x, 2) for x in api],
                 "direct_wall_s": [round(x, 2) for x in direct],
                 "succeeded_to_first_token_s": [round(x, 3) for x in first]},
        "targets": {"ratio": TARGET_RATIO, "succeeded_to_first_token_s": TARGET_FIRST_TOKEN_S},
        "met": {"ratio": ratio <= TARGET_RATIO,
                "succeeded_to_first_token_s": to_first_token <= TARGET_FIRST_TOKEN_S},
    }  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    main()
