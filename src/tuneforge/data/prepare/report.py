"""What `data prepare` did, for people (report.md, report.html, PNG histograms) and for
scripts (report.json): counts per step, why records were removed, before/after samples,
token lengths, roles and turns, and the split sizes with the leakage check."""

from __future__ import annotations

import html
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from tuneforge.config.prepare import PrepareConfig
from tuneforge.data.prepare.plots import write_plots

STEPS = {
    "parse": "Parse and convert",
    "normalise": "Normalise text",
    "pii": "Personal data",
    "quality": "Quality heuristics",
    "decontaminate": "Decontamination",
    "length": "Length filter (tokens)",
}
SHOWN_CHARS = 400


def write_reports(
    out_dir: Path, source: str, cfg: PrepareConfig, kind: str, collected, summary, split_counts
) -> dict[str, Any]:
    report = build_report(source, cfg, kind, collected, summary, split_counts)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    plots = write_plots(out_dir, collected, cfg)
    (out_dir / "report.md").write_text(_markdown(report, plots))
    (out_dir / "report.html").write_text(_html(report, plots))
    return report


def build_report(source, cfg, kind, collected, summary, split_counts) -> dict[str, Any]:
    chunks = collected.chunks
    removed: Counter[tuple[str, str]] = sum((c.removed for c in chunks), Counter())
    changed: Counter[str] = sum((c.changed for c in chunks), Counter())
    steps = []
    for step, title in STEPS.items():
        reasons = {reason: n for (s, reason), n in removed.most_common() if s == step}
        samples = [x for c in chunks for x in c.samples.get(step, [])][: cfg.samples]
        steps.append(
            {
                "step": step,
                "title": title,
                "removed": sum(reasons.values()),
                "reasons": reasons,
                "changed": changed.get(step, 0),
                "samples": [_clip(s) for s in samples],
            }
        )
    dedup = summary["removed"]
    steps.append(
        {
            "step": "dedup",
            "title": f"Deduplication ({cfg.dedup}, keep {cfg.dedup_keep})",
            "removed": dedup["exact"] + dedup["near"],
            "reasons": {"exact duplicate": dedup["exact"], "near duplicate": dedup["near"]},
            "changed": 0,
            "samples": [_clip(s) for s in summary["samples"]],
        }
    )
    read = sum(c.read for c in chunks)
    tokens_before = collected.column("tokens_before", np.int64)
    return {
        "source": str(source),
        "kind": kind,
        "records_read": read,
        "records_written": sum(split_counts.values()),
        "formats": dict(sum((c.formats for c in chunks), Counter()).most_common()),
        "unknown_keys": dict(sum((c.unknown_keys for c in chunks), Counter()).most_common()),
        "steps": steps,
        "pii_found": dict(sum((c.pii_found for c in chunks), Counter()).most_common()),
        "splits": split_counts,
        "leakage": {
            "records_sharing_text_prompt_or_minhash_band_across_splits": summary["leaking_records"],
        },
        "tokens": {
            "before_length_filter": _stats(tokens_before),
            "written": _stats(summary["kept_tokens"]),
        },
        "roles": dict(sum((c.roles for c in chunks), Counter()).most_common()),
        "messages_per_record": {
            str(k): v for k, v in sorted(sum((c.turns for c in chunks), Counter()).items())
        },
        "config": cfg.model_dump(mode="json"),
    }


def _stats(values: np.ndarray) -> dict[str, float]:
    if not len(values):
        return {"records": 0}
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {
        "records": int(len(values)),
        "total": int(values.sum()),
        "mean": round(float(values.mean()), 1),
        "p50": float(p50),
        "p90": float(p90),
        "p99": float(p99),
        "max": int(values.max()),
    }


def _clip(sample: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if not isinstance(v, str) or len(v) <= SHOWN_CHARS else v[:SHOWN_CHARS] + " ..."
        for k, v in sample.items()
    }


def _markdown(report: dict[str, Any], plots: list[str]) -> str:
    out = [
        f"# Data preparation report: {report['source']}",
        "",
        f"{report['records_read']:,} records read ({_formats(report)}), "
        f"{report['records_written']:,} written as **{report['kind']}** examples.",
        "",
        *_unknown_keys(report),
        "| step | removed | changed | reasons |",
        "|---|---:|---:|---|",
    ]
    for step in report["steps"]:
        reasons = "; ".join(f"{r}: {n:,}" for r, n in step["reasons"].items() if n)
        out.append(f"| {step['title']} | {step['removed']:,} | {step['changed']:,} | {reasons} |")
    out += ["", "| split | records |", "|---|---:|"]
    out += [f"| {name} | {n:,} |" for name, n in report["splits"].items()]
    leaking = next(iter(report["leakage"].values()))
    out += ["", f"Leakage check: {leaking} records share a text, prompt or MinHash band "
            "with a record in another split.", ""]  # fmt: skip
    if report["config"]["pii"] != "off":
        found = ", ".join(f"{k}: {v:,}" for k, v in report["pii_found"].items()) or "none"
        looked_for = ", ".join(report["config"]["pii_types"])
        out += [f"Personal data found ({looked_for} looked for): {found}.", ""]
    out += [
        f"Roles: {', '.join(f'{k} {v:,}' for k, v in report['roles'].items())}. "
        f"Messages per record: {report['messages_per_record']}.",
        "",
    ]
    for name, stats in report["tokens"].items():
        out.append(f"Tokens {name.replace('_', ' ')}: {stats}")
    out += ["", *[f"![{p}]({p})" for p in plots], ""]
    for step in report["steps"]:
        if step["samples"]:
            out += [f"## {step['title']}: examples", ""]
            for sample in step["samples"]:
                out += [f"- **{k}**: `{_one_line(v)}`" for k, v in sample.items()] + [""]
    return "\n".join(out)


def _html(report: dict[str, Any], plots: list[str]) -> str:
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(s['title'])}</td><td>{s['removed']:,}</td><td>{s['changed']:,}</td>"
        f"<td>{esc('; '.join(f'{r}: {n:,}' for r, n in s['reasons'].items() if n))}</td></tr>"
        for s in report["steps"]
    )
    splits = "".join(f"<tr><td>{k}</td><td>{v:,}</td></tr>" for k, v in report["splits"].items())
    samples = ""
    for step in report["steps"]:
        for sample in step["samples"]:
            cells = "".join(
                f"<dt>{esc(k)}</dt><dd><pre>{esc(str(v))}</pre></dd>" for k, v in sample.items()
            )
            samples += f"<h3>{esc(step['title'])}</h3><dl>{cells}</dl>"
    images = "".join(f'<img src="{p}" alt="{p}">' for p in plots)
    leaking = next(iter(report["leakage"].values()))
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>Data preparation: {esc(report["source"])}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3rem .6rem}}
pre{{white-space:pre-wrap;background:#f6f6f6;padding:.4rem}}img{{max-width:100%}}</style>
</head><body><h1>Data preparation report</h1>
<p>{esc(report["source"])}: {report["records_read"]:,} records read ({esc(_formats(report))}),
{report["records_written"]:,} written as <b>{esc(report["kind"])}</b> examples.</p>
<table><tr><th>step</th><th>removed</th><th>changed</th><th>reasons</th></tr>{rows}</table>
<h2>Splits</h2><table>{splits}</table>
<p>Leakage check: {leaking} records share a text, prompt or MinHash band across splits.</p>
<p>Personal data found: {esc(json.dumps(report["pii_found"]))}</p>
<p>Roles: {esc(json.dumps(report["roles"]))}; messages per record:
{esc(json.dumps(report["messages_per_record"]))}</p>
<p>Tokens: {esc(json.dumps(report["tokens"]))}</p>
{images}<h2>Examples</h2>{samples}</body></html>
"""


def _unknown_keys(report: dict[str, Any]) -> list[str]:
    """The keys `data validate` calls unknown (OpenAI's upload refuses them), which the
    output leaves out: said once, with how many records had each."""
    if not report["unknown_keys"]:
        return []
    keys = ", ".join(f"`{key}` ({n:,} records)" for key, n in report["unknown_keys"].items())
    return [f"Unknown keys, left out of the output: {keys}.", ""]


def _formats(report: dict[str, Any]) -> str:
    return ", ".join(f"{name} {n:,}" for name, n in report["formats"].items()) or "none valid"


def _one_line(value: Any) -> str:
    return str(value).replace("\n", "\\n").replace("`", "'")
