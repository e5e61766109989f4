"""YOLO label files: read each file once, parse all rows of a chunk in one go, check them with numpy.

Row semantics follow Ultralytics' `verify_image_label`: a file with any row longer than 6 columns is
a polygon file (segment/OBB) whose enclosing box is what Ultralytics range-checks with its 1%
tolerance; pose rows are 5 + kpts*dims columns. Everything Ultralytics rejects is an `error` here,
reported per row with its 1-based line; the checks it skips (zero area, boxes past the edge) are added.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from nandoctor.data.encoding import wide_encoding
from nandoctor.data.yolo_checks import Ctx, check_rows

FIRST = 64 << 10  # most label files fit in one read of this size
BLOCK = 4 << 20  # files above this are read in line-aligned blocks (bounded memory)
BATCH = 4 << 20  # bytes parsed together
ASCII_WS = b" \t\n\r\x0b\x0c"  # exactly what bytes.split() splits on
ODD_BREAKS = b"\x0b\x0c\x1c\x1d\x1e"  # str.splitlines() breaks on these (and a lone \r); bytes.split() does not

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)  # a FIFO must not block the scan

# A finding as workers return it (plain tuples pickle cheaply across processes).
Hit = tuple[str, str, str, str, "int | None", dict]  # (code, severity, message, path, line, data)


@dataclass(frozen=True)
class Spec:
    """What a row should look like: task (None = infer per file), class count, keypoint shape."""

    task: str | None = None
    nc: int | None = None
    kpt: tuple[int, int] | None = None
    guess_pose: bool = False  # no data.yaml to say otherwise: read 5 + 3n columns as pose rows


MAX_PER_CODE = 1000  # findings kept per code and worker: a 10M-row file of bad rows stays in bounded memory


@dataclass
class Scan:
    hits: list = field(default_factory=list)
    files: int = 0
    rows: int = 0
    classes: dict = field(default_factory=dict)
    kept: dict = field(default_factory=dict)  # code -> findings kept in `hits`
    dropped: dict = field(default_factory=dict)  # code -> findings counted but not kept

    def room(self, code: str) -> int:
        return MAX_PER_CODE - self.kept.get(code, 0)

    def drop(self, code: str, n: int) -> None:
        if n > 0:
            self.dropped[code] = self.dropped.get(code, 0) + n

    def add(self, hit: Hit) -> None:
        code = hit[0]
        if self.room(code) <= 0:
            self.drop(code, 1)
            return
        self.kept[code] = self.kept.get(code, 0) + 1
        self.hits.append(hit)

    def merge(self, other: "Scan") -> None:
        self.hits.extend(other.hits)
        self.files += other.files
        self.rows += other.rows
        for mine, theirs in ((self.classes, other.classes), (self.kept, other.kept), (self.dropped, other.dropped)):
            for k, v in theirs.items():
                mine[k] = mine.get(k, 0) + v


@dataclass
class _Unit:
    path: str
    line0: int  # lines before this block in its file
    data: bytes


def _read_small(path: str, size: int, scan: Scan) -> bytes | None:
    """The common case in one open/read/close; a result of `size` bytes means: stream it with _read."""
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        scan.add(("ND100", "error", f"cannot read: {exc.strerror or exc}", path, None, {}))
        return None
    try:
        return os.read(fd, size)
    except OSError as exc:  # a folder named *.txt, EIO on a bad disk
        scan.add(("ND100", "error", f"cannot read: {exc.strerror or exc}", path, None, {}))
        return None
    finally:
        os.close(fd)


def _read(path: str, scan: Scan):
    """Yield the file in one read (os.read: no buffered-file object per file), or large files as
    line-aligned blocks one at a time (bounded memory on a 10-million-line file)."""
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        scan.add(("ND100", "error", f"cannot read: {exc.strerror or exc}", path, None, {}))
        return
    try:
        first = min(FIRST, BLOCK)
        data = os.read(fd, first)  # a small first read: os.read allocates the full size asked for
        if len(data) == first:
            data += os.read(fd, BLOCK - first) if BLOCK > first else b""
        if len(data) < BLOCK:
            yield _Unit(path, 0, data)
            return
        line0, rest = 0, b""
        while data:
            data = rest + data
            cut = data.rfind(b"\n") + 1 or len(data)
            block, rest = data[:cut], data[cut:]
            yield _Unit(path, line0, block)
            line0 += block.count(b"\n")
            data = os.read(fd, BLOCK)
        if rest:
            yield _Unit(path, line0, rest)
    except OSError as exc:  # a folder named *.txt, EIO on a bad disk
        scan.add(("ND100", "error", f"cannot read: {exc.strerror or exc}", path, None, {}))
    finally:
        os.close(fd)


def _vet(unit: _Unit, scan: Scan) -> bytes | None:
    """Whole-file problems (binary, not UTF-8, BOM, empty); returns the bytes to parse or None."""
    data = unit.data
    nul = b"\x00" in data
    if unit.line0 == 0 and (nul or data[:1] in (b"\xff", b"\xfe")) and (wide := wide_encoding(data)):
        scan.add(
            (
                "ND100",
                "error",
                f"{wide.upper()} text, not UTF-8: Ultralytics reads labels as UTF-8 and "
                "drops the image; save it as UTF-8",
                unit.path,
                None,
                {"content": wide},
            )
        )
        return None
    if nul:
        scan.add(
            (
                "ND100",
                "error",
                "label file holds binary content (NUL bytes), not text",
                unit.path,
                None,
                {"content": "binary"},
            )
        )
        return None
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = unit.line0 + data.count(b"\n", 0, exc.start) + 1
            scan.add(
                (
                    "ND100",
                    "error",
                    f"not UTF-8 text (byte {exc.start}); Ultralytics cannot read it",
                    unit.path,
                    line,
                    {},
                )
            )
            return None
        if unit.line0 == 0 and data.startswith(b"\xef\xbb\xbf"):
            scan.add(
                (
                    "ND104",
                    "warning",
                    (
                        "file starts with a UTF-8 byte-order mark: Ultralytics 8.4 strips it, "
                        "but older releases and plain `open()` loaders read the first class id as '\\ufeff0' and "
                        "drop or crash on the file"
                    ),
                    unit.path,
                    1,
                    {},
                )
            )
            data = b" " * 3 + data[3:]  # keep byte offsets, drop the mark
    if unit.line0 == 0 and not data.strip():
        if len(data) < BLOCK:
            scan.add(("ND113", "info", "empty label file: a background image", unit.path, None, {}))
        return None
    return data


def scan_files(paths: list[str], spec: Spec, on_bytes=None) -> Scan:
    """Read and check a chunk of label files (runs in a worker process); on_bytes(n) reports progress."""
    scan = Scan(files=len(paths))
    batch: list[tuple[_Unit, bytes]] = []
    size = 0
    first = min(FIRST, BLOCK)
    for path in paths:
        data = _read_small(path, first, scan)
        if data is None:
            continue
        for unit in (_Unit(path, 0, data),) if len(data) < first else _read(path, scan):
            if on_bytes is not None:
                on_bytes(len(unit.data))
            data = _vet(unit, scan)
            if data is None:
                continue
            batch.append((unit, data))
            size += len(data)
            if size >= BATCH:
                _check_batch(batch, spec, scan)
                batch, size = [], 0
    if batch:
        _check_batch(batch, spec, scan)
    return scan


def _ws_table():
    import numpy as np

    table = np.zeros(256, dtype=bool)
    table[list(ASCII_WS)] = True
    return table


def _to_floats(tokens: list[bytes]):
    """All tokens as float64; unparseable ones become NaN and are flagged (slow path, rare).

    Not nandoctor.numbers.parse_number: a label token counts as a number exactly when Ultralytics'
    np.array(..., dtype=float32) reads it (float() syntax), so `nan(ind)` is ND104 here, not a NaN."""
    import numpy as np

    try:
        return np.array(tokens, dtype=np.float64), None
    except ValueError:
        vals = np.empty(len(tokens), dtype=np.float64)
        bad = np.zeros(len(tokens), dtype=bool)
        for i, t in enumerate(tokens):
            try:
                vals[i] = float(t)
            except ValueError:
                vals[i], bad[i] = np.nan, True
        return vals, bad


def _check_batch(batch: list[tuple[_Unit, bytes]], spec: Spec, scan: Scan) -> None:
    import numpy as np

    texts = [d if d.endswith(b"\n") else d + b"\n" for _, d in batch]
    nlines = np.fromiter((t.count(b"\n") for t in texts), dtype=np.int64, count=len(texts))
    big = b"".join(texts)
    buf = np.frombuffer(big, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 10)
    odd = _odd_breaks(buf)
    if len(odd):  # rows end there too, as Ultralytics splits them; lines (for the user) still end at \n
        cut = buf.copy()
        cut[odd] = 10
        big, buf = cut.tobytes(), cut
        ends = np.flatnonzero(buf == 10)
        unit_end = np.cumsum([len(t) for t in texts]) - 1  # each text's final \n
        unit_of_line = np.searchsorted(unit_end, ends)
        nrows = np.bincount(unit_of_line, minlength=len(batch))
        line_of_row = np.searchsorted(newlines, ends)  # the \n-line each row ends in
    else:
        ends, nrows, line_of_row = newlines, nlines, None
        unit_of_line = np.repeat(np.arange(len(batch)), nlines)
    ws = _ws_table()[buf]
    prev_ws = np.empty_like(ws)
    prev_ws[0] = True
    prev_ws[1:] = ws[:-1]
    starts = np.flatnonzero(~ws & prev_ws)
    tokens = big.split()
    vals, bad = _to_floats(tokens)

    tok_line = np.searchsorted(ends, starts)  # the row of each token ("line" below: a row)
    ntok = np.bincount(tok_line, minlength=len(ends))
    off = np.cumsum(ntok) - ntok
    first_line = np.cumsum(nrows) - nrows
    line0 = np.array([u.line0 for u, _ in batch], dtype=np.int64)
    if line_of_row is None:
        line_no = np.arange(len(ends)) - first_line[unit_of_line] + line0[unit_of_line] + 1
    else:
        first_nl = np.cumsum(nlines) - nlines
        line_no = line_of_row - first_nl[unit_of_line] + line0[unit_of_line] + 1

    # Per unit: polygon file when any row is longer than 6 columns (Ultralytics' own test, which also
    # lets detect train on segment labels through their enclosing boxes).
    unit_max = np.zeros(len(batch), dtype=np.int64)
    np.maximum.at(unit_max, unit_of_line, ntok)
    polygon_unit = (unit_max > 6) if spec.task != "pose" else np.zeros(len(batch), bool)

    paths = [u.path for u, _ in batch]
    rows = ntok > 0
    scan.rows += int(rows.sum())
    ctx = Ctx(spec, scan, paths, unit_of_line, line_no, polygon_unit)
    _whitespace_lines(ctx, buf, ends, rows, unit_of_line, first_line, nrows)
    _odd_break_hits(ctx, odd, ends)

    if bad is not None:
        bad_line = np.zeros(len(ends), dtype=bool)
        bad_line[tok_line[bad]] = True
        for t in np.flatnonzero(bad):
            li = tok_line[t]
            if t == off[li] or not bad[off[li] : t].any():  # first bad token of its line only
                tok = tokens[t].decode("utf-8", "replace")
                col = int(t - off[li]) + 1
                ctx.hit(li, "ND104", "error", f"column {col} is {tok!r}, not a number", token=tok, column=col)
        rows &= ~bad_line

    with np.errstate(all="ignore"):  # inf - inf and float32 overflow are findings, not warnings
        for k in np.unique(ntok[rows]):
            sel = np.flatnonzero(rows & (ntok == k))
            m = vals[off[sel, None] + np.arange(k)]
            check_rows(ctx, sel, m, int(k))


def _odd_breaks(buf):
    """Positions where Ultralytics' str.splitlines() also ends a row: a lone \\r and \\x0b-\\x1e."""
    import numpy as np

    table = np.zeros(256, dtype=bool)
    table[list(ODD_BREAKS)] = True
    cr = np.flatnonzero(buf == 13)
    lone = cr[buf[np.minimum(cr + 1, len(buf) - 1)] != 10]
    return np.union1d(np.flatnonzero(table[buf]), lone)


def _odd_break_hits(ctx, odd, ends) -> None:
    """One warning per line holding such a break. The rows it makes are checked as Ultralytics reads
    them, so a row cut in two is a column-count error of its own; whole rows are fine for Ultralytics
    but one row to a loader that splits on \\n only."""
    import numpy as np

    seen = set()
    for row in np.searchsorted(ends, odd):  # the row each break ends
        where = (int(ctx.unit_of_line[row]), int(ctx.line_no[row]))
        if where not in seen:
            seen.add(where)
            ctx.hit(
                row,
                "ND103",
                "warning",
                "a line break other than \\n or \\r\\n inside this line: Ultralytics "
                "splits the line there (a row cut in two drops the image); loaders that split on \\n only "
                "read one row",
            )


def _whitespace_lines(ctx, buf, newlines, rows, unit_of_line, first_line, nlines) -> None:
    """A blank-looking line of spaces between rows: Ultralytics 8.4 skips it (`if x.strip()`), releases
    before it parsed it as an empty row and the ragged array dropped the image."""
    import numpy as np

    start = np.empty_like(newlines)
    start[0] = 0
    start[1:] = newlines[:-1] + 1
    length = newlines - start
    cr = (length > 0) & (buf[np.maximum(newlines - 1, 0)] == 13)
    blank = ~rows & (length - cr > 0)
    if not blank.any():
        return
    seen = np.cumsum(rows)
    unit_start = np.repeat(seen[first_line] - rows[first_line], nlines)
    unit_total = np.repeat(seen[first_line + nlines - 1], nlines)
    interior = blank & (seen - unit_start > 0) & (unit_total - seen > 0)
    for li in np.flatnonzero(interior):
        ctx.hit(
            li,
            "ND103",
            "warning",
            "line holds only whitespace between rows: Ultralytics 8.4 skips it, but "
            "older releases read it as an empty row and drop the image",
        )
