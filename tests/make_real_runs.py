"""Build the real-run fixtures under tests/data/runs/ with the real training libraries.

Run with an interpreter that has Ultralytics 8.4, transformers, Lightning and torch installed
(nandoctor itself never needs them):

    /work/fwvenv/bin/python tests/make_real_runs.py [NAME ...]

Each run is small (a few KB of weights) and trains on CPU for a few epochs or steps, with a
non-finite value injected at a known epoch/step where the run's name says so. Beside each run,
`truth.json` records what a user would check by hand: for every checkpoint file, `isfinite` over
every tensor it stores and the epoch/step it holds; for the run, where the NaN was injected and
which checkpoint is the newest clean one at or before the last healthy point. Plots and images
are not kept (the Ultralytics dataset is 8 images of 32x32 pixels, kept for the paste tests).
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "data" / "runs"
BUILD = Path(tempfile.gettempdir()) / "nandoctor_real_runs"  # where the trainers write first

TINY_YOLO = """# a detector of a few thousand weights: 32x32 images, 1 class
nc: 1
backbone:
  - [-1, 1, Conv, [8, 3, 2]]
  - [-1, 1, Conv, [16, 3, 2]]
  - [-1, 1, Conv, [16, 3, 2]]
  - [-1, 1, Conv, [16, 3, 2]]
  - [-1, 1, Conv, [16, 3, 2]]
head:
  - [[2, 3, 4], 1, Detect, [nc]]
"""


# --- truth: isfinite over every tensor of a checkpoint ------------------------------------------


def _tensors(obj, prefix=""):
    """(name, tensor) for every tensor reachable in a loaded checkpoint, modules included."""
    import torch

    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, torch.nn.Module):
        yield from _tensors(obj.state_dict(), prefix)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _tensors(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _tensors(v, f"{prefix}.{i}")


def file_truth(path: Path, root: Path) -> dict:
    """What a user finds with torch.load + isfinite: per top-level section and in all."""
    import torch

    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        obj = load_file(str(path))
    else:
        obj = torch.load(path, map_location="cpu", weights_only=False)  # our own file, just written
    sections: dict[str, dict] = {}
    for name, t in _tensors(obj):
        section = name.split(".")[0] if isinstance(obj, dict) and path.suffix != ".safetensors" else "model"
        s = sections.setdefault(section, {"tensors": 0, "nonfinite_tensors": 0, "max_abs": 0.0})
        s["tensors"] += 1
        if t.is_floating_point() and t.numel():
            finite = torch.isfinite(t)
            if not bool(finite.all()):
                s["nonfinite_tensors"] += 1
            if bool(finite.any()):
                s["max_abs"] = max(s["max_abs"], float(t[finite].abs().max()))
    info = {
        "file": str(path.relative_to(root)),
        "sections": sections,
        "all_finite": all(s["nonfinite_tensors"] == 0 for s in sections.values()),
    }
    if isinstance(obj, dict):
        for key in ("epoch", "global_step", "step"):
            if isinstance(obj.get(key), int):
                info[key] = obj[key]
        info["has_optimizer"] = bool(
            obj.get("optimizer") or obj.get("optimizer_state_dict") or obj.get("optimizer_states")
        )
    return info


def write_truth(root: Path, truth: dict) -> None:
    (root / "truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n")


def fresh(name: str) -> Path:
    build = BUILD / name
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    return build


def publish(build: Path, name: str, keep=lambda p: True) -> Path:
    """Copy what the trainer wrote into tests/data/runs/NAME, without images and plots."""
    dest = OUT / name
    shutil.rmtree(dest, ignore_errors=True)
    for p in sorted(build.rglob("*")):
        if p.is_file() and p.suffix.lower() not in (".png", ".jpg", ".jpeg") and keep(p):
            target = dest / p.relative_to(build)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, target)
    return dest


# --- Ultralytics ---------------------------------------------------------------------------------


def yolo_dataset() -> Path:
    """8 images of 32x32 with one bright square each, YOLO labels; kept for the paste tests."""
    import numpy as np
    from PIL import Image

    root = OUT / "yolo_data"
    if (root / "data.yaml").exists():
        return root
    rng = np.random.default_rng(0)
    for split, n in (("train", 8), ("val", 4)):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            img = (rng.random((32, 32, 3)) * 60).astype("uint8")
            x, y, s = rng.integers(4, 16), rng.integers(4, 16), rng.integers(8, 14)
            img[y : y + s, x : x + s] = 230
            Image.fromarray(img).save(root / "images" / split / f"{i}.png")
            cx, cy = (x + s / 2) / 32, (y + s / 2) / 32
            (root / "labels" / split / f"{i}.txt").write_text(f"0 {cx:.4f} {cy:.4f} {s / 32:.4f} {s / 32:.4f}\n")
    # no `path:`: Ultralytics then resolves train/val beside this file, wherever it is copied
    (root / "data.yaml").write_text("train: images/train\nval: images/val\nnames:\n  0: square\n")
    (root / "tiny.yaml").write_text(TINY_YOLO)
    return root


def _yolo_args(build: Path, name: str, epochs: int) -> dict:
    data = yolo_dataset()
    return dict(
        data=str(data / "data.yaml"),
        epochs=epochs,
        imgsz=32,
        batch=4,
        workers=0,
        device="cpu",
        amp=False,
        plots=False,
        save_period=1,
        project=str(build),
        name=name,
        exist_ok=True,
        seed=0,
        deterministic=True,
        val=True,
        verbose=False,
        mosaic=0.0,
        warmup_epochs=0,
    )


def _poisoner(at_epoch: int, times: int):
    """An on_train_epoch_start callback that sets every weight to NaN at `at_epoch` (0-based),
    `times` times (the trainer's NaN recovery redoes the epoch after each)."""
    state = {"left": times}

    def poison(trainer):
        import torch

        if trainer.epoch == at_epoch and state["left"] > 0:
            state["left"] -= 1
            with torch.no_grad():
                for p in trainer.model.parameters():
                    p.fill_(float("nan"))

    return poison, state


def _yolo_train(model_path, build, name, epochs, poison=None, resume=False):
    from ultralytics import YOLO

    model = YOLO(model_path)
    if poison is not None:
        model.add_callback("on_train_epoch_start", poison)
    args = _yolo_args(build, name, epochs)
    if resume:
        args = dict(resume=True)
    try:
        model.train(**args)
        return None
    except RuntimeError as exc:
        return str(exc)


def _yolo_truth(
    run: Path, root: Path, *, injected_epoch, recovered: bool, error: str | None, resumed: bool = False
) -> dict:
    files = [file_truth(p, root) for p in sorted((run / "weights").glob("*.pt"))]
    rows = list(csv.DictReader((run / "results.csv").open()))
    times = [float(r["time"]) for r in rows]
    args = json.loads(json.dumps(__import__("yaml").safe_load((run / "args.yaml").read_text())))
    finished = error is None and len(rows) >= int(args["epochs"])
    for f in files:
        stored = f.get("epoch")
        # Ultralytics stores epoch N 0-based; epoch -1 marks weights stripped at the end of the run
        f["log_epoch"] = stored + 1 if isinstance(stored, int) and stored >= 0 else len(rows)
        # with recovery the NaN epoch was rolled back: later checkpoints come from healthy training
        through_nan = injected_epoch is not None and not recovered and f["log_epoch"] > injected_epoch
        f["healthy_state"] = f["all_finite"] and not through_nan
    return {
        "framework": "ultralytics",
        "epochs_asked": int(args["epochs"]),
        "rows": len(rows),
        "injected_log_epoch": None if injected_epoch is None else injected_epoch + 1,
        "nan_recovery": recovered,
        "error": error,
        "finished": finished,
        "resumed": resumed,
        "time_restarts_at_row": [i + 1 for i in range(1, len(times)) if times[i] < times[i - 1]],
        "results_nonfinite_cells": sum(
            1 for r in rows for v in r.values() if v.strip().lower() in ("nan", "inf", "-inf")
        ),
        "files": files,
        "expected_recommended": _newest(files, "log_epoch"),
    }


def _newest(files: list[dict], key: str):
    """The newest checkpoint in a healthy state that can be resumed: epochN files before last/best."""
    ok = [f for f in files if f["healthy_state"] and f.get("has_optimizer", True)]
    if not ok:
        return None
    best = max(ok, key=lambda f: (f[key], Path(f["file"]).stem not in ("last", "best")))
    return best["file"]


def make_ultralytics() -> None:
    data = yolo_dataset()
    tiny = str(data / "tiny.yaml")

    build = fresh("yolo_healthy")
    err = _yolo_train(tiny, build, "train", 4)
    root = publish(build, "yolo_healthy")
    write_truth(root, _yolo_truth(root / "train", root, injected_epoch=None, recovered=False, error=err))

    # NaN injected once at epoch index 2: 8.4 reloads last.pt and redoes the epoch; the run finishes
    build = fresh("yolo_nan_recovered")
    poison, _ = _poisoner(2, 1)
    err = _yolo_train(tiny, build, "train", 4, poison)
    root = publish(build, "yolo_nan_recovered")
    write_truth(root, _yolo_truth(root / "train", root, injected_epoch=2, recovered=True, error=err))

    # NaN at every try of epoch index 2: three reloads, then "NaN persisted"; then resumed from last.pt
    # in place (resume restores save_dir from the checkpoint), as a user would after fixing the cause
    build = fresh("yolo_resumed")
    poison, _ = _poisoner(2, 99)
    err = _yolo_train(tiny, build, "train", 5, poison)
    assert err and "NaN persisted" in err, err
    root = publish(build, "yolo_nan_persisted")
    truth = _yolo_truth(root / "train", root, injected_epoch=2, recovered=False, error=err)
    for f in truth["files"]:  # every checkpoint was written before the NaN epoch
        f["healthy_state"] = f["all_finite"]
    truth["expected_recommended"] = _newest(truth["files"], "log_epoch")
    write_truth(root, truth)

    err = _yolo_train(str(build / "train" / "weights" / "last.pt"), build, "train", 5, resume=True)
    assert err is None, err
    root = publish(build, "yolo_resumed")
    write_truth(root, _yolo_truth(root / "train", root, injected_epoch=2, recovered=True, error=err, resumed=True))


# --- transformers Trainer ------------------------------------------------------------------------


def hf_toy_dataset(n: int, seed: int):
    """n sequences of 12 tokens; the label is whether the second token is above 32."""
    import torch

    class Toy(torch.utils.data.Dataset):
        def __init__(self):
            g = torch.Generator().manual_seed(seed)
            self.x = torch.randint(1, 64, (n, 12), generator=g)
            self.y = (self.x[:, 1] > 32).long()

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return {"input_ids": self.x[i], "attention_mask": torch.ones(12, dtype=torch.long), "labels": self.y[i]}

    return Toy()


def _hf_run(
    name: str, *, lr: float, inject_step: int | None, max_steps: int = 40, save_steps: int = 10, save_model: bool = True
):
    import torch
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainerCallback, TrainingArguments

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=64,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=16,
    )
    model = BertForSequenceClassification(config)

    class Poison(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kw):
            if inject_step is not None and state.global_step == inject_step:
                with torch.no_grad():
                    model.bert.encoder.layer[0].attention.self.query.weight.fill_(float("nan"))

    build = fresh(name)
    out = build / "out"
    args = TrainingArguments(
        output_dir=str(out),
        max_steps=max_steps,
        per_device_train_batch_size=8,
        learning_rate=lr,
        save_steps=save_steps,
        logging_steps=1,
        eval_strategy="steps",
        eval_steps=save_steps,
        report_to=[],
        use_cpu=True,
        seed=0,
        save_strategy="steps",
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=hf_toy_dataset(256, 1),
        eval_dataset=hf_toy_dataset(32, 2),
        callbacks=[Poison()],
    )
    trainer.train()
    if save_model:
        trainer.save_model()
    trainer.save_state()
    root = publish(build, name, keep=lambda p: "runs" not in p.relative_to(build).parts[1:2])
    files = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix in (".safetensors", ".pt", ".pth") and p.name != "training_args.bin":
            info = file_truth(p, root)
            parent = p.parent.name
            info["step"] = int(parent.split("-")[1]) if parent.startswith("checkpoint-") else max_steps
            info["unit"] = str(p.parent.relative_to(root))
            files.append(info)
    units: dict[str, dict] = {}
    for f in files:
        u = units.setdefault(f["unit"], {"unit": f["unit"], "step": f["step"], "all_finite": True, "files": []})
        u["files"].append(Path(f["file"]).name)
        u["all_finite"] &= f["all_finite"]
    state = json.loads((root / "out" / "trainer_state.json").read_text())
    logged = [(h["step"], h["loss"]) for h in state["log_history"] if "loss" in h]
    losses = [x for _, x in logged]
    # divergence from the raw numbers: the first logged step whose loss is 10x the first one
    diverged = next((s for s, x in logged if math.isfinite(x) and x > 10 * losses[0]), None)
    broke = min((s for s in (inject_step, diverged) if s is not None), default=None)
    for u in units.values():
        u["healthy_state"] = u["all_finite"] and (broke is None or u["step"] < broke)
        u["has_optimizer"] = "optimizer.pt" in u["files"]
    truth = {
        "framework": "hf",
        "max_steps": max_steps,
        "save_steps": save_steps,
        "learning_rate": lr,
        "injected_step": inject_step,
        "diverged_step": diverged,
        "files": files,
        "units": sorted(units.values(), key=lambda u: u["step"]),
        "loss_first": losses[0],
        "loss_max": max((x for x in losses if math.isfinite(x)), default=None),
        "loss_last": losses[-1],
    }
    ok = [u for u in units.values() if u["healthy_state"] and u["has_optimizer"]]
    truth["expected_recommended"] = max(ok, key=lambda u: u["step"])["unit"] if ok else None
    write_truth(root, truth)


def make_hf() -> None:
    _hf_run("hf_healthy", lr=5e-4, inject_step=None)
    _hf_run("hf_nan_step15", lr=5e-4, inject_step=15)
    _hf_run("hf_lr10_diverge", lr=10.0, inject_step=None)
    # save_state() without save_model(): output_dir holds trainer_state.json beside checkpoint-N/ only
    _hf_run("hf_state_only_nan_step25", lr=5e-4, inject_step=25, save_model=False)


# --- Lightning -----------------------------------------------------------------------------------


def regression_loader():
    """64 rows of y = x @ w + 0.1, batches of 8 (the Lightning runs and their paste test)."""
    import torch

    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.1
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)


def lightning_regressor(inject_epoch: int | None = None):
    """The LightningModule of the Lightning runs; weights set to NaN at `inject_epoch` (0-based)."""
    import lightning as L
    import torch

    class Regressor(L.LightningModule):
        def __init__(self, lr=0.05):
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Linear(4, 1)

        def training_step(self, batch, _):
            loss = torch.nn.functional.mse_loss(self.net(batch[0]), batch[1])
            self.log("train_loss", loss, on_step=True, on_epoch=True)
            return loss

        def validation_step(self, batch, _):
            self.log("val_loss", torch.nn.functional.mse_loss(self.net(batch[0]), batch[1]))

        def on_train_epoch_start(self):
            if inject_epoch is not None and self.current_epoch == inject_epoch:
                with torch.no_grad():
                    self.net.weight.fill_(float("nan"))

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)

    return Regressor


def _lightning_run(name: str, *, inject_epoch: int | None, weights_only: bool, epochs: int = 6):
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    L.seed_everything(0, verbose=False)
    loader = regression_loader()
    Regressor = lightning_regressor(inject_epoch)

    build = fresh(name)
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=CSVLogger(str(build), name="lightning_logs"),
        callbacks=[ModelCheckpoint(save_top_k=-1, save_weights_only=weights_only)],
        enable_progress_bar=False,
        log_every_n_steps=1,
        enable_model_summary=False,
    )
    trainer.fit(Regressor(), loader, loader)
    root = publish(build, name)
    files = []
    for p in sorted(root.rglob("*.ckpt")):
        info = file_truth(p, root)
        # weights are judged on state_dict; callbacks/loops hold bookkeeping such as kth_value = inf
        info["weights_finite"] = info["sections"].get("state_dict", {}).get("nonfinite_tensors", 1) == 0
        info["healthy_state"] = info["weights_finite"] and (inject_epoch is None or info["epoch"] < inject_epoch)
        files.append(info)
    truth = {
        "framework": "lightning",
        "epochs": epochs,
        "injected_epoch": inject_epoch,
        "save_weights_only": weights_only,
        "files": files,
    }
    ok = [f for f in files if f["healthy_state"] and (weights_only or f["has_optimizer"])]
    truth["expected_recommended" if not weights_only else "expected_restart_weights"] = (
        max(ok, key=lambda f: f["epoch"])["file"] if ok else None
    )
    write_truth(root, truth)


def make_lightning() -> None:
    _lightning_run("lightning_healthy", inject_epoch=None, weights_only=False)
    _lightning_run("lightning_nan_epoch3", inject_epoch=3, weights_only=False)
    _lightning_run("lightning_weights_only", inject_epoch=None, weights_only=True)


# --- a plain PyTorch loop with GradScaler --------------------------------------------------------


def make_plain() -> None:
    import torch

    name, inject_epoch, epochs = "plain_scaler_nan_epoch4", 4, 6
    build = fresh(name)
    torch.manual_seed(0)
    x = torch.randn(128, 8)
    y = (x.sum(1, keepdim=True) > 0).float()
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    scaler = torch.amp.GradScaler("cpu")
    (build / "checkpoints").mkdir()
    history = []
    for epoch in range(1, epochs + 1):
        if epoch == inject_epoch:
            with torch.no_grad():
                model[0].weight[0, 0] = float("nan")
        total = 0.0
        for i in range(0, 128, 16):
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x[i : i + 16]), y[i : i + 16])
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            total += float(loss.detach())
        history.append({"epoch": epoch, "train_loss": total / 8})
        torch.save(
            {
                "epoch": epoch,
                "model_state_dict": model.state_dict(),
                "optimizer_state_dict": opt.state_dict(),
                "scaler_state_dict": scaler.state_dict(),
                "loss": total / 8,
            },
            build / "checkpoints" / f"epoch_{epoch}.pt",
        )
    with (build / "training_history.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, ["epoch", "train_loss"])
        w.writeheader()
        w.writerows(history)
    root = publish(build, name)
    files = [file_truth(p, root) for p in sorted((root / "checkpoints").glob("*.pt"), key=lambda p: int(p.stem[6:]))]
    for f in files:
        f["healthy_state"] = f["all_finite"] and f["epoch"] < inject_epoch
    write_truth(
        root,
        {
            "framework": "generic",
            "injected_epoch": inject_epoch,
            "files": files,
            "history": history,
            "expected_recommended": _newest(files, "epoch"),
        },
    )


BUILDERS = {"ultralytics": make_ultralytics, "hf": make_hf, "lightning": make_lightning, "plain": make_plain}

if __name__ == "__main__":
    os.environ.setdefault("YOLO_OFFLINE", "1")
    for key in sys.argv[1:] or list(BUILDERS):
        BUILDERS[key]()
        print("built", key)
