"""Console logs of every trainer we know (logs/readers/lines.py has one parser per format), read
line by line: lines that match a format become rows, the rest (warnings, tracebacks, prose) are
skipped and counted, so the report can say "read 9 of 10 lines".

The file is streamed: values go into typed arrays column by column (9 bytes a cell), never into a
list of dicts, so a console log of hundreds of megabytes stays within a bounded memory.
Progress bars rewrite a line with carriage returns, so `\\r` splits rows like `\\n` does; Rich
progress bars (Lightning) wrap their metrics onto indented continuation lines, which are joined.
"""

from __future__ import annotations

import gc
import re
from array import array
from collections import Counter
from math import isfinite
from pathlib import Path

from nandoctor.findings import NandoctorError
from nandoctor.logs.readers.lines import LineParser, Rec, alike_parse_alike, shape, yolo_header
from nandoctor.logs.readers.runs import Run, run_for
from nandoctor.logs.readers.shapes import SHORT_RUN, Template, template
from nandoctor.logs.table import LogTable

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")
_MAX_LINE = 4096  # console rows are short; capping keeps the regexes linear on a hostile megabyte line
_MAX_COLUMNS = 200  # a log with more distinct metric names than this is not a training console
_RICH_START = re.compile(r"^\s*Epoch\s+\d+/\d+\s+[━─\u2501\u2500]")
_CONTINUATION = re.compile(r"^\s{20,}\S")
# Keras 3 progress updates joined on one line once their `\r` was lost (`... - loss: 0.0000e+0011/31 ━━━ ...`):
# Keras prints `.4f` or `.4e` values, which tells where a value ends and the next `k/N` begins
_KERAS_UPDATE = re.compile(r"(?:(?<=e[+-]\d\d)|(?<=\.\d{4})|(?<=\s))(?=\d+/\d+ [━─\u2501])")


_BLOCK = 1 << 20  # characters read at a time: one read per megabyte, not a readline per line
_MAX_SHAPES = 4096  # line shapes remembered at most
_JUDGE, _REST = 2048, 16384  # templates judged every 2048 pieces parsed; resting, the next 16384 are parsed


class _Scanner:
    """Reads blocks of whole lines piece by piece (a piece ends at `\r`, `\n` or `\r\n`).

    After a record of a progress-bar console (Ultralytics, HF Trainer, Lightning), the Run of its
    format reads the pieces after it that it can, by one regex (runs.py). A piece of a shape met
    before is not parsed: its template reads the whole run of pieces of that shape that starts there
    as one fixed-width table (shapes.py). Any other piece goes through the parsers: ANSI codes
    removed, Keras updates split, cut at _MAX_LINE, a Rich progress block joined."""

    def __init__(self, parser: LineParser, cols: _Columns) -> None:
        self.parser, self.cols = parser, cols
        self.formats: Counter[str] = Counter()
        self.lines_read, self.last_read = 0, 0  # lines only grow, so counting distinct ones needs no set
        self.total = 0  # the line number of the last piece read
        self.lineno = 1  # the line number of the next piece
        self.pending: tuple[int, str] | None = None  # a Rich progress block being joined
        self.templates: dict[bytes, Template | tuple[str, Rec | None, dict[str, float] | None] | None] = {}
        self.current: Template | None = None
        self.run: Run | None = None  # the Run of the last record parsed, tried on the pieces after it
        self._state = self._parser_state()
        # pieces parsed and pieces read in runs lately: where runs are short (a progress bar whose numbers
        # change width every piece or two), looking up templates costs more than it saves, so they rest
        self.parsed, self.run_pieces, self.resting = 0, 0, 0

    def feed(self, block: str, templates: bool = True) -> None:
        """Read `block`: whole pieces, each with its separator (the last one may lack it at the end
        of the file)."""
        pos, n, nl, retry = 0, len(block), -1, -1
        codes = _Codes(block)  # the block's characters as numbers, made when a long run needs them
        while pos < n:
            run = self.run
            if templates and run is not None and self.pending is None:
                got = run.read(block, pos)
                if got is not None:
                    end, columns, seps = got
                    self._rows(run.keys, run.fmt, columns, [sep != "\r" for sep in seps])
                    pos = end
                    continue
                self.run = None
            tpl = self.current
            if templates and tpl is not None and self.pending is None:
                rows, width = tpl.run(block, pos, codes)
                if rows:
                    pos = self._take(tpl, block, pos, rows, width, codes)
                    continue
                self.current = None
            if nl < pos:
                nl = block.find("\n", pos)
                if nl < 0:
                    nl = n
            end = block.find("\r", pos, nl)
            if end < 0:
                end, step, newline = nl, int(nl < n), nl < n
            else:
                crlf = block.startswith("\n", end + 1)
                step, newline = 1 + crlf, crlf
            if self._piece(block[pos:end], templates and step > 0 and pos != retry):
                retry = pos  # a template for this shape: the run is read at the top of the loop
                continue
            if newline:
                self.lineno += 1
            pos = end + step

    def close(self) -> None:
        if self.pending is not None:
            self._emit(*self.pending)
            self.pending = None

    def _piece(self, piece: str, lookup: bool) -> bool:
        """Parse one piece; True (and nothing parsed) when a template for its shape exists."""
        simple = len(piece) <= _MAX_LINE and "\x1b" not in piece and "━" not in piece
        key = None
        if self.resting:
            self.resting -= 1
            lookup = False
        elif lookup:
            self.parsed += 1
            if self.parsed >= _JUDGE:
                if self.run_pieces < self.parsed:  # runs read fewer pieces than were parsed
                    self.resting = _REST
                self.parsed = self.run_pieces = 0
        if simple and lookup and self.pending is None:
            key = shape(piece)
            seen = self.templates.get(key)
            if isinstance(seen, tuple):  # met once before: its template is made now, on the second sighting
                seen = self.templates[key] = template(*seen)
            tpl = seen
            if tpl is not None and tpl.worth_it():
                self.current = tpl
                return True
        if simple:
            texts = [piece]
        else:
            piece = piece[: _MAX_LINE * 4]
            if "\x1b" in piece:
                piece = _ANSI.sub("", piece)
            texts = _KERAS_UPDATE.split(piece) if "━" in piece else [piece]
        for text in texts:
            text = text[:_MAX_LINE]
            if self.pending is not None:
                if _CONTINUATION.match(text) and len(self.pending[1]) < _MAX_LINE:
                    self.pending = (self.pending[0], self.pending[1] + " " + text.strip())
                    continue
                self._emit(*self.pending)
                self.pending = None
            if "Epoch" in text and _RICH_START.match(text):
                self.pending = (self.lineno, text)
                continue
            rec, row = self._emit(self.lineno, text)
            if rec is not None and self.pending is None:
                self.run = run_for(rec, text)
            if key is not None and alike_parse_alike(text, key, rec):
                self._learn(key, text, rec, row)
        return False

    def _learn(self, key: bytes, text: str, rec: Rec | None, row: dict[str, float] | None) -> None:
        """Remember a piece of a shape met the first time (its template is made if it comes again)."""
        if key in self.templates or (rec is not None and (not rec.values or rec.spans is None)):
            return  # a header, a summary, a record whose numbers' places are not known
        if len(self.templates) >= _MAX_SHAPES:
            self.templates.clear()
        self.templates[key] = (text, rec, row)

    def _parser_state(self) -> tuple:
        """What of the parser's state decides how a line parses (not only what it holds)."""
        return id(self.parser.yolo_names), self.parser.last_epoch is None

    def _emit(self, lineno: int, text: str) -> tuple[Rec | None, dict[str, float] | None]:
        self.total = lineno
        rec = self.parser.parse(text)
        if rec is None:
            return None, None
        if lineno != self.last_read:
            self.lines_read, self.last_read = self.lines_read + 1, lineno
        self.formats[rec.fmt] += 1
        state = self._parser_state()
        if state != self._state:  # a new YOLO header, a first epoch: the templates may no longer hold
            self._state = state
            self.templates.clear()
            self.current = self.run = None
        if not rec.values:
            return rec, None
        row = _row(rec)
        self.cols.add(row, lineno)
        return rec, row

    def _take(self, tpl: Template, block: str, pos: int, m: int, width: int, codes: _Codes) -> int:
        """Read the run of `m` pieces of `tpl` at block[pos:]; where the run ends."""
        n = len(tpl.text)
        tpl.runs, tpl.pieces = tpl.runs + 1, tpl.pieces + m
        end = pos + m * width
        if width == n + 2:
            newline = [True] * m
        elif m < SHORT_RUN:
            newline = [block[i] == "\n" for i in range(pos + n, end, width)]
        else:
            newline = codes()[pos + n : end : width] == 10
        self._rows(tpl.keys, tpl.fmt, tpl.values(block, pos, m, width, codes) if tpl.keys else [], newline)
        return end

    def _rows(self, keys: tuple[str, ...], fmt: str, values: list, newline) -> None:
        """Count and keep pieces read at once (a template's or a Run's): records of `keys`, values[j]
        being key j's column, unless `keys` is empty; newline[i] tells whether piece i ends its line."""
        import numpy as np

        newline = np.asarray(newline, dtype=bool)
        m = len(newline)
        self.run_pieces += m
        newlines = int(newline.sum())
        first = self.lineno
        last = first + newlines - bool(newline[-1])  # the line of the run's last piece
        self.lineno, self.total = first + newlines, last
        if not keys:
            return  # pieces that are no record
        if newlines == m:
            lines = np.arange(first, first + m, dtype=np.int64)
        else:
            lines = first + np.concatenate(([0], np.cumsum(newline[:-1], dtype=np.int64)))
        self.lines_read += last - first + 1 - (first == self.last_read)
        self.last_read = last
        self.formats[fmt] += m
        for key, col in zip(keys, values, strict=True):
            if key == "epoch":
                self.parser.last_epoch = float(col[-1])
            elif key == "step":
                self.parser.last_step = float(col[-1])
        if m < SHORT_RUN:
            cols = [col.tolist() if not isinstance(col, list) else col for col in values]
            for i, line in enumerate(lines.tolist()):
                self.cols.add({k: col[i] for k, col in zip(keys, cols, strict=True)}, line)
        else:
            self.cols.add_many(keys, values, lines)


class _Codes:
    """The characters of a block as an array of their code points (bytes when all are ASCII), made
    on the first call."""

    def __init__(self, block: str) -> None:
        self.block, self._codes = block, None

    def __call__(self):
        if self._codes is None:
            import numpy as np

            b = self.block
            self._codes = (
                np.frombuffer(b.encode("ascii"), dtype=np.uint8)
                if b.isascii()
                else np.frombuffer(b.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
            )
        return self._codes


def _read(fh, scanner: _Scanner) -> None:
    """Feed `fh` to `scanner` in blocks of whole pieces; a piece longer than _MAX_LINE * 4 is cut there
    and the rest of it dropped as it is read, so a gigabyte without a newline never sits in memory."""
    limit = _MAX_LINE * 4
    carry, skipping = "", False
    while True:
        chunk = fh.read(_BLOCK)
        if not chunk:
            break
        if skipping:  # drop the rest of an overlong piece, up to its separator
            cut = _next_separator(chunk)
            if cut < 0:
                continue
            chunk, skipping = chunk[cut:], False
        block = carry + chunk
        cut = max(block.rfind("\n"), block.rfind("\r", 0, len(block) - 1))  # a last `\r` may start `\r\n`
        if cut >= 0:
            scanner.feed(block[: cut + 1])
            carry = block[cut + 1 :]
        else:
            carry = block
        if len(carry) >= limit and not carry.endswith("\r"):
            scanner.feed(carry[:limit] + "\r", templates=False)  # read as a piece that ends here
            carry, skipping = "", True
    if carry and not skipping:
        scanner.feed(carry)
    scanner.close()


class _Prefixed:
    """A stream whose first block was already read."""

    def __init__(self, first: str, rest) -> None:
        self.first, self.rest = first, rest

    def read(self, size: int) -> str:
        if self.first:
            out, self.first = self.first, ""
            return out
        return self.rest.read(size)


def _next_separator(text: str) -> int:
    cuts = [i for i in (text.find("\n"), text.find("\r")) if i >= 0]
    return min(cuts) if cuts else -1


KEEP_ROWS = 1_000_000  # rows held at most; beyond, every other row is dropped (the stride doubles)
KEEP_BAD = 100_000  # the first rows with a non-finite value are always kept, up to this many


class _Columns:
    """Column-wise float storage; a cell not logged on a row stays NaN and is marked absent.

    Past KEEP_ROWS rows the rows are thinned to 1 in `stride` (doubling as needed), except the first
    KEEP_BAD rows that hold a non-finite value (`kept`): memory stays bounded however long the console
    log is, even one NaN from its first line on.
    """

    def __init__(self) -> None:
        self.values: dict[str, array] = {}
        self.present: dict[str, bytearray] = {}
        self.lines = array("q")
        self.row_ids = array("q")
        self.kept = bytearray()  # 1 for a row that thinning keeps: one of the first KEEP_BAD non-finite
        self.n = 0  # rows held
        self.seen = 0  # rows met in the log
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
        kept = bad and self.kept_bad < KEEP_BAD
        if rid % self.stride and not kept:
            return
        self.kept_bad += kept
        keys = tuple(row)
        if keys != self._run_keys:
            self.flush()
            self._run_keys = None
            if all(k in self.values for k in keys):  # known columns: the next rows like it can run
                self._run_keys = keys
            else:
                self._add_padded(row)
        if self._run_keys is not None:
            self._run.extend(row.values())
            self.n += 1
            if len(self._run) >= 1 << 16:
                self.flush()
        self.lines.append(lineno)
        self.row_ids.append(rid)
        self.kept.append(kept)
        if self.n - self.kept_bad >= KEEP_ROWS:
            self._thin()

    def flush(self) -> None:
        """Move the held row-major rows into their columns (NaN, absent, in the other columns)."""
        if not self._run or self._run_keys is None:
            return
        k = len(self._run_keys)
        rows = len(self._run) // k
        for j, key in enumerate(self._run_keys):
            self.values[key].extend(self._run[j::k])
            self.present[key].extend(b"\x01" * rows)
        if k < len(self.values):
            for key, col in self.values.items():
                if len(col) < self.n:
                    col.extend(array("d", [float("nan")]) * rows)
                    self.present[key].extend(bytes(rows))
        self._run = array("d")

    def add_many(self, keys: tuple[str, ...], values: list, lines) -> None:
        """add() for many rows at once, all logging `keys` (values[j] holds key j's column): the same
        rows kept, thinned and marked as add() one by one would."""
        import numpy as np

        self.flush()
        self._run_keys = None
        mat = [np.asarray(v, dtype=np.float64) for v in values]
        bad = ~np.logical_and.reduce([np.isfinite(c) for c in mat])
        line_ids = np.asarray(lines, dtype=np.int64)
        at, m = 0, len(line_ids)
        while at < m:
            rids = np.arange(self.seen, self.seen + m - at, dtype=np.int64)
            hit, sub_bad = rids % self.stride == 0, bad[at:]
            # while fewer than KEEP_BAD non-finite rows are held, each is kept (and counted) whatever the stride
            kept = sub_bad & (np.cumsum(sub_bad) <= KEEP_BAD - self.kept_bad)
            keep = hit | kept
            good = np.cumsum(keep & ~kept)
            room = KEEP_ROWS - (self.n - self.kept_bad)  # rows held but not kept, until the next thinning
            cut = m - at if not len(good) or good[-1] < room else int(np.searchsorted(good, room)) + 1
            take = np.flatnonzero(keep[:cut])
            self._append(
                keys,
                [c[at : at + cut][take] for c in mat],
                line_ids[at : at + cut][take],
                rids[:cut][take],
                kept[:cut][take],
            )
            self.seen += cut
            self.kept_bad += int(kept[:cut].sum())
            at += cut
            if self.n - self.kept_bad >= KEEP_ROWS:
                self._thin()

    def _append(self, keys, cols, lines, rids, kept) -> None:
        k = len(lines)
        if not k:
            return
        for key, col in zip(keys, cols, strict=True):
            if key not in self.values:
                if len(self.values) >= _MAX_COLUMNS:
                    continue
                self.values[key] = array("d", [float("nan")]) * self.n
                self.present[key] = bytearray(self.n)
            self.values[key].frombytes(col.tobytes())
            self.present[key].extend(b"\x01" * k)
        for key, col in self.values.items():
            if len(col) < self.n + k:
                col.extend(array("d", [float("nan")]) * k)
                self.present[key].extend(bytes(k))
        self.n += k
        self.lines.frombytes(lines.tobytes())
        self.row_ids.frombytes(rids.tobytes())
        self.kept.extend(kept.astype("uint8").tobytes())

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
        keep = np.flatnonzero((ids % self.stride == 0) | np.frombuffer(bytes(self.kept), dtype=np.uint8).astype(bool))

        def take(buf, code):
            out = array(code)
            out.frombytes(np.frombuffer(buf, dtype=np.dtype(code if code != "q" else "int64"))[keep].tobytes())
            return out

        self.values = {k: take(v, "d") for k, v in self.values.items()}
        self.present = {
            k: bytearray(np.frombuffer(bytes(m), dtype=np.uint8)[keep].tobytes()) for k, m in self.present.items()
        }
        self.lines, self.row_ids = take(self.lines, "q"), take(self.row_ids, "q")
        self.kept = bytearray(np.frombuffer(bytes(self.kept), dtype=np.uint8)[keep].tobytes())
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
    scanner = _Scanner(parser, cols)
    # newline="\n": a `\r` splits pieces of a line (progress bars), it does not start a new line
    fh = source if source is not None else open(path, "r", encoding="utf-8", errors="replace", newline="\n")
    if source is not None:  # a file was sniffed by read_log; a stream is sniffed here, on its first block
        from nandoctor.logs.readers.yaml_config import YAML_REFUSAL, looks_like_yaml_config

        first = source.read(_BLOCK)
        if looks_like_yaml_config(first.lstrip("\ufeff")):
            raise NandoctorError(f"{path}: {YAML_REFUSAL}")
        fh = _Prefixed(first, source)
    # the reader makes millions of short-lived objects and no reference cycles: the cycle collector,
    # run every 700 allocations, would spend a third of the time finding nothing
    collecting = gc.isenabled()
    gc.disable()
    try:
        _read(fh, scanner)
    finally:
        if collecting:
            gc.enable()
        if source is None:
            fh.close()
    formats, lines_read, total = scanner.formats, scanner.lines_read, scanner.total
    cols.flush()
    if cols.n == 0:
        raise NandoctorError(
            f"could not find a loss series in {path} (read {lines_read:,} of {total:,} lines; "
            "no known console format matched)"
        )
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

        table.sample = Sample(
            row_ids=np.frombuffer(cols.row_ids, dtype=np.int64), total_rows=cols.seen, stride=cols.stride
        )
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
    return LogTable(
        frame=frame,
        format=fmt,
        path=path,
        index_col=index_col,
        index_name=index_name,
        epoch_col="epoch" if "epoch" in cols else None,
        loss_cols=loss,
        witness_cols=series.witnesses(cols) + (["nan_recovery"] if "nan_recovery" in cols else []),
        written_nan=written,
        lines=lines,
        batch_col="batch" if "batch" in cols else None,
    )
