"""Report -> one of four outputs; the exit code comes from the Report.

- `text`: the terminal view (Rich). Commands, paths and diff lines are never wrapped (layout.py);
  piped output is not wrapped at all unless COLUMNS says so.
- `concise`: one finding per line, `path:line: CODE severity message`, like ruff's, for grep.
- `json`: only the envelope on stdout.
- `github`: workflow commands (`::error file=...,line=...::message`) that GitHub Actions shows as
  annotations.

Every string from the user's files is made inert first (inert.py), in every format, and Rich
markup is never interpreted (`markup=False`), so a name can neither style, link nor escape.
Colour: `auto` follows Rich (NO_COLOR, FORCE_COLOR, a terminal on stdout), or `always` / `never`.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import sys
from dataclasses import dataclass
from typing import Any

from nandoctor import __version__
from nandoctor.findings import Finding, Report, Severity

STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
FORMATS = ("text", "concise", "json", "github")
MAX_LINE = 4096  # a diff line longer than this (a 20 MB config value) is shown cut, saying so

# Commands whose engine adds its own summary view: `<module>.summary_view(report[, console])`
# returns a list of Rich renderables shown before the findings (tables, sparklines).
SUMMARY_VIEWS = {
    "check-data": "nandoctor.data.view",
    "inspect-ckpt": "nandoctor.ckpt.view",
    "analyze-log": "nandoctor.logs.view",
    "diagnose-config": "nandoctor.config.view",
    "triage": "nandoctor.triage.view",
}


@dataclass
class Output:
    """How to print: set once from the command line (cli.py), read by every renderer."""

    fmt: str = "text"
    color: str = "auto"  # auto | always | never
    statistics: bool = False  # counts per code instead of the list
    quiet: bool = False  # the findings only


OUTPUT = Output()


def configure(**kw: Any) -> Output:
    for k, v in kw.items():
        if v is not None:
            setattr(OUTPUT, k, getattr(v, "value", v))
    return OUTPUT


def _jsonable(value: Any) -> Any:
    """Make a summary JSON-safe: NaN/Inf become the strings users grep for, numpy becomes Python."""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        try:
            return _jsonable(value.item())
        except (TypeError, ValueError):
            pass
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def envelope(command: str, findings: list, summary: Any) -> str:
    from nandoctor.inert import sanitize

    env = {"tool": "nandoctor", "version": __version__, "command": command, "findings": findings, "summary": summary}
    return json.dumps(sanitize(_jsonable(env)), indent=2, allow_nan=False)


def to_json(report: Report) -> str:
    from nandoctor.inert import sanitize_report

    report = sanitize_report(report)
    return envelope(report.command, [f.to_dict() for f in report.findings], report.summary)


def _width(stream) -> int | None:
    """None: Rich asks the terminal. Piped: COLUMNS if set, else effectively unlimited."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    if tty:
        return None
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else 100_000


def _console(stderr: bool = False, width: int | None = None):
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            """Rich would exit 1 here; a closed stdout is not an error, so the CLI decides (cli.run)."""
            self.quiet = True
            raise BrokenPipeError

    stream = sys.stderr if stderr else sys.stdout
    kw: dict[str, Any] = {"highlight": False, "markup": False, "emoji": False, "stderr": stderr}
    if OUTPUT.color == "always":
        kw["force_terminal"] = True
    elif OUTPUT.color == "never":
        kw["color_system"] = None
    kw["width"] = width if width is not None else _width(stream)
    return _Console(**kw)


def stdout_console(width: int | None = None):
    return _console(width=width)


def stderr_console():
    return _console(stderr=True)


def wrap_width(console) -> int | None:
    """The width prose wraps at, or None (piped, unlimited)."""
    return None if console.width >= 100_000 else console.width


# --- totals ----------------------------------------------------------------------------------


def true_counts(report: Report) -> tuple[dict[str, int], dict[str, int]]:
    """(count per severity, count per code), including findings an engine counted but did not
    list (`summary["findings_not_listed"]`, {code: n}): the real totals, not the list's length."""
    by_sev = report.counts()
    by_code: dict[str, int] = {}
    sev_of: dict[str, str] = {}
    for f in report.findings:
        by_code[f.code] = by_code.get(f.code, 0) + 1
        sev_of.setdefault(f.code, f.severity.value)
    hidden = report.summary.get("findings_not_listed") if isinstance(report.summary, dict) else None
    for code, n in (hidden or {}).items():
        if isinstance(n, int) and code in sev_of:
            by_code[code] += n
            by_sev[sev_of[code]] += n
    return by_sev, by_code


def summary_line(report: Report) -> str:
    by_sev, _ = true_counts(report)
    listed = report.counts()
    if not report.findings:
        return "no findings"

    def part(sev: str, word: str) -> str:
        n = by_sev[sev]
        text = f"{n:,} {word}{'' if n == 1 or word == 'info' else 's'}"
        if listed[sev] < n:
            text += f", first {listed[sev]:,} listed"
        return text

    return (
        "; ".join(part(s, w) for s, w in (("error", "error"), ("warning", "warning"), ("info", "info")))
        if any(listed[s] < by_sev[s] for s in by_sev)
        else ", ".join(part(s, w) for s, w in (("error", "error"), ("warning", "warning"), ("info", "info")))
    )


def statistics_rows(report: Report) -> list[tuple[int, str, str, str]]:
    _, by_code = true_counts(report)
    first: dict[str, Finding] = {}
    for f in report.findings:
        first.setdefault(f.code, f)
    rows = [(n, code, first[code].severity.value, first[code].title) for code, n in by_code.items()]
    return sorted(rows, key=lambda r: (-r[0], r[1]))


# --- formats ---------------------------------------------------------------------------------


def _ordered(report: Report) -> list:
    return sorted(report.findings, key=lambda f: (-f.severity.rank, f.path or "", f.line or 0))


def concise_line(f) -> str:
    loc = f.path or "-"
    if f.line is not None:
        loc += f":{f.line}"
    where = f" [{f.where}]" if f.where and f.where not in f.message else ""
    return f"{loc}: {f.code} {f.severity.value} {f.message}{where}"


def _gh_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(s: str) -> str:
    return _gh_data(s).replace(":", "%3A").replace(",", "%2C")


def github_line(f) -> str:
    level = {"error": "error", "warning": "warning", "info": "notice"}[f.severity.value]
    props = []
    if f.path:
        props.append(f"file={_gh_prop(f.path)}")
    if f.line is not None:
        props.append(f"line={f.line}")
    props.append(f"title={_gh_prop(f'{f.code} {f.title}')}")
    where = f" [{f.where}]" if f.where and f.where not in f.message else ""
    return f"::{level} {','.join(props)}::{_gh_data(f.message + where)}"


def render_lines(report: Report, fmt: str) -> None:
    """concise / github: plain lines, no Rich."""
    out = sys.stdout
    if OUTPUT.statistics and fmt == "concise":
        for n, code, sev, title in statistics_rows(report):
            out.write(f"{n:>7,}  {code}  {sev:<7}  {title}\n")
    else:
        line = concise_line if fmt == "concise" else github_line
        for f in sorted(report.findings, key=lambda f: (f.path or "", f.line or 0, f.code)):  # as ruff: by file
            out.write(line(f) + "\n")
    if not OUTPUT.quiet and fmt == "concise":
        out.write(f"nandoctor {report.command}: {summary_line(report)}\n")


def render_text(report: Report, console=None) -> None:
    from rich.text import Text

    console = console or stdout_console()
    width = wrap_width(console)

    def say(line, style: str = "") -> None:
        console.print(line if isinstance(line, Text) else Text(line, style=style), soft_wrap=True)

    module = SUMMARY_VIEWS.get(report.command)
    if module and not OUTPUT.quiet:
        view = importlib.import_module(module)
        for part in report.parts or [report]:  # one view per input
            for renderable in view.summary_view(part, console):
                if isinstance(renderable, (str, Text)):
                    say(renderable)
                else:
                    console.print(renderable)

    if OUTPUT.statistics:
        for n, code, sev, title in statistics_rows(report):
            line = Text(f"{n:>7,}  ")
            line.append(code, style="bold")
            line.append(f"  {sev:<7}  ", style=STYLE[Severity(sev)])
            line.append(title)
            say(line)
        if report.findings:
            say("")
    else:
        _findings_text(report, say, width)

    if OUTPUT.quiet:
        return
    worst = report.worst()
    say(f"nandoctor {report.command}: {summary_line(report)}", STYLE[worst] if worst else "bold green")
    if report.next_steps:
        say("")
        say("Next steps:", "bold")
        atoms = _paths(report)
        for i, step in enumerate(report.next_steps, 1):
            next_step(say, width, f"  {i}. ", step, atoms)


def _paths(report: Report) -> set[str]:
    """Paths the report names (findings, summary values): prose never breaks inside one."""
    out = {f.path for f in report.findings if f.path}
    if isinstance(report.summary, dict):
        out |= {v for v in report.summary.values() if isinstance(v, str) and os.sep in v and len(v) < 4096}
    return out


def next_step(say, width: int | None, lead: str, step: str, atoms=()) -> None:
    """Prose wrapped under `lead` with a hanging indent; each command on a line of its own, whole."""
    from nandoctor.layout import split_step, wrap

    hang = " " * len(lead)
    first = True
    for kind, text in split_step(step):
        if kind == "prose":
            for line in wrap(text, width, lead if first else hang, hang, atoms):
                say(line)
        elif kind == "label":
            say(hang + text)
        else:
            say(hang + "  " + text, "bold")
        first = False


def _findings_text(report: Report, say, width: int | None) -> None:
    from rich.text import Text

    from nandoctor.layout import wrap

    groups: dict[str, list] = {}
    for f in _ordered(report):
        groups.setdefault(f.path or "(no file)", []).append(f)
    for path in sorted(groups, key=lambda p: -max(f.severity.rank for f in groups[p])):
        say(Text(path, style="bold underline"))
        for f in groups[path]:
            loc = []
            if f.line is not None:
                loc.append(f"line {f.line}")
            if f.where:
                loc.append(str(f.where))
            head = Text("  ")
            head.append(f"{f.severity.value.upper():<7}", style=STYLE[f.severity])
            head.append(f" {f.code} ", style="bold")
            head.append(f.title)
            if loc:
                head.append(f"  [{', '.join(loc)}]", style="dim")
            say(head)
            atoms = [a for a in (f.path, f.where) if a]
            for line in wrap(f.message, width, " " * 11, " " * 11, atoms):
                say(line)
            if f.fix and f.severity is not Severity.INFO:
                for line in wrap(f"fix: {f.fix}", width, " " * 11, " " * 16, atoms):
                    say(line, "green")
        say("")


def diff_lines(diff: str) -> list:
    """The unified diff, one Text per line, never wrapped, coloured by its first character."""
    from rich.text import Text

    out = []
    for line in diff.splitlines():
        if len(line) > MAX_LINE:
            line = line[:MAX_LINE] + f" ... ({len(line) - MAX_LINE:,} more characters)"
        style = (
            "bold"
            if line.startswith(("---", "+++"))
            else "cyan"
            if line.startswith("@@")
            else "green"
            if line.startswith("+")
            else "red"
            if line.startswith("-")
            else ""
        )
        out.append(Text(line, style=style))
    return out


def _reconfigure_streams() -> None:
    """Whatever slips past `inert` can never raise UnicodeEncodeError on a strict stdout."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass


def render(report: Report, fmt: str | None = None) -> None:
    from nandoctor.inert import sanitize_report

    fmt = fmt or OUTPUT.fmt
    _reconfigure_streams()
    if fmt == "json":
        sys.stdout.write(to_json(report) + "\n")
        return
    report = sanitize_report(report)
    if fmt in ("concise", "github"):
        render_lines(report, fmt)
    else:
        render_text(report)
