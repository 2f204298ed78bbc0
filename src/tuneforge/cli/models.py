"""`tuneforge models`: the known model aliases."""

from __future__ import annotations


def register(sub) -> None:
    parser = sub.add_parser("models", help="list known model aliases")
    parser.set_defaults(run=run)


def run(args) -> int:
    from rich.table import Table

    from tuneforge.log import console
    from tuneforge.models.registry import ALIASES, DEFAULT_MODEL, cache_dir

    table = Table(title="model aliases (any local HF folder or hub id works too)")
    table.add_column("alias")
    table.add_column("description")
    table.add_column("cached")
    for alias in ALIASES.values():
        name = alias.name + (" (default)" if alias.name == DEFAULT_MODEL else "")
        cached = (cache_dir() / "models" / alias.name / "config.json").is_file()
        table.add_row(name, alias.description, "yes" if cached else "no")
    console().print(table)
    return 0
