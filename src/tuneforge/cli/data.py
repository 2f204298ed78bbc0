"""`tuneforge data validate FILE [...]` and `tuneforge data inspect FILE --model M [-n 3]`."""

from __future__ import annotations

import argparse
import json
import time

from tuneforge.log import console as plain_console
from tuneforge.train.methods.registry import METHODS


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
        "--max-length", type=_positive, default=1024, help="as data.max_length (default 1024)"
    )
    validate.add_argument(
        "--method", default="sft", choices=list(METHODS),
        help="check the records fit this training method's data (default sft)",
    )  # fmt: skip
    validate.add_argument("--json", action="store_true", help="machine-readable report on stdout")
    add_tool_format_arg(validate)
    validate.add_argument(
        "--format", default="auto",
        help="force a record format (default: auto per record; text for .txt/.md files)",
    )  # fmt: skip
    validate.set_defaults(run=run_validate)
    register_inspect(commands)
    register_prepare(commands)


def run_validate(args) -> int:
    from tuneforge.data.validate import validate_file
    from tuneforge.models import load_tokenizer

    tokenizer = load_tokenizer(args.model) if args.model else None
    kind = METHODS[args.method].data
    report = validate_file(
        args.file, tokenizer, args.max_length, kind, args.tool_format, args.format
    )
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        _print_report(report)
    return 1 if report.errors else 0


def _print_report(report) -> None:
    from rich.text import Text

    from tuneforge.data.validate import summarised

    console = plain_console()  # problems quote user data: printed as they are
    for problem in summarised(report.problems):
        style = "red" if problem.severity == "error" else "yellow"
        console.print(Text.assemble((problem.severity, style), " ", str(problem)))
    warnings = len(report.problems) - len(report.errors)
    console.print(
        f"{report.path}: {report.records} records, {report.valid} valid, "
        f"{len(report.errors)} errors, {warnings} warnings"
    )
    failed = {name: n for name, n in report.openai_checks.items() if n}
    counts = ", ".join(f"{name} {n}" for name, n in failed.items()) or "all pass"
    console.print(f"OpenAI's format checks: {counts}")
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
    inspect.add_argument("-n", type=_positive, default=3, help="examples to show (default 3)")
    inspect.add_argument("--max-length", type=_positive, default=1024, help="as data.max_length")
    add_tool_format_arg(inspect)
    inspect.set_defaults(run=run_inspect)


def add_tool_format_arg(parser) -> None:
    parser.add_argument(
        "--tool-format", choices=["template", "json"], default="template",
        help="as data.tool_format: render tools with the chat template (default), or as JSON",
    )  # fmt: skip


def run_inspect(args) -> int:
    from rich.text import Text

    from tuneforge.data.inspect import TRAINED_STYLE, render_mask
    from tuneforge.data.readers import read_examples
    from tuneforge.data.templating import tokenize_aligned
    from tuneforge.data.tools import tool_names
    from tuneforge.models import load_tokenizer

    tokenizer = load_tokenizer(args.model)
    examples = read_examples(args.file, limit=args.n)
    tokenized, stats = tokenize_aligned(
        examples, tokenizer, args.max_length, args.file, args.tool_format
    )
    console = plain_console()
    legend = " are what the loss sees; the rest is context"
    console.print(Text.assemble(("trained tokens", TRAINED_STYLE), legend))
    shown = [(record, ex) for record, ex in zip(examples, tokenized, strict=True) if ex]
    for i, (record, example) in enumerate(shown, start=1):
        console.rule(f"example {i}: {len(example.input_ids)} tokens, {example.n_trained} trained")
        if names := tool_names(record):
            console.print(f"tools: {', '.join(names)} (rendered as {args.tool_format})")
        console.print(render_mask(example, tokenizer))
    if stats.dropped_no_target:
        console.print(f"{stats.dropped_no_target} of these examples have no trained token left")
    return 0


def register_prepare(commands) -> None:
    prepare = commands.add_parser(
        "prepare",
        help="validate, clean, deduplicate and split a dataset, with a report",
        description="Writes OUT/{train,validation,test}.jsonl, report.{md,html,json} and "
        "length histograms. Flags override the --config file.",
    )
    prepare.add_argument("input", help="file (.jsonl/.json/.csv/.parquet), folder, or hub id")
    prepare.add_argument("-o", "--out", required=True, help="output folder")
    prepare.add_argument("--config", help="YAML with any PrepareConfig keys")
    prepare.add_argument("--format", help="force a record format (default: auto per record)")
    prepare.add_argument("--kind", choices=["auto", "sft", "preference", "kto"])
    prepare.add_argument("--pii", choices=["redact", "drop", "off"])
    prepare.add_argument(
        "--pii-types", metavar="TYPES",
        help="personal data to look for, comma-separated: email, phone, credit_card, iban, "
        "ip_address, ssn, url_with_credentials, street_address, person; 'all' for every "
        "type, 'default' for all but street_address and person",
    )  # fmt: skip
    prepare.add_argument(
        "--pii-regions", metavar="REGIONS",
        help="comma-separated ISO 3166 regions whose national phone formats are recognised "
        "(default: 33 regions of North America, Europe, Latin America, Africa, Asia, Oceania)",
    )  # fmt: skip
    prepare.add_argument("--dedup", choices=["exact", "minhash", "off"])
    prepare.add_argument(
        "--split", type=_fractions, help="train,validation,test fractions, e.g. 0.9,0.05,0.05"
    )
    prepare.add_argument("--seed", type=int)
    prepare.add_argument("--model", help="tokenizer for the length filter")
    prepare.add_argument(
        "--decontaminate", action="append", metavar="EVAL_FILE",
        help="drop records sharing a 13-word sequence with this file (repeatable)",
    )  # fmt: skip
    prepare.add_argument("--num-proc", type=int, help="worker processes (default: CPU cores)")
    prepare.add_argument("--overwrite", action="store_true", help="replace a non-empty OUT")
    prepare.set_defaults(run=run_prepare)


def run_prepare(args) -> int:
    from pathlib import Path

    from tuneforge.config.loading import load_yaml_into
    from tuneforge.config.prepare import PrepareConfig
    from tuneforge.data.prepare import prepare
    from tuneforge.run_dir import check_writable

    flags = {
        "format": args.format,
        "kind": args.kind,
        "pii": args.pii,
        "pii_types": args.pii_types,
        "pii_regions": args.pii_regions.split(",") if args.pii_regions else None,
        "dedup": args.dedup,
        "seed": args.seed,
        "model": args.model,
        "decontaminate": args.decontaminate,
        "num_proc": args.num_proc,
        "split": args.split,
    }
    cfg = load_yaml_into(
        PrepareConfig, args.config, updates={k: v for k, v in flags.items() if v is not None}
    )
    check_writable(Path(args.out), "--out")  # before reading a record
    started = time.perf_counter()
    with _records_progress() as advance:
        try:
            result = prepare(args.input, args.out, cfg, overwrite=args.overwrite, progress=advance)
        except OSError as exc:
            if exc.filename is None:  # e.g. a full disk found when a file is closed
                raise OSError(exc.errno, f"{exc.strerror} (writing {args.out})") from exc
            raise
    _print_summary(result, time.perf_counter() - started)
    return 0


def _positive(text: str) -> int:
    """A length in tokens or a count of examples: a whole number above 0 (`-5` would
    slice lists from the end, `0` report every record as too long)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def _fractions(text: str) -> list[float]:
    """`--split 0.9,0.05,0.05` as three numbers (argparse prints the error and exits 2)."""
    parts = text.split(",")
    try:
        fractions = [float(part) for part in parts]
    except ValueError:
        fractions = []
    if len(fractions) != 3:
        raise argparse.ArgumentTypeError(
            f"expected three fractions train,validation,test, e.g. 0.9,0.05,0.05; got {text!r}"
        )
    return fractions


def _records_progress():
    from contextlib import contextmanager

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    @contextmanager
    def progress():
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.completed:,} records"),
            TimeElapsedColumn(),
        )
        console = plain_console(stderr=True)
        # Off when stderr is not a terminal: a log gets the summary, not a stray blank line.
        shown = {"transient": True, "console": console, "disable": not console.is_terminal}
        with Progress(*columns, **shown) as bar:
            task = bar.add_task("preparing", total=None)
            yield lambda n: bar.advance(task, n)

    return progress()


def _print_summary(result, seconds: float) -> None:
    report = result.report
    console = plain_console()  # paths and step titles as they are
    console.print(
        f"{report['records_read']:,} records read, {report['records_written']:,} written "
        f"({result.kind}) to {result.out_dir} in {seconds:.1f}s "
        f"({report['records_read'] / seconds:,.0f} records/s)"
    )
    for step in report["steps"]:
        if step["removed"] or step["changed"]:
            console.print(
                f"  {step['title']:<36} removed {step['removed']:>7,}"
                f"  changed {step['changed']:>7,}"
            )
    if unknown := report["unknown_keys"]:
        keys = ", ".join(f"{key} ({n:,})" for key, n in unknown.items())
        console.print(f"  unknown keys, left out of the output: {keys}")
    splits = ", ".join(f"{name} {n:,}" for name, n in report["splits"].items())
    console.print(f"  splits: {splits}; leakage check: {next(iter(report['leakage'].values()))}")
    console.print(f"  report: {result.out_dir / 'report.html'}")
