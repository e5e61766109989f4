"""analyze-log rules (ND3xx): anti-pattern and best-practice logs, written as the trainers write them.

The writers below reproduce the trainers' own format strings: Ultralytics' `save_metrics`
(8.0-8.2: `%23s,` header and `%23.5g,` values, right-aligned; 8.3 on: `%s,` header and `%.6g,`
values, with a `time` column), transformers' `TrainerState.save_to_json` (json.dumps, bare NaN),
Lightning's CSVLogger (csv.DictWriter, sorted columns, empty cells), pandas' `to_csv`, and the
console lines Keras and Megatron-LM print.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from tests.analyze_log_fixtures import NAN, write_lightning_metrics, write_trainer_state
from tests.catalogue import example
from tests.ultralytics_writers import RESULTS_COLUMNS

INF = float("inf")
_KEYS_8 = RESULTS_COLUMNS[2:]  # the metric keys, after "epoch" and "time"


def _decay(
    n: int, start: float = 2.0, end: float = 0.8, seed: int = 0, noise: float = 0.03, nan_from: int | None = None
) -> np.ndarray:
    """A decaying noisy loss of n points, NaN from `nan_from` on."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = (end + (start - end) * np.exp(-t / max(1.0, n / 4))) * np.exp(rng.normal(0, noise, n))
    if nan_from is not None:
        y[nan_from:] = NAN
    return y


def _ultra_rows(box, maps=None, time=None):
    """Ultralytics' metric dict per epoch: the losses, and the metrics drop to 0 when the losses are NaN."""
    rows = []
    for i, b in enumerate(box):
        bad = not math.isfinite(b)
        m = 0.0 if bad else (maps[i] if maps is not None else 0.3 + 0.2 * i / len(box))
        rows.append(
            [
                b,
                b * 1.4,
                b * 0.9,
                0.0 if bad else 0.6,
                0.0 if bad else 0.5,
                m,
                m * 0.6,
                NAN if bad else b * 1.05,
                NAN if bad else b * 1.5,
                NAN if bad else b * 0.95,
                1e-3,
                1e-3,
                1e-3,
            ]
        )
    return rows


def ultralytics_padded(path: Path, box, maps=None) -> list:
    """Ultralytics 8.0-8.2 `results.csv`: `('%23s,' * n % ...)` header, `('%23.5g,' * n % ...)` rows."""
    n = len(_KEYS_8) + 1
    text = ("%23s," * n % tuple(["epoch", *_KEYS_8])).rstrip(",") + "\n"
    for epoch, vals in enumerate(_ultra_rows(box, maps)):
        text += ("%23.5g," * n % tuple([epoch + 1, *vals])).rstrip(",") + "\n"
    path.write_text(text)
    return [path]


def ultralytics_current(path: Path, box, maps=None, time=None) -> list:
    """Ultralytics 8.3 on `results.csv`: `('%s,' * n % ...)` header with `time`, `('%.6g,' * n % ...)` rows."""
    n = len(_KEYS_8) + 2
    text = ("%s," * n % tuple(["epoch", "time", *_KEYS_8])).rstrip(",") + "\n"
    for epoch, vals in enumerate(_ultra_rows(box, maps)):
        t = time[epoch] if time is not None else 31.5 * (epoch + 1)
        text += ("%.6g," * n % tuple([epoch + 1, t, *vals])).rstrip(",") + "\n"
    path.write_text(text)
    return [path]


def training_history(path: Path, train, val_acc) -> list:
    """A hand-written loop's `training_history.csv`, saved with pandas' `to_csv` (NaN -> empty cell)."""
    import pandas as pd

    n = len(train)
    pd.DataFrame(
        {"epoch": range(1, n + 1), "train_loss": train, "val_loss": [v * 1.1 for v in train], "val_acc": val_acc}
    ).to_csv(path, index=False)
    return [path]


def keras_console(path: Path, losses, val_losses, val_accs) -> list:
    """Keras 3 `model.fit(verbose=1)` as captured in a file: `Epoch k/N`, then the epoch's last bar line."""
    lines = []
    n = len(losses)
    for e, (loss, vl, va) in enumerate(zip(losses, val_losses, val_accs, strict=True), start=1):
        lines.append(f"Epoch {e}/{n}")
        lines.append(
            f"\x1b[1m31/31\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m2s\x1b[0m 44ms/step - "
            f"accuracy: 0.6213 - loss: {loss:.4f} - val_accuracy: {va:.4f} - val_loss: {vl:.4f}"
        )
    path.write_text("\n".join(lines) + "\n")
    return [path]


def epoch_console(path: Path, train, val, acc) -> list:
    """A plain PyTorch loop's `print(f"Epoch {e}/{n} | Train Loss: {l:.4f} | Val Loss: ... | Val Acc: ...")`."""
    n = len(train)
    path.write_text(
        "".join(
            f"Epoch {e}/{n} | Train Loss: {t:.4f} | Val Loss: {v:.4f} | Val Acc: {a:.4f}\n"
            for e, (t, v, a) in enumerate(zip(train, val, acc, strict=True), start=1)
        )
    )
    return [path]


def megatron_console(path: Path, grad_norms, lm_losses=None) -> list:
    """Megatron-LM's `training_log` line per iteration (log_interval 1)."""
    lines = []
    for i, g in enumerate(grad_norms, start=1):
        line = (
            f" iteration {i:8d}/{250000:8d} | consumed samples: {8 * i:12d} | elapsed time per iteration (ms): "
            f"{4200.0 + i % 7:.1f} | learning rate: {3e-4:.3E} | global batch size: {8:5d} |"
        )
        if lm_losses is not None:
            line += f" lm loss: {lm_losses[i - 1]:.6E} |"
        line += f" loss scale: {1.0:.1f} | grad norm: {g:.3f} | number of skipped iterations: {0:3d} |"
        lines.append(line)
    path.write_text("\n".join(lines) + "\n")
    return [path]


# ND301: the loss turns NaN (Ultralytics 8.1, padded results.csv)
@example("ND301", "bad", "analyze-log")
def _(tmp: Path) -> list:
    return ultralytics_padded(tmp / "results.csv", list(_decay(12, seed=1, nan_from=8)))


@example("ND301", "good", "analyze-log")
def _(tmp: Path) -> list:
    return ultralytics_padded(tmp / "results.csv", list(_decay(12, seed=1)))


# ND302: a spike that came back down (transformers trainer_state.json)
@example("ND302", "bad", "analyze-log")
def _(tmp: Path) -> list:
    y = _decay(200, seed=2)
    y[120] *= 40
    return [write_trainer_state(tmp / "trainer_state.json", y, grad_norms=np.full(200, 1.2))]


@example("ND302", "good", "analyze-log")
def _(tmp: Path) -> list:
    return [write_trainer_state(tmp / "trainer_state.json", _decay(200, seed=2), grad_norms=np.full(200, 1.2))]


# ND303: non-finite from the first value (Keras console: loss inf from epoch 1)
@example("ND303", "bad", "analyze-log")
def _(tmp: Path) -> list:
    return keras_console(tmp / "console.txt", [INF] * 5, [INF] * 5, [0.0097] * 5)


@example("ND303", "good", "analyze-log")
def _(tmp: Path) -> list:
    y = list(_decay(5, start=4.6, end=2.0, seed=3))
    return keras_console(tmp / "console.txt", y, [v * 1.1 for v in y], [0.0097, 0.05, 0.11, 0.17, 0.21])


# ND304: sudden spike at the end, then NaN (Lightning CSVLogger metrics.csv)
@example("ND304", "bad", "analyze-log")
def _(tmp: Path) -> list:
    y = list(_decay(300, seed=4))
    y[250] = y[249] * 60
    y[251:] = [NAN] * 49
    return [write_lightning_metrics(tmp / "metrics.csv", y)]


@example("ND304", "good", "analyze-log")
def _(tmp: Path) -> list:
    return [write_lightning_metrics(tmp / "metrics.csv", list(_decay(300, seed=4)))]


# ND305: exponential growth into NaN (transformers trainer_state.json, learning rate too high)
@example("ND305", "bad", "analyze-log")
def _(tmp: Path) -> list:
    y = _decay(200, seed=5, nan_from=180)
    y[140:180] *= np.exp(np.linspace(0, math.log(200), 40))
    return [write_trainer_state(tmp / "trainer_state.json", y, grad_norms=np.full(200, 1.0))]


@example("ND305", "good", "analyze-log")
def _(tmp: Path) -> list:
    return [write_trainer_state(tmp / "trainer_state.json", _decay(200, seed=5), grad_norms=np.full(200, 1.0))]


# ND306: swings that grow while the lows stay down (training_history.csv, pandas to_csv)
@example("ND306", "bad", "analyze-log")
def _(tmp: Path) -> list:
    y = list(_decay(60, seed=6))
    for k, i in enumerate(range(40, 58)):
        y[i] *= math.exp((1 if k % 2 == 0 else -1) * 0.12 * k)
    y[58:] = [NAN, NAN]
    return training_history(tmp / "training_history.csv", y, [0.7] * 60)


@example("ND306", "good", "analyze-log")
def _(tmp: Path) -> list:
    return training_history(tmp / "training_history.csv", list(_decay(60, seed=6)), [0.7] * 60)


# ND307: finite and steady up to the NaN (Ultralytics 8.3 results.csv, the AMP overflow at epoch 134)
@example("ND307", "bad", "analyze-log")
def _(tmp: Path) -> list:
    return ultralytics_current(tmp / "results.csv", list(_decay(200, seed=7, nan_from=133)))


@example("ND307", "good", "analyze-log")
def _(tmp: Path) -> list:
    return ultralytics_current(tmp / "results.csv", list(_decay(200, seed=7)))


# ND308: validation goes non-finite (a PyTorch loop's epoch prints)
@example("ND308", "bad", "analyze-log")
def _(tmp: Path) -> list:
    return epoch_console(
        tmp / "train.log", [0.9512, 0.7663, 0.7015, 0.6620], [0.8810, NAN, NAN, NAN], [0.7500, 1.0000, 1.0000, 1.0000]
    )


@example("ND308", "good", "analyze-log")
def _(tmp: Path) -> list:
    return epoch_console(
        tmp / "train.log",
        [0.9512, 0.7663, 0.7015, 0.6620],
        [0.8810, 0.6120, 0.5904, 0.5811],
        [0.7500, 0.8125, 0.8210, 0.8302],
    )


# ND309: mAP snaps to 0 when the losses turn NaN (Ultralytics 8.3 results.csv writes 0 metrics there)
@example("ND309", "bad", "analyze-log")
def _(tmp: Path) -> list:
    return ultralytics_current(tmp / "results.csv", list(_decay(20, seed=9, nan_from=15)))


@example("ND309", "good", "analyze-log")
def _(tmp: Path) -> list:
    return ultralytics_current(tmp / "results.csv", list(_decay(20, seed=9)))


# ND310: grad_norm NaN while logging_nan_inf_filter keeps the logged loss finite (trainer_state.json)
@example("ND310", "bad", "analyze-log")
def _(tmp: Path) -> list:
    y = _decay(100, seed=10)
    g = np.full(100, 1.3)
    g[70:] = NAN
    y[70:] = y[69]  # the filter logs the running average instead of the NaN
    return [write_trainer_state(tmp / "trainer_state.json", y, grad_norms=g)]


@example("ND310", "good", "analyze-log")
def _(tmp: Path) -> list:
    return [write_trainer_state(tmp / "trainer_state.json", _decay(100, seed=10), grad_norms=np.full(100, 1.3))]


# ND311: the gradient norm surges 5x over the steps before: the catalogue's own sequence, logged by
# transformers. (It did not fire until the surge test, like the spike test, judged a point from two
# earlier values on: it needed ten, so no log of under a dozen steps could ever surge.)
@example("ND311", "bad", "analyze-log")
def _(tmp: Path) -> list:
    g = [1.1, 1.3, 1.2, 9.8, 48.0]
    return [write_trainer_state(tmp / "trainer_state.json", [2.1, 2.0, 1.9, 1.85, 1.8], grad_norms=g)]


@example("ND311", "good", "analyze-log")
def _(tmp: Path) -> list:
    g = 1.1 + 0.1 * np.sin(np.arange(100))
    return [write_trainer_state(tmp / "trainer_state.json", _decay(100, seed=11), grad_norms=g)]


# ND312 is advice, not a fault: it is given whenever a log holds a healthy stretch of grad norms. Its
# best practice, a run that already clips, cannot be told from a log (transformers logs the norm
# before clipping), so the good example is a log with no grad norm, from which no threshold follows.
@example("ND312", "bad", "analyze-log")
def _(tmp: Path) -> list:
    y = _decay(100, seed=12, nan_from=90)
    g = np.abs(1.0 + 0.2 * np.sin(np.arange(100)))
    g[90:] = NAN
    return [write_trainer_state(tmp / "trainer_state.json", y, grad_norms=g)]


@example("ND312", "good", "analyze-log")
def _(tmp: Path) -> list:
    return [write_lightning_metrics(tmp / "metrics.csv", list(_decay(300, seed=12)))]


# ND313: the loss does not go down and mAP stays 0 (Ultralytics 8.3 results.csv, lr 0)
@example("ND313", "bad", "analyze-log")
def _(tmp: Path) -> list:
    box = list(np.linspace(1.34, 1.41, 10) * np.exp(np.random.default_rng(13).normal(0, 0.01, 10)))
    return ultralytics_current(tmp / "results.csv", box, maps=[0.0] * 10)


@example("ND313", "good", "analyze-log")
def _(tmp: Path) -> list:
    return ultralytics_current(tmp / "results.csv", list(_decay(10, seed=13)), maps=list(np.linspace(0.05, 0.4, 10)))


# ND314: the time column goes backwards: the run was resumed (Ultralytics 8.3 results.csv)
@example("ND314", "bad", "analyze-log")
def _(tmp: Path) -> list:
    time = [303.0 * (e + 1) for e in range(10)] + [12.4 + 303.0 * e for e in range(10)]
    return ultralytics_current(tmp / "results.csv", list(_decay(20, seed=14)), time=time)


@example("ND314", "good", "analyze-log")
def _(tmp: Path) -> list:
    return ultralytics_current(tmp / "results.csv", list(_decay(20, seed=14)))


# ND315: one empty loss cell in a dense log (pandas to_csv writes NaN as an empty cell)
@example("ND315", "bad", "analyze-log")
def _(tmp: Path) -> list:
    y = list(_decay(12, seed=15))
    y[6] = NAN
    return training_history(tmp / "training_history.csv", y, [0.91] * 12)


@example("ND315", "good", "analyze-log")
def _(tmp: Path) -> list:
    return training_history(tmp / "training_history.csv", list(_decay(12, seed=15)), [0.91] * 12)


# ND316: a Megatron console that prints no loss, only the loss scale and the grad norm
@example("ND316", "bad", "analyze-log")
def _(tmp: Path) -> list:
    g = list(1.7 + 0.1 * np.sin(np.arange(30)))
    g[20:] = [NAN] * 10
    return megatron_console(tmp / "console.txt", g)


@example("ND316", "good", "analyze-log")
def _(tmp: Path) -> list:
    g = list(1.7 + 0.1 * np.sin(np.arange(30)))
    g[20:] = [NAN] * 10
    return megatron_console(tmp / "console.txt", g, lm_losses=list(_decay(30, start=2.31, end=2.0, seed=16)))


# ND317: the run was killed while Ultralytics wrote epoch 7's row (8.3 results.csv cut mid-row)
@example("ND317", "bad", "analyze-log")
def _(tmp: Path) -> list:
    (path,) = ultralytics_current(tmp / "results.csv", list(_decay(7, seed=3)))
    text = path.read_text()
    path.write_text(text[: text.rstrip("\n").rfind("\n") + 1] + "7,220.5,0.91")  # the last row cut short
    return [path]


@example("ND317", "good", "analyze-log")
def _(tmp: Path) -> list:
    return ultralytics_current(tmp / "results.csv", list(_decay(7, seed=3)))
