"""Builders for check-data tests: Ultralytics-shaped dataset folders written with the real writers
(PIL for images, plain text labels, yaml.safe_dump for data.yaml), and an oracle that applies
Ultralytics' own label verification to decide which files it would reject."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import yaml
from PIL import Image


def write_dataset(
    root: Path,
    labels: dict[str, str],
    names: list[str],
    split: str = "train",
    images: bool = True,
    extra_yaml: dict | None = None,
) -> Path:
    """images/<split>/<stem>.jpg + labels/<split>/<stem>.txt + data.yaml; returns the dataset root."""
    (root / "labels" / split).mkdir(parents=True, exist_ok=True)
    if images:
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
    for stem, text in labels.items():
        (root / "labels" / split / f"{stem}.txt").write_text(text)
        if images:
            Image.new("RGB", (32, 24), (90, 120, 150)).save(root / "images" / split / f"{stem}.jpg")
    data = {
        "path": str(root),
        "train": f"images/{split}",
        "val": f"images/{split}",
        "names": dict(enumerate(names)),
        **(extra_yaml or {}),
    }
    (root / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return root


def ultralytics_rejects(text: str | bytes, num_cls: int, keypoint: bool = False, nkpt: int = 0, ndim: int = 0) -> bool:
    """The label half of ultralytics/data/utils.py verify_image_label (8.4.190): True when it raises,
    i.e. when Ultralytics drops the image ('ignoring corrupt image/label')."""
    try:
        with np.errstate(all="ignore"):
            return _verify(text, num_cls, keypoint, nkpt, ndim)
    except Exception:  # noqa: BLE001 (verify_image_label's own `except Exception`: any error drops the image)
        return True


def _verify(text: str | bytes, num_cls: int, keypoint: bool, nkpt: int, ndim: int) -> bool:
    if isinstance(text, bytes):
        text = text.decode("utf-8-sig")  # open(lb_file, encoding="utf-8-sig")
    else:
        text = text.removeprefix("\ufeff")
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # open()'s universal newlines
    lb = [x.split() for x in text.strip().splitlines() if x.strip()]
    if nkpt and not keypoint:
        lb = [x[:5] if len(x) == 5 + nkpt * ndim else x for x in lb]
    if any(len(x) > 6 for x in lb) and not keypoint:
        assert not any(len(x) == 5 for x in lb)
        classes = np.array([x[0] for x in lb], dtype=np.float32)
        segments = [np.array(x[1:], dtype=np.float32).reshape(-1, 2) for x in lb]
        boxes = []
        for s in segments:  # segments2boxes: xyxy of each segment -> xywh
            x, y = s.T
            x1, y1, x2, y2 = x.min(), y.min(), x.max(), y.max()
            boxes.append([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1])
        lb = np.concatenate((classes.reshape(-1, 1), np.array(boxes, dtype=np.float32).reshape(-1, 4)), 1)
    lb = np.array(lb, dtype=np.float32)
    if len(lb):
        if keypoint:
            assert lb.shape[1] == 5 + nkpt * ndim
            points = lb[:, 5:].reshape(-1, ndim)[:, :2]
        else:
            assert lb.shape[1] == 5
            points = lb[:, 1:]
        assert points.max() <= 1.01
        lb_min = lb.min()
        assert lb_min >= 0 or (lb_min >= -0.01 and lb[:, 3:5].min() >= 0)
        assert (lb[:, 0] % 1 == 0).all()
        assert lb[:, 0].max() < num_cls
    return False


# Label files built from every ND1xx rule's bad and good examples (the backticked rows of its text),
# each in several files, plus the file-level defects a row cannot show.
NC = 3
BOX_ROWS = ["0 0.5 0.5 0.2 0.3", "1 0.25 0.3 0.1 0.12"]
POLY_ROWS = ["0 0.1 0.1 0.2 0.1 0.2 0.2", "2 0.5 0.5 0.7 0.5 0.7 0.8 0.5 0.8"]
POSE_ROW = "0 0.5 0.5 0.2 0.2 0.5 0.45 2"  # kpt_shape [1, 3]
FILE_CASES = {  # name -> (bytes, the line Ultralytics stumbles on or None for the whole file)
    "bom": (b"\xef\xbb\xbf0 0.5 0.5 0.2 0.3\n", None),
    "nul": (b"0 0.5 0.5 0.2 0.3\n\x00\x00\n", None),
    "latin1": ("0 0.5 0.5 0.2 0.3\n1 0.5 0.5 0.2 0.3 \xe9\n".encode("latin-1"), 2),
    "formfeed_in_row": (b"0 0.5 0.5\x0c0.2 0.3\n", 1),
    "lone_cr_in_row": (b"0 0.5 0.5 0.2 0.3\n1 0.5\r0.5 0.2 0.3\n", 2),
    "whitespace_line": (b"0 0.5 0.5 0.2 0.3\n \t \n1 0.25 0.3 0.1 0.12\n", None),
    "crlf": (b"0 0.5 0.5 0.2 0.3\r\n1 0.25 0.3 0.1 0.12\r\n", None),
    "nbsp_token": ("0 0.5\xa00.5 0.2 0.3\n".encode(), 1),
    "bom_inside": ("0 0.5 0.5 0.2 0.3\n\ufeff1 0.5 0.5 0.2 0.3\n".encode(), 2),
}


def rule_rows(which: str = "bad") -> dict[str, list[str]]:
    """code -> the label rows quoted in that rule's `bad` (or `good`) example."""
    import re

    from nandoctor.catalogue.data import RULES

    rows = {}
    for rule in RULES:
        quoted = [
            q
            for q in re.findall(r"`([^`]+)`", getattr(rule, which))
            if len(q.split()) > 1 and re.search(r"\d", q) and not re.search(r"nandoctor|\.\.\.|[/:{]", q)
        ]
        if quoted and rule.code <= "ND113":
            rows[rule.code] = quoted
    return rows


def label_cases() -> list[dict]:
    """Every bad example row alone, after box rows, among polygon rows, twice, and in a pose file;
    each case: name, data (bytes), pose (bool), line (where the row sits, or None)."""
    cases = []
    for code, rows in sorted(rule_rows("bad").items()):
        for n, row in enumerate(rows):
            stem = f"{code}_{n}"
            for ctx, before, after, pose in (
                ("alone", [], [], False),
                ("after_boxes", BOX_ROWS, [], False),
                ("among_polygons", POLY_ROWS[:1], POLY_ROWS[1:], False),
                ("twice", [row], [], False),
                ("pose", [POSE_ROW], [], True),
            ):
                text = "\n".join(before + [row] + after) + "\n"
                cases.append({"name": f"{stem}_{ctx}", "data": text.encode(), "pose": pose, "line": len(before) + 1})
    for name, (data, line) in FILE_CASES.items():
        cases.append({"name": f"file_{name}", "data": data, "pose": False, "line": line})
    return cases


def write_cases(root: Path, cases: list[dict], pose: bool) -> Path:
    """The cases of one task as an Ultralytics dataset (labels written byte for byte, a PNG per label)."""
    root = write_dataset(root, {}, ["a", "b", "c"], extra_yaml={"kpt_shape": [1, 3]} if pose else None)
    for c in cases:
        if c["pose"] == pose:
            (root / "labels" / "train" / f"{c['name']}.txt").write_bytes(c["data"])
            Image.new("RGB", (32, 24), (90, 120, 150)).save(root / "images" / "train" / f"{c['name']}.png")
    return root


def tree_hash(root: Path) -> str:
    """Hash of every file's path and bytes under root (to prove nothing was modified)."""
    h = hashlib.sha256()
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            p = Path(d) / name
            h.update(str(p.relative_to(root)).encode())
            if not p.is_symlink():
                h.update(p.read_bytes())
    return h.hexdigest()
