"""Lightning CSVLogger `metrics.csv`: one row per logging call, the union of columns, empty cells
where a metric was not logged; metrics logged per step and per epoch get `_step`/`_epoch` suffixes.
The per-step training loss is the finest-grained witness, so it is preferred."""

from __future__ import annotations

from pathlib import Path

from nandoctor.logs.readers._csv import load_csv
from nandoctor.logs.readers.plaincsv import pick_loss
from nandoctor.logs.table import LogTable

FORMAT = "lightning-metrics"


def looks_like(columns: list[str]) -> bool:
    cols = set(columns)
    suffixed = any(c.endswith(("_step", "_epoch")) for c in cols)
    return "step" in cols and "epoch" in cols and (suffixed or any("/" in c for c in cols))


def step_loss(columns: list[str]) -> list[str]:
    loss = pick_loss(columns, prefer_suffix="_step")
    return [loss] if loss else []


def read(path: Path, metric: str | None = None) -> LogTable:
    frame, written, lines, sample = load_csv(path, step_loss, metric)
    return LogTable(frame=frame, format=FORMAT, path=path, index_col="step", index_name="step",
                    epoch_col="epoch", loss_cols=step_loss(list(frame.columns)), written_nan=written,
                    lines=lines, sample=sample)
