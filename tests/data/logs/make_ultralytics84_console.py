"""Makes ultralytics84_console_nan_recovery.log: a real Ultralytics 8.4 detect run (CPU, a tiny synthetic
dataset, a yolov8n built from its yaml, no downloads) whose weights are set to NaN during epoch 3, so its
NaN recovery reloads last.pt; captured with `python make_ultralytics84_console.py OUT > log 2>&1`."""

import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

out = Path(sys.argv[1])
for split in ("train", "val"):
    (out / "images" / split).mkdir(parents=True, exist_ok=True)
    (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(out / "images" / split / f"{i}.jpg")
        (out / "labels" / split / f"{i}.txt").write_text("0 0.5 0.5 0.4 0.4\n")
(out / "data.yaml").write_text(f"path: {out}\ntrain: images/train\nval: images/val\nnames:\n  0: box\n")

from ultralytics import YOLO  # noqa: E402

model = YOLO("yolov8n.yaml")


def poison(trainer):
    if trainer.epoch == 2 and not getattr(trainer, "_poisoned", False):
        trainer._poisoned = True
        with torch.no_grad():
            for p in trainer.model.parameters():
                p.fill_(float("nan"))
                break


model.add_callback("on_train_batch_end", poison)
model.train(
    data=str(out / "data.yaml"),
    epochs=5,
    imgsz=64,
    batch=4,
    device="cpu",
    workers=0,
    amp=False,
    plots=False,
    project=str(out / "runs"),
    name="train",
    exist_ok=True,
    val=True,
    verbose=True,
)
