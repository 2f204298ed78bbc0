"""MMLU by log-likelihood: `tuneforge eval`'s choice task against EleutherAI's
lm-evaluation-harness, same questions, same prompts, same model.

    .venv/bin/pip install lm-eval torch==2.13.0     # benchmarks only; keeps torch as it is
    .venv/bin/python benchmarks/eval_vs_harness.py [--subjects a,b,...] [--limit N]
        [--batch-size 16] [--only ours,harness] [--repeats 1]

Data: the test split of 5 MMLU subjects from `../shared/data/eval/mmlu.zip` (the original
dataset's headerless `data/test/<subject>_test.csv` files), 0-shot, all questions unless
`--limit N` keeps the first N of each subject (the same N for both). Model:
SmolLM2-135M-Instruct from TuneForge's cache, float32 on CPU, batch size 16 for both.

- ours: `run_choice` on each subject's CSV (the harness's default MMLU prompt, built by
  choice_formats.py).
- harness: `lm_eval.simple_evaluate` with the `hf` model on the same local folder, and one
  task per subject whose prompt fields are read at run time from the harness's own
  `tasks/mmlu/default/_default_template_yaml` and `mmlu_<subject>.yaml` (description), its
  dataset the same questions as local JSON Lines (the hub cannot be reached here), with
  `acc_norm` added to the metric list (the MMLU yaml reports `acc` only).
  `bootstrap_iters=0` and `include_defaults=False`: neither its standard errors nor indexing
  its ~14,000 shipped task files are counted against it.

Each runs in its own process; `seconds` is from loading the model to having every score
(imports excluded), the median of `--repeats` alternating runs (`all_seconds` lists them),
`peak_rss_mb` the process's peak (the largest over the runs). Every question's four
log-likelihoods are compared too: `agreement` is the share of questions where both pick
the same letter, `max_abs_ll_diff` the largest difference in any log-likelihood. acc and
acc_norm are each contender's own, pooled over all questions, in points.

The LAST line of output is one JSON object: {"ours": {...}, "harness": {...},
"agreement": ..., "max_abs_ll_diff": ..., "questions": N, "subjects": [...]}, ours and
harness each with acc, acc_norm, seconds, peak_rss_mb.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from side_by_side import peak_rss_mb, run_contender

MMLU_ZIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "eval" / "mmlu.zip"
SUBJECTS = ("abstract_algebra", "anatomy", "astronomy", "high_school_geography", "marketing")
MODEL = "smollm2-135m-instruct"
TARGETS = {"points": 0.5, "speedup": 1.5}


def extract(subjects: list[str], limit: int | None, folder: Path) -> dict[str, list[list[str]]]:
    """Each subject's test rows (question, A, B, C, D, letter), the first `limit` of them,
    written as a headerless MMLU CSV for ours and as JSON Lines for the harness."""
    rows = {}
    with zipfile.ZipFile(MMLU_ZIP) as archive:
        for subject in subjects:
            text = archive.read(f"data/test/{subject}_test.csv").decode("utf-8")
            rows[subject] = [r for r in csv.reader(io.StringIO(text)) if r][:limit]
    for subject, subject_rows in rows.items():
        with (folder / f"{subject}_test.csv").open("w", newline="", encoding="utf-8") as out:
            csv.writer(out).writerows(subject_rows)
        with (folder / f"{subject}.jsonl").open("w", encoding="utf-8") as out:
            for question, *options, letter in subject_rows:
                doc = {"question": question, "choices": options, "answer": "ABCD".index(letter)}
                out.write(json.dumps(doc) + "\n")
    return rows


# ---------------------------------------------------------------- contenders (in a worker)


def run_ours(model_path: str, folder: Path, subjects: list[str], batch_size: int) -> dict:
    from tuneforge.eval.models import ModelSet
    from tuneforge.eval.tasks.choice import run_choice

    started = time.perf_counter()
    models = ModelSet(model_path, log=lambda message: None)
    out: dict = {"lls": {}, "acc": {}, "acc_norm": {}}
    with models.use(models.base) as (model, tokenizer):
        for subject in subjects:
            path = folder / f"{subject}_test.csv"
            scores = run_choice(model, tokenizer, path, batch_size=batch_size)
            out["lls"][subject] = [e["loglikelihoods"] for e in scores.examples]
            for name in ("acc", "acc_norm"):
                out[name][subject] = scores.metrics[name].value()
    return {"seconds": time.perf_counter() - started, **out}


def harness_tasks(folder: Path, subjects: list[str]) -> Path:
    """One task yaml per subject: the harness's own MMLU prompt fields, local data."""
    import lm_eval
    import yaml

    mmlu = Path(lm_eval.__file__).parent / "tasks" / "mmlu" / "default"
    template = yaml.safe_load((mmlu / "_default_template_yaml").read_text())
    tasks = folder / "tasks"
    tasks.mkdir(exist_ok=True)
    for subject in subjects:
        config = {k: v for k, v in template.items() if k not in ("dataset_path", "fewshot_split")}
        config.pop("fewshot_config", None)
        config.update(
            task=f"local_mmlu_{subject}",
            dataset_path="json",
            dataset_kwargs={"data_files": {"test": str(folder / f"{subject}.jsonl")}},
            description=yaml.safe_load((mmlu / f"mmlu_{subject}.yaml").read_text())["description"],
            metric_list=[
                {"metric": name, "aggregation": "mean", "higher_is_better": True}
                for name in ("acc", "acc_norm")
            ],
        )
        (tasks / f"local_mmlu_{subject}.yaml").write_text(yaml.safe_dump(config))
    return tasks


def run_harness(model_path: str, folder: Path, subjects: list[str], batch_size: int) -> dict:
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    tasks = harness_tasks(folder, subjects)
    started = time.perf_counter()
    results = simple_evaluate(
        model="hf",
        model_args={"pretrained": model_path, "dtype": "float32", "device": "cpu"},
        tasks=[f"local_mmlu_{s}" for s in subjects],
        num_fewshot=0,
        batch_size=batch_size,
        bootstrap_iters=0,
        log_samples=True,
        task_manager=TaskManager(include_path=str(tasks), include_defaults=False),
    )
    seconds = time.perf_counter() - started
    out: dict = {"lls": {}, "acc": {}, "acc_norm": {}}
    for subject in subjects:
        task = f"local_mmlu_{subject}"
        samples = sorted(results["samples"][task], key=lambda s: s["doc_id"])
        out["lls"][subject] = [[float(r[0]) for r in s["filtered_resps"]] for s in samples]
        for name in ("acc", "acc_norm"):
            out[name][subject] = results["results"][task][f"{name},none"]
    return {"seconds": seconds, **out}


def worker(args) -> None:
    from tuneforge.models.registry import ensure_cached

    model_path = str(ensure_cached(MODEL, progress=lambda message: None))
    run = {"ours": run_ours, "harness": run_harness}[args.worker]
    result = run(model_path, Path(args.folder), args.subjects.split(","), args.batch_size)
    result["peak_rss_mb"] = peak_rss_mb()
    Path(args.result).write_text(json.dumps(result))


# ---------------------------------------------------------------- the comparison


def argmax(values: list[float]) -> int:
    return max(range(len(values)), key=lambda i: (values[i], -i))  # ties: the first


def summarise(result: dict, rows: dict[str, list[list[str]]]) -> dict:
    """Each contender's own acc and acc_norm per subject, pooled over every question
    (weighted by the subject's size), in points."""
    total = sum(len(r) for r in rows.values())

    def pooled(name: str) -> float:
        return round(100 * sum(result[name][s] * len(r) for s, r in rows.items()) / total, 2)

    return {
        "acc": pooled("acc"),
        "acc_norm": pooled("acc_norm"),
        "seconds": round(result["seconds"], 1),
        "peak_rss_mb": round(result["peak_rss_mb"]),
        "all_seconds": result.get("all_seconds", [round(result["seconds"], 1)]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", default=",".join(SUBJECTS))
    parser.add_argument("--limit", type=int, default=None, help="first N questions per subject")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--only", default="ours,harness")
    parser.add_argument("--repeats", type=int, default=1, help="runs each; median seconds")
    parser.add_argument("--worker", choices=("ours", "harness"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    if not MMLU_ZIP.is_file():
        sys.exit(f"{MMLU_ZIP} is missing: this benchmark reads MMLU from ../shared/data/eval")
    subjects = args.subjects.split(",")
    names = args.only.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = extract(subjects, args.limit, folder)
        runs: dict[str, list[dict]] = {name: [] for name in names}
        for _ in range(args.repeats):  # alternating, so a drift in machine speed hits both
            for name in names:
                result = folder / f"{name}.json"
                command = [
                    sys.executable, __file__, "--worker", name, "--folder", str(folder),
                    "--result", str(result), "--subjects", args.subjects,
                    "--batch-size", str(args.batch_size),
                ]  # fmt: skip
                runs[name].append(run_contender(name, command, result, folder / f"{name}.log"))
    raw = {}
    for name, results in runs.items():
        failed = [r for r in results if "error" in r]
        raw[name] = failed[0] if failed else results[0]
        if not failed:  # the scores are the same every time; time and memory vary
            raw[name]["seconds"] = statistics.median(r["seconds"] for r in results)
            raw[name]["peak_rss_mb"] = max(r["peak_rss_mb"] for r in results)
            raw[name]["all_seconds"] = [round(r["seconds"], 1) for r in results]
    report = {name: summarise(r, rows) if "error" not in r else r for name, r in raw.items()}
    if all(name in raw and "error" not in raw[name] for name in ("ours", "harness")):
        ours, theirs = raw["ours"]["lls"], raw["harness"]["lls"]
        pairs = [(a, b) for s in subjects for a, b in zip(ours[s], theirs[s], strict=True)]
        report["agreement"] = round(sum(argmax(a) == argmax(b) for a, b in pairs) / len(pairs), 4)
        report["max_abs_ll_diff"] = max(
            abs(x - y) for a, b in pairs for x, y in zip(a, b, strict=True)
        )
        report["speedup"] = round(raw["harness"]["seconds"] / raw["ours"]["seconds"], 2)
        report["targets"] = TARGETS
    report["questions"] = sum(len(r) for r in rows.values())
    report["subjects"] = subjects
    print(json.dumps(report))


if __name__ == "__main__":
    main()
