"""Side evidence around the break: which columns went non-finite first, metrics that snapped to
0 or 1, gradient-norm signals, a loss that never decreased, a time column that reset.

The spike and surge tests themselves live in signals.py, the column names in columns.py."""

from __future__ import annotations

import re

from nandoctor.logs.columns import is_time_column
from nandoctor.logs.series import is_eval
from nandoctor.logs.table import LogTable

_BOUNDED = re.compile(r"acc|precision|recall|map|f1|iou|top1|top5|auc", re.I)
WARMUP_SHARE = 0.05  # early grad norms reflect the random init, not the regime to clip


def nonfinite_columns(table: LogTable) -> list[tuple[str, int]]:
    """(column, first non-finite row), earliest first; ties keep the log's column order."""
    import numpy as np

    found = []
    for order, col in enumerate(table.frame.columns):
        if col in (table.index_col, table.epoch_col):
            continue
        mask = table.nonfinite(col)
        if mask.any():
            found.append((int(np.argmax(mask)), order, col))
    return [(col, row) for row, _, col in sorted(found)]


def missing_cells(table: LogTable):
    """Empty cells of the loss in a dense log (pandas' `to_csv` writes NaN as an empty cell).

    Returns (rows, broke) or None. A cell counts when the row logged other columns and the loss was
    logged in the rows before; Lightning's sparse rows never count. `broke`: the loss never comes back,
    or a bounded metric snaps to exactly 0 or 1 there; then the empty cells are marked as written NaN
    (the break) in `table.written_nan`.
    """
    import numpy as np

    if table.sparse or table.format != "csv" or len(table.loss_cols) != 1:
        return None
    col = table.loss_cols[0]
    others = [c for c in table.frame.columns if c != col]  # the epoch written on a row counts too
    if not others:
        return None
    present = table.present(col)
    if not present.any():
        return None
    others_logged = np.logical_or.reduce([table.present(c) for c in others])
    seen_before = np.cumsum(present) > 0
    empty = ~present & others_logged & seen_before
    if not empty.any() or present[: np.argmax(empty)].mean() < 0.9:
        return None
    rows = np.flatnonzero(empty)
    never_back = not present[rows[0] :].any()
    if not never_back and len(rows) > max(2, 0.1 * (len(present) - rows[0])):
        return None  # empty again and again (eval rows written apart): a sparse log after all
    snapped = bool(snapped_metrics(table, int(rows[0])))
    broke = never_back or snapped
    if broke:
        mask = table.written_nan.get(col, np.zeros(len(present), dtype=bool)).copy()
        mask[rows if never_back else rows[:1]] = True
        table.written_nan[col] = mask
        table.notes.append(
            f"{col} has empty cells from {table.where(int(rows[0]))} on while the other columns "
            "were logged: taken as NaN written by pandas"
        )
    return [int(r) for r in rows], broke


def snapped_metrics(table: LogTable, row: int) -> list[tuple[str, float, float]]:
    """Bounded metrics (accuracy, mAP...) that sit at exactly 0 or 1 at `row` after being elsewhere."""
    import numpy as np

    out = []
    for col in table.frame.columns:
        if not _BOUNDED.search(col) or "loss" in col.lower():
            continue
        v = table.frame[col].to_numpy(dtype=float)
        if row >= len(v) or v[row] not in (0.0, 1.0):
            continue
        before = v[:row][np.isfinite(v[:row])]
        if len(before) and before[-1] != v[row] and np.all((before >= 0) & (before <= 1)):
            out.append((col, float(before[-1]), float(v[row])))
    return out


def healthy_grad(table: LogTable, col: str, before_row: int | None):
    """Finite grad norms before the break, without the first few (random-init) steps."""
    import numpy as np

    v = table.frame[col].to_numpy(dtype=float)
    rows = np.flatnonzero(np.isfinite(v))
    if before_row is not None:
        rows = rows[rows < before_row]
    if len(rows) >= 3:
        rows = rows[max(1, int(len(rows) * WARMUP_SHARE)) :]
    return rows, v[rows]


def clip_threshold(values) -> float | None:
    """2.5x the healthy 99th percentile (the field notes' 2-3x), to two significant digits."""
    import numpy as np

    if len(values) == 0:
        return None
    p99 = float(np.percentile(values, 99))
    if not p99 > 0:
        return None
    return float(f"{2.5 * p99:.2g}")


def not_learning(series) -> tuple[float, float] | None:
    """(start, end) medians when the loss ends no lower than it started (>= 8 points)."""
    import numpy as np

    f = series[np.isfinite(series)]
    if len(f) < 8:
        return None
    q = max(2, len(f) // 4)
    start, end = float(np.median(f[:q])), float(np.median(f[-q:]))
    return (start, end) if end >= start else None


def metrics_all_zero(table: LogTable) -> list[str]:
    import numpy as np

    out = []
    for col in table.frame.columns:
        if _BOUNDED.search(col) and "loss" not in col.lower():
            v = table.frame[col].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            if len(v) and np.all(v == 0):
                out.append(col)
    return out


def time_resets(table: LogTable) -> list[int]:
    """Rows where an elapsed-time column went backwards (a resume)."""
    import numpy as np

    for col in table.frame.columns:
        if is_time_column(col):
            v = table.frame[col].to_numpy(dtype=float)
            ok = np.flatnonzero(np.isfinite(v))
            if len(ok) > 1:
                back = np.flatnonzero(np.diff(v[ok]) < 0)
                return [int(ok[i + 1]) for i in back]
    return []


def eval_columns(cols) -> list[str]:
    return [c for c in cols if is_eval(c)]
