"""Serving throughput: `tuneforge serve` against one `generate` per request (transformers + PEFT).

    .venv/bin/python benchmarks/serve_throughput.py [--requests 64] [--max-tokens 64]

SmolLM2-135M-Instruct on CPU (float32), 4 LoRA adapters with seeded random weights, N chat
requests from the first user messages of ../shared/data/sft/fastchat_alpaca_data_cleaned_1000.json,
greedy, 8 concurrent clients, round-robin over the base and the 4 adapters.
Contenders (each in its own process): ours (the server), ours_one_slot (--max-loaded-adapters 1),
naive (a subprocess: set_adapter + model.generate per request, in arrival order), and
base_alone (the server with no adapters, the same requests all to the base: the memory
and throughput that serving adapters is compared with).
The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sft"
DATA_FILE = DATA / "fastchat_alpaca_data_cleaned_1000.json"
BASE = "smollm2-135m-instruct"
ADAPTERS = [f"lora{i}" for i in range(4)]
MODELS = [BASE, *ADAPTERS]
CLIENTS = 8


def log(msg: str) -> None:
    print(f"[serve_throughput] {msg}", file=sys.stderr, flush=True)


def load_prompts(n: int) -> list[str]:
    if not DATA_FILE.exists():
        raise SystemExit(f"error: {DATA_FILE} is missing (needs ../shared/data, see PROVENANCE.md)")
    records = json.loads(DATA_FILE.read_text(encoding="utf-8"))[:n]
    return [r["instruction"] + (f"\n\n{r['input']}" if r.get("input") else "") for r in records]


def make_adapters(folder: Path, count: int) -> list[Path]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from tuneforge.models.registry import ensure_cached

    base = str(ensure_cached(BASE))
    out = []
    for i in range(count):
        torch.manual_seed(i)
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
        config = LoraConfig(r=16, target_modules="all-linear", init_lora_weights=False)
        peft_model = get_peft_model(model, config)
        path = folder / f"adapter_{i}"
        peft_model.save_pretrained(path)
        cfg_file = path / "adapter_config.json"
        cfg = json.loads(cfg_file.read_text())
        cfg["base_model_name_or_path"] = base
        cfg_file.write_text(json.dumps(cfg, indent=2))
        out.append(path)
    return out


class RssPoller:
    """Peak RSS (MB) of a process and its children, polled every 0.2 s."""

    def __init__(self, pid: int):
        import psutil

        self.proc = psutil.Process(pid)
        self.peak = 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import psutil

        while not self.stop.is_set():
            try:
                rss = self.proc.memory_info().rss
                for child in self.proc.children(recursive=True):
                    rss += child.memory_info().rss
                self.peak = max(self.peak, rss / 2**20)
            except psutil.Error:
                pass
            time.sleep(0.2)

    def done(self) -> float:
        self.stop.set()
        self.thread.join()
        return round(self.peak, 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(adapters: list[Path], slots: int, data_dir: Path):
    import httpx

    port = free_port()
    cmd = [str(Path(sys.executable).parent / "tuneforge"), "serve", "--port", str(port)]
    cmd += ["--no-auth", "--data-dir", str(data_dir), "--model", BASE, "--dtype", "float32"]
    cmd += ["--max-loaded-adapters", str(slots)]
    for name, path in zip(ADAPTERS, adapters, strict=False):
        cmd += ["--adapter", f"{name}={path}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(data_dir / "log", "w"))  # noqa: SIM115
    poller = RssPoller(proc.pid)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {(data_dir / 'log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                return proc, poller, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("server did not answer GET /v1/models in 180 s")


def stop_server(proc, poller) -> float:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
    return poller.done()


def chat(client, model: str, prompt: str, max_tokens: int) -> dict:
    start = time.perf_counter()
    first = None
    parts = []
    tokens = None
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": prompt}],
        max_tokens=max_tokens,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
        if chunk.choices and chunk.choices[0].delta.content:
            if first is None:
                first = time.perf_counter() - start
            parts.append(chunk.choices[0].delta.content)
    return {
        "text": "".join(parts),
        "latency": time.perf_counter() - start,
        "ttft": first,
        "tokens": tokens,
    }


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(round(q * (len(values) - 1))))], 3)


def run_batch(
    url: str, prompts: list[str], max_tokens: int, models: list[str] = MODELS
) -> tuple[dict, list[str]]:
    from openai import OpenAI

    client = OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0, timeout=600)
    for model in models:  # warm-up: one request per model
        chat(client, model, "Say hi.", 4)
    jobs = [(models[i % len(models)], p) for i, p in enumerate(prompts)]
    start = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(lambda j: chat(client, j[0], j[1], max_tokens), jobs))
    wall = time.perf_counter() - start
    tokens = sum(r["tokens"] or 0 for r in results)
    ttfts = [r["ttft"] for r in results if r["ttft"] is not None]
    metrics = {
        "requests": len(results),
        "completion_tokens": tokens,
        "wall_s": round(wall, 2),
        "output_tokens_per_second": round(tokens / wall, 2),
        "p50_latency_s": pct([r["latency"] for r in results], 0.5),
        "p95_latency_s": pct([r["latency"] for r in results], 0.95),
        "p50_time_to_first_token_s": pct(ttfts, 0.5) if ttfts else None,
    }
    return metrics, [r["text"] for r in results]


def switch_and_cold(url: str, adapters_dir: Path, data_dir: Path, reps: int = 5) -> dict:
    """Sequential 8-token requests, adapter minus base (an adapter already loaded); then
    the first request to an adapter the server has never loaded, registered the way the
    jobs API registers one (a file in the data directory's registry, no request made)."""
    from openai import OpenAI

    from tuneforge.serve.registry import write_entry

    client = OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0, timeout=600)
    prompt = "Name a colour."
    diffs = []
    for _ in range(reps):
        base = chat(client, BASE, prompt, 8)["latency"]
        lora = chat(client, ADAPTERS[0], prompt, 8)["latency"]
        diffs.append((lora - base) * 1000)
    write_entry(data_dir / "adapters", "lora_extra", adapters_dir / "adapter_extra", 0)
    cold = chat(client, "lora_extra", prompt, 8)["latency"]
    warm = statistics.median(chat(client, "lora_extra", prompt, 8)["latency"] for _ in range(3))
    return {
        "adapter_switch_ms": round(statistics.mean(diffs), 2),
        "adapter_switch_ms_per_pair": [round(d, 2) for d in diffs],
        "adapter_cold_load_ms": round((cold - warm) * 1000, 1),
    }


def contender_server(name, adapters, slots, prompts, max_tokens, tmp, extra=False):
    log(f"{name}: starting server (max-loaded-adapters {slots})")
    data_dir = Path(tempfile.mkdtemp(dir=tmp))
    proc, poller, url = start_server(adapters, slots, data_dir)
    try:
        metrics, texts = run_batch(url, prompts, max_tokens)
        log(f"{name}: {metrics}")
        if extra:
            metrics.update(switch_and_cold(url, tmp, data_dir))
    finally:
        metrics["peak_rss_mb"] = stop_server(proc, poller)
    return metrics, texts


def base_alone(tmp: Path, prompts: list[str], max_tokens: int) -> dict:
    """The base model served alone: no adapters, the same requests, all to the base."""
    log("base_alone: starting server with no adapters")
    data_dir = Path(tempfile.mkdtemp(dir=tmp))
    proc, poller, url = start_server([], 1, data_dir)
    try:
        metrics, _ = run_batch(url, prompts, max_tokens, models=[BASE])
    finally:
        metrics["peak_rss_mb"] = stop_server(proc, poller)
    log(f"base_alone: {metrics}")
    return metrics


# ---------------------------------------------------------------- naive worker


def worker_naive(args) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer, TextIteratorStreamer

    from tuneforge.models.registry import ensure_cached

    torch.manual_seed(0)
    base = str(ensure_cached(BASE))
    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    paths = json.loads(args.adapters)
    model = PeftModel.from_pretrained(model, paths[0], adapter_name=ADAPTERS[0])
    for name, path in zip(ADAPTERS[1:], paths[1:], strict=True):
        model.load_adapter(path, adapter_name=name)
    model.eval()
    prompts = load_prompts(args.requests)

    def one(model_name: str, prompt: str, max_tokens: int) -> dict:
        text = tok.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        ids = tok(text, add_special_tokens=False, return_tensors="pt")
        streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)
        out = {}

        def gen() -> None:
            with torch.no_grad():
                kw = dict(max_new_tokens=max_tokens, do_sample=False, streamer=streamer)
                if model_name == BASE:
                    with model.disable_adapter():
                        out["ids"] = model.generate(**ids, **kw)
                else:
                    model.set_adapter(model_name)
                    out["ids"] = model.generate(**ids, **kw)

        start = time.perf_counter()
        thread = threading.Thread(target=gen)
        thread.start()
        first = None
        for piece in streamer:
            if piece and first is None:
                first = time.perf_counter() - start
        thread.join()
        new = out["ids"][0, ids["input_ids"].shape[1] :].tolist()
        return {
            "text": tok.decode(new, skip_special_tokens=True),
            "tokens": len(new),
            "latency": time.perf_counter() - start,
            "ttft": first,
        }

    for m in MODELS:  # warm-up
        one(m, "Say hi.", 4)
    start = time.perf_counter()
    results = [one(MODELS[i % len(MODELS)], p, args.max_tokens) for i, p in enumerate(prompts)]
    wall = time.perf_counter() - start
    tokens = sum(r["tokens"] for r in results)
    ttfts = [r["ttft"] for r in results if r["ttft"] is not None]
    metrics = {
        "requests": len(results),
        "completion_tokens": tokens,
        "wall_s": round(wall, 2),
        "output_tokens_per_second": round(tokens / wall, 2),
        "p50_latency_s": pct([r["latency"] for r in results], 0.5),
        "p95_latency_s": pct([r["latency"] for r in results], 0.95),
        "p50_time_to_first_token_s": pct(ttfts, 0.5) if ttfts else None,
        "texts": [r["text"] for r in results],
    }
    print(json.dumps(metrics))


def contender_naive(adapters, args) -> tuple[dict, list[str]]:
    log("naive: starting worker subprocess")
    cmd = [sys.executable, __file__, "--worker", "naive", "--requests", str(args.requests)]
    cmd += [
        "--max-tokens",
        str(args.max_tokens),
        "--adapters",
        json.dumps(list(map(str, adapters))),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    poller = RssPoller(proc.pid)
    stdout, _ = proc.communicate()
    peak = poller.done()
    if proc.returncode:
        raise SystemExit(f"naive worker failed ({proc.returncode})")
    metrics = json.loads(stdout.strip().splitlines()[-1])
    texts = metrics.pop("texts")
    metrics["peak_rss_mb"] = peak
    log(f"naive: {metrics}")
    return metrics, texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--only", default="ours,naive,ours_one_slot,base_alone")
    parser.add_argument("--worker", choices=["naive"])
    parser.add_argument("--adapters")
    args = parser.parse_args()
    if args.worker == "naive":
        worker_naive(args)
        return
    only = set(args.only.split(","))
    prompts = load_prompts(args.requests)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        log("creating 5 seeded LoRA adapters (4 served, 1 registered at run time)")
        paths = make_adapters(tmp, 5)
        paths[4].rename(tmp / "adapter_extra")
        adapters = paths[:4]
        result: dict = {
            "config": {
                "model": BASE,
                "requests": args.requests,
                "max_tokens": args.max_tokens,
                "clients": CLIENTS,
                "adapters": len(adapters),
                "dtype": "float32",
                "device": "cpu",
            }
        }
        texts = {}
        if "ours" in only:
            result["ours"], texts["ours"] = contender_server(
                "ours", adapters, 8, prompts, args.max_tokens, tmp, extra=True
            )
        if "naive" in only:
            result["naive"], texts["naive"] = contender_naive(adapters, args)
        if "ours_one_slot" in only:
            result["ours_one_slot"], texts["ours_one_slot"] = contender_server(
                "ours_one_slot", adapters, 1, prompts, args.max_tokens, tmp
            )
        if "naive" in texts:
            for name in ("ours", "ours_one_slot"):
                if name in texts:
                    pairs = list(zip(texts[name], texts["naive"], strict=True))
                    differ = [i for i, (a, b) in enumerate(pairs) if a != b]
                    result[name]["identical_outputs"] = round(1 - len(differ) / len(pairs), 3)
                    result[name]["differing_indexes"] = differ
            if "ours" in result:
                ratio = result["ours"]["output_tokens_per_second"]
                ratio /= result["naive"]["output_tokens_per_second"]
                result["ours"]["throughput_vs_naive"] = round(ratio, 2)
        if "base_alone" in only:
            result["base_alone"] = base_alone(tmp, prompts, args.max_tokens)
            if "ours" in result:
                ratio = result["ours"]["peak_rss_mb"] / result["base_alone"]["peak_rss_mb"]
                result["ours"]["rss_ratio_vs_base_alone"] = round(ratio, 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
