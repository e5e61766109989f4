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
from math import isfinite
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


_BLOCK = 1 << 20  # characters read at a time: one read and one split per megabyte, not a readline per line


def _bounded_lines(fh, limit: int = _MAX_LINE * 4):
    """The file's lines (split at `\\n` only), each cut at `limit` characters; the rest of an overlong
    line is read in blocks and dropped, so a gigabyte without a newline never sits in memory."""
    carry, skipping = "", False
    while True:
        block = fh.read(_BLOCK)
        if not block:
            break
        lines = block.split("\n")
        if len(lines) == 1:  # no newline in the block: the current line goes on
            if not skipping:
                carry += block
                if len(carry) >= limit:
                    yield carry[:limit]
                    carry, skipping = "", True
            continue
        first = lines[0]
        if skipping:
            skipping = False
        else:
            first = carry + first + "\n"
            yield first[:limit] if len(first) > limit else first
        carry = lines.pop()
        for i in range(1, len(lines)):
            line = lines[i]
            yield line[:limit] if len(line) >= limit else line + "\n"
        if len(carry) >= limit:
            yield carry[:limit]
            carry, skipping = "", True
    if carry and not skipping:
        yield carry


def _pieces(fh):
    """(1-based line number, text) per line and per `\\r`-separated piece, ANSI codes removed."""
    for lineno, line in enumerate(_bounded_lines(fh), 1):
        if "\r" not in line and "\x1b" not in line and "━" not in line:  # the common line: no work
            piece = line[:-1] if line.endswith("\n") else line
            yield lineno, piece[:_MAX_LINE]
            continue
        for piece in line.replace("\r\n", "\n").split("\r"):
            piece = piece.rstrip("\n")
            if "\x1b" in piece:
                piece = _ANSI.sub("", piece)
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
        if "Epoch" in text and _RICH_START.match(text):
            pending = (lineno, text)
            continue
        yield lineno, text
    if pending is not None:
        yield pending


KEEP_ROWS = 1_000_000   # rows held at most; beyond, every other row is dropped (the stride doubles)
KEEP_BAD = 100_000      # rows with a non-finite value are always kept, up to this many


class _Columns:
    """Column-wise float storage; a cell not logged on a row stays NaN and is marked absent.

    Past KEEP_ROWS rows the rows are thinned to 1 in `stride` (doubling as needed), except rows that
    hold a non-finite value: memory stays bounded however long the console log is.
    """

    def __init__(self) -> None:
        self.values: dict[str, array] = {}
        self.present: dict[str, bytearray] = {}
        self.lines = array("q")
        self.row_ids = array("q")
        self.bad = bytearray()
        self.n = 0          # rows held
        self.seen = 0       # rows met in the log
        self.stride = 1
        self.kept_bad = 0
        # rows that log every column in the columns' order are held row-major first (one extend a row)
        # and moved into the columns by _flush(): the common console logs the same keys on every line
        self._run_keys: tuple | None = None
        self._run = array("d")

    def add(self, row: dict[str, float], lineno: int) -> None:
        rid, self.seen = self.seen, self.seen + 1
        # a sum is finite only if every value is: the exact test runs on the few rows whose sum is not
        try:
            bad = not isfinite(sum(row.values())) and any(v != v or v in (_INF, -_INF) for v in row.values())
        except TypeError:  # not a float: tested one by one as before
            bad = any(v != v or v in (_INF, -_INF) for v in row.values())
        if rid % self.stride and not (bad and self.kept_bad < KEEP_BAD):
            return
        self.kept_bad += bad
        keys = tuple(row)
        if keys == self._run_keys:
            self._run.extend(row.values())
            self.n += 1
            if len(self._run) >= 1 << 16:
                self.flush()
        else:
            self.flush()
            self._run_keys = None
            self._add_padded(row)
            if keys == tuple(self.values):  # this row's keys are the columns: the next like it can run
                self._run_keys = keys
        self.lines.append(lineno)
        self.row_ids.append(rid)
        self.bad.append(bad)
        if self.n - self.kept_bad >= KEEP_ROWS:  # thinning keeps every non-finite row held
            self._thin()

    def flush(self) -> None:
        """Move the held row-major rows into their columns."""
        if not self._run:
            return
        k = len(self._run_keys)
        rows = len(self._run) // k
        for j, key in enumerate(self._run_keys):
            self.values[key].extend(self._run[j::k])
            self.present[key].extend(b"\x01" * rows)
        self._run = array("d")

    def _add_padded(self, row: dict[str, float]) -> None:
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

    def _thin(self) -> None:
        import numpy as np

        self.flush()
        self.stride *= 2
        ids = np.frombuffer(self.row_ids, dtype=np.int64)
        keep = np.flatnonzero((ids % self.stride == 0) | np.frombuffer(bytes(self.bad), dtype=np.uint8).astype(bool))

        def take(buf, code):
            out = array(code)
            out.frombytes(np.frombuffer(buf, dtype=np.dtype(code if code != "q" else "int64"))[keep].tobytes())
            return out

        self.values = {k: take(v, "d") for k, v in self.values.items()}
        self.present = {k: bytearray(np.frombuffer(bytes(m), dtype=np.uint8)[keep].tobytes())
                        for k, m in self.present.items()}
        self.lines, self.row_ids = take(self.lines, "q"), take(self.row_ids, "q")
        self.bad = bytearray(np.frombuffer(bytes(self.bad), dtype=np.uint8)[keep].tobytes())
        self.n = len(keep)


_INF = float("inf")


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
    lines_read, last_read = 0, 0  # lines only grow, so counting distinct ones needs no set
    total = 0
    # newline="\n": a `\r` splits pieces of a line (progress bars), it does not start a new line
    fh = source if source is not None else open(path, "r", encoding="utf-8", errors="replace", newline="\n")
    try:
        for lineno, text in _joined(fh):
            total = lineno
            rec = parser.parse(text)
            if rec is None:
                continue
            if lineno != last_read:
                lines_read, last_read = lines_read + 1, lineno
            formats[rec.fmt] += 1
            if not rec.values:
                continue
            cols.add(_row(rec), lineno)
    finally:
        if source is None:
            fh.close()
    cols.flush()
    if cols.n == 0:
        raise NandoctorError(f"could not find a loss series in {path} (read {lines_read:,} of {total:,} lines; "
                             "no known console format matched)")
    frame = pd.DataFrame({k: np.frombuffer(v, dtype=float) for k, v in cols.values.items()}, copy=False)
    present = {k: np.frombuffer(bytes(m), dtype=np.uint8).astype(bool) for k, m in cols.present.items()}
    written = {c: m & np.isnan(frame[c].to_numpy()) for c, m in present.items()}
    written = {c: m for c, m in written.items() if m.any()}
    formats.pop("yolo-header", None)
    formats.pop("yolo-val", None)
    fmt = formats.most_common(1)[0][0] if formats else "text-log"
    table = _table(frame, fmt, path, written, np.frombuffer(cols.lines, dtype=np.int64))
    table.lines_total, table.lines_read = total, lines_read
    if cols.stride > 1:
        from nandoctor.logs.sample import Sample

        table.sample = Sample(row_ids=np.frombuffer(cols.row_ids, dtype=np.int64), total_rows=cols.seen,
                              stride=cols.stride)
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
        index_col, index_name = None, "record"  # no counter: the n-th record, never a line number
    loss = series.yolo_losses(cols) if fmt in ("yolo-console", "ultralytics-console") else []
    return LogTable(frame=frame, format=fmt, path=path, index_col=index_col, index_name=index_name,
                    epoch_col="epoch" if "epoch" in cols else None, loss_cols=loss,
                    witness_cols=series.witnesses(cols) + (["nan_recovery"] if "nan_recovery" in cols else []), written_nan=written, lines=lines,
                    batch_col="batch" if "batch" in cols else None)
