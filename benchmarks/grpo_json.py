"""GRPO on the real model: does rewarding valid JSON raise the valid-JSON rate?

    .venv/bin/python benchmarks/grpo_json.py [--steps 30] [--workdir DIR] [key=value ...]

Prompts are the quickstart's order messages (system instruction + user message; the
expected JSON is kept as a `reference` column but not used by this reward). The base
SmolLM2-135M-Instruct and the GRPO-tuned adapter each answer 50 held-out prompts
greedily; the valid-JSON rate (tuneforge.rewards:json_valid) and the quickstart's
field accuracy are reported. Training runs `tuneforge train configs/grpo-lora.yaml`
with extra overrides from the command line. The last line is one JSON object.
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


def prompts(records: list[dict]) -> list[dict]:
    return [
        {"prompt": r["messages"][:2], "reference": r["messages"][2]["content"]} for r in records
    ]


def score(run: Path | None, held_out: list[dict]) -> dict[str, float]:
    from tuneforge.models.inference import generate_replies, load_for_inference

    model, tokenizer = load_for_inference(None, run)
    replies = generate_replies(model, tokenizer, [p["prompt"] for p in held_out], max_new_tokens=64)
    valid = json_valid([], replies)
    accuracy = [field_accuracy(r, p["reference"]) for r, p in zip(replies, held_out, strict=True)]
    return {
        "valid_json_rate": sum(valid) / len(valid),
        "field_accuracy": sum(accuracy) / len(accuracy),
        "example_reply": replies[0],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--workdir")
    parser.add_argument("overrides", nargs="*", help="extra key=value for tuneforge train")
    args = parser.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="tuneforge-grpo-json-"))
    work.mkdir(parents=True, exist_ok=True)
    records = prompts(make_examples(250, seed=7))
    train, held_out = records[:200], records[200:]
    data = work / "prompts.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in train))
    before = score(None, held_out)
    print(f"base: {before}", file=sys.stderr)
    run = work / "run"
    command = [
        str(Path(sys.executable).with_name("tuneforge")), "train",
        str(ROOT / "configs" / "grpo-lora.yaml"), f"data.train={data}", f"output.dir={run}",
        "output.overwrite=true", f"train.max_steps={args.steps}", "data.validation_split=0",
        "train.eval_every=null", "train.save_every=null", "train.log_every=1",
        *args.overrides,
    ]  # fmt: skip
    subprocess.run(command, check=True, stdout=sys.stderr)
    after = score(run, held_out)
    print(f"after GRPO: {after}", file=sys.stderr)
    summary = json.loads((run / "summary.json").read_text())
    print(json.dumps({"before": before, "after": after, "steps": summary["steps"],
                      "train_seconds": summary["train_seconds"]}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
