"""The run's own log as evidence for a config: where it lies beside the config, and the LR that ran.

Whether the run went non-finite, and how, is analyze-log's judgement (its summary is used as is);
this module only finds the file and reads the one number analyze-log does not report: the peak
learning rate the run actually used (Ultralytics `lr/pg0`, which with `optimizer: auto` differs
from lr0; HF `learning_rate` in log_history), over the rows before the first non-finite one.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from nandoctor.numbers import parse_number

LR_COLUMNS = ("lr/pg0", "x/lr0", "lr")
MAX_LOG_BYTES = 64 * 1024 * 1024   # one number is read; a larger file is left to analyze-log alone


def run_log(config: Path) -> Path | None:
    """results.csv beside an Ultralytics args.yaml; trainer_state.json beside an HF config or in the
    newest checkpoint-N/ folder beside it."""
    folder = Path(config).resolve().parent
    for name in ("results.csv", "trainer_state.json"):
        f = folder / name
        if f.is_file():
            return f
    checkpoints = []
    try:
        for d in folder.glob("checkpoint-*"):
            step = d.name.rpartition("-")[2]
            if step.isdigit() and (d / "trainer_state.json").is_file():
                checkpoints.append((int(step), d / "trainer_state.json"))
    except OSError:
        return None
    return max(checkpoints)[1] if checkpoints else None


def lr_ran(log: Path, before_row: int | None = None) -> tuple[float | None, str | None]:
    """(peak finite LR in the rows before `before_row`, its column), or (None, None)."""
    try:
        if log.stat().st_size > MAX_LOG_BYTES:
            return None, None
        if log.suffix.lower() == ".json":
            return _hf(log, before_row)
        if log.suffix.lower() == ".csv":
            return _csv(log, before_row)
    except (OSError, ValueError, UnicodeDecodeError, csv.Error, RecursionError):
        pass
    return None, None


def _peak(values) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    return max(vals) if vals else None


def _csv(log: Path, before_row: int | None):
    with log.open(newline="", encoding="utf-8-sig") as f:
        rows = csv.reader(f)
        header = [h.strip() for h in next(rows, [])]
        col = next((c for c in LR_COLUMNS if c in header), None)
        if col is None:
            return None, None
        i = header.index(col)
        values = []
        for n, row in enumerate(rows):
            if before_row is not None and n >= before_row:
                break
            values.append(parse_number(row[i]) if i < len(row) else None)
    return _peak(values), col


def _hf(log: Path, before_row: int | None):
    history = json.loads(log.read_text(encoding="utf-8")).get("log_history")
    if not isinstance(history, list):
        return None, None
    rows = history[:before_row] if before_row is not None else history
    peak = _peak(parse_number(r.get("learning_rate")) for r in rows if isinstance(r, dict))
    return (peak, "learning_rate") if peak else (None, None)
