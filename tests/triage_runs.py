"""Run folders for the triage tests, written with the real writers of each framework's files:
Ultralytics results.csv/args.yaml/epochN.pt, HF checkpoint-N/ (safetensors, torch.save'd optimizer,
json.dump'ed trainer_state.json), Lightning version_N/metrics.csv and .ckpt, a generic loop's
training_history.csv and epoch_N.pt."""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
from pathlib import Path

from tests.ultralytics_writers import RESULTS_COLUMNS, save_ultralytics_checkpoint, stand_in_modules


def tree_hash(root: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """sha256 of every file under root (symlinks not followed), to prove nothing was modified."""
    out = {}
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink() or rel in skip:
                out[rel] = "link" if p.is_symlink() else "skipped"
                continue
            try:
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
            except OSError:
                out[rel] = "unreadable"
    return out


def results_rows(epochs: int, nan_epoch: int | None, first: int = 1) -> dict[str, list[float]]:
    """results.csv columns for `epochs` epochs numbered from `first`; losses NaN from nan_epoch on."""
    rows: dict[str, list[float]] = {c: [] for c in RESULTS_COLUMNS}
    for i in range(epochs):
        e = first + i
        bad = nan_epoch is not None and e >= nan_epoch
        losses = [1.9 - 0.05 * i, 2.6 - 0.1 * i, 1.8 - 0.03 * i]
        vals = [
            e,
            40.0 * (i + 1),
            *([math.nan] * 3 if bad else losses),
            *([0.0] * 4 if bad else [0.3, 0.4, 0.3, 0.1]),
            *([math.nan] * 3 if bad else losses),
            0.001,
            0.001,
            0.001,
        ]
        for c, v in zip(RESULTS_COLUMNS, vals, strict=True):
            rows[c].append(v)
    return rows


def write_results_csv(path: Path, rows: dict[str, list[float]]) -> None:
    cols = list(rows)
    lines = [",".join(cols)]
    for i in range(len(rows["epoch"])):
        lines.append(",".join(str(int(rows[c][i])) if c == "epoch" else "%.6g" % rows[c][i] for c in cols))
    path.write_text("\n".join(lines) + "\n")


def ultralytics_run(
    root: Path,
    *,
    epochs: int = 5,
    nan_epoch: int | None = 4,
    poisoned: tuple[int, ...] = (),
    first: int = 1,
    data: str | None = None,
) -> Path:
    """An Ultralytics run: results.csv (epochs from `first`), args.yaml, weights/epochN.pt (N 0-based)."""
    import yaml

    root.mkdir(parents=True, exist_ok=True)
    rows = results_rows(epochs, nan_epoch, first)
    write_results_csv(root / "results.csv", rows)
    args = {
        "task": "detect",
        "mode": "train",
        "model": "yolov8n.pt",
        "data": data or "coco8.yaml",
        "epochs": 100,
        "batch": 16,
        "imgsz": 640,
        "save_period": 1,
        "amp": True,
        "optimizer": "auto",
        "lr0": 0.01,
        "lrf": 0.01,
        "momentum": 0.937,
        "weight_decay": 0.0005,
        "warmup_epochs": 3.0,
    }
    (root / "args.yaml").write_text(yaml.safe_dump(args, sort_keys=False))
    for n in range(epochs):
        upto = {k: v[: n + 1] for k, v in rows.items()}
        save_ultralytics_checkpoint(
            root / "weights" / f"epoch{n}.pt", epoch=n, results=upto, poison=n in poisoned, seed=n
        )
    return root


def save_training_args(path: Path, **overrides) -> None:
    """training_args.bin as Trainer writes it: torch.save of a TrainingArguments dataclass, whose pickle
    names `transformers.training_args.TrainingArguments` (a stand-in registered under that name while
    saving, so no transformers install is needed)."""
    import dataclasses

    import torch

    @dataclasses.dataclass
    class TrainingArguments:
        output_dir: str = "out"
        learning_rate: float = 5e-5
        fp16: bool = False
        bf16: bool = False
        max_grad_norm: float = 1.0
        warmup_ratio: float = 0.0
        per_device_train_batch_size: int = 8
        gradient_accumulation_steps: int = 1
        logging_nan_inf_filter: bool = True
        save_steps: int = 100

    with stand_in_modules({"transformers": None, "transformers.training_args": TrainingArguments}):
        torch.save(TrainingArguments(**overrides), path)


def hf_run(
    root: Path,
    *,
    steps: tuple[int, ...] = (100, 200, 300),
    nan_step: int | None = 250,
    training_args: dict | None = None,
) -> Path:
    """HF Trainer output: checkpoint-N/{model.safetensors, optimizer.pt, scheduler.pt, trainer_state.json}."""
    import torch
    from safetensors.torch import save_file

    root.mkdir(parents=True, exist_ok=True)
    log = []
    for step in range(10, max(steps) + 1, 10):
        bad = nan_step is not None and step >= nan_step
        log.append(
            {
                "epoch": step / 1000,
                "grad_norm": math.nan if bad else 1.5,
                "learning_rate": 5e-5,
                "loss": 2.0 - step / 1000,
                "step": step,
            }
        )  # loss filtered by logging_nan_inf_filter
    for s in steps:
        ck = root / f"checkpoint-{s}"
        ck.mkdir()
        torch.manual_seed(s)
        model = torch.nn.Linear(8, 4)
        opt = torch.optim.AdamW(model.parameters(), lr=5e-5)
        model(torch.randn(2, 8)).sum().backward()
        opt.step()
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, ck / "model.safetensors")
        torch.save(opt.state_dict(), ck / "optimizer.pt")
        state = {
            "best_metric": None,
            "epoch": s / 1000,
            "global_step": s,
            "is_local_process_zero": True,
            "log_history": [e for e in log if e["step"] <= s],
            "logging_steps": 10,
            "max_steps": 1000,
            "num_train_epochs": 1,
            "save_steps": 100,
            "train_batch_size": 8,
            "trial_name": None,
        }
        with open(ck / "trainer_state.json", "w") as fh:
            json.dump(state, fh, indent=2)  # NaN written bare, as transformers does
        if training_args is not None:
            save_training_args(ck / "training_args.bin", **training_args)
    return root


def lightning_run(root: Path, *, epochs: int = 4, nan_epoch: int | None = 2, steps_per_epoch: int = 10) -> Path:
    """Lightning: lightning_logs/version_0/metrics.csv (epoch from 0) and checkpoints/epoch=E-step=S.ckpt."""
    import torch

    version = root / "lightning_logs" / "version_0"
    (version / "checkpoints").mkdir(parents=True)
    with open(version / "metrics.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["epoch", "step", "train_loss_epoch", "val_loss"])
        for e in range(epochs):
            bad = nan_epoch is not None and e >= nan_epoch
            w.writerow(
                [e, (e + 1) * steps_per_epoch - 1, "nan" if bad else 1.0 - 0.1 * e, "nan" if bad else 1.1 - 0.1 * e]
            )
    (version / "hparams.yaml").write_text("lr: 0.001\nbatch_size: 32\n")
    for e in range(epochs):
        torch.manual_seed(e)
        model = torch.nn.Linear(4, 2)
        opt = torch.optim.Adam(model.parameters())
        step = (e + 1) * steps_per_epoch
        torch.save(
            {
                "epoch": e,
                "global_step": step,
                "pytorch-lightning_version": "2.4.0",
                "state_dict": model.state_dict(),
                "optimizer_states": [opt.state_dict()],
                "lr_schedulers": [],
                "loops": {},
                "callbacks": {},
            },
            version / "checkpoints" / f"epoch={e}-step={step}.ckpt",
        )
    return root


def generic_run(root: Path, *, epochs: int = 4, nan_epoch: int | None = 3) -> Path:
    """A plain PyTorch loop: logs/training_history.csv (epoch from 1) and epoch_N.pt with the same N."""
    import torch

    (root / "logs").mkdir(parents=True)
    with open(root / "logs" / "training_history.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["epoch", "train_loss", "val_loss", "val_acc"])
        for e in range(1, epochs + 1):
            bad = nan_epoch is not None and e >= nan_epoch
            w.writerow([e, "nan" if bad else 0.5 + 0.1 * e, "nan" if bad else 0.6, 1.0 if bad else 0.4])
    for e in range(1, epochs + 1):
        model = torch.nn.Linear(4, 2)
        opt = torch.optim.AdamW(model.parameters())
        torch.save(
            {"epoch": e, "model_state_dict": model.state_dict(), "optimizer_state_dict": opt.state_dict()},
            root / f"epoch_{e}.pt",
        )
    return root
