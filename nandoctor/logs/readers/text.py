"""Console logs of every trainer we know (logs/readers/lines.py has one parser per format), read
line by line: lines that match a format become rows, the rest (warnings, tracebacks, prose) are
skipped and counted, so the report can say "read 9 of 10 lines".

The file is streamed: values go into typed arrays column by column (9 bytes a cell), never into a
list of dicts, so a console log of hundreds of megabytes stays within a bounded memory.
Progress bars rewrite a line with carriage returns, so `\\r` splits rows like `\\n` does; Rich
progress bars (Lightning) wrap their metrics onto indented continuation lines, which are joined.
"""

from __future__ import annotations

import re
from array import array
from collections import Counter
from pathlib import Path

from nandoctor.findings import NandoctorError
from nandoctor.logs.readers.lines import LineParser, Rec, yolo_header
from nandoctor.logs.table import LogTable

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")
_MAX_LINE = 4096   # console rows are short; capping keeps the regexes linear on a hostile megabyte line
_MAX_COLUMNS = 200  # a log with more distinct metric names than this is not a training console
_RICH_START = re.compile(r"^\s*Epoch\s+\d+/\d+\s+[━─\u2501\u2500]")
_CONTINUATION = re.compile(r"^\s{20,}\S")
# Keras 3 progress updates joined on one line once their `\r` was lost (`... - loss: 0.0000e+0011/31 ━━━ ...`):
# Keras prints `.4f` or `.4e` values, which tells where a value ends and the next `k/N` begins
_KERAS_UPDATE = re.compile(r"(?:(?<=e[+-]\d\d)|(?<=\.\d{4})|(?<=\s))(?=\d+/\d+ [━─\u2501])")


def _pieces(fh):
    """(1-based line number, text) per line and per `\\r`-separated piece, ANSI codes removed."""
    for lineno, line in enumerate(fh, 1):
        line = line[:_MAX_LINE * 4]
        for piece in line.replace("\r\n", "\n").split("\r"):
            piece = _ANSI.sub("", piece.rstrip("\n"))
            if "━" in piece:
                for update in _KERAS_UPDATE.split(piece):
                    yield lineno, update[:_MAX_LINE]
            else:
                yield lineno, piece[:_MAX_LINE]


def _joined(fh):
    """Pieces, with a Rich progress block (`Epoch 9/9 ━━━ 8/8 ...` plus its indented continuation
    lines) joined into one."""
    pending = None
    for lineno, text in _pieces(fh):
        if pending is not None:
            if _CONTINUATION.match(text) and len(pending[1]) < _MAX_LINE:
                pending = (pending[0], pending[1] + " " + text.strip())
                continue
            yield pending
            pending = None
        if _RICH_START.match(text):
            pending = (lineno, text)
            continue
        yield lineno, text
    if pending is not None:
        yield pending


class _Columns:
    """Column-wise float storage; a cell not logged on a row stays NaN and is marked absent."""

    def __init__(self) -> None:
        self.values: dict[str, array] = {}
        self.present: dict[str, bytearray] = {}
        self.lines = array("q")
        self.n = 0

    def add(self, row: dict[str, float], lineno: int) -> None:
        for key, v in row.items():
            col = self.values.get(key)
            if col is None:
                if len(self.values) >= _MAX_COLUMNS:
                    continue
                col = self.values[key] = array("d", [float("nan")]) * self.n
                self.present[key] = bytearray(self.n)
            col.append(v)
            self.present[key].append(1)
        self.n += 1
        for key, col in self.values.items():
            if len(col) < self.n:
                col.append(float("nan"))
                self.present[key].append(0)
        self.lines.append(lineno)


def read_text(path: Path, source=None) -> LogTable:
    """Read a console log. `source` is an open text stream (stdin); default: open `path`."""
    import numpy as np
    import pandas as pd

    parser = LineParser()
    if source is None:  # a YOLO header may come after the first epoch row of an excerpt
        with open(path, "r", encoding="utf-8", errors="replace") as head:
            for line in head.read(65536).splitlines():
                parser.yolo_names = parser.yolo_names or yolo_header(line)
    cols = _Columns()
    formats: Counter = Counter()
    lines_read: set[int] = set()
    total = 0
    fh = source if source is not None else open(path, "r", encoding="utf-8", errors="replace", newline="")
    try:
        for lineno, text in _joined(fh):
            total = lineno
            rec = parser.parse(text)
            if rec is None:
                continue
            lines_read.add(lineno) if len(lines_read) < 10_000_000 else None
            formats[rec.fmt] += 1
            if not rec.values:
                continue
            cols.add(_row(rec), lineno)
    finally:
        if source is None:
            fh.close()
    if cols.n == 0:
        raise NandoctorError(f"could not find a loss series in {path} (read {len(lines_read):,} of {total:,} lines; "
                             "no known console format matched)")
    frame = pd.DataFrame({k: np.frombuffer(v, dtype=float) for k, v in cols.values.items()}, copy=False)
    present = {k: np.frombuffer(bytes(m), dtype=np.uint8).astype(bool) for k, m in cols.present.items()}
    written = {c: m & np.isnan(frame[c].to_numpy()) for c, m in present.items()}
    written = {c: m for c, m in written.items() if m.any()}
    formats.pop("yolo-header", None)
    fmt = formats.most_common(1)[0][0] if formats else "text-log"
    table = _table(frame, fmt, path, written, np.frombuffer(cols.lines, dtype=np.int64))
    table.lines_total, table.lines_read = total, len(lines_read)
    return table


def _row(rec: Rec) -> dict[str, float]:
    row = dict(rec.values)
    if rec.epoch is not None:
        row["epoch"] = rec.epoch
    if rec.step is not None:
        row["step"] = rec.step
    if rec.batch is not None:
        row["batch"] = float(rec.batch)
        if rec.batches is not None:
            row["batches"] = float(rec.batches)
    return row


def _table(frame, fmt: str, path: Path, written, lines) -> LogTable:
    from nandoctor.logs import series

    cols = list(frame.columns)
    if "epoch" in cols and ("step" not in cols or frame["epoch"].notna().mean() >= frame["step"].notna().mean()):
        index_col, index_name = "epoch", "epoch"
    elif "step" in cols:
        index_col, index_name = "step", "step"
    else:
        index_col, index_name = None, "line"
    loss = series.yolo_losses(cols) if fmt in ("yolo-console", "ultralytics-console") else []
    return LogTable(frame=frame, format=fmt, path=path, index_col=index_col, index_name=index_name,
                    epoch_col="epoch" if "epoch" in cols else None, loss_cols=loss,
                    witness_cols=series.witnesses(cols) + (["nan_recovery"] if "nan_recovery" in cols else []), written_nan=written, lines=lines,
                    batch_col="batch" if "batch" in cols else None)
