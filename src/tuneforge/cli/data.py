"""`tuneforge data validate FILE [...]` and `tuneforge data inspect FILE --model M [-n 3]`."""

from __future__ import annotations

import json


def register(sub) -> None:
    parser = sub.add_parser("data", help="check training data before spending compute on it")
    commands = parser.add_subparsers(dest="data_command", required=True, metavar="COMMAND")
    validate = commands.add_parser(
        "validate", help="report every problem in a training file, with file, line and field"
    )
    validate.add_argument(
        "file", help="JSONL or JSON list (OpenAI chat, Alpaca, ShareGPT, Dolly, ...)"
    )
    validate.add_argument(
        "--model", help="also check lengths and the chat template with this tokenizer"
    )
    validate.add_argument(
        "--max-length", type=int, default=1024, help="as data.max_length (default 1024)"
    )
    validate.add_argument("--json", action="store_true", help="machine-readable report on stdout")
    validate.set_defaults(run=run_validate)
    register_inspect(commands)


def run_validate(args) -> int:
    from tuneforge.data.validate import validate_file
    from tuneforge.models import load_tokenizer

    tokenizer = load_tokenizer(args.model) if args.model else None
    report = validate_file(args.file, tokenizer, args.max_length)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        _print_report(report)
    return 1 if report.errors else 0


def _print_report(report) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False, soft_wrap=True)
    for problem in report.problems:
        style = "red" if problem.severity == "error" else "yellow"
        console.print(f"[{style}]{problem.severity}[/] {escape(str(problem))}")
    warnings = len(report.problems) - len(report.errors)
    console.print(
        f"{report.path}: {report.records} records, {report.valid} valid, "
        f"{len(report.errors)} errors, {warnings} warnings"
    )
    if report.tokens_per_epoch is not None:
        console.print(
            f"tokens per epoch: {report.tokens_per_epoch:,} "
            f"({report.trained_tokens_per_epoch:,} trained)"
        )
        widest = max(report.token_histogram.values())
        for bucket, count in report.token_histogram.items():
            console.print(f"  {bucket:>7} tokens {'#' * max(1, 40 * count // widest)} {count}")


def register_inspect(commands) -> None:
    inspect = commands.add_parser(
        "inspect", help="show rendered examples with the trained tokens highlighted"
    )
    inspect.add_argument("file", help="training file in any supported format")
    inspect.add_argument(
        "--model", required=True, help="tokenizer and chat template to render with"
    )
    inspect.add_argument("-n", type=int, default=3, help="examples to show (default 3)")
    inspect.add_argument("--max-length", type=int, default=1024, help="as data.max_length")
    inspect.set_defaults(run=run_inspect)


def run_inspect(args) -> int:
    from rich.console import Console

    from tuneforge.data.inspect import render_mask
    from tuneforge.data.readers import read_examples
    from tuneforge.data.templating import tokenize_examples
    from tuneforge.models import load_tokenizer

    tokenizer = load_tokenizer(args.model)
    examples = read_examples(args.file, limit=args.n)
    tokenized, stats = tokenize_examples(examples, tokenizer, args.max_length, args.file)
    console = Console(highlight=False, soft_wrap=True)
    console.print("[reverse green]trained tokens[/] are what the loss sees; the rest is context")
    for i, example in enumerate(tokenized, start=1):
        console.rule(f"example {i}: {len(example.input_ids)} tokens, {example.n_trained} trained")
        console.print(render_mask(example, tokenizer))
    if stats.dropped_no_target:
        console.print(f"{stats.dropped_no_target} of these examples have no trained token left")
    return 0
