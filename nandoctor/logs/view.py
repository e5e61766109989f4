"""Text view: a one-line sparkline of the loss with the break marked, then the dated facts."""

from __future__ import annotations

BARS = "▁▂▃▄▅▆▇█"


def sparkline(curve: list[float]):
    """Rich Text of block characters; non-finite points are a red ✗. Log scale when the range is wide."""
    import math

    from rich.text import Text

    fin = [v for v in curve if math.isfinite(v)]
    text = Text()
    if not fin:
        return Text("✗" * len(curve), style="bold red")
    lo, hi = min(fin), max(fin)
    use_log = lo > 0 and hi / lo > 100

    def level(v: float) -> int:
        a, b, x = (math.log(lo), math.log(hi), math.log(v)) if use_log else (lo, hi, v)
        return 0 if b == a else min(len(BARS) - 1, int((x - a) / (b - a) * (len(BARS) - 1) + 0.5))

    broke = False
    for v in curve:
        if math.isfinite(v):
            text.append(BARS[level(v)], style="red" if broke else "cyan")
        else:
            if not broke:
                text.append("│", style="bold red")
                broke = True
            text.append("✗", style="bold red")
    return text


def summary_view(report, console=None) -> list:
    from rich.text import Text

    s = report.summary
    out = []
    head = Text()
    head.append(f"{s.get('path', '')}", style="bold")
    head.append(f"  ({s['format']}, {s['rows']:,} rows, metric {s['metric']})", style="dim")
    out.append(head)
    if s.get("lines") is not None and s.get("lines_read") is not None:
        out.append(Text(f"  read {s['lines_read']:,} of {s['lines']:,} lines, {s['points']:,} points", style="dim"))
    if s.get("sampled"):
        out.append(
            Text(
                f"  sampled: {s['sampled']['kept_rows']:,} of {s['rows']:,} rows read closely (1 in "
                f"{s['sampled']['every']}, plus every row around a break, spike, surge or resume)",
                style="dim",
            )
        )
    curve = getattr(report, "curve", None)
    if curve:
        line = Text("  ")
        line.append(sparkline(curve))
        fin = [v for v in curve if v == v and abs(v) != float("inf")]
        if fin:
            line.append(f"  {min(fin):.4g} .. {max(fin):.4g}", style="dim")
        out.append(line)
    style = "bold green" if s["pattern"] == "healthy" else "bold red"
    verdict = Text("  pattern: ")
    verdict.append(s["pattern"], style=style)
    if s.get("detail"):
        verdict.append(f"  ({s['detail']})", style="dim")
    out.append(verdict)
    idx = s["index_name"]
    facts = []
    if s["first_nonfinite"]:
        facts.append(f"first non-finite {idx} {s['first_nonfinite']['index']} (row {s['first_nonfinite']['row']})")
    if s["last_healthy"]:
        facts.append(f"last healthy {idx} {s['last_healthy']['index']}")
    if s["onset"] and s["onset"] != s["first_nonfinite"]:
        facts.append(f"onset {idx} {s['onset']['index']}")
    if s["nonfinite_columns"]:
        facts.append("went non-finite in order: " + ", ".join(s["nonfinite_columns"][:6]))
    if s["spikes"]:
        facts.append(f"{len(s['spikes'])} recovered spike(s), spike score {s['spike_score']:.2%}")
    if s["suggested_lr"] is not None:
        facts.append(f"suggested lr {s['suggested_lr']:g}")
    if s["clip_threshold"] is not None:
        facts.append(f"clip at {s['clip_threshold']:g}")
    for fact in facts:
        out.append(Text(f"  {fact}"))
    out.append(Text(""))
    return out
