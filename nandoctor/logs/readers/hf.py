"""Hugging Face Trainer `trainer_state.json`: `log_history` holds train entries (`loss`,
`grad_norm`, `learning_rate`, `step`, `epoch`) and eval entries (`eval_loss`, `eval_*`); NaN is a
bare `NaN` token, which Python's json module reads.

With `logging_nan_inf_filter=True` (the default) a NaN/Inf training loss is replaced by the running
average before logging, so the logged `loss` can look finite while training is broken: `grad_norm`
is kept as a witness whose non-finite values also mark the break.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from nandoctor.findings import NandoctorError
from nandoctor.logs.table import LogTable
from nandoctor.numbers import parse_number

FORMAT = "hf-trainer-state"
_MAX_BYTES = 1 << 30


def read(path: Path) -> LogTable:
    import numpy as np
    import pandas as pd

    if path.stat().st_size > _MAX_BYTES:
        raise NandoctorError(f"{path}: {path.stat().st_size} bytes is too large for a trainer_state.json")
    try:
        state = json.loads(path.read_bytes().decode("utf-8", "replace"))
    except (json.JSONDecodeError, RecursionError) as exc:
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        where = f" at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise NandoctorError(f"{path}: malformed JSON ({msg}{where})") from None
    history = state.get("log_history") if isinstance(state, dict) else None
    if not isinstance(history, list):
        keras = _keras_history(state)
        if keras is not None:
            return _keras_table(path, *keras)
        raise NandoctorError(
            f"{path}: JSON that is neither a trainer_state.json (`log_history`) nor a Keras "
            'history (`{"loss": [...]}`)'
        )
    records = [e for e in history if isinstance(e, dict)]
    cols: dict[str, list] = {}
    written: dict[str, list] = {}
    for i, entry in enumerate(records):
        for key, value in entry.items():
            num = parse_number(value)
            if num is None:
                continue
            key = str(key)
            if key not in cols:
                cols[key] = [math.nan] * i
                written[key] = [False] * i
            cols[key].append(num)
            written[key].append(math.isnan(num))
        for key in cols:
            if len(cols[key]) < i + 1:
                cols[key].append(math.nan)
                written[key].append(False)
    if not records or not cols:
        raise NandoctorError(f"{path}: `log_history` holds no numeric entries to analyze")
    frame = pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in cols.items()})
    written_nan = {k: np.asarray(v, dtype=bool) for k, v in written.items() if any(v)}
    from nandoctor.logs import series

    # the closing summary entry's `train_loss` is a run average, not a point of the curve
    loss = ["loss"] if "loss" in cols else series.choose([c for c in cols if c != "train_loss"])[0]
    return LogTable(
        frame=frame,
        format=FORMAT,
        path=path,
        index_col="step" if "step" in cols else None,
        index_name="step",
        epoch_col="epoch" if "epoch" in cols else None,
        loss_cols=loss,
        witness_cols=series.witnesses(cols),
        written_nan=written_nan,
        lines_total=len(records),
        lines_read=len(records),
        sparse=True,
    )


def _keras_history(state):
    """(epochs or None, {metric: values}) for `json.dump(history.history)` ({"loss": [...], ...}) or the
    `{"epochs": [...], "metrics": {...}}` shape; None for any other JSON."""
    if not isinstance(state, dict):
        return None
    epochs = None
    if isinstance(state.get("metrics"), dict):
        epochs, state = state.get("epochs"), state["metrics"]
    lists = {str(k): v for k, v in state.items() if isinstance(v, list) and v}
    if not lists or not any("loss" in k for k in lists):
        return None
    return (epochs if isinstance(epochs, list) else None), lists


def _keras_table(path: Path, epochs, metrics: dict) -> LogTable:
    import numpy as np
    import pandas as pd

    from nandoctor.logs import series

    n = max(len(v) for v in metrics.values())
    cols, written = {}, {}
    for key, values in metrics.items():
        nums = [parse_number(v) for v in values] + [None] * (n - len(values))
        cols[key] = np.array([math.nan if v is None else v for v in nums], dtype=float)
        mask = np.array([v is not None and math.isnan(v) for v in nums], dtype=bool)
        if mask.any():
            written[key] = mask
    ep = [parse_number(e) for e in epochs][:n] if epochs else []
    cols["epoch"] = np.array(
        [e if e is not None else i for i, e in enumerate(ep)] + list(range(len(ep), n)), dtype=float
    )  # History.epoch is 0-based
    frame = pd.DataFrame(cols)
    names = [c for c in frame.columns if c != "epoch"]
    return LogTable(
        frame=frame,
        format="keras-history",
        path=path,
        index_col="epoch",
        index_name="epoch",
        epoch_col="epoch",
        loss_cols=series.choose(names)[0],
        witness_cols=series.witnesses(names),
        written_nan=written,
        lines_total=n,
        lines_read=n,
    )
