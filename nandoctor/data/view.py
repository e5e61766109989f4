"""Text view for check-data: what was scanned and the class histogram, before the findings."""

from __future__ import annotations


def summary_view(report, console=None) -> list:
    from rich.table import Table
    from rich.text import Text

    s = report.summary
    out: list = []
    head = Table.grid(padding=(0, 2))
    for key, label in (
        ("format", "format"),
        ("files_scanned", "files scanned"),
        ("rows", "rows"),
        ("num_classes", "classes"),
        ("min_label", "min label"),
        ("max_label", "max label"),
        ("unique_labels", "unique labels"),
    ):
        if s.get(key) is not None:
            head.add_row(label, Text(f"{s[key]:,}" if isinstance(s[key], int) else str(s[key])))
    img = s.get("images") or {}
    if img.get("checked"):
        head.add_row(
            "images",
            Text(
                f"{img['images']} ({img['without_label']} without label, "
                f"{img['labels_without_image']} labels without image, {img['unreadable']} unreadable)"
            ),
        )
    out.append(head)
    hist = s.get("class_histogram") or {}
    if hist:
        t = Table(title="class histogram", title_justify="left", show_edge=False, min_width=24)
        t.add_column("class", justify="right", no_wrap=True)
        t.add_column("rows", justify="right", no_wrap=True)
        items = list(hist.items())
        for c, n in items[:30]:
            t.add_row(Text(str(c)), f"{n:,}" if isinstance(n, int) else str(n))
        if len(items) > 30:
            t.add_row("...", f"{len(items) - 30} more classes")
        out.append(t)
    never = s.get("classes_never_seen") or []
    if never:
        out.append(Text(f"classes never seen: {', '.join(map(str, never[:20]))}{' ...' if len(never) > 20 else ''}"))
    out.append(Text(""))
    return out
