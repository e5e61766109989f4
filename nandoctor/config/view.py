"""Text view: framework, the changes table and a coloured unified diff of the repaired file."""

from __future__ import annotations

from nandoctor.findings import Report


def summary_view(report: Report) -> list:
    from rich.table import Table
    from rich.text import Text

    s = report.summary
    out: list = [Text(f"framework: {s.get('framework') or 'not recognised'}", style="bold")]
    if s.get("changes"):
        t = Table(title="changes", title_justify="left", show_edge=False)
        for col in ("key", "old", "new", "code", "reason"):
            t.add_column(col)
        for c in s["changes"]:
            t.add_row(c["key"], repr(c["old"]), repr(c["new"]), c["code"], c["reason"])
        out.append(t)
    diff = s.get("diff") or ""
    if diff:
        styled = Text()
        for line in diff.splitlines(keepends=True):
            style = "bold" if line.startswith(("---", "+++")) else "cyan" if line.startswith("@@") else \
                "green" if line.startswith("+") else "red" if line.startswith("-") else ""
            styled.append(line, style=style)
        out.append(styled)
    if s.get("validation"):
        v = s["validation"]
        out.append(Text(f"framework check: {v['status']} ({v['message']})",
                        style="red" if v["status"] == "rejected" else "green" if v["status"] == "accepted" else ""))
    if s.get("output"):
        out.append(Text(f"wrote {s['output']}", style="green"))
    elif s.get("existing_output"):
        out.append(Text(f"kept existing {s['existing_output']}", style="yellow"))
    elif s.get("dry_run") and diff:
        out.append(Text("--dry-run: nothing written", style="yellow"))
    out.append(Text(""))
    return out
