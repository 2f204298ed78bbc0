"""`tuneforge merge CONFIG.yaml OUTPUT_DIR`."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    parser = sub.add_parser(
        "merge",
        help="merge an adapter into its base, or models and adapters of one base "
        "(linear, task_arithmetic, slerp, ties, dare_linear, dare_ties)",
    )
    parser.add_argument("config", help="YAML config, shaped like mergekit's (configs/merge/)")
    parser.add_argument("output", help="folder for the merged HF model")
    parser.set_defaults(run=run)


def run(args) -> int:
    from tuneforge.config.loading import load_yaml_into
    from tuneforge.config.merge import MergeConfig
    from tuneforge.merge.run import run_merge
    from tuneforge.run_dir import check_writable

    cfg = load_yaml_into(MergeConfig, args.config)
    output = Path(args.output)
    check_writable(output.parent, "OUTPUT_DIR")
    record = run_merge(cfg, output)
    print(f"{record['method']}: {output} (merge.json, README.md)")
    return 0
