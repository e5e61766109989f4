"""Any other CSV log, such as `training_history.csv` (`epoch,train_loss,val_loss,val_acc`)."""

from __future__ import annotations

from pathlib import Path

from nandoctor.logs.readers._csv import load_csv
from nandoctor.logs.table import LogTable

FORMAT = "csv"


def index_column(columns: list[str]) -> tuple[str | None, str]:
    lower = {c.lower(): c for c in columns}
    for name in ("epoch", "step", "global_step", "iteration", "iter"):
        if name in lower:
            return lower[name], "epoch" if name == "epoch" else "step"
    return None, "step"


def default_loss(columns: list[str]) -> list[str]:
    from nandoctor.logs import series

    index_col, _ = index_column(columns)
    return series.choose([c for c in columns if c != index_col])[0]


def read(path: Path, metric: str | None = None) -> LogTable:
    from nandoctor.logs import series

    frame, written, lines, sample = load_csv(path, default_loss, metric)
    cols = list(frame.columns)
    index_col, index_name = index_column(cols)
    epoch_col = next((c for c in cols if c.lower() == "epoch"), None)
    return LogTable(frame=frame, format=FORMAT, path=path, index_col=index_col, index_name=index_name,
                    epoch_col=epoch_col, loss_cols=default_loss(cols), written_nan=written, lines=lines,
                    sample=sample, witness_cols=series.witnesses(cols))
