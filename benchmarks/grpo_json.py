"""GRPO on the real model: does rewarding valid JSON raise the valid-JSON rate?

    .venv/bin/python benchmarks/grpo_json.py [--steps 30] [--sft-steps 2] [--workdir DIR]
        [key=value ...]

Prompts are the quickstart's order messages (system instruction + user message; the
expected JSON is kept as a `reference` column but not used by this reward). A reply is
valid when all of it parses as JSON (tuneforge.rewards:json_valid), as `json.loads(reply)`
in a user's code needs.

RL starts from a model that sometimes gets it right, as in InstructGPT: the base
SmolLM2-135M-Instruct writes the right JSON object but then keeps going ("JSON: {...}"
again), so none of its replies is valid and every GRPO group scores 0 (no advantage, no
gradient). `--sft-steps` of full fine-tuning on 8 quickstart examples per step (other
records than the prompts) first make a starting point whose replies are sometimes valid;
0 skips it. The starting model and the GRPO-tuned adapter each answer 50 held-out
prompts greedily; the valid-JSON rate and the quickstart's field accuracy are reported.
GRPO runs `tuneforge train configs/grpo-lora.yaml` with extra overrides from the command
line. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from tuneforge.quickstart.task import field_accuracy, make_examples
from tuneforge.rewards import json_valid

ROOT = Path(__file__).resolve().parents[1]
TUNEFORGE = str(Path(sys.executable).with_name("tuneforge"))


def prompts(records: list[dict]) -> list[dict]:
    return [
        {"prompt": r["messages"][:2], "reference": r["messages"][2]["content"]} for r in records
    ]


def score(model_path: Path | None, run: Path | None, held_out: list[dict]) -> dict[str, float]:
    from tuneforge.models.inference import generate_replies, load_for_inference

    model, tokenizer = load_for_inference(model_path and str(model_path), run)
    replies = generate_replies(model, tokenizer, [p["prompt"] for p in held_out], max_new_tokens=64)
    valid = json_valid([], replies)
    accuracy = [field_accuracy(r, p["reference"]) for r, p in zip(replies, held_out, strict=True)]
    return {
        "valid_json_rate": sum(valid) / len(valid),
        "field_accuracy": sum(accuracy) / len(accuracy),
        "example_reply": replies[0],
    }


def warm_start(work: Path, steps: int) -> Path:
    """A full fine-tune of `steps` steps on quickstart examples; returns the model folder."""
    data = work / "sft.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in make_examples(8 * steps, seed=11)))
    run = work / "sft"
    command = [
        TUNEFORGE, "train", str(ROOT / "configs" / "sft-full.yaml"), f"data.train={data}",
        f"output.dir={run}", "output.overwrite=true", f"train.max_steps={steps}",
        "train.lr=2e-5", "train.warmup_ratio=0", "data.validation_split=0",
        "train.eval_every=null", "train.save_every=null",
    ]  # fmt: skip
    subprocess.run(command, check=True, stdout=sys.stderr)
    return run / "model"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--sft-steps", type=int, default=2, help="0: GRPO from the base model")
    parser.add_argument("--workdir")
    parser.add_argument("overrides", nargs="*", help="extra key=value for tuneforge train")
    args = parser.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="tuneforge-grpo-json-"))
    work.mkdir(parents=True, exist_ok=True)
    records = prompts(make_examples(250, seed=7))
    train, held_out = records[:200], records[200:]
    data = work / "prompts.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in train))
    start = warm_start(work, args.sft_steps) if args.sft_steps else None
    before = score(start, None, held_out)
    print(f"start: {before}", file=sys.stderr)
    run = work / "run"
    command = [
        TUNEFORGE, "train", str(ROOT / "configs" / "grpo-lora.yaml"), f"data.train={data}",
        f"output.dir={run}", *([f"model.name_or_path={start}"] if start else []),
        "output.overwrite=true", f"train.max_steps={args.steps}", "data.validation_split=0",
        "train.eval_every=null", "train.save_every=null", "train.log_every=1",
        *args.overrides,
    ]  # fmt: skip
    subprocess.run(command, check=True, stdout=sys.stderr)
    after = score(start, run, held_out)
    print(f"after GRPO: {after}", file=sys.stderr)
    summary = json.loads((run / "summary.json").read_text())
    result = {"sft_steps": args.sft_steps, "before": before, "after": after}
    print(json.dumps({**result, "steps": summary["steps"], "seconds": summary["train_seconds"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
