"""Text view for inspect-ckpt: one row per checkpoint, the recommendation, optional per-tensor stats."""

from __future__ import annotations

import os
from typing import Any

from nandoctor.findings import Report

STATUS_STYLE = {"clean": "bold green", "poisoned": "bold red", "suspect": "yellow", "unsafe": "bold magenta",
                "unreadable": "red"}


def _num(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.3g}"
    return str(x)


def summary_view(report: Report) -> list:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    s = report.summary
    out: list = []
    rows = s.get("checkpoints", [])
    common = os.path.commonpath([c["path"] for c in rows]) if len(rows) > 1 else ""
    table = Table(title=f"Checkpoints in {common or '.'} (oldest to newest)" if common else "Checkpoint",
                  title_justify="left", box=box.SIMPLE)
    table.add_column("checkpoint", overflow="fold", min_width=20)
    for col in ("status", "epoch", "step", "optim", "tensors", "bad"):
        table.add_column(col, justify="right" if col in ("epoch", "step", "tensors", "bad") else "left")
    for c in rows:
        shown = os.path.relpath(c["path"], common) if common else c["path"]
        mark = " (resume)" if c["path"] == s.get("recommended") else ""
        status = f"{c['status']} ({c['reason']})" if c.get("reason") else c["status"]
        table.add_row(shown + mark, Text(status, style=STATUS_STYLE.get(c["status"], "")), _num(c["epoch"]),
                      _num(c["step"]), "yes" if c["resumable"] else "no",
                      str(c["tensors"]), str(len(c["nonfinite_tensors"])))
    out.append(table)
    for c in s.get("checkpoints", []):
        if not c.get("stats"):
            continue
        st = Table(title=f"Tensors in {c['path']}", title_justify="left", box=box.SIMPLE)
        st.add_column("tensor", overflow="fold", min_width=24)
        for col in ("dtype", "shape", "min", "max", "mean", "std", "zeros", "bad"):
            st.add_column(col, justify="left" if col in ("dtype", "shape") else "right")
        for t in c["stats"]:
            bad = t["nan"] + t["posinf"] + t["neginf"]
            st.add_row(t["name"], t["dtype"].replace("float", "f"), "x".join(map(str, t["shape"])) or "scalar", _num(t["min"]),
                       _num(t["max"]), _num(t["mean"]), _num(t["std"]),
                       "-" if t["zero_frac"] is None else f"{t['zero_frac']:.1%}",
                       Text(str(bad), style="bold red") if bad else "0")
        out.append(st)
    if s.get("other_files"):
        out.append(Text(f"{len(s['other_files'])} file(s) without weights (rng_state, scheduler, training_args) were "
                        "checked for unsafe pickles, not judged as checkpoints", style="dim"))
    rec = s.get("recommended")
    if rec:
        out.append(Text(f"Recommended: {rec} ({s.get('recommended_reason')})", style="bold green"))
    elif s.get("checkpoints"):
        out.append(Text("Recommended: none (no clean checkpoint)", style="bold red"))
    out.append(Text(""))
    return out
