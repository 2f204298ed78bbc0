"""Merging: `tuneforge merge` against mergekit on the same inputs, method by method.

    python -m venv /tmp/mergekit-venv     # benchmarks only: the project's venv is untouched
    /tmp/mergekit-venv/bin/pip install torch==2.13.0 transformers==5.24.0 mergekit==0.1.5
    .venv/bin/python benchmarks/merge_vs_mergekit.py [--methods linear,ties,...]
        [--mergekit-python /tmp/mergekit-venv/bin/python] [--repeats 1] [--work DIR]

Inputs, plain HF folders that both tools read: SmolLM2-135M-Instruct from TuneForge's cache
(float32 safetensors) as the base, and seeded perturbations of it standing in for
fine-tunes, each tensor plus N(0, (sigma * its std)^2) noise, saved as float32 safetensors
with the base's config and tokenizer: ft1 and ft2 (sigma 1e-3, seeds 1 and 2) and, for
SLERP only, far (sigma 5e-2, seed 3). SLERP needs the larger step: between the base and
ft1 every |cos theta| is above 0.9995, where both tools fall back to a plain lerp, while
against far 212 of the 272 tensors (99.97% of the weights) take the spherical path.

Each method's config is one Python dict written as mergekit's YAML and as ours (which has
mergekit's shape; ours adds `seed`), `dtype: float32`. Each tool runs in its own process,
ours through `load_yaml_into` + `run_merge` (what `tuneforge merge` calls), mergekit through
`MergeConfiguration` + `run_merge` with mergekit-yaml's options: `copy_tokenizer`,
`lazy_unpickle` (recommended for memory; it only changes how .bin files are read, these
are safetensors), `random_seed` 0, otherwise its defaults (CPU, one output shard up to 5B
parameters, synchronous writes). `seconds` runs from parsing the config to a complete output
folder (config, weights, tokenizer, model card), each tool's modules imported before the
clock starts; `wall_seconds` is the whole process, interpreter start and imports included;
`peak_rss_mb` is the process's own peak (VmHWM, see side_by_side.peak_rss_mb). With `--repeats N`
the runs alternate and the times are medians, the memory the largest.

`max_abs_diff` is the largest |ours - mergekit| over every tensor of the two outputs, in
float64 from the float32 files (target: at most 1e-6). TIES keeps each task vector's k
largest magnitudes, and where several entries equal the k-th the tools keep different ones
(ours the first in row-major order, mergekit whichever its unstable argsort puts first);
float32 deltas of a small perturbation tie there in most tensors, so for ties the JSON also
has `differing_entries` and `differing_not_at_a_tie`, the differing entries where no model
has such a tie (0 means every difference comes from that rule). DARE draws random masks, and the two
tools draw them differently (ours per tensor from a generator seeded by the tensor's name,
mergekit from torch's global generator in visiting order), so dare_linear is compared
exactly at density 1 and by statistics at density 0.5 (`dare_linear_d0.5`): per tensor the
mean and standard deviation of merged - base, their largest relative differences (tensors
of at least 65,536 entries; smaller ones are noisier by sampling alone), and the share of
entries each tool changed. Expect std to differ by about 1e-3 relative from sampling alone.
One convention differs there: our DARE `rescale` divides kept values by the density (the
paper's, unbiased), mergekit 0.1.5 scales each dropped task vector back to the L1 norm of
the undropped one; the factors agree to ~1e-3 for tensors of this size, exactly at density 1.

The LAST line of output is one JSON object: {METHOD: {max_abs_diff, ours_seconds,
mergekit_seconds, ours_peak_rss_mb, mergekit_peak_rss_mb, ours_wall_seconds,
mergekit_wall_seconds, tensors, met}}, ties with the two counts above, dare_linear_d0.5
with `statistics`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

from side_by_side import peak_rss_mb, run_contender

MODEL = "smollm2-135m-instruct"
MERGEKIT_PYTHON = "/tmp/mergekit-venv/bin/python"
PERTURBATIONS = {"ft1": (1, 1e-3), "ft2": (2, 1e-3), "far": (3, 5e-2)}  # name: (seed, sigma)
SEED = 0
TARGETS = {"max_abs_diff": 1e-6, "seconds": "<= mergekit's", "peak_rss_mb": "<= mergekit's"}
STATISTICS_MIN_NUMEL = 65_536
METHODS = ("linear", "task_arithmetic", "slerp", "ties", "dare_linear", "dare_linear_d0.5")


def merge_configs(paths: dict[str, Path]) -> dict[str, dict]:
    """Each case's config, the same dict for both tools."""
    base, ft1, ft2, far = (str(paths[k]) for k in ("base", "ft1", "ft2", "far"))

    def model(path: str, **parameters: float) -> dict:
        return {"model": path, "parameters": parameters} if parameters else {"model": path}

    def task_vectors(method: str, densities: tuple[float, float], **parameters) -> dict:
        models = [model(ft1, weight=0.6, density=densities[0]),
                  model(ft2, weight=0.4, density=densities[1])]  # fmt: skip
        return {"merge_method": method, "base_model": base, "models": models,
                "parameters": parameters}  # fmt: skip

    cases = {
        "linear": {
            "merge_method": "linear",
            "models": [model(base, weight=0.5), model(ft1, weight=0.3), model(ft2, weight=0.2)],
            "parameters": {"normalize": True},
        },
        "task_arithmetic": {
            "merge_method": "task_arithmetic",
            "base_model": base,
            "models": [model(ft1, weight=0.7), model(ft2, weight=0.5)],
            "parameters": {"lambda": 0.9},
        },
        "slerp": {
            "merge_method": "slerp",
            "base_model": base,
            "models": [model(base), model(far)],  # mergekit lists the base among the two
            "parameters": {"t": 0.4},
        },
        "ties": task_vectors("ties", (0.5, 0.7), normalize=True),
        "dare_linear": task_vectors("dare_linear", (1.0, 1.0)),
        "dare_linear_d0.5": task_vectors("dare_linear", (0.5, 0.5)),
    }
    return {name: {**config, "dtype": "float32"} for name, config in cases.items()}


def make_inputs(base: Path, work: Path) -> dict[str, Path]:
    """The perturbed copies of the base, written once into `work` (kept when present)."""
    import torch
    from safetensors.torch import load_file, save_file

    weights = sorted(base.glob("*.safetensors"))
    if [w.name for w in weights] != ["model.safetensors"]:
        sys.exit(f"{base}: expected one model.safetensors, found {[w.name for w in weights]}")
    paths = {"base": base}
    tensors = None
    for name, (seed, sigma) in PERTURBATIONS.items():
        folder = paths[name] = work / name
        if (folder / "model.safetensors").is_file():
            continue
        print(f"writing {folder} (sigma {sigma} x std, seed {seed})", file=sys.stderr)
        tensors = tensors if tensors is not None else load_file(weights[0])
        generator = torch.Generator().manual_seed(seed)
        perturbed = {}
        for key in sorted(tensors):
            t = tensors[key].float()
            noise = torch.randn(t.shape, generator=generator, dtype=torch.float32)
            scale = float(t.std()) * sigma if t.numel() > 1 else 0.0
            perturbed[key] = (t + noise * scale).contiguous()
        folder.mkdir(parents=True, exist_ok=True)
        for file in base.iterdir():
            if file.is_file() and file.suffix != ".safetensors":
                shutil.copyfile(file, folder / file.name)
        save_file(perturbed, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return paths


# ---------------------------------------------------------------- contenders (in a worker)


def run_ours(config: Path, output: Path) -> dict:
    # What run_merge imports on first use, imported before the clock as mergekit's are.
    import torch  # noqa: F401
    from transformers import AutoTokenizer  # noqa: F401

    import tuneforge.merge.stream  # noqa: F401
    from tuneforge.config.loading import load_yaml_into
    from tuneforge.config.merge import MergeConfig
    from tuneforge.merge.run import run_merge

    started = time.perf_counter()
    run_merge(load_yaml_into(MergeConfig, config), output, log=lambda message: None)
    return {"seconds": time.perf_counter() - started}


def run_mergekit(config: Path, output: Path) -> dict:
    import yaml
    from mergekit.config import MergeConfiguration
    from mergekit.merge import run_merge
    from mergekit.options import MergeOptions

    started = time.perf_counter()
    text = config.read_text()
    options = MergeOptions(
        copy_tokenizer=True, lazy_unpickle=True, random_seed=SEED, quiet=True
    )  # as `mergekit-yaml CONFIG OUT --copy-tokenizer --lazy-unpickle --random-seed 0`
    options.apply_global_options()
    merge_config = MergeConfiguration.model_validate(yaml.safe_load(text))
    run_merge(merge_config, str(output), options=options, config_source=text)
    return {"seconds": time.perf_counter() - started}


def worker(args) -> None:
    run = {"ours": run_ours, "mergekit": run_mergekit}[args.worker]
    result = run(Path(args.config), Path(args.output))
    result["peak_rss_mb"] = peak_rss_mb()
    Path(args.result).write_text(json.dumps(result))


# ---------------------------------------------------------------- the comparison


def load_weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    tensors: dict = {}
    for file in sorted(folder.glob("*.safetensors")):
        tensors |= load_file(file)
    return tensors


def compare(ours: Path, theirs: Path) -> dict:
    """max |ours - theirs| over the tensors both wrote, and the names only one wrote."""
    a, b = load_weights(ours), load_weights(theirs)
    shared = sorted(set(a) & set(b))
    diff = max(float((a[k].double() - b[k].double()).abs().max()) for k in shared)
    return {
        "max_abs_diff": diff,
        "tensors": len(shared),
        "dtypes": sorted({str(a[k].dtype) for k in shared} | {str(b[k].dtype) for k in shared}),
        "only_ours": sorted(set(a) - set(b)),
        "only_mergekit": sorted(set(b) - set(a)),
    }


def threshold_ties(ours: Path, theirs: Path, config: dict) -> dict:
    """TIES keeps the k largest |d_i| of each task vector. Where several entries equal the
    k-th largest, the tools keep different ones (ours the first in row-major order, mergekit
    whichever its unstable argsort puts first), and float32 deltas of a perturbation tie
    often. Counts the entries whose merged values differ, and those of them where no model
    has a tie at its k-th largest magnitude (0: every difference comes from the tie rule)."""
    import torch

    a, b = load_weights(ours), load_weights(theirs)
    base = load_weights(Path(config["base_model"]))
    models = [
        (load_weights(Path(m["model"])), m.get("parameters", {}).get("density", 1.0))
        for m in config["models"]
    ]
    differing = not_at_a_tie = 0
    for name in sorted(set(a) & set(b)):
        differ = a[name] != b[name]
        if not differ.any():
            continue
        tied = torch.zeros_like(differ)
        for weights, density in models:
            magnitude = (weights[name] - base[name]).abs()  # float32, as both tools take it
            n, k = magnitude.numel(), max(1, int(density * magnitude.numel()))
            if 0 < density < 1 and k < n:
                tied |= magnitude == torch.kthvalue(magnitude.reshape(-1), n - k + 1).values
        differing += int(differ.sum())
        not_at_a_tie += int((differ & ~tied).sum())
    return {"differing_entries": differing, "differing_not_at_a_tie": not_at_a_tie}


def delta_statistics(ours: Path, theirs: Path, base: Path) -> dict:
    """For random drops: per tensor, mean and std of merged - base for each tool."""
    a, b, x = load_weights(ours), load_weights(theirs), load_weights(base)
    std_rel, mean_rel, changed = [], [], {"ours": 0, "mergekit": 0}
    total = 0
    for name in sorted(set(a) & set(b)):
        da, db = a[name].double() - x[name].double(), b[name].double() - x[name].double()
        changed["ours"] += int((da != 0).sum())
        changed["mergekit"] += int((db != 0).sum())
        total += da.numel()
        if da.numel() < STATISTICS_MIN_NUMEL or float(db.std()) == 0:
            continue
        std_rel.append(abs(float(da.std()) / float(db.std()) - 1))
        mean_rel.append(abs(float(da.mean()) - float(db.mean())) / float(db.std()))
    return {
        "tensors_compared": len(std_rel),
        "std_rel_diff_max": max(std_rel),
        "std_rel_diff_median": statistics.median(std_rel),
        "mean_diff_over_std_max": max(mean_rel),
        "changed_share_ours": round(changed["ours"] / total, 5),
        "changed_share_mergekit": round(changed["mergekit"] / total, 5),
    }


def run_case(name: str, config: dict, folder: Path, tools: dict[str, list[str]]) -> dict:
    """Both tools once on one config: their results and whole-process seconds."""
    import yaml

    out: dict = {}
    for tool, python in tools.items():
        case = folder / f"{name}.{tool}"
        config_file = case.with_suffix(case.suffix + ".yaml")
        body = {**config, "seed": SEED} if tool == "ours" else config
        config_file.write_text(yaml.safe_dump(body, sort_keys=False))
        shutil.rmtree(case, ignore_errors=True)
        result = case.with_suffix(case.suffix + ".json")
        command = [
            *python, __file__, "--worker", tool, "--config", str(config_file),
            "--output", str(case), "--result", str(result),
        ]  # fmt: skip
        started = time.perf_counter()
        out[tool] = run_contender(f"{name}: {tool}", command, result, case.with_suffix(".log"))
        out[tool]["wall_seconds"] = time.perf_counter() - started
    return out


def summarise(name: str, config: dict, runs: list[dict], folder: Path) -> dict:
    first = runs[0]
    failed = {tool: r["error"] for tool, r in first.items() if "error" in r}
    if failed:
        return {"error": failed}
    ours, theirs = folder / f"{name}.ours", folder / f"{name}.mergekit"
    report: dict = {}
    for tool in ("ours", "mergekit"):
        report[f"{tool}_seconds"] = round(statistics.median(r[tool]["seconds"] for r in runs), 2)
        report[f"{tool}_wall_seconds"] = round(
            statistics.median(r[tool]["wall_seconds"] for r in runs), 2
        )
        report[f"{tool}_peak_rss_mb"] = round(max(r[tool]["peak_rss_mb"] for r in runs))
    compared = compare(ours, theirs)
    report = {"max_abs_diff": compared.pop("max_abs_diff"), **report, **compared}
    exact = not name.endswith("_d0.5")
    if not exact:
        report["statistics"] = delta_statistics(ours, theirs, Path(config["base_model"]))
    elif config["merge_method"] == "ties":
        report |= threshold_ties(ours, theirs, config)
    report["met"] = {
        "max_abs_diff": report["max_abs_diff"] <= TARGETS["max_abs_diff"] if exact else None,
        "seconds": report["ours_seconds"] <= report["mergekit_seconds"],
        "peak_rss_mb": report["ours_peak_rss_mb"] <= report["mergekit_peak_rss_mb"],
    }
    return report


def print_table(report: dict) -> None:
    print("| method | max abs diff | ours s | mergekit s | ours wall s | mergekit wall s "
          "| ours MB | mergekit MB |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in report.items():
        if "error" in r:
            print(f"| {name} | failed: {r['error']} |")
            continue
        print(
            f"| {name} | {r['max_abs_diff']:.3g} | {r['ours_seconds']:.2f} | "
            f"{r['mergekit_seconds']:.2f} | {r['ours_wall_seconds']:.2f} | "
            f"{r['mergekit_wall_seconds']:.2f} | {r['ours_peak_rss_mb']} | "
            f"{r['mergekit_peak_rss_mb']} |"
        )
    for name, r in report.items():
        if "statistics" in r:
            print(f"{name} (random drops differ): {json.dumps(r['statistics'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", default=",".join(METHODS), help=f"of {', '.join(METHODS)}")
    parser.add_argument("--mergekit-python", default=MERGEKIT_PYTHON)
    parser.add_argument("--repeats", type=int, default=1, help="runs each; median seconds")
    parser.add_argument("--work", help="folder for the inputs and outputs (default: temporary)")
    parser.add_argument("--worker", choices=("ours", "mergekit"), help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    names = args.methods.split(",")
    unknown = sorted(set(names) - set(METHODS))
    if unknown:
        sys.exit(f"--methods: unknown {unknown}; choose from {', '.join(METHODS)}")
    if not Path(args.mergekit_python).is_file():
        sys.exit(
            f"{args.mergekit_python}: no such interpreter; install mergekit as the docstring says"
        )
    from tuneforge.models.registry import ensure_cached

    tools = {"ours": [sys.executable], "mergekit": [args.mergekit_python]}
    with nullcontext(args.work) if args.work else tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        paths = make_inputs(ensure_cached(MODEL, progress=lambda message: None), work)
        configs = merge_configs(paths)
        report = {}
        for name in names:
            runs = []
            for i in range(args.repeats):  # alternating, so a drift in machine speed hits both
                order = tools if i % 2 == 0 else dict(reversed(tools.items()))
                runs.append(run_case(name, configs[name], work, order))
            report[name] = summarise(name, configs[name], runs, work)
            for tool in ("ours", "mergekit"):
                shutil.rmtree(work / f"{name}.{tool}", ignore_errors=True)  # 540 MB each
    print_table(report)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
