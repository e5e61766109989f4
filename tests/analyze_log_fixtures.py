"""Curves and log files for the analyze-log tests, written with the formats' real writers.

Noisy per-step curves: a decaying loss with multiplicative noise (fixed seeds), with each of the
playbook's patterns grafted onto its end, so the classifier is tested on thousands of points and not
only on the short sequences of field notes §2.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

NAN = float("nan")

# Field notes §2, verbatim.
PLAYBOOK = {
    "sudden_spike": [2.1, 2.0, 1.9, 8734.5, NAN],
    "exponential_growth": [2.1, 2.3, 2.8, 4.5, 12.3, 89.7, NAN],
    "oscillating_divergence": [2.1, 1.8, 2.5, 1.6, 3.2, 1.4, 5.8, NAN],
    "abrupt_nonfinite": [2.1, 2.0, 1.9, 1.85, 1.8, NAN],
    "nonfinite_from_start": [float("inf")] * 6,
    "healthy": [2.1, 1.9, 1.7, 1.6, 1.5, 1.45, 1.4],
}


def noisy_curve(pattern: str, n: int = 4000, seed: int = 0, noise: float = 0.08) -> np.ndarray:
    """A per-step loss of `n` points: decay plus noise, ending in `pattern`."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    base = 0.6 + 1.8 * np.exp(-t / (n / 5))
    y = base * np.exp(rng.normal(0.0, noise, n))
    brk = int(n * 0.85)
    if pattern == "healthy":
        return y
    if pattern == "nonfinite_from_start":
        y[:] = NAN
        return y
    if pattern == "abrupt_nonfinite":
        y[brk:] = NAN
    elif pattern == "sudden_spike":
        y[brk] = y[brk - 1] * 60
        y[brk + 1 :] = NAN
    elif pattern == "exponential_growth":
        grow = int(n * 0.1)
        y[brk - grow : brk] *= np.exp(np.linspace(0, math.log(150), grow))
        y[brk:] = NAN
    elif pattern == "oscillating_divergence":
        grow = int(n * 0.1)
        amp = np.linspace(0.0, 2.2, grow)
        sign = np.where(np.arange(grow) % 2 == 0, 1.0, -1.0)
        y[brk - grow : brk] *= np.exp(sign * amp)
        y[brk:] = NAN
    return y


def healthy_variant(seed: int) -> np.ndarray:
    """Healthy curves that are hard on a classifier: heavy-tailed, additive, periodic noise, and a
    mild late rise (overfitting), at lengths from 15 to 5000 points."""
    rng = np.random.default_rng(seed)
    n = int(rng.choice([15, 50, 200, 1000, 5000]))
    t = np.arange(n)
    base = 0.3 + 2 * np.exp(-t / (n / rng.uniform(2, 10)))
    kind = seed % 4
    if kind == 0:
        return base * np.exp(rng.standard_t(3, n) * 0.1)
    if kind == 1:
        return base + np.abs(rng.normal(0, 0.3, n))
    if kind == 2:
        return np.maximum(base * (1 + 0.5 * np.sin(t / 5)) * np.exp(rng.normal(0, 0.1, n)), 1e-3)
    y = base * np.exp(rng.normal(0, 0.3, n))
    y[int(n * 0.7) :] *= np.linspace(1, 1.8, n - int(n * 0.7))
    return y


def with_recovered_spike(n: int = 4000, seed: int = 0) -> np.ndarray:
    y = noisy_curve("healthy", n, seed)
    y[n // 2] *= 40
    return y


def write_csv(path: Path, columns: dict[str, list]) -> Path:
    """A plain CSV log the way csv.writer/pandas write it (`nan`, `inf` literals)."""
    names = list(columns)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(names)
        for row in zip(*columns.values(), strict=True):
            w.writerow(["%.6g" % v if isinstance(v, float) else v for v in row])
    return path


def write_training_history(path: Path, train, val=None, acc=None) -> Path:
    """`training_history.csv` (`epoch,train_loss,val_loss,val_acc`), epochs from 1."""
    n = len(train)
    val = val if val is not None else [v * 1.1 for v in train]
    acc = acc if acc is not None else [0.5] * n
    return write_csv(
        path,
        {
            "epoch": list(range(1, n + 1)),
            "train_loss": [float(v) for v in train],
            "val_loss": [float(v) for v in val],
            "val_acc": [float(v) for v in acc],
        },
    )


def write_trainer_state(
    path: Path,
    losses,
    grad_norms=None,
    eval_every: int = 0,
    eval_losses=None,
    steps_per_epoch: int = 100,
    logging_steps: int = 10,
) -> Path:
    """A trainer_state.json with the structure transformers' TrainerState.save_to_json writes."""
    history = []
    for i, loss in enumerate(losses):
        step = (i + 1) * logging_steps
        entry = {
            "epoch": step / steps_per_epoch,
            "grad_norm": float(grad_norms[i]) if grad_norms is not None else 1.0,
            "learning_rate": 5e-5,
            "loss": float(loss),
            "step": step,
        }
        history.append(entry)
        if eval_every and (i + 1) % eval_every == 0:
            ev = float(eval_losses[i]) if eval_losses is not None else float(loss) * 1.05
            history.append({"epoch": step / steps_per_epoch, "eval_loss": ev, "eval_runtime": 1.5, "step": step})
    state = {
        "best_metric": None,
        "best_model_checkpoint": None,
        "epoch": history[-1]["epoch"],
        "eval_steps": 500,
        "global_step": history[-1]["step"],
        "is_hyper_param_search": False,
        "is_local_process_zero": True,
        "is_world_process_zero": True,
        "log_history": history,
        "logging_steps": logging_steps,
        "max_steps": history[-1]["step"],
        "num_train_epochs": 3,
        "save_steps": 500,
        "total_flos": 1.0e15,
        "train_batch_size": 8,
        "trial_name": None,
        "trial_params": None,
    }
    # json.dumps writes bare NaN/Infinity, exactly as TrainerState.save_to_json does
    path.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    return path


def write_lightning_metrics(path: Path, step_losses, steps_per_epoch: int = 10) -> Path:
    """Lightning CSVLogger's metrics.csv: sparse step rows and epoch rows, columns sorted."""
    rows = []
    for i, loss in enumerate(step_losses):
        epoch = i // steps_per_epoch
        rows.append({"epoch": epoch, "step": i, "train_loss_step": loss})
        if (i + 1) % steps_per_epoch == 0:
            chunk = step_losses[i + 1 - steps_per_epoch : i + 1]
            rows.append(
                {
                    "epoch": epoch,
                    "step": i,
                    "train_loss_epoch": float(np.mean(chunk)),
                    "val_loss": float(np.mean(chunk)) * 1.1,
                }
            )
    keys = sorted({k for r in rows for k in r})
    with open(path, "w", newline="") as fh:  # CSVLogger uses csv.DictWriter the same way (CRLF line ends)
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    return path


def write_lightning_metrics_fast(path: Path, step_losses, steps_per_epoch: int = 1000) -> Path:
    """Lightning CSVLogger's metrics.csv for a million steps in a second or two: the same file as
    `csv.DictWriter` writes (sorted columns, `str(float)` values, empty cells, CRLF line ends), built
    with pandas instead of a Python loop."""
    import pandas as pd

    y = np.asarray(step_losses, dtype=float)
    n = len(y)
    steps = np.arange(n)
    ends = steps[steps_per_epoch - 1 :: steps_per_epoch]
    epoch_mean = y[: len(ends) * steps_per_epoch].reshape(-1, steps_per_epoch).mean(axis=1)
    step_rows = pd.DataFrame({"epoch": steps // steps_per_epoch, "step": steps, "train_loss_step": y})
    epoch_rows = pd.DataFrame(
        {"epoch": ends // steps_per_epoch, "step": ends, "train_loss_epoch": epoch_mean, "val_loss": epoch_mean * 1.1}
    )
    order = np.concatenate([2 * steps, 2 * ends + 1])  # each epoch row right after its last step row
    frame = pd.concat([step_rows, epoch_rows], ignore_index=True).iloc[np.argsort(order, kind="stable")]
    frame = frame[sorted(frame.columns)]
    frame.to_csv(path, index=False, lineterminator="\r\n", float_format=None)  # NaN -> "" as restval
    return path


def write_ultralytics_results(path: Path, box, cls=None, dfl=None, first_epoch: int = 1) -> Path:
    """A current Ultralytics results.csv (plain header, '%.6g', `nan` literal, metrics 0 at NaN)."""
    from tests.ultralytics_writers import RESULTS_COLUMNS

    n = len(box)
    cls = cls if cls is not None else [b * 1.3 for b in box]
    dfl = dfl if dfl is not None else [b * 0.9 for b in box]
    lines = [",".join(RESULTS_COLUMNS)]
    for i in range(n):
        bad = not all(map(math.isfinite, (box[i], cls[i], dfl[i])))
        metrics = [0.0] * 4 if bad else [0.5, 0.45, 0.4, 0.2]
        vals = [
            first_epoch + i,
            30.0 * (i + 1),
            box[i],
            cls[i],
            dfl[i],
            *metrics,
            *(3 * [NAN] if bad else [box[i] * 1.05, cls[i] * 1.05, dfl[i] * 1.05]),
            1e-3,
            1e-3,
            1e-3,
        ]
        lines.append(",".join(str(int(v)) if j == 0 else "%.6g" % v for j, v in enumerate(vals)))
    path.write_text("\n".join(lines) + "\n")
    return path


# The truth of every real log under ../shared/realworld and ../shared/runs, read by hand from their
# READMEs (realworld) and from the runs' own *_truth.json records (runs). `first`/`last`: index of
# the first non-finite / last healthy point of the chosen series (None: none; ... : not checked);
# `exit`: the exit code; `errors`/`warnings`: codes that must be there; `no_errors`: a healthy log.
_ANY = ...
REAL_LOGS = [
    # realworld: other people's runs
    dict(
        path="realworld/ultralytics_coffee_val_inf_recovered/results.csv",
        reader="ultralytics-results",
        index="epoch",
        first=None,
        pattern="healthy",
        exit=0,
        warnings=["ND308"],
        no_errors=True,
    ),
    dict(
        path="realworld/ultralytics_waterfowl_resumed_val_nan_at_end/results.csv",
        reader="ultralytics-results",
        index="epoch",
        first=None,
        pattern="healthy",
        exit=1,
        errors=["ND308"],
    ),
    dict(
        path="realworld/ultralytics_rtdetr_val_nan_transient/results.csv",
        reader="ultralytics-results",
        index="epoch",
        first=None,
        pattern="healthy",
        exit=0,
        warnings=["ND308"],
        no_errors=True,
    ),
    dict(
        path="realworld/keras_console_nan_epoch4/console.txt",
        reader="keras-console",
        index="epoch",
        first=4,
        batch="23/31",
        last=3,
        pattern="!healthy",
        exit=1,
        errors=["ND301"],
    ),
    dict(
        path="realworld/keras_history_json_nan_epoch3/history.json",
        reader="keras-history",
        index="epoch",
        first=3,
        last=2,
        pattern="!healthy",
        exit=1,
        errors=["ND301"],
    ),
    dict(
        path="realworld/hf_console_loss0_gradnorm_nan/console.txt",
        reader="hf-console",
        index="epoch",
        first=0.54,
        last=None,
        pattern="nonfinite_throughout",
        exit=1,
        errors=["ND301", "ND310"],
    ),
    dict(
        path="realworld/megatron_console_gradnorm_nan/console.txt",
        reader="megatron",
        index="step",
        metric="grad_norm",
        first=5426,
        last=None,
        pattern="nonfinite_throughout",
        exit=1,
        errors=["ND301"],
    ),
    dict(
        path="realworld/mmdet_console_all_nan/console.txt",
        reader="mmdet",
        index="epoch",
        metric="loss",
        first=1,
        batch="25500/61598",
        last=None,
        pattern="nonfinite_throughout",
        exit=1,
        errors=["ND301"],
    ),
    dict(
        path="realworld/yolov7_console_box_nan/console.txt",
        reader="yolo-console",
        index="epoch",
        metric="total",
        first=41,
        last=None,
        pattern="nonfinite_throughout",
        exit=1,
        errors=["ND301"],
    ),
    dict(
        path="realworld/healthy_hf_t5_trainer_state/trainer_state.json",
        reader="hf-trainer-state",
        index="step",
        first=None,
        pattern="healthy",
        exit=0,
        no_errors=True,
    ),
    dict(
        path="realworld/healthy_hf_tinyllama_trainer_state/trainer_state.json",
        reader="hf-trainer-state",
        index="step",
        first=None,
        pattern="healthy",
        exit=0,
        no_errors=True,
    ),
    dict(
        path="realworld/healthy_lightning_pendulum_metrics/metrics.csv",
        reader="lightning-metrics",
        index="step",
        first=None,
        pattern="healthy",
        exit=0,
        no_errors=True,
    ),
    dict(
        path="realworld/healthy_lightning_camels_plain_columns/metrics.csv",
        reader="lightning-metrics",
        index="step",
        metric="train_loss",
        first=None,
        pattern="healthy",
        exit=0,
        no_errors=True,
    ),
    dict(
        path="realworld/healthy_yolov5_results/results.csv",
        reader="ultralytics-results",
        index="epoch",
        first=None,
        pattern="healthy",
        exit=0,
        no_errors=True,
    ),
    dict(
        path="realworld/healthy_yolov5_console/training_terminal_output_64e_20bs.md",
        reader="yolo-console",
        index="epoch",
        metric="box+obj+cls",
        points=64,
        first=None,
        pattern="healthy",
        exit=0,
        no_errors=True,
    ),
    dict(
        path="realworld/healthy_keras_console/ReadMe.txt",
        reader="keras-console",
        index="epoch",
        metric="loss",
        first=None,
        pattern="healthy",
        exit=0,
        no_errors=True,
    ),
    # two epochs: too few points for a verdict, so exit 2 (never "healthy" from 2 points)
    dict(path="realworld/healthy_ultralytics_crater/results.csv", exit=2),
    # runs made with the real trainers
    dict(
        path="runs/h1_healthy/console.log",
        reader="hf-console",
        index="epoch",
        metric="loss",
        first=None,
        pattern="healthy",
        exit=0,
        no_errors=True,
    ),
    dict(
        path="runs/h1_healthy/out/trainer_state.json",
        reader="hf-trainer-state",
        index="step",
        first=None,
        pattern="healthy",
        exit=0,
        no_errors=True,
    ),
    dict(
        path="runs/h1_healthy/out/runs",
        reader="tensorboard",
        index="step",
        metric="train/loss",
        first=None,
        pattern="healthy",
        exit=0,
        no_errors=True,
    ),
    dict(
        path="runs/h3_nan_end30/console.log",
        reader="hf-console",
        index="epoch",
        metric="loss",
        first=0.9688,
        last=0.9375,
        pattern="!healthy",
        exit=1,
        errors=["ND301", "ND310"],
    ),
    dict(
        path="runs/h3_nan_end30/out/trainer_state.json",
        reader="hf-trainer-state",
        index="step",
        first=31,
        last=30,
        pattern="!healthy",
        exit=1,
        errors=["ND301", "ND310"],
    ),
    dict(
        path="runs/h3_nan_end30/out/runs",
        reader="tensorboard",
        index="step",
        metric="train/loss",
        first=31,
        last=30,
        pattern="!healthy",
        exit=1,
        errors=["ND301", "ND310"],
    ),
    # Lightning's console shows only the final progress bar: one point
    dict(path="runs/l1_healthy/console.log", exit=2),
    dict(
        path="runs/l1_healthy/run/lightning_logs/version_0/metrics.csv",
        reader="lightning-metrics",
        index="step",
        metric="train_loss_step",
        first=None,
        pattern="healthy",
        exit=0,
        no_errors=True,
    ),
    dict(
        path="runs/l1_healthy/run/tb_logs/version_0",
        reader="tensorboard",
        index="step",
        metric="train_loss_step",
        first=None,
        pattern="healthy",
        exit=0,
        no_errors=True,
    ),
    dict(
        path="runs/l2_diverge/console.log", reader="lightning-console", index="epoch", first=9, exit=1, errors=["ND301"]
    ),
    dict(
        path="runs/l2_diverge/run/lightning_logs/version_0/metrics.csv",
        reader="lightning-metrics",
        index="step",
        metric="train_loss_step",
        first=69,
        last=68,
        pattern="exponential_growth",
        exit=1,
        errors=["ND301"],
    ),
    dict(
        path="runs/l2_diverge/run/tb_logs/version_0",
        reader="tensorboard",
        index="step",
        metric="train_loss_step",
        first=69,
        last=68,
        pattern="exponential_growth",
        exit=1,
        errors=["ND301"],
    ),
    dict(
        path="runs/p1_healthy/console.log",
        reader="pipe-console",
        index="epoch",
        metric="train_loss",
        first=None,
        pattern="healthy",
        exit=0,
        no_errors=True,
    ),
    dict(
        path="runs/p1_healthy/run/train.log",
        reader="pipe-console",
        index="epoch",
        metric="train_loss",
        first=None,
        pattern="healthy",
        exit=0,
        no_errors=True,
    ),
    dict(
        path="runs/p1_healthy/run/training_history.csv",
        reader="csv",
        index="epoch",
        metric="train_loss",
        first=None,
        pattern="healthy",
        exit=0,
        no_errors=True,
    ),
    dict(
        path="runs/p1_healthy/run/tb",
        reader="tensorboard",
        index="step",
        metric="Loss/train_step",
        first=None,
        pattern="healthy",
        exit=0,
        no_errors=True,
    ),
    # a poisoned sample at epoch 10: the loss surged a million-fold and came back, never non-finite
    dict(path="runs/p4_poison_recover/console.log", reader="pipe-console", index="epoch", first=None, exit=_ANY),
    dict(path="runs/p4_poison_recover/run/train.log", reader="pipe-console", index="epoch", first=None, exit=_ANY),
    dict(path="runs/p4_poison_recover/run/training_history.csv", reader="csv", index="epoch", first=None, exit=_ANY),
    dict(path="runs/p4_poison_recover/run/tb", reader="tensorboard", index="step", first=None, exit=_ANY),
    dict(
        path="runs/p5_fp16_overflow/console.log",
        reader="pipe-console",
        index="epoch",
        metric="train_loss",
        first=10,
        last=9,
        pattern="exponential_growth",
        exit=1,
        errors=["ND301"],
    ),
    dict(
        path="runs/p5_fp16_overflow/run/train.log",
        reader="pipe-console",
        index="epoch",
        metric="train_loss",
        first=10,
        last=9,
        pattern="exponential_growth",
        exit=1,
        errors=["ND301"],
    ),
    dict(
        path="runs/p5_fp16_overflow/run/training_history.csv",
        reader="csv",
        index="epoch",
        metric="train_loss",
        first=10,
        last=9,
        pattern="exponential_growth",
        exit=1,
        errors=["ND301"],
    ),
    # 8 steps an epoch: epoch 10 is steps 73-80
    dict(
        path="runs/p5_fp16_overflow/run/tb",
        reader="tensorboard",
        index="step",
        metric="Loss/train_step",
        first=range(73, 81),
        pattern="!healthy",
        exit=1,
        errors=["ND301"],
    ),
    # Lightning's defaults (log_every_n_steps=50 on an 8-step run) logged no scalar at all
    dict(path="runs/x2_lightning_defaults/lightning_logs/version_0", exit=2),
]


def write_logging_console(path: Path, size: int, nan_at: int) -> int:
    """Python-logging lines (the hostile test's and the benchmark's console) up to `size` bytes, a warning after every
    1000 steps, loss NaN from step `nan_at`; returns the last step."""
    losses = [f"{0.5 + (i * 7919 % 1000) / 2000:.4f}" for i in range(1000)]
    step, written = 0, 0
    with open(path, "w") as fh:
        while written < size:
            lines = []
            for i in range(1000):
                step += 1
                loss = "nan" if step >= nan_at else losses[i]
                lines.append(
                    f"2024-05-01 12:{i % 60:02d}:00,123 - INFO - step {step} loss={loss} "
                    f"grad_norm={losses[-i]} lr=5e-05\n"
                )
            lines.append("2024-05-01 12:00:00,000 - WARNING - gradient overflow, skipping step\n")
            block = "".join(lines)
            fh.write(block)
            written += len(block)
    return step


def check_real_log(case: dict, rc: int, doc: dict | None) -> list[str]:
    """What disagrees with the truth of `case` (empty: it agrees)."""
    bad = []
    if case["exit"] is not _ANY and rc != case["exit"]:
        bad.append(f"exit {rc}, truth {case['exit']}")
    if doc is None:
        return bad
    s = doc["summary"]
    codes = {(f["code"], f["severity"]) for f in doc["findings"]}

    def same(got, want):
        if want is _ANY:
            return True
        if isinstance(want, range):
            return got in want
        if isinstance(want, float) and isinstance(got, (int, float)):
            return abs(got - want) < 1e-3
        return got == want

    for key, want in (
        ("reader", case.get("reader")),
        ("index_name", case.get("index")),
        ("metric", case.get("metric")),
        ("points", case.get("points")),
    ):
        if want is not None and s.get(key) != want:
            bad.append(f"{key} {s.get(key)!r}, truth {want!r}")
    first = s.get("first_nonfinite")
    if "first" in case and not same(first and first["index"], case["first"]):
        bad.append(f"first non-finite {first and first['index']}, truth {case['first']}")
    if case.get("batch") and (first or {}).get("batch") != case["batch"]:
        bad.append(f"batch {(first or {}).get('batch')}, truth {case['batch']}")
    last = s.get("last_healthy")
    if "last" in case and not same(last and last["index"], case["last"]):
        bad.append(f"last healthy {last and last['index']}, truth {case['last']}")
    want = case.get("pattern")
    if want and (s.get("pattern") == want[1:] if want.startswith("!") else s.get("pattern") != want):
        bad.append(f"pattern {s.get('pattern')}, truth {want}")
    for code in case.get("errors", []):
        if (code, "error") not in codes:
            bad.append(f"no {code} error")
    for code in case.get("warnings", []):
        if (code, "warning") not in codes:
            bad.append(f"no {code} warning")
    if case.get("no_errors") and any(sev == "error" for _, sev in codes):
        bad.append("false alarm: " + ", ".join(sorted(c for c, sev in codes if sev == "error")))
    return bad


def write_ultralytics_console(path: Path, size: int, nan_epoch: int, batches: int = 500) -> int:
    """An Ultralytics 8.4 console as its trainer prints it to a file, up to `size` bytes: the column
    header, one `\\r`-separated piece a batch (`ESC[K`, `%11s`/`%11.4g` columns, its `━━━───` bar with
    counter, rate and times), the validation summary after each epoch; the losses NaN from the middle
    batch of `nan_epoch` on. Returns the last epoch."""
    header = "      Epoch    GPU_mem   box_loss   cls_loss   dfl_loss  Instances       Size\n"
    val = "%22s%11s%11s%11s%11s%11s%11s" % ("Class", "Images", "Instances", "Box(P", "R", "mAP50", "mAP50-95)")
    written, epoch = 0, 0
    with open(path, "w", newline="") as fh:
        while written < size:
            epoch += 1
            pieces = []
            for b in range(batches + 1):
                nan = epoch > nan_epoch or (epoch == nan_epoch and b >= batches // 2)
                box, cls, dfl = (
                    (float("nan"),) * 3 if nan else (1.2 + 1 / (epoch + b), 2.3 - b * 1e-4, 1.5 + (b % 7) / 999)
                )
                row = "%11s%11s%11.4g%11.4g%11.4g%11.4g%11.4g" % (
                    f"{epoch}/300",
                    f"{2 + b % 9 / 7:.3g}G",
                    box,
                    cls,
                    dfl,
                    1 + b * 37 % 200,
                    640,
                )
                times = f"{b / 7.3:.1f}s" + (f"<{(batches - b) / 7.3:.1f}s" if b < batches else "")
                rate = "" if b == 0 else f"{7 + b % 5 / 10:.1f}it/s"
                bar = "━" * (b * 12 // batches) + "─" * (12 - b * 12 // batches)
                pieces.append(f"\x1b[K{row}: {b * 100 // batches}% {bar} {b}/{batches} {rate} {times}")
            block = (
                header
                + "\r"
                + "\r".join(pieces)
                + f"\n{val}: 100% ━━━━━━━━━━━━ 4/4 9.1it/s 0.4s\n"
                + "%22s%11d%11d%11.3g%11.3g%11.3g%11.3g\n" % ("all", 128, 929, 0.64, 0.54, 0.6, 0.45)
            )
            fh.write(block)
            written += len(block.encode())
    return epoch


def write_hf_console(path: Path, size: int, nan_step: int, logging_steps: int = 10) -> int:
    """A transformers 5 Trainer console up to `size` bytes: tqdm's bar updated every step, the blank
    that clears it and the logged dict (quoted values) every `logging_steps` steps, the loss NaN from
    `nan_step` on. Returns the last step."""
    written, step, total = 0, 0, 10**7
    with open(path, "w", newline="") as fh:
        while written < size:
            lines = []
            for _ in range(1000):
                bars = []
                for _ in range(logging_steps):
                    step += 1
                    pct = step * 100 // total
                    done = "█" * (step * 10 // total)
                    bars.append(
                        f"{pct:3d}%|{done:<10}| {step}/{total} [1:{step % 60:02d}:07<9:02:01, {8 + step % 9 / 10:.2f}it/s]"
                    )
                loss = "nan" if step >= nan_step else f"{0.5 + step % 997 / 1000:.4g}"
                lines.append(
                    "\r"
                    + "\r".join(bars)
                    + "\r"
                    + " " * 46
                    + f"\r{{'loss': '{loss}', 'grad_norm': '{1 + step % 13 / 10:.4g}', "
                    f"'learning_rate': '{5e-5 * (1 - step / total):.4g}', 'epoch': '{step / 50000:.4g}'}}\n"
                )
            block = "".join(lines)
            fh.write(block)
            written += len(block.encode())
    return step


def write_lightning_console(path: Path, size: int, nan_epoch: int, batches: int = 500) -> int:
    """A Lightning 2.6 console with its default TQDMProgressBar up to `size` bytes: one `\\r` piece a
    batch (`Epoch 3:  45%|████▌     | 225/500 [00:27<00:33,  8.20it/s, v_num=0, train_loss=0.512]`),
    val_loss from the second epoch on, the loss NaN from the middle batch of `nan_epoch`. Returns
    the last epoch."""
    written, epoch = 0, -1
    with open(path, "w", newline="") as fh:
        while written < size:
            epoch += 1
            val = "" if epoch == 0 else f", val_loss={1 + 1 / (epoch + 1):.3f}"
            pieces = []
            for b in range(batches + 1):
                nan = epoch > nan_epoch or (epoch == nan_epoch and b >= batches // 2)
                loss = "nan" if nan else f"{0.5 + (epoch * 31 + b) % 997 / 1000:.3f}"
                stats = f"00:{b // 8 % 60:02d}<00:{(batches - b) // 8 % 60:02d}, {8 + b % 9 / 10:.2f}it/s"
                bar = "█" * (b * 10 // batches)
                pieces.append(
                    f"Epoch {epoch}: {b * 100 // batches:3d}%|{bar:<10}| {b}/{batches} [{stats}, v_num=0, train_loss={loss}{val}]"
                )
            block = "\r" + "\r".join(pieces) + "\n"
            fh.write(block)
            written += len(block.encode())
    return epoch
