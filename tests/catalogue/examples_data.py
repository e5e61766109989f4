"""check-data rules (ND1xx): anti-pattern and best-practice inputs as users lay them out.

YOLO datasets are Ultralytics-shaped (images/<split>/*.jpg written by PIL, labels/<split>/*.txt,
data.yaml written by yaml.safe_dump); classification labels are JSONL/CSV text; tensors are written
by torch.save, numpy and safetensors.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.catalogue import example

GOOD_ROW = "0 0.5 0.5 0.2 0.3\n"


def _dataset(
    tmp: Path,
    labels: dict[str, str | bytes],
    names: list[str] | None = None,
    *,
    images: dict[str, tuple[int, int]] | None = None,
    yaml_extra: dict | None = None,
    split: str = "train",
) -> Path:
    """images/<split>/<stem>.jpg + labels/<split>/<stem>.txt + data.yaml; returns data.yaml.

    Every label gets a 32x24 JPEG unless `images` names the stems (and sizes) that have one."""
    import yaml
    from PIL import Image

    root = tmp / "dataset"
    (root / "images" / split).mkdir(parents=True)
    (root / "labels" / split).mkdir(parents=True)
    for stem, text in labels.items():
        target = root / "labels" / split / f"{stem}.txt"
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(text, encoding="utf-8")
    for stem, size in (images if images is not None else {s: (32, 24) for s in labels}).items():
        Image.new("RGB", size, (90, 120, 150)).save(root / "images" / split / f"{stem}.jpg")
    data = {
        "path": str(root),
        "train": f"images/{split}",
        "val": f"images/{split}",
        "names": dict(enumerate(names or ["person", "car", "dog"])),
        **(yaml_extra or {}),
    }
    (root / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return root / "data.yaml"


def _rows(code: str, bad: str, good: str) -> None:
    """A label-row rule: one dataset whose img_1.txt holds the row (beside a clean img_0.txt)."""
    for kind, row in (("bad", bad), ("good", good)):

        @example(code, kind, "check-data")
        def _(tmp: Path, row: str = row) -> list:
            return [_dataset(tmp, {"img_0": GOOD_ROW, "img_1": row})]


# --- ND100 unreadable data file --------------------------------------------------------------------


@example("ND100", "bad", "check-data")
def _(tmp: Path) -> list:
    import io

    from PIL import Image

    jpeg = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 10, 10)).save(jpeg, "JPEG")  # an image saved under the label's name
    return [_dataset(tmp, {"img_0": GOOD_ROW, "img_1": jpeg.getvalue()})]


@example("ND100", "good", "check-data")
def _(tmp: Path) -> list:
    return [_dataset(tmp, {"img_0": GOOD_ROW, "img_1": "1 0.3 0.4 0.2 0.2\n"})]


# --- row rules (ND101-ND110, ND112) ----------------------------------------------------------------

_rows("ND101", "5 0.3 0.3 0.1 0.1\n", "2 0.3 0.3 0.1 0.1\n")  # names: 3 classes
_rows("ND102", "1.7 0.5 0.5 0.2 0.2\n", "1 0.5 0.5 0.2 0.2\n")
_rows("ND103", "0 0.5 0.5 0.2\n", "0 0.5 0.5 0.2 0.3\n")
_rows("ND104", "person 0.5 0.5 0.2 0.3\n0 0.5,0.5 0.2 0.3\n", "0 0.5 0.5 0.2 0.3\n")
_rows("ND105", "0 0.5 0.5 nan 0.3\n", "0 0.5 0.5 0.2 0.3\n")
_rows("ND106", "0 0.5 1.2 0.2 0.3\n", "0 0.5 0.9 0.2 0.2\n")
_rows("ND107", "0 0.5 1.005 0.2 0.2\n", "0 0.5 0.9 0.2 0.2\n")
_rows("ND108", "2 0.3 0.3 0.0 0.1\n", "2 0.3 0.3 0.05 0.1\n")
_rows("ND109", "1 0.95 0.5 0.2 0.1\n", "1 0.925 0.5 0.15 0.1\n")
_rows("ND112", "0 0.5 0.5 0.2 0.3\n0 0.5 0.5 0.2 0.3\n", "0 0.5 0.5 0.2 0.3\n1 0.3 0.3 0.1 0.1\n")


@example("ND110", "bad", "check-data")
def _(tmp: Path) -> list:
    # a segment dataset, one label holds a box row only: a 2-point polygon (this once passed unseen)
    return [
        _dataset(tmp, {"img_0": "0 0.1 0.1 0.2 0.1 0.2 0.2\n", "img_1": "0 0.1 0.1 0.2 0.2\n"}),
        "--task",
        "segment",
    ]


@example("ND110", "good", "check-data")
def _(tmp: Path) -> list:
    return [
        _dataset(
            tmp,
            {
                "img_0": "0 0.1 0.1 0.2 0.1 0.2 0.2\n",
                "img_1": "0 0.1 0.1 0.2 0.1 0.2 0.2\n0 0.5 0.5 0.7 0.5 0.7 0.7 0.5 0.7\n",
            },
        ),
        "--task",
        "segment",
    ]


# --- ND111 keypoint visibility (pose, kpt_shape [1, 3] in data.yaml) -------------------------------

for _kind, _row in (("bad", "0 0.5 0.5 0.2 0.2 0.51 0.42 5\n"), ("good", "0 0.5 0.5 0.2 0.2 0.51 0.42 2\n")):

    @example("ND111", _kind, "check-data")
    def _(tmp: Path, row: str = _row) -> list:
        return [
            _dataset(
                tmp,
                {"img_0": "0 0.5 0.5 0.2 0.2 0.5 0.5 1\n", "img_1": row},
                ["person"],
                yaml_extra={"kpt_shape": [1, 3]},
            )
        ]


# --- ND113-ND117: files and images -----------------------------------------------------------------


@example("ND113", "bad", "check-data")
def _(tmp: Path) -> list:
    return [_dataset(tmp, {"img_0": GOOD_ROW, "img_5": ""})]


@example("ND113", "good", "check-data")
def _(tmp: Path) -> list:
    return [_dataset(tmp, {"img_0": GOOD_ROW, "img_5": "1 0.3 0.3 0.1 0.1\n"})]


@example("ND114", "bad", "check-data")
def _(tmp: Path) -> list:
    return [_dataset(tmp, {"img_0": GOOD_ROW}, images={"img_0": (32, 24), "img_8": (32, 24)})]


@example("ND114", "good", "check-data")
def _(tmp: Path) -> list:
    return [_dataset(tmp, {"img_0": GOOD_ROW, "img_8": GOOD_ROW})]


@example("ND115", "bad", "check-data")
def _(tmp: Path) -> list:
    return [_dataset(tmp, {"img_0": GOOD_ROW, "img_9": GOOD_ROW}, images={"img_0": (32, 24)})]


@example("ND115", "good", "check-data")
def _(tmp: Path) -> list:
    return [_dataset(tmp, {"img_0": GOOD_ROW, "img_9": GOOD_ROW})]


@example("ND116", "bad", "check-data")
def _(tmp: Path) -> list:
    return [_dataset(tmp, {"img_0": GOOD_ROW, "img_1": GOOD_ROW}, images={"img_0": (32, 24), "img_1": (4, 4)})]


@example("ND116", "good", "check-data")
def _(tmp: Path) -> list:
    return [_dataset(tmp, {"img_0": GOOD_ROW, "img_1": GOOD_ROW}, images={"img_0": (32, 24), "img_1": (10, 10)})]


@example("ND117", "bad", "check-data")
def _(tmp: Path) -> list:
    data_yaml = _dataset(tmp, {"img_0": GOOD_ROW, "img_1": GOOD_ROW})
    jpg = data_yaml.parent / "images" / "train" / "img_1.jpg"
    jpg.write_bytes(jpg.read_bytes()[:-2])  # a download cut before the FF D9 end marker
    return [data_yaml]


@example("ND117", "good", "check-data")
def _(tmp: Path) -> list:
    return [_dataset(tmp, {"img_0": GOOD_ROW, "img_1": GOOD_ROW})]


# --- ND118-ND120: what the dataset says about itself -----------------------------------------------


@example("ND118", "bad", "check-data")
def _(tmp: Path) -> list:
    # labels copied out of the dataset, images left behind: nothing to pair them with
    data_yaml = _dataset(tmp, {"img_0": GOOD_ROW, "img_1": GOOD_ROW})
    (tmp / "labels_only").mkdir()
    for f in (data_yaml.parent / "labels" / "train").iterdir():
        (tmp / "labels_only" / f.name).write_bytes(f.read_bytes())
    return [tmp / "labels_only", "--num-classes", "3"]


@example("ND118", "good", "check-data")
def _(tmp: Path) -> list:
    return [_dataset(tmp, {"img_0": GOOD_ROW, "img_1": GOOD_ROW})]


@example("ND119", "bad", "check-data")
def _(tmp: Path) -> list:
    return [_dataset(tmp, {"img_0": GOOD_ROW}, ["fire", "smoke"], yaml_extra={"nc": 6})]


@example("ND119", "good", "check-data")
def _(tmp: Path) -> list:
    return [_dataset(tmp, {"img_0": GOOD_ROW}, ["fire", "smoke"], yaml_extra={"nc": 2})]


@example("ND120", "bad", "check-data")
def _(tmp: Path) -> list:
    (tmp / "labels").mkdir()
    (tmp / "labels" / "img_0.txt").write_text(GOOD_ROW, encoding="utf-8")
    return [tmp / "labels", "--no-images"]


@example("ND120", "good", "check-data")
def _(tmp: Path) -> list:
    (tmp / "labels").mkdir()
    (tmp / "labels" / "img_0.txt").write_text(GOOD_ROW, encoding="utf-8")
    return [tmp / "labels", "--no-images", "--num-classes", "80"]


# --- ND121-ND122: classification labels (JSONL and CSV) --------------------------------------------


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@example("ND121", "bad", "check-data")
def _(tmp: Path) -> list:  # food101: labels 0..100, one written as 101
    recs = [{"image": f"img_{i}.jpg", "label": i % 101} for i in range(200)] + [{"image": "x.jpg", "label": 101}]
    return [_jsonl(tmp / "train.jsonl", recs), "--num-classes", "101"]


@example("ND121", "good", "check-data")
def _(tmp: Path) -> list:
    recs = [{"image": f"img_{i}.jpg", "label": i % 101} for i in range(202)]
    return [_jsonl(tmp / "train.jsonl", recs), "--num-classes", "101"]


def _targets_csv(tmp: Path, targets: list[str]) -> list:
    """A CSV whose label column is `target`, as csv.writer writes it; judged with --label-key target."""
    import csv

    with open(tmp / "train.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["path", "target"])
        w.writerows([[f"img_{i}.jpg", t] for i, t in enumerate(targets)])
    return [tmp / "train.csv", "--label-key", "target", "--num-classes", "5"]


@example("ND122", "bad", "check-data")
def _(tmp: Path) -> list:
    return _targets_csv(tmp, ["3", "cat", "1.5"])


@example("ND122", "good", "check-data")
def _(tmp: Path) -> list:
    return _targets_csv(tmp, ["3", "4", "0"])


# --- ND123-ND127: tensors --------------------------------------------------------------------------


@example("ND123", "bad", "check-data")
def _(tmp: Path) -> list:
    import torch

    x = torch.randn(64, 16)
    x[:, 3] = 1.0  # a constant feature column: its std is 0, standardising it gives 0/0
    torch.save({"features": (x - x.mean(0)) / x.std(0)}, tmp / "features.pt")
    return [tmp / "features.pt"]


@example("ND123", "good", "check-data")
def _(tmp: Path) -> list:
    import torch

    x = torch.randn(64, 16)
    x[:, 3] = 1.0
    torch.save({"features": (x - x.mean(0)) / x.std(0).clamp_min(1e-6)}, tmp / "features.pt")
    return [tmp / "features.pt"]


@example("ND124", "bad", "check-data")
def _(tmp: Path) -> list:
    import numpy as np

    rng = np.random.default_rng(0)
    np.save(tmp / "images.npy", rng.integers(0, 256, (4, 3, 32, 32)).astype(np.float32))  # 0..255 as float
    return [tmp / "images.npy"]


@example("ND124", "good", "check-data")
def _(tmp: Path) -> list:
    import numpy as np

    rng = np.random.default_rng(0)
    np.save(tmp / "images.npy", rng.integers(0, 256, (4, 3, 32, 32)).astype(np.float32) / 255.0)
    return [tmp / "images.npy"]


@example("ND125", "bad", "check-data")
def _(tmp: Path) -> list:
    import numpy as np

    np.savez(tmp / "batch.npz", input=np.zeros((8, 16), np.float32))
    return [tmp / "batch.npz"]


@example("ND125", "good", "check-data")
def _(tmp: Path) -> list:
    import numpy as np

    np.savez(tmp / "batch.npz", input=np.random.default_rng(0).normal(size=(8, 16)).astype(np.float32))
    return [tmp / "batch.npz"]


@example("ND126", "bad", "check-data")
def _(tmp: Path) -> list:
    import torch
    from safetensors.torch import save_file

    save_file({"inputs": torch.tensor([[1.0, 2.0], [3.0, 1e6]])}, str(tmp / "inputs.safetensors"))
    return [tmp / "inputs.safetensors"]


@example("ND126", "good", "check-data")
def _(tmp: Path) -> list:
    import torch
    from safetensors.torch import save_file

    save_file({"inputs": torch.tensor([[1.0, 2.0], [3.0, 1e6]]) / 1e6}, str(tmp / "inputs.safetensors"))
    return [tmp / "inputs.safetensors"]


@example("ND127", "bad", "check-data")
def _(tmp: Path) -> list:
    import torch

    torch.save({"input_ids": torch.tensor([[1, 50, 151643], [7, 8, 9]])}, tmp / "tokens.pt")
    return [tmp / "tokens.pt", "--vocab-size", "151643"]


@example("ND127", "good", "check-data")
def _(tmp: Path) -> list:
    import torch

    torch.save({"input_ids": torch.tensor([[1, 50, 151642], [7, 8, 9]])}, tmp / "tokens.pt")
    return [tmp / "tokens.pt", "--vocab-size", "151643"]


# --- ND128 unsafe pickle ---------------------------------------------------------------------------


class _Payload:
    """Pickles as a call to os.system (never run: check-data only reads the pickle's opcodes)."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


@example("ND128", "bad", "check-data")
def _(tmp: Path) -> list:
    import torch

    torch.save({"features": torch.ones(4), "hook": _Payload()}, tmp / "features.pt")
    return [tmp / "features.pt"]


@example("ND128", "good", "check-data")
def _(tmp: Path) -> list:
    import torch

    torch.save({"features": torch.ones(4) * torch.arange(4)}, tmp / "features.pt")
    return [tmp / "features.pt"]
