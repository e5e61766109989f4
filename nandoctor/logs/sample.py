"""Bounded memory for huge logs: keep a uniform sample of the rows plus every row that carries an
event, so a 10-million-row log is judged like the full table in a few tens of MiB.

Kept while the blocks stream past:
- every `stride`-th row: a uniform sample, so the classifier's block percentiles and rolling
  statistics read the same as on the whole series (a min/max decimation would skew them);
- for each column, its first non-finite row and the CONTEXT rows before it, so the break, the last
  healthy row and the window the sudden-spike test looks at are exact;
- rows where a watched series (the primary loss, the grad norm) is a spike or a surge by the one
  test in signals.py, checked on every row; for the first ones (as many as the report lists) also
  the window the test read before them and the points after, so the engine, judging the sample
  again, finds the same spike with the same sigma and recovery;
- rows where a time column goes backwards (a resume), and the last CONTEXT rows of the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from nandoctor.logs import signals
from nandoctor.logs.columns import is_time_column

CONTEXT = 1024  # exact rows kept before each break and at the end of the file
MAX_CANDIDATES = 1024  # per block and series: a heavy-tailed series cannot flood the sample


@dataclass
class Sample:
    """How a LogTable's frame was sampled from the file."""

    row_ids: Any  # int64 ndarray: the log's 0-based data row of each kept frame row
    total_rows: int
    stride: int
    # per watched series ("+"-joined columns): (spikes, finite points, the log row of its first
    # non-finite value or None), counted on every row up to that break: the exact spike score
    spikes: dict[str, tuple[int, int, int | None]] = field(default_factory=dict)


class Sampler:
    """Feed line-ordered blocks with `add`, then `finish` for the sampled table.

    A block is held back until the next one has been seen, so a break at the start of a block can
    still keep the rows just before it.
    """

    def __init__(self, stride: int, watch: Callable[[list[str]], list[list[str]]]):
        """`watch(columns)`: the column groups (each summed) whose spikes and surges must be kept."""
        self.stride, self.watch_of = stride, watch
        self.columns: list[str] | None = None  # fixed by the first block
        self.rows = 0  # data rows seen so far
        self.first_bad: set[str] = set()  # columns whose first non-finite row is already kept
        self.carry: dict[int, tuple] = {}  # per watched series: its last values and their rows
        self.exact: dict[int, list[int]] = {}  # per watched series: spike and surge neighbourhoods left to keep
        self.after: dict[int, int] = {}  # per watched series: values after a spike still to keep (next block)
        self.counts: dict[int, list] = {}  # per watched series: [spikes, finite points, first bad row or None]
        self.last_time: dict[str, float] = {}
        self.pending: tuple | None = None  # (frame, written, lines, base, keep mask)
        self.parts: list[tuple] = []

    def add(self, frame, written: dict, first_line: int) -> None:
        """One parsed block: float frame, written-NaN masks, and the file line of its first row."""
        import numpy as np

        if self.columns is None:
            self.columns = list(frame.columns)
            self.watch = self.watch_of(self.columns)
            self.time_cols = [c for c in self.columns if is_time_column(c)]
        elif list(frame.columns) != self.columns:  # a column that held words in this block
            frame = frame.reindex(columns=self.columns)
            written = {c: m for c, m in written.items() if c in self.columns}
        n = len(frame)
        if n == 0:  # a block of blank lines
            return
        lines = np.arange(first_line, first_line + n)
        base = self.rows
        keep = (np.arange(base, base + n) % self.stride) == 0
        for col in self.columns:
            if col in self.first_bad:
                continue
            bad = np.isinf(frame[col].to_numpy())
            if col in written:
                bad |= written[col]
            if bad.any():
                self.first_bad.add(col)
                self._keep_before(keep, int(np.argmax(bad)))
        for i, group in enumerate(self.watch):
            self._jumps(i, frame, written, group, keep)
        for col in self.time_cols:
            keep[self._time_resets(col, frame[col].to_numpy())] = True
        self._flush()
        self.pending = (frame, written, lines, base, keep)
        self.rows += n

    def finish(self):
        """(frame, written, lines, Sample); None when no data row was seen."""
        import numpy as np
        import pandas as pd

        if self.rows == 0 or self.pending is None:
            return None
        self.pending[4][-CONTEXT:] = True
        self._flush()
        frame = pd.concat([p[0] for p in self.parts], ignore_index=True)
        written = {}
        for col in {c for p in self.parts for c in p[1]}:
            written[col] = np.concatenate([p[1].get(col, np.zeros(len(p[0]), bool)) for p in self.parts])
        lines = np.concatenate([p[2] for p in self.parts])
        rows = np.concatenate([p[3] for p in self.parts])
        spikes = {"+".join(g): tuple(self.counts[i]) for i, g in enumerate(self.watch) if i in self.counts}
        return frame, written, lines, Sample(rows, self.rows, self.stride, spikes)

    def _keep_before(self, keep, row: int) -> None:
        """Keep `row` and the CONTEXT rows before it, reaching back into the held block."""
        self._keep_span(keep, row - CONTEXT, row)

    def _keep_span(self, keep, first: int, last: int) -> None:
        """Keep block rows first..last; a negative `first` reaches back into the held block."""
        keep[max(0, first) : last + 1] = True
        if first < 0 and self.pending is not None:
            held = self.pending[4]
            held[max(-len(held), first) :] = True

    def _flush(self) -> None:
        if self.pending is None:
            return
        frame, written, lines, base, keep = self.pending
        idx = keep.nonzero()[0]
        self.parts.append(
            (frame.iloc[idx].reset_index(drop=True), {c: m[idx] for c, m in written.items()}, lines[idx], base + idx)
        )
        self.pending = None

    def _jumps(self, i: int, frame, written: dict, group: list[str], keep) -> None:
        """Keep the block rows where the watched series spikes or surges (signals.spike_mask and
        surge_mask, fed the values carried from the blocks before), with the exact neighbourhood of
        the first signals.MAX_SPIKES spikes and signals.MAX_SURGES surges."""
        import numpy as np

        v = sum(frame[c].to_numpy() for c in group)
        ok = np.isfinite(v)
        for c in group:
            if c in written:
                ok &= ~written[c]
        local = np.flatnonzero(ok)
        prev_v, prev_r = self.carry.get(i, (np.zeros(0), np.zeros(0, np.int64)))
        x = np.concatenate([prev_v, v[local]])
        rows = np.concatenate([prev_r, local])  # carried rows are negative: they belong to earlier blocks
        self.carry[i] = (x[-signals.SPIKE_WINDOW :], rows[-signals.SPIKE_WINDOW :] - len(v))
        h = len(prev_v)
        todo = self.after.pop(i, 0)  # the points after a spike at the end of the block before
        new = rows[h : h + todo]
        if len(new):
            self._keep_span(keep, int(new[0]), int(new[-1]))
        if todo > len(new):
            self.after[i] = todo - len(new)
        spikes = np.flatnonzero(signals.spike_mask(x, h)) + h  # positions in x
        surges = np.flatnonzero(signals.surge_mask(x, h)) + h
        self._count(i, frame, written, group, ok, local, rows[spikes])
        hits = np.union1d(spikes, surges)[:MAX_CANDIDATES]
        keep[rows[hits]] = True
        left = self.exact.setdefault(i, [signals.MAX_SPIKES, signals.MAX_SURGES])
        spans = ((0, spikes, signals.SPIKE_WINDOW, signals.RECOVERY_POINTS), (1, surges, signals.SURGE_WINDOW, 0))
        for kind, found, before, after in spans:
            for p in found[: left[kind]]:
                last = min(len(x) - 1, p + after)
                self._keep_span(keep, int(rows[max(0, p - before)]), int(rows[last]))
                if p + after > last:
                    self.after[i] = max(self.after.get(i, 0), p + after - last)
            left[kind] -= min(left[kind], len(found))

    def _count(self, i: int, frame, written: dict, group: list[str], ok, local, spike_rows) -> None:
        """Count the series' spikes and finite points up to its first non-finite value (logged on
        a row where every column of the group was), as the classifier does on the whole series."""
        import numpy as np

        count = self.counts.setdefault(i, [0, 0, None])
        if count[2] is not None:
            return
        present = np.logical_and.reduce([~np.isnan(frame[c].to_numpy()) | written.get(c, False) for c in group])
        bad = np.flatnonzero(present & ~ok)
        limit = int(bad[0]) if len(bad) else len(ok)
        count[0] += int((spike_rows < limit).sum())
        count[1] += int(np.searchsorted(local, limit))
        if len(bad):
            count[2] = self.rows + limit

    def _time_resets(self, col: str, t):
        import numpy as np

        ok = np.flatnonzero(np.isfinite(t))
        if not len(ok):
            return ok
        seq = t[ok]
        prev = self.last_time.get(col, seq[0])
        self.last_time[col] = seq[-1]
        back = np.diff(np.concatenate(([prev], seq))) < 0
        return ok[back][:MAX_CANDIDATES]
