"""Lightning CSVLogger `metrics.csv`: one row per logging call, the union of columns, empty cells
where a metric was not logged; metrics logged per step and per epoch get `_step`/`_epoch` suffixes.
Plain `self.log("train_loss")` names have no suffix: such a file is recognised by its `epoch` and
`step` columns and its sparse rows. The per-step training loss is the finest-grained witness, so
it is preferred."""

from __future__ import annotations

from pathlib import Path

from nandoctor.logs import series
from nandoctor.logs.readers._csv import load_csv
from nandoctor.logs.table import LogTable

FORMAT = "lightning-metrics"


def looks_like(columns: list[str]) -> bool:
    cols = set(columns)
    suffixed = any(c.endswith(("_step", "_epoch")) for c in cols)
    return "step" in cols and "epoch" in cols and (suffixed or any("/" in c for c in cols))


def looks_sparse(path: Path, columns: list[str]) -> bool:
    """`epoch` and `step` columns, and in the first rows most lines leave some cells empty."""
    if not {"epoch", "step"} <= set(columns) or len(columns) < 3:
        return False
    with open(path, "rb") as fh:
        head = fh.read(65536).decode("utf-8", "replace").splitlines()[1:200]
    rows = [ln.split(",") for ln in head if ln.strip()]
    if len(rows) < 2:
        return False
    sparse = sum(any(not cell.strip() for cell in r) for r in rows)
    return sparse >= 0.5 * len(rows)


def step_loss(columns: list[str]) -> list[str]:
    return series.choose(columns, prefer_suffix="_step")[0]


def read(path: Path, metric: str | None = None) -> LogTable:
    frame, written, lines, sample = load_csv(path, step_loss, metric)
    cols = list(frame.columns)
    return LogTable(
        frame=frame,
        format=FORMAT,
        path=path,
        index_col="step",
        index_name="step",
        epoch_col="epoch",
        loss_cols=step_loss(cols),
        witness_cols=series.witnesses(cols),
        written_nan=written,
        lines=lines,
        sample=sample,
        sparse=True,
    )
