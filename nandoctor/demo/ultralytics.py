"""The Ultralytics-shaped artefacts `nandoctor demo` writes: results.csv's columns and checkpoints.

Ultralytics pickles its whole model object, so a real `last.pt` references
`ultralytics.nn.tasks.DetectionModel`. We reproduce that exactly with the real writer
(`torch.save`) by registering stand-in classes under Ultralytics' module names while saving, so
our readers are tested on the same pickle opcodes a user's file contains, on a machine without
ultralytics installed.
"""

from __future__ import annotations

import sys
import types
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RESULTS_COLUMNS = [
    "epoch",
    "time",
    "train/box_loss",
    "train/cls_loss",
    "train/dfl_loss",
    "metrics/precision(B)",
    "metrics/recall(B)",
    "metrics/mAP50(B)",
    "metrics/mAP50-95(B)",
    "val/box_loss",
    "val/cls_loss",
    "val/dfl_loss",
    "lr/pg0",
    "lr/pg1",
    "lr/pg2",
]


@contextmanager
def ultralytics_modules():
    """Temporarily expose stand-in classes as ultralytics.nn.tasks / ultralytics.nn.modules.conv."""
    import torch.nn as nn

    class Conv(nn.Module):
        def __init__(self, c1: int, c2: int, k: int = 3):
            super().__init__()
            self.conv = nn.Conv2d(c1, c2, k, padding=k // 2, bias=False)
            self.bn = nn.BatchNorm2d(c2)
            self.act = nn.SiLU()

    class DetectionModel(nn.Module):
        def __init__(self, width: int = 16):
            super().__init__()
            self.model = nn.Sequential(Conv(3, width), Conv(width, width * 2), Conv(width * 2, width * 2, 1))
            self.yaml = {"nc": 3, "scales": {"n": [0.5, 0.25, 1024]}}
            self.names = {0: "person", 1: "car", 2: "dog"}
            self.stride = None

    with stand_in_modules(
        {
            "ultralytics": None,
            "ultralytics.nn": None,
            "ultralytics.nn.tasks": DetectionModel,
            "ultralytics.nn.modules": None,
            "ultralytics.nn.modules.conv": Conv,
        }
    ):
        yield DetectionModel


@contextmanager
def stand_in_modules(classes: dict):
    """Register a module under each name, holding its class (or nothing), so pickle records the
    class under that import path as if the real package were installed; sys.modules is restored after."""
    saved = {name: sys.modules.get(name) for name in classes}
    try:
        for name, cls in classes.items():
            module = types.ModuleType(name)
            if cls is not None:
                setattr(module, cls.__name__, cls)
                cls.__module__ = name
                cls.__qualname__ = cls.__name__
            sys.modules[name] = module
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old


def save_ultralytics_checkpoint(
    path: Path,
    *,
    epoch: int,
    results: dict[str, list[float]],
    poison: bool = False,
    sanitize: bool = False,
    stripped: bool = False,
    seed: int = 0,
) -> None:
    """Write an Ultralytics 8.4-style checkpoint dict with torch.save.

    poison: NaN in a conv weight, +Inf in a BatchNorm running_var, NaN in Adam exp_avg_sq.
    sanitize: then apply nan_to_num as recent Ultralytics does before saving (NaN->0, Inf->65504).
    stripped: the end-of-training form (model set, ema/optimizer None, epoch -1).
    """
    import torch

    torch.manual_seed(seed)
    with ultralytics_modules() as DetectionModel:
        model = DetectionModel()
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d) and m.running_var is not None and m.running_mean is not None:
                m.running_var.uniform_(0.5, 1.5)
                m.running_mean.normal_()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        for p in model.parameters():
            p.grad = torch.randn_like(p) * 0.01
        opt.step()
        if poison:
            with torch.no_grad():
                w = model.model[1].conv.weight
                w.view(-1)[::7] = float("nan")
                model.model[2].bn.running_var[0] = float("inf")
            first = next(iter(opt.state.values()))
            first["exp_avg_sq"].view(-1)[:5] = float("nan")
        model = model.half()
        if sanitize:
            with torch.no_grad():
                for t in list(model.parameters()) + list(model.buffers()):
                    if t.is_floating_point():
                        t.copy_(torch.nan_to_num(t, nan=0.0, posinf=65504.0, neginf=-65504.0))
        ckpt: dict[str, Any] = {
            "epoch": -1 if stripped else epoch,
            "best_fitness": None if stripped else 0.42,
            "model": model if stripped else None,
            "ema": None if stripped else model,
            "updates": None if stripped else 100 * (epoch + 1),
            "optimizer": None if stripped else opt.state_dict(),
            "scaler": None
            if stripped
            else {
                "scale": 65536.0,
                "growth_factor": 2.0,
                "backoff_factor": 0.5,
                "growth_interval": 2000,
                "_growth_tracker": 12,
            },
            "train_args": {"task": "detect", "epochs": 5, "imgsz": 1280, "lr0": 0.01, "amp": True},
            "train_metrics": {k: v[-1] for k, v in results.items() if k.startswith(("metrics/", "val/"))},
            "train_results": results,
            "date": "2026-11-20T10:00:00",
            "version": "8.4.190",
            "license": "AGPL-3.0 License (https://ultralytics.com/license)",
            "docs": "https://docs.ultralytics.com",
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(ckpt, path)
