"""Text view for inspect-ckpt: one row per checkpoint, the recommendation, optional per-tensor stats.

Tables fit the terminal (layout.fitted_table): at 80 columns the names, the bad counts and min/max
stay in columns, dtype, shape, mean, std and zeros fold onto a line below; numbers are printed
whole (65504, not 6.55e+…).
"""

from __future__ import annotations

import math
import os
from typing import Any

from nandoctor.findings import Report

STATUS_STYLE = {
    "clean": "bold green",
    "poisoned": "bold red",
    "suspect": "yellow",
    "unsafe": "bold magenta",
    "unreadable": "red",
}


def num(x: Any) -> str:
    """A number as short as it can be without losing what matters: integral values whole."""
    if x is None:
        return "-"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, float):
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        if x.is_integer() and abs(x) < 1e15:
            return str(int(x))
        return f"{x:.4g}"
    if isinstance(x, str) and x in ("nan", "inf", "-inf"):
        return x
    return str(x)


def summary_view(report: Report, console=None) -> list:
    from rich.text import Text

    from nandoctor.layout import fitted_table
    from nandoctor.render import stdout_console

    console = console or stdout_console()
    s = report.summary
    out: list = []
    rows = s.get("checkpoints", [])
    common = os.path.commonpath([c["path"] for c in rows]) if len(rows) > 1 else ""
    title = f"Checkpoints in {common or '.'} (oldest to newest)" if common else "Checkpoint"
    headers = ["checkpoint", "status", "epoch", "step", "optim", "tensors", "bad"]
    cells = []
    for c in rows:
        shown = os.path.relpath(c["path"], common) if common else c["path"]
        mark = " (resume)" if c["path"] == s.get("recommended") else ""
        status = f"{c['status']} ({c['reason']})" if c.get("reason") else c["status"]
        cells.append(
            [
                Text(shown + mark),
                Text(status, style=STATUS_STYLE.get(c["status"], "")),
                num(c["epoch"]),
                num(c["step"]),
                "yes" if c["resumable"] else "no",
                str(c["tensors"]),
                str(len(c["nonfinite_tensors"])),
            ]
        )
    if cells:
        out += fitted_table(
            console, title, headers, cells, key=[0, 1, 6], justify={2: "right", 3: "right", 5: "right", 6: "right"}
        )
    for c in rows:
        if not c.get("stats"):
            continue
        headers = ["tensor", "bad", "min", "max", "dtype", "shape", "mean", "std", "zeros"]
        cells = []
        for t in c["stats"]:
            bad = t["nan"] + t["posinf"] + t["neginf"]
            cells.append(
                [
                    Text(t["name"]),
                    Text(f"{bad:,}", style="bold red") if bad else "0",
                    num(t["min"]),
                    num(t["max"]),
                    t["dtype"].replace("float", "f"),
                    "x".join(map(str, t["shape"])) or "scalar",
                    num(t["mean"]),
                    num(t["std"]),
                    "-" if t["zero_frac"] is None else f"{t['zero_frac']:.1%}",
                ]
            )
        out += fitted_table(
            console,
            f"Tensors in {c['path']}",
            headers,
            cells,
            key=[0, 1, 2, 3],
            justify={1: "right", 2: "right", 3: "right", 6: "right", 7: "right", 8: "right"},
        )
    if s.get("other_files"):
        out.append(
            Text(
                f"{len(s['other_files'])} file(s) without weights (rng_state, scheduler, training_args) were "
                "checked for unsafe pickles, not judged as checkpoints",
                style="dim",
            )
        )
    rec = s.get("recommended")
    if rec:
        out.append(Text(f"Recommended: {rec} ({s.get('recommended_reason')})", style="bold green"))
    elif s.get("checkpoints"):
        out.append(Text("Recommended: none (no clean checkpoint)", style="bold red"))
    out.append(Text(""))
    return out
