"""A plan for people: plan.md, and the same sections as rich tables in the terminal."""

from __future__ import annotations

from typing import Any

GIB = 1024**3


def gib(n: float | None) -> str:
    return "n/a" if n is None else f"{n / GIB:.2f} GiB"


def duration(hours: float | None) -> str:
    if hours is None:
        return "unknown"
    if hours >= 1:
        return f"{hours:.1f} h"
    return f"{hours * 60:.1f} min" if hours * 60 >= 1 else f"{hours * 3600:.0f} s"


def plan_markdown(plan: dict[str, Any]) -> str:
    decision, memory, time, cost = plan["decision"], plan["memory"], plan["time"], plan["cost"]
    lines = ["# Plan", "", f"## Decision: **{decision['verdict']}**", "", decision["rule"], ""]
    if decision.get("scores"):
        lines += ["| strategy | score | 95% interval | n |", "|---|---|---|---|"]
        for name, s in decision["scores"].items():
            lines.append(
                f"| {name} | {s['value']:.3f} | [{s['low']:.3f}, {s['high']:.3f}] | {s['n']} |"
            )
        lines.append("")
    if plan.get("data"):
        data = plan["data"]
        lines += [f"## Data: {data['kind']}", "", data["kind_rule"], ""]
    if plan.get("checklist"):
        lines += ["## Checklist", "", "| check | status | reason |", "|---|---|---|"]
        lines += [f"| {c['check']} | {c['status']} | {c['reason']} |" for c in plan["checklist"]]
        lines.append("")
    lines += ["## Memory", "", f"Peak: **{gib(memory['peak_bytes'])}** on {memory['device']}", ""]
    lines += ["| part | size |", "|---|---|"]
    lines += [f"| {name} | {gib(size)} |" for name, size in memory["parts"].items()]
    lines += ["", "## Time and cost", ""]
    lines.append(
        f"{time['tokens_per_epoch']:,} tokens per epoch x {time['epochs']} epochs; {time['source']}"
    )
    if time.get("hours") is not None:
        lines.append(f"\n{duration(time['hours'])} at {time['tokens_per_second']:,.0f} tokens/s")
    if cost.get("cost") is not None:
        lines.append(f"\n${cost['cost']:.2f} at ${cost['price_per_hour']:.2f}/h")
    return "\n".join(lines) + "\n"


def print_plan(plan: dict[str, Any], console=None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console(emoji=False)
    decision = plan["decision"]
    console.rule(f"decision: {decision['verdict']}")
    console.print(escape(decision["rule"]))
    if decision.get("scores"):
        table = Table("strategy", "score", "95% interval", "n")
        for name, s in decision["scores"].items():
            table.add_row(
                name, f"{s['value']:.3f}", f"[{s['low']:.3f}, {s['high']:.3f}]", str(s["n"])
            )
        console.print(table)
    if plan.get("checklist"):
        table = Table("check", "status", "reason", title="checklist")
        for c in plan["checklist"]:
            table.add_row(c["check"], c["status"], escape(c["reason"]))
        console.print(table)
    memory = plan["memory"]
    table = Table(
        "part", "size", title=f"memory: peak {gib(memory['peak_bytes'])} ({memory['device']})"
    )
    for name, size in memory["parts"].items():
        table.add_row(name, gib(size))
    console.print(table)
    time, cost = plan["time"], plan["cost"]
    hours = duration(time.get("hours"))
    money = "" if cost.get("cost") is None else f", ${cost['cost']:.4g}"
    console.print(f"time: {hours}{money} ({escape(time['source'])})")
