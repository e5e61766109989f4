"""Text view: framework, the changes table and a coloured unified diff of the repaired file.

Keys and values are never cut (a table when they fit, one block per change when not); diff lines
are printed whole, each on its own line, so a `+` line pastes as the line it adds.
"""

from __future__ import annotations

from nandoctor.findings import Report


def summary_view(report: Report, console=None) -> list:
    from rich.text import Text

    from nandoctor.layout import fitted_table, wrap
    from nandoctor.render import diff_lines, stdout_console, wrap_width

    console = console or stdout_console()
    s = report.summary
    out: list = [Text(f"framework: {s.get('framework') or 'not recognised'}", style="bold")]
    if s.get("changes"):
        rows = [
            [Text(str(c["key"])), repr(c["old"]), repr(c["new"]), str(c["code"]), str(c["reason"])]
            for c in s["changes"]
        ]
        out += fitted_table(
            console, "changes", ["key", "old", "new", "code", "reason"], rows, key=[0, 1, 2, 3], prose=[4]
        )
    diff = s.get("diff") or ""
    if diff:
        out += diff_lines(diff)
    if s.get("validation"):  # prose: wrapped at the width (only at spaces, so a path in a reason stays whole)
        v = s["validation"]
        style = "red" if v["status"] == "rejected" else "green" if v["status"] == "accepted" else ""
        out += [
            Text(line, style=style)
            for line in wrap(f"framework check: {v['status']} ({v['message']})", wrap_width(console), hang="  ")
        ]
    if s.get("output"):
        out.append(Text(f"wrote {s['output']}", style="green"))
    elif s.get("existing_output"):
        out.append(Text(f"kept existing {s['existing_output']}", style="yellow"))
    elif s.get("dry_run") and diff:
        out.append(Text("--dry-run: nothing written", style="yellow"))
    out.append(Text(""))
    return out
