"""`tuneforge export RUN --format hf | gguf [--quant f16 | bf16 | q8_0] --output DIR`."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    parser = sub.add_parser(
        "export",
        help="write a run, adapter or model as an HF folder or a GGUF file, checked by "
        "reading it back",
    )
    parser.add_argument(
        "source", metavar="RUN", help="a run directory, adapter or model folder, or alias"
    )
    parser.add_argument("--format", choices=("hf", "gguf"), required=True)
    parser.add_argument(
        "--quant", choices=("f16", "bf16", "q8_0"), default="f16", help="gguf: the weights' type"
    )
    parser.add_argument(
        "--dtype",
        choices=("float32", "bfloat16", "float16"),
        default="float32",
        help="hf: the weights' dtype",
    )
    parser.add_argument(
        "--lora-adapter", action="store_true",
        help="gguf: write a LoRA run as its base's GGUF plus a GGUF adapter (llama.cpp --lora, "
        "Ollama ADAPTER) instead of merging it",
    )  # fmt: skip
    parser.add_argument("--output", required=True, help="folder for the export")
    parser.set_defaults(run=run)


def run(args) -> int:
    from tuneforge.export.run import export
    from tuneforge.run_dir import check_writable

    output = Path(args.output)
    check_writable(output.parent, "--output")
    record = export(args.source, args.format, output, args.quant, args.dtype, args.lora_adapter)
    print(f"{args.format} export: {output} ({', '.join(record['files'])}); parity check passed")
    return 0
