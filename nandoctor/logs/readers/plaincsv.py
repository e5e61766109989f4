"""Any other CSV log, such as `training_history.csv` (`epoch,train_loss,val_loss,val_acc`)."""

from __future__ import annotations

from pathlib import Path

from nandoctor.logs import series
from nandoctor.logs.columns import index_column
from nandoctor.logs.readers._csv import load_csv
from nandoctor.logs.table import LogTable

FORMAT = "csv"


def default_loss(columns: list[str]) -> list[str]:
    """The loss columns to judge by default: the loss ranking over every column but the counter."""
    index_col, _ = index_column(columns)
    return series.choose([c for c in columns if c != index_col])[0]


def read(path: Path, metric: str | None = None) -> LogTable:
    frame, written, lines, sample = load_csv(path, default_loss, metric)
    cols = list(frame.columns)
    index_col, index_name = index_column(cols)
    epoch_col = next((c for c in cols if c.lower() == "epoch"), None)
    return LogTable(
        frame=frame,
        format=FORMAT,
        path=path,
        index_col=index_col,
        index_name=index_name,
        epoch_col=epoch_col,
        loss_cols=default_loss(cols),
        written_nan=written,
        lines=lines,
        sample=sample,
        witness_cols=series.witnesses(cols),
    )
