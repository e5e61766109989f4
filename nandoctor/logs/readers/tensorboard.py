"""TensorBoard event files (scalars), read with TensorBoard's own maintained EventAccumulator.

Writing a TFRecord/protobuf parser by hand would duplicate what the `tensorboard` package keeps
correct across versions; it is an optional dependency (`pip install "nandoctor[tensorboard]"`).
Each scalar tag becomes a column, joined on the step (an outer join: tags logged at different steps
leave empty cells, like Lightning's sparse rows).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

from nandoctor.findings import NandoctorError
from nandoctor.logs.table import LogTable

FORMAT = "tensorboard"


def is_event_file(path: Path) -> bool:
    return "tfevents" in path.name


def read(path: Path) -> LogTable:
    import numpy as np
    import pandas as pd

    try:
        from tensorboard.backend.event_processing import event_accumulator as ea
    except ImportError:
        raise NandoctorError(
            'reading TensorBoard event files needs the `tensorboard` package: pip install "nandoctor[tensorboard]"'
        ) from None
    for name in ("tensorboard", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        acc = ea.EventAccumulator(str(path), size_guidance={ea.SCALARS: 0, ea.TENSORS: 0})
        acc.Reload()
        tags = acc.Tags()
        series: dict[str, dict[int, float]] = {}
        for tag in tags.get("scalars", []):
            series[tag] = {int(e.step): float(e.value) for e in acc.Scalars(tag)}
        for tag in tags.get("tensors", []):  # TF2 / tensorboardX v2 write scalars as 0-d tensors
            values = {}
            for e in acc.Tensors(tag):
                arr = _tensor_value(e.tensor_proto)
                if arr is not None:
                    values[int(e.step)] = arr
            if values:
                series.setdefault(tag, values)
    except NandoctorError:
        raise
    except Exception as exc:  # corrupt records surface as many exception types inside tensorboard
        raise NandoctorError(f"{path}: unreadable TensorBoard event file ({type(exc).__name__})") from None
    if not series:
        raise NandoctorError(f"{path}: no scalar values in this TensorBoard log")
    from nandoctor.logs import series as choose

    picked = choose.choose(list(series), prefer_suffix="_step")[0]
    loss_tag = picked[0] if picked else None
    main, other = _clocks(series, loss_tag)
    steps = sorted(set().union(*(series[t].keys() for t in main)))
    pos = {s: i for i, s in enumerate(steps)}
    cols = {"step": np.asarray(steps, dtype=float)}
    written = {}
    for tag in main:
        col = np.full(len(steps), math.nan)
        mask = np.zeros(len(steps), dtype=bool)
        for step, value in series[tag].items():
            col[pos[step]] = value
            mask[pos[step]] = math.isnan(value)
        cols[tag] = col
        if mask.any():
            written[tag] = mask
    frame = pd.DataFrame(cols)
    names = [c for c in frame.columns if c != "step"]
    table = LogTable(
        frame=frame,
        format=FORMAT,
        path=path,
        index_col="step",
        index_name="step",
        epoch_col=next((c for c in frame.columns if c.lower() in ("epoch", "train/epoch")), None),
        loss_cols=choose.choose(names, prefer_suffix="_step")[0],
        witness_cols=choose.witnesses(names),
        written_nan=written,
        lines_total=sum(len(v) for v in series.values()),
        lines_read=sum(len(v) for v in series.values()),
        sparse=True,
    )
    table.other_axis = {t: series[t] for t in other}
    if other:
        table.notes.append(
            f"{len(other)} tag(s) logged once per epoch ({', '.join(sorted(other)[:4])}) are on "
            "their own axis and are judged separately from the per-step tags"
        )
    return table


def _clocks(series: dict, loss_tag: str | None) -> tuple[list[str], list[str]]:
    """Split tags into the loss's axis and another one. A tag logged at every integer of a range that
    ends well below the loss's last step (`Loss/train` at steps 1..30 beside `Loss/train_step` at
    1..240) counts epochs, not steps: putting both on one axis would date epoch 10 at step 10."""
    if loss_tag is None:
        return list(series), []
    top = max(series[loss_tag])
    main, other = [], []
    for tag, values in series.items():
        steps = sorted(values)
        dense = len(steps) >= 2 and steps[-1] - steps[0] + 1 == len(steps)
        loss_dense = len(series[loss_tag]) >= 2 * len(steps)
        if tag != loss_tag and dense and loss_dense and steps[-1] * 2 <= top:
            other.append(tag)
        else:
            main.append(tag)
    return main, other


def _tensor_value(proto) -> float | None:
    try:
        from tensorboard.util import tensor_util

        arr = tensor_util.make_ndarray(proto)
    except Exception:
        return None
    if arr.size != 1 or arr.dtype.kind not in "fiu":
        return None
    return float(arr.reshape(-1)[0])
