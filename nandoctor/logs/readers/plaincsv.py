"""Any other CSV log, such as `training_history.csv` (`epoch,train_loss,val_loss,val_acc`)."""

from __future__ import annotations

import re
from pathlib import Path

from nandoctor.logs.readers._csv import load_csv
from nandoctor.logs.table import LogTable

FORMAT = "csv"
_EVAL = re.compile(r"(^|[/_ .-])(val|valid|validation|eval|test|dev)([/_ .-]|$)", re.I)
_SKIP = re.compile(r"(^|[/_ .-])(lr|learning_rate|time|runtime|epoch|step|global_step|iter|iteration)"
                   r"([/_ .-]|$)|per_second|flos|num_tokens", re.I)


def is_eval(col: str) -> bool:
    return bool(_EVAL.search(col))


def pick_loss(columns: list[str], prefer_suffix: str = "") -> str | None:
    """The training loss column a person would plot first (None when the log has no loss)."""
    losses = [c for c in columns if "loss" in c.lower() and not is_eval(c)]
    if prefer_suffix:
        losses.sort(key=lambda c: (not c.endswith(prefer_suffix)))
    exact = [c for c in losses if c.lower() in ("loss", "train_loss", "train/loss", "train loss",
                                                    "train_loss" + prefer_suffix)]
    if exact:
        return exact[0]
    if losses:
        return losses[0]
    anyloss = [c for c in columns if "loss" in c.lower()]
    if anyloss:
        return anyloss[0]
    rest = [c for c in columns if not _SKIP.search(c)]
    return rest[0] if rest else None


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
