"""The one tidy table every reader produces, so classification never cares where a log came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

INDEX_NAMES = ("epoch", "step")


@dataclass
class LogTable:
    """One row per logging record; columns are float64 with NaN where a metric was not logged.

    `written_nan` keeps, per column, which NaN cells the log actually wrote as `nan` (a break), as
    opposed to cells left empty because the metric was not logged on that row (Lightning, HF).
    """

    frame: Any  # pandas.DataFrame, float64 columns
    format: str  # reader name, e.g. "ultralytics-results"
    path: Path
    index_col: str | None  # column holding the epoch/step as written, None: row number
    index_name: str  # "epoch" or "step"
    epoch_col: str | None = None  # column with epochs (may differ from index_col)
    loss_cols: list[str] = field(default_factory=list)  # default primary loss (summed when several)
    witness_cols: list[str] = field(default_factory=list)  # non-finite here also marks the break
    written_nan: dict[str, Any] = field(default_factory=dict)  # column -> bool ndarray
    lines: Any = None  # per-row 1-based line numbers in the file, or None
    notes: list[str] = field(default_factory=list)
    sample: Any = None  # logs.sample.Sample when the frame holds a sample of a huge log
    sparse: bool = False  # rows log different metrics (Lightning): an empty cell is "not logged"
    batch_col: str | None = None  # batch k within the epoch (k/N counters), when the log prints one
    lines_total: int | None = None  # lines in the file (text logs) or records (structured logs)
    other_axis: dict = field(default_factory=dict)  # TensorBoard tags on another clock: tag -> {epoch: value}
    lines_read: int | None = None  # how many of them a reader understood

    def __post_init__(self) -> None:
        # A reader names its columns from the header; a column that held no numbers was dropped.
        cols = set(self.frame.columns)
        if self.index_col not in cols:
            self.index_col = None
        if self.epoch_col not in cols:
            self.epoch_col = None
        if self.batch_col not in cols:
            self.batch_col = None
        self.loss_cols = [c for c in self.loss_cols if c in cols]
        self.witness_cols = [c for c in self.witness_cols if c in cols]

    def present(self, col: str):
        """Rows where `col` was logged (finite, inf, or a written NaN)."""
        import numpy as np

        v = self.frame[col].to_numpy(dtype=float)
        mask = ~np.isnan(v)
        if col in self.written_nan:
            mask |= self.written_nan[col]
        return mask

    def nonfinite(self, col: str):
        """Rows where `col` was logged as NaN or +-Inf."""
        import numpy as np

        v = self.frame[col].to_numpy(dtype=float)
        mask = np.isinf(v)
        if col in self.written_nan:
            mask |= self.written_nan[col]
        return mask

    def index_at(self, row: int) -> Any:
        """The epoch/step of `row` as written in the log (row number when the log has none)."""
        if self.index_col is None:
            return int(row)
        value = float(self.frame[self.index_col].iat[row])
        if value != value:  # not logged on this row: fall back to the row number
            return int(row)
        return int(value) if value.is_integer() else value

    @property
    def total_rows(self) -> int:
        return self.sample.total_rows if self.sample is not None else len(self.frame)

    def row_id(self, row: int) -> int:
        """The log's own 0-based data row of frame row `row` (they differ in a sample)."""
        return int(self.sample.row_ids[row]) if self.sample is not None else int(row)

    def frame_row(self, row_id: int) -> int:
        """The frame row holding the log's data row `row_id` (or the next kept one)."""
        if self.sample is None:
            return int(row_id)
        import numpy as np

        return int(np.searchsorted(self.sample.row_ids, row_id))

    def line_at(self, row: int) -> int | None:
        if self.lines is None:
            return None
        return int(self.lines[row])

    @overload
    def point(self, row: int) -> dict: ...
    @overload
    def point(self, row: None) -> None: ...
    def point(self, row: int | None) -> dict | None:
        """The {"index", "row"} shape the JSON summary uses for dated events."""
        if row is None:
            return None
        point = {"index": self.index_at(row), "row": self.row_id(row)}
        if self.batch_col is not None:
            b = float(self.frame[self.batch_col].iat[row])
            if b == b:
                n = self.frame["batches"].iat[row] if "batches" in self.frame.columns else float("nan")
                point["batch"] = f"{int(b)}/{int(n)}" if n == n else int(b)
        return point

    def where(self, row: int) -> str:
        """`epoch 4 (batch 23/31)` / `step 5426`: a row dated by the log's own counters."""
        p = self.point(row)
        return f"{self.index_name} {p['index']}" + (f" (batch {p['batch']})" if "batch" in p else "")
