"""Text view of a triage report, read like an emergency guide: what happened, the evidence by
engine, which checkpoint to trust. The detailed findings and numbered next steps follow (render.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nandoctor.findings import Report, Severity

ENGINE_OF = {"1": "check-data", "2": "inspect-ckpt", "3": "analyze-log", "4": "diagnose-config", "5": "triage"}
FRAMEWORK = {
    "ultralytics": "Ultralytics",
    "hf": "Hugging Face Trainer",
    "lightning": "Lightning",
    "generic": "generic PyTorch",
}
VERDICT_STYLE = {
    "recommended": "bold green",
    "trusted": "green",
    "after-nonfinite": "bold red",
    "after-divergence": "bold red",
    "not-a-model": "dim",
    "poisoned": "bold red",
    "unsafe": "bold red",
    "unreadable": "red",
}


def _index(value: Any) -> Any:
    return value.get("index") if isinstance(value, dict) else value


def what_happened(s: dict[str, Any]) -> list[str]:
    axis = s.get("index_name") or "epoch"
    framework = str(s.get("framework"))
    lines = [f"Run {s.get('run_dir')} ({FRAMEWORK.get(framework, framework)})."]
    nan_at, healthy = _index(s.get("first_nonfinite")), _index(s.get("last_healthy"))
    log = (s.get("discovered") or {}).get("log")
    if nan_at is not None:
        line = f"The loss went non-finite at {axis} {nan_at}"
        line += f" (last healthy {axis}: {healthy})" if healthy is not None else ""
        line += f"; pattern: {s['pattern']}." if s.get("pattern") else "."
        lines.append(line)
    elif log and s.get("nonfinite_columns"):  # analyze-log's verdict: the loss held, other columns did not
        lines.append(
            f"The training loss stays finite, but {', '.join(s['nonfinite_columns'])} went non-finite "
            f"(pattern: {s.get('pattern')}; analyze-log's findings say when)."
        )
    elif log and s.get("pattern"):
        lines.append(f"The log shows no non-finite value (pattern: {s['pattern']}).")
    elif not log:
        lines.append("No training log was found, so the NaN could not be dated.")
    else:
        lines.append(f"The log {Path(log).name} could not be analysed, so the NaN could not be dated.")
    distrusted = s.get("distrusted") or []
    if distrusted:
        lines.append(f"Do not resume from: {', '.join(Path(p).name for p in distrusted)}.")
    if s.get("recommended"):
        lines.append(f"Resume from: {s['recommended']}.")
    elif s.get("restart_weights"):
        lines.append(f"No resumable clean checkpoint; clean weights to restart from: {s['restart_weights']}.")
    elif s.get("checkpoints"):
        lines.append("No clean checkpoint from before the breakage: restart with the repaired config.")
    if s.get("fixed_config"):
        how = "kept (it already existed)" if s.get("fixed_config_status") == "kept" else "written"
        lines.append(f"Repaired config: {s['fixed_config']} ({how}).")
    return lines


def summary_view(report: Report, console=None) -> list:
    """Headings and plain lines (no boxes): a path in a panel could be neither copied whole nor
    pasted without the border characters."""
    from rich.text import Text

    from nandoctor.layout import fitted_table, wrap
    from nandoctor.render import stdout_console, wrap_width

    console = console or stdout_console()
    width = wrap_width(console)
    s = report.summary
    paths = [
        str(x) for x in (s.get("run_dir"), s.get("recommended"), s.get("restart_weights"), s.get("fixed_config")) if x
    ]
    out: list = [Text("What happened", style="bold underline")]
    for line in what_happened(s):
        out += [Text(x) for x in wrap(line, width, "  ", "    ", paths)]
    out.append(Text(""))

    if s.get("checkpoints"):
        axis = s.get("checkpoint_axis") or s.get("index_name") or "epoch"
        rows = []
        for c in s["checkpoints"]:
            verdict = c.get("verdict", "")
            rows.append(
                [
                    Text(Path(c["path"]).name),
                    c["status"],
                    str(c.get("epoch", "")),
                    "" if c.get("log_index") is None else str(c["log_index"]),
                    Text(verdict, style=VERDICT_STYLE.get(verdict, "yellow")),
                ]
            )
        out += fitted_table(
            console,
            "Checkpoints on the log's timeline",
            ["checkpoint", "status", "stored epoch", f"holds {axis}", "verdict"],
            rows,
            key=[0, 4, 3],
        )
        if s.get("framework") == "ultralytics" and s.get("first_nonfinite"):
            out.append(Text("  epochN.pt counts epochs from 0: it holds results.csv epoch N+1", style="dim"))
        out.append(Text(""))

    by_engine: dict[str, list] = {}
    for f in report.findings:
        by_engine.setdefault(ENGINE_OF.get(f.code[2:3], "other"), []).append(f)
    out.append(Text("Evidence by engine", style="bold underline"))
    for engine in ["analyze-log", "inspect-ckpt", "diagnose-config", "check-data", "triage"]:
        runs = (s.get("engines") or {}).get(engine, [])
        found = sorted(by_engine.get(engine, []), key=lambda f: -f.severity.rank)
        if not runs and not found:
            continue
        on = ", ".join(Path(r["path"]).name + ("" if r["status"] == "ran" else f" ({r['status']})") for r in runs)
        count = {sev: sum(f.severity is sev for f in found) for sev in Severity}
        head = Text("  ")
        head.append(engine, style="bold")
        head.append(
            (f" on {on}" if on else "") + f": {count[Severity.ERROR]} error(s), "
            f"{count[Severity.WARNING]} warning(s), {count[Severity.INFO]} info"
        )
        out.append(head)
        codes: dict[tuple, int] = {}
        for f in found:
            key = (f.severity, f.code, f.title)
            codes[key] = codes.get(key, 0) + 1
        for (sev, code, title), n in list(codes.items())[:4]:
            row = Text("    ")
            row.append(code, style={"error": "red", "warning": "yellow"}.get(sev.value, "cyan"))
            row.append(f" {title}" + (f" (x{n})" if n > 1 else ""))
            out.append(row)
        if len(codes) > 4:
            out.append(Text(f"    ... and {len(codes) - 4} more kinds, listed below"))
    out.append(Text(""))
    return out
