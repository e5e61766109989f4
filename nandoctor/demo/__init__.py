"""`nandoctor demo DIR`: a realistic broken Ultralytics run that every command has something to say about.

The story is a common one at small scale: YOLO at 1280 px with AMP, lr0 0.01 and heavy
augmentation; the loss turns NaN at epoch 4 of results.csv (0-based epoch 3), so epoch3.pt and
epoch4.pt carry NaN weights, last.pt is the nan_to_num-sanitised copy recent Ultralytics writes,
and epoch2.pt is the newest clean checkpoint. A few labels are defective.
"""

from __future__ import annotations

import math
from pathlib import Path

from nandoctor.findings import NandoctorError

NAN_EPOCH = 4  # 1-based, as results.csv writes it
EPOCHS = 5
NAMES = ["person", "car", "dog"]

# (file stem, label text): the defective ones carry the defects seen in real broken runs.
LABELS = {
    "img_000": "0 0.500000 0.500000 0.200000 0.300000\n1 0.250000 0.300000 0.100000 0.120000\n",
    "img_001": "2 0.410000 0.620000 0.300000 0.250000\n",
    "img_002": "1 0.700000 0.400000 0.150000 0.200000\n5 0.300000 0.300000 0.100000 0.100000\n",  # class 5 >= nc 3
    "img_003": "0 0.500000 1.200000 0.200000 0.300000\n",  # cy > 1
    "img_004": "0 0.500000 0.500000 nan 0.300000\n",  # NaN token
    "img_005": "",  # background
    "img_006": "1 0.950000 0.500000 0.200000 0.100000\n2 0.300000 0.300000 0.000000 0.100000\n",  # past edge, zero width
    "img_007": "0 0.330000 0.440000 0.120000 0.220000\n",
}


def _results() -> dict[str, list[float]]:
    """results.csv columns as Ultralytics keeps them (and stores in checkpoints' train_results)."""
    from nandoctor.demo.ultralytics import RESULTS_COLUMNS

    rows: dict[str, list[float]] = {c: [] for c in RESULTS_COLUMNS}
    for e in range(1, EPOCHS + 1):
        bad = e >= NAN_EPOCH
        losses = [1.9 - 0.08 * e, 2.6 - 0.15 * e, 1.8 - 0.05 * e]
        metrics = [0.30 + 0.05 * e, 0.35 + 0.04 * e, 0.25 + 0.05 * e, 0.10 + 0.03 * e]
        values = [
            float(e),
            40.0 * e,
            *([math.nan] * 3 if bad else losses),
            *([0.0] * 4 if bad else metrics),
            *([math.nan] * 3 if bad else [x + 0.05 for x in losses]),
            *[0.00066 * e] * 3,
        ]
        for c, v in zip(RESULTS_COLUMNS, values, strict=True):
            rows[c].append(round(v, 6))
    return rows


def _args_yaml(data_path: Path) -> dict:
    """Ultralytics train arguments (a subset of the real args.yaml keys) with the risky §3 values."""
    return {
        "task": "detect",
        "mode": "train",
        "model": "yolov8n.pt",
        "data": str(data_path),
        "epochs": 200,
        "time": None,
        "patience": 100,
        "batch": 128,
        "imgsz": 1280,
        "save": True,
        "save_period": 1,
        "cache": False,
        "device": "0",
        "workers": 8,
        "project": None,
        "name": "train",
        "exist_ok": False,
        "pretrained": True,
        "optimizer": "auto",
        "verbose": True,
        "seed": 0,
        "deterministic": True,
        "single_cls": False,
        "rect": False,
        "cos_lr": False,
        "close_mosaic": 10,
        "resume": False,
        "amp": True,
        "fraction": 1.0,
        "lr0": 0.01,
        "lrf": 0.01,
        "momentum": 0.937,
        "weight_decay": 0.0005,
        "warmup_epochs": 0.0,
        "warmup_momentum": 0.8,
        "warmup_bias_lr": 0.1,
        "box": 10.0,
        "cls": 0.5,
        "dfl": 1.5,
        "nbs": 64,
        "hsv_h": 0.05,
        "hsv_s": 1.0,
        "hsv_v": 0.8,
        "degrees": 0.0,
        "translate": 0.1,
        "scale": 0.5,
        "shear": 0.0,
        "perspective": 0.0,
        "flipud": 0.0,
        "fliplr": 0.5,
        "mosaic": 1.0,
        "mixup": 0.5,
        "copy_paste": 0.5,
        "save_dir": "runs/detect/train",
    }


def _write_results_csv(path: Path, results: dict[str, list[float]]) -> None:
    """The current Ultralytics writer: plain header, '%.6g' values, 'nan' literal."""
    cols = list(results)
    lines = [",".join(cols)]
    for i in range(len(results["epoch"])):
        lines.append(",".join("%.6g" % results[c][i] if c != "epoch" else str(int(results[c][i])) for c in cols))
    path.write_text("\n".join(lines) + "\n")


def write_demo(directory: Path, force: bool = False) -> list[str]:
    """Write the demo run; return the commands to try next."""
    import yaml
    from PIL import Image

    from nandoctor.demo.ultralytics import save_ultralytics_checkpoint

    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise NandoctorError(f"{directory} exists and is not a directory")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise NandoctorError(f"{directory} is not empty; choose another directory or pass --force")

    dataset = directory / "dataset"
    images, labels = dataset / "images" / "train", dataset / "labels" / "train"
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    for i, (stem, text) in enumerate(LABELS.items()):
        Image.new("RGB", (64, 48), (40 * i % 255, 90, 160)).save(images / f"{stem}.jpg", quality=85)
        (labels / f"{stem}.txt").write_text(text)
    Image.new("RGB", (64, 48), (10, 10, 10)).save(images / "img_008.jpg")  # image without a label file
    (labels / "img_009.txt").write_text("1 0.5 0.5 0.2 0.2\n")  # label without an image
    (dataset / "data.yaml").write_text(
        yaml.safe_dump(
            {
                "path": str(dataset.resolve()),
                "train": "images/train",
                "val": "images/train",
                "nc": len(NAMES),
                "names": {i: n for i, n in enumerate(NAMES)},
            },
            sort_keys=False,
        )
    )

    results = _results()
    _write_results_csv(directory / "results.csv", results)
    (directory / "args.yaml").write_text(yaml.safe_dump(_args_yaml(dataset / "data.yaml"), sort_keys=False))

    weights = directory / "weights"
    for epoch in range(EPOCHS):  # epochN.pt is 0-based: epoch3.pt holds results.csv epoch 4
        upto = {k: v[: epoch + 1] for k, v in results.items()}
        poisoned = epoch + 1 >= NAN_EPOCH
        save_ultralytics_checkpoint(
            weights / f"epoch{epoch}.pt", epoch=epoch, results=upto, poison=poisoned, seed=epoch
        )
        if epoch == EPOCHS - 1:
            save_ultralytics_checkpoint(
                weights / "last.pt", epoch=epoch, results=upto, poison=True, sanitize=True, seed=epoch
            )
    save_ultralytics_checkpoint(
        weights / "best.pt",
        epoch=NAN_EPOCH - 2,
        results={k: v[: NAN_EPOCH - 1] for k, v in results.items()},
        seed=NAN_EPOCH - 2,
    )

    d = directory
    return [
        f"nandoctor triage {d}",
        f"nandoctor check-data {d / 'dataset'}",
        f"nandoctor inspect-ckpt {d / 'weights'}",
        f"nandoctor analyze-log {d / 'results.csv'}",
        f"nandoctor diagnose-config {d / 'args.yaml'}",
    ]
