"""Make text from a user's file safe to show: nothing in it can drive the terminal or the renderer.

Tensor names, paths, CSV columns and config keys are attacker-controlled. Before any output
(text, concise, github or JSON) every string in a Report passes through `inert`:

- control characters (ESC, BEL, CR, ..., C1 codes) and bidirectional overrides are shown escaped,
  as `\\x1b` or `\\u202e`, so no OSC 52 clipboard write, clear-screen or reordered line gets through;
- lone surrogates (how Python decodes a file name that is not UTF-8) become `\\xNN`, the byte they
  stand for, so a strict UTF-8 stdout can always encode the result.

Rich markup is never interpreted at all: the consoles are made with `markup=False` (render.py), so
`[link=...]` or `w[/]` in a name is printed as typed. `inert` leaves `[` alone for that reason.
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls, DEL, C1 controls, surrogates, bidi embeddings/overrides/isolates and marks.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_KEEP_LINES = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)

# Summary keys whose value is multi-line text by design (the repaired config's unified diff).
MULTILINE_KEYS = frozenset({"diff"})


def _escape(match: re.Match) -> str:
    ch = match.group()
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the undecodable byte itself
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def inert(text: str, keep_newlines: bool = False) -> str:
    """`text` with every control, bidi and surrogate character written as an escape sequence."""
    pattern = _UNSAFE_KEEP_LINES if keep_newlines else _UNSAFE
    if pattern.search(text) is None:
        return text
    if keep_newlines:  # a CR may only survive as part of a CRLF line ending
        text = text.replace("\r\n", "\n")
    return pattern.sub(_escape, text)


def sanitize(value: Any, key: str | None = None) -> Any:
    """A copy of a JSON-like value with every string (and dict key) made inert."""
    if isinstance(value, str):
        return inert(value, keep_newlines=key in MULTILINE_KEYS)
    if isinstance(value, dict):
        return {inert(str(k)) if not isinstance(k, (int, float)) else k: sanitize(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [sanitize(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return [sanitize(v) for v in sorted(value, key=repr)]
    return value


def sanitize_report(report):
    """A copy of `report` safe to render in any format (the engine's Report is left as it was)."""
    import copy

    from nandoctor.findings import Report

    out = Report(
        command=report.command,
        summary=sanitize(report.summary),
        next_steps=[inert(s) for s in report.next_steps],
        alarm=report.alarm,
        parts=[sanitize_report(p) for p in report.parts],
    )  # several inputs merged (cli.merge)
    for f in report.findings:
        g = copy.copy(f)
        g.message, g.title = inert(f.message), inert(f.title)
        g.path = None if f.path is None else inert(str(f.path))
        g.where = None if f.where is None else inert(str(f.where))
        g.fix = None if f.fix is None else inert(f.fix)
        g.data = sanitize(f.data)
        out.findings.append(g)
    for name, value in vars(report).items():  # view-only extras an engine attached (e.g. the sparkline curve)
        if name not in vars(out):
            setattr(out, name, value)
    return out
