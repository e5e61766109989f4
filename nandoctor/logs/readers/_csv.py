"""The shared fast CSV loader: pandas' C parser once, then tell written `nan` cells from empty ones.

pandas reads `nan` and an empty cell alike as NaN, but for a log they mean different things: a
written NaN is the break, an empty cell is a metric not logged on that row (Lightning's sparse rows).
Re-reading the whole file as text would double the cost, so the cells holding NaN are located
through a comma and newline index of the memory-mapped file (vectorised with numpy) and checked
for being blank; only unusual files (quoted commas, blank lines) take a second text pass.

A log of more than SAMPLE_ABOVE rows is read in line-aligned blocks, each parsed the same way, and
sampled as it goes (logs/sample.py), so memory stays bounded however long the run was.
"""

from __future__ import annotations

import io
import math
import mmap
import warnings
from pathlib import Path
from typing import Any, Callable

from nandoctor.findings import NandoctorError
from nandoctor.logs.columns import grad_column
from nandoctor.logs.sample import Sampler
from nandoctor.numbers import NAN_WORDS, NEG_INF_WORDS, POS_INF_WORDS

NAN_TOKENS = NAN_WORDS | {"null", "none", "n/a", "na", "#n/a"}  # the words of a missing value too
SAMPLE_ABOVE = 1_000_000  # estimated data rows beyond which the log is sampled while it is read
SAMPLE_TARGET = 250_000  # rows the uniform part of a sample aims at
BLOCK_BYTES = 8 << 20  # text parsed at a time when sampling


def load_csv(path: Path, primary: Callable[[list[str]], list[str]], metric: str | None = None):
    """Return (frame of float64 columns, written_nan masks, 1-based line of each row, Sample or None).

    `primary` names the reader's default loss columns; a sample keeps every jump of that series
    (or of `metric`'s column) and of the grad norm.
    """
    import numpy as np

    padded = _padded(path)
    rows = _estimated_rows(path)
    if rows > SAMPLE_ABOVE:
        return _load_sampled(path, padded, primary, metric, max(2, math.ceil(rows / SAMPLE_TARGET)))
    frame, written = _parse(path, padded)
    if len(frame) == 0:
        raise NandoctorError(f"{path}: header only, no rows to analyze")
    return frame, written, np.arange(2, len(frame) + 2), None  # header on line 1


def _parse(path: Path, padded: bool, block: bytes | None = None, first_line: int = 2) -> tuple[Any, dict[str, Any]]:
    """(numeric float64 frame, written-NaN masks) of the file, or of `block`: the header line
    followed by the file's lines from `first_line` on."""
    import numpy as np
    import pandas as pd

    def source():
        return path if block is None else io.BytesIO(block)

    where = "" if block is None else f" in the block from line {first_line}"

    try:
        with warnings.catch_warnings():  # mixed-type columns are handled below, column by column
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            frame = pd.read_csv(source(), skipinitialspace=padded, encoding_errors="replace", on_bad_lines="error")
    except pd.errors.EmptyDataError:
        raise NandoctorError(f"{path}: empty file, no log to analyze") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OverflowError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NandoctorError(f"{path}: not a readable CSV log ({first}{where})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    header = list(frame.columns)  # positions in the file, before duplicates are dropped
    if frame.columns.duplicated().any():
        frame = frame.loc[:, ~frame.columns.duplicated()]

    numeric = {}
    for col in frame.columns:
        s = frame[col]
        if s.dtype.kind in "fiub":
            numeric[col] = s.to_numpy(dtype=float)
        else:  # a text column: numbers mixed with words; keep it only if it is mostly numbers
            v = np.array(pd.to_numeric(s.astype(str).str.strip(), errors="coerce"), dtype=float)  # writable
            text = s.astype(str).str.strip().str.lower()
            v[text.isin(POS_INF_WORDS).to_numpy()] = np.inf
            v[text.isin(NEG_INF_WORDS).to_numpy()] = -np.inf
            known = ~np.isnan(v) | text.isin(NAN_TOKENS).to_numpy() | s.isna().to_numpy()
            if len(v) == 0 or known.mean() >= 0.5:  # a column of mostly numbers with a stray word is still a metric
                numeric[col] = v
    if not numeric:
        raise NandoctorError(f"{path}: no numeric column in this CSV")
    out = pd.DataFrame(numeric, copy=False)  # float columns stay shared with the parsed frame
    return out, _written_nan(source, lambda fn: _on_bytes(path, block, fn), frame, out, header)


def _load_sampled(path: Path, padded: bool, primary, metric: str | None, stride: int):
    """Parse line-aligned blocks one at a time and feed them to the Sampler. (Parsing on a second
    thread measured no faster on two cores: the per-block numpy work holds the GIL.)"""
    from nandoctor.progress import progress

    def watch(cols):
        loss = [c for c in cols if c.lower() == metric.strip().lower()] if metric else primary(cols)
        grad = grad_column(cols)
        return [g for g in (loss, [grad] if grad else []) if g]

    sampler = Sampler(stride, watch)
    with (
        open(path, "rb") as fh,
        progress(f"Reading {path.name}, MiB (sampling 1 row in {stride})", max(1, path.stat().st_size >> 20)) as bar,
    ):
        header = fh.readline()
        for block, line in _blocks(fh, first_line=2):
            sampler.add(*_parse(path, padded, header + block, line), line)
            bar.advance(len(block) >> 20)
    result = sampler.finish()
    if result is None:
        raise NandoctorError(f"{path}: header only, no rows to analyze")
    return result


def _blocks(fh, first_line: int):
    """(about BLOCK_BYTES of whole lines, the file line they start on) to the end of the file."""
    while block := fh.read(BLOCK_BYTES):
        block += fh.readline()
        yield block, first_line
        first_line += block.count(b"\n")


def _estimated_rows(path: Path) -> float:
    """Data rows judged from the file size and the first 64 KiB's lines: an estimate is enough, as
    it only picks the way of reading and the sampling stride."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(65536)
    lines = head.count(b"\n")
    if lines < 2 or size <= len(head):
        return lines
    return size / (len(head) / lines)


def _on_bytes(path: Path, block: bytes | None, fn):
    """fn(the text as a read-only uint8 array): `block`, or the file memory-mapped (nothing copied;
    the array must not outlive the call, or the map cannot close)."""
    import numpy as np

    if block is not None:
        return fn(np.frombuffer(block, np.uint8))
    if path.stat().st_size == 0:
        return fn(np.zeros(0, np.uint8))
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        return fn(np.frombuffer(mm, dtype=np.uint8))


def _padded(path: Path) -> bool:
    """Right-aligned fields (Ultralytics 8.0-8.2, YOLOv5): skip the padding, else `   nan` is text.
    Only then, since skipping spaces slows pandas' parser by about a fifth."""
    with open(path, "rb") as fh:
        first = fh.readline(65536)
    return first[:1] in (b" ", b"\t") or b", " in first or b",\t" in first


def _written_nan(source, on_bytes, raw, out, header: list[str]) -> dict:
    """Which NaN cells of `out` the file wrote as a token (vs. left empty)."""
    import numpy as np

    nan_cols = [c for c in out.columns if np.isnan(out[c].to_numpy()).any()]
    if not nan_cols:
        return {}
    written: dict[str, Any] = {}
    # Text columns: a token such as `NaN!`-free `inf` is at hand, but pandas already turned `nan` into a
    # missing value there too, so their missing cells are told apart from empty ones below, like numbers.
    tokens = {}
    for c in nan_cols:
        s = raw[c]
        if s.dtype.kind not in "fiub":
            tokens[c] = s.astype(str).str.strip().str.lower().isin(NAN_TOKENS).to_numpy() & s.notna().to_numpy()
    rest = list(nan_cols)
    if not rest:
        return written
    positions = {c: header.index(c) for c in rest}
    wanted = {c: (positions[c], np.flatnonzero(np.isnan(out[c].to_numpy()))) for c in rest}
    fast = on_bytes(lambda buf: _nonblank_fields(buf, len(header), len(out), wanted))
    if fast is not None:
        for c, nonblank in fast.items():
            mask = np.zeros(len(out), dtype=bool)
            mask[np.flatnonzero(np.isnan(out[c].to_numpy()))] = nonblank
            if c in tokens:  # a stray word such as `0.7x` is not blank, but it is no written NaN either
                mask &= tokens[c] | raw[c].isna().to_numpy()
            written[c] = mask
        return written
    # Blank lines, quoted newlines or very many NaN cells: one more pass over just those columns as text.
    import pandas as pd

    names = set(rest)
    text = pd.read_csv(
        source(),
        usecols=lambda name: str(name).strip() in names,
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        skipinitialspace=True,
        encoding_errors="replace",
    )
    text.columns = [str(c).strip() for c in text.columns]
    for c in rest:
        if c in text.columns and len(text) == len(out):
            written[c] = text[c].str.strip().str.lower().isin(NAN_TOKENS).to_numpy()
        else:
            written[c] = np.isnan(out[c].to_numpy())
    return written


def _nonblank_fields(buf, ncols: int, nrows: int, wanted: dict):
    """For each column: whether each of the given rows holds a non-blank cell, found vectorised.

    Works when every line has exactly ncols-1 commas (no quoting, no blank lines): then the cell of
    row r, field p sits between known commas. Returns None otherwise (the caller re-reads as text).
    A NaN cell that is not blank was written by the log (`nan`, `NaN`, `NA`, `null`...).
    """
    import numpy as np

    size = len(buf)
    if size == 0 or ncols < 1:
        return None
    ends = np.flatnonzero(buf == 10)
    if len(ends) == 0 or ends[-1] != size - 1:
        ends = np.append(ends, size)  # last line without a newline
    if len(ends) != nrows + 1:
        return None
    commas = np.flatnonzero(buf == 44)
    k = ncols - 1
    line_start = np.concatenate(([0], ends[:-1] + 1))
    if len(commas) != k * (nrows + 1):
        return None
    if k:  # with the total right, every line has k commas iff its first and last fall inside it
        firsts, lasts = commas[0::k], commas[k - 1 :: k]
        if (firsts < line_start).any() or (lasts > ends).any():
            return None
    out = {}
    for col, (p, rows) in wanted.items():
        line = rows + 1  # header is line 0
        first = line_start[line] if p == 0 else commas[line * k + p - 1] + 1
        last = ends[line] if p == k else commas[line * k + p]
        out[col] = np.concatenate(
            [_solid(buf, first[a : a + 16384], last[a : a + 16384]) for a in range(0, len(rows), 16384)]
            or [np.zeros(0, bool)]
        )
    return out


def _solid(buf, first, last, width: int = 32):
    """Whether each cell [first, last) holds a non-space byte (cells are looked at up to `width`)."""
    import numpy as np

    idx = first[:, None] + np.arange(width)[None, :]
    chars = buf[np.minimum(idx, len(buf) - 1)]
    return ((idx < last[:, None]) & (chars != 32) & (chars != 9) & (chars != 13)).any(axis=1)


def cut_last_row(path: Path) -> tuple[int, int] | None:
    """(fields, expected) when the file ends inside a row: no line end after a row with fewer fields
    than the header. A trainer killed while it writes its log (OOM, preemption, a NaN abort) leaves
    this; pandas fills the missing cells, so without this check the cut row reads as a short row."""
    import csv

    with open(path, "rb") as f:
        header = f.readline(1 << 16)
        size = f.seek(0, io.SEEK_END)
        if not header.endswith(b"\n") or size <= len(header):
            return None
        start = f.seek(max(len(header), size - (1 << 16)))
        tail = f.read()
    if tail.endswith((b"\n", b"\r")) or (b"\n" not in tail and start > len(header)):
        return None  # ended, or a last line longer than the tail read: its fields cannot be counted
    last = tail.rsplit(b"\n", 1)[-1].decode("utf-8", "replace")
    fields = len(next(csv.reader([last]), []))
    expected = len(next(csv.reader([header.decode("utf-8", "replace")]), []))
    return (fields, expected) if 0 < fields < expected else None
