"""Ultralytics `results.csv`: current (`epoch,time,...`, epoch from 1), 8.0-8.2 padded headers
(leading spaces, no `time`), YOLOv5 (`train/obj_loss`, `x/lr0`, epoch from 0); detect, segment,
pose, obb and classify column sets. The sum of the `train/*_loss` columns is the loss Ultralytics
itself optimises, so it is the default primary metric."""

from __future__ import annotations

from pathlib import Path

from nandoctor.logs.readers._csv import load_csv
from nandoctor.logs.table import LogTable

FORMAT = "ultralytics-results"


def looks_like(columns: list[str]) -> bool:
    cols = set(columns)
    has_train = any(c.startswith("train/") and c.endswith("loss") for c in cols)
    return "epoch" in cols and has_train and any(c.startswith(("metrics/", "lr/", "x/lr", "val/")) for c in cols)


def train_losses(columns: list[str]) -> list[str]:
    return [c for c in columns if c.startswith("train/") and c.endswith("loss")]


def read(path: Path, metric: str | None = None) -> LogTable:
    frame, written, lines, sample = load_csv(path, train_losses, metric)
    return LogTable(
        frame=frame,
        format=FORMAT,
        path=path,
        index_col="epoch",
        index_name="epoch",
        epoch_col="epoch",
        loss_cols=train_losses(list(frame.columns)),
        written_nan=written,
        lines=lines,
        sample=sample,
        lines_total=len(lines) + 1,
        lines_read=len(lines) + 1,
    )
