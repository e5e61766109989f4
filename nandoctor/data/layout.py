"""Find a YOLO dataset's label files, images and data.yaml, and pair them as Ultralytics does."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from nandoctor.data.images import IMG_FORMATS
from nandoctor.findings import NandoctorError

DATA_YAML_KEYS = {"path", "train", "val", "test", "names", "nc", "kpt_shape", "download"}  # a data.yaml's
SKIP_TXT = {"classes.txt", "readme.txt", "license.txt", "notes.txt"}  # LabelImg/Roboflow extras, not labels


@dataclass
class Layout:
    labels: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    pairing: bool = False
    yaml_path: Path | None = None
    yaml: dict = field(default_factory=dict)
    hits: list = field(default_factory=list)  # ND100 for unreadable folders / YAML


def img2label(path: str) -> str:
    """Ultralytics' img2label_paths: the last /images/ becomes /labels/, the extension .txt."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return sb.join(path.rsplit(sa, 1)).rsplit(".", 1)[0] + ".txt"


def label2img_dir(label_dir: str) -> str:
    """The images folder Ultralytics pairs with a labels folder (the last /labels/ -> /images/)."""
    sa, sb = f"{os.sep}labels{os.sep}", f"{os.sep}images{os.sep}"
    s = label_dir + os.sep
    return sb.join(s.rsplit(sa, 1)).rstrip(os.sep) if sa in s else label_dir


def _walk(root: str, hits: list) -> tuple[list[str], list[str]]:
    """All .txt and image files under root. Symlinked folders are not entered (no loops); FIFOs,
    devices and links to them are reported, never opened (reading /dev/zero would never end)."""
    txt: list[str] = []
    img: list[str] = []
    stack = [root]
    while stack:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            hits.append(("ND100", "error", f"cannot list folder: {exc.strerror or exc}", d, None, {}))
            continue
        subdirs = []
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    subdirs.append(e.path)
                    continue
                ext = e.name.rsplit(".", 1)[-1].lower() if "." in e.name else ""
                if ext != "txt" and ext not in IMG_FORMATS or ext == "txt" and e.name.lower() in SKIP_TXT:
                    continue
                if not e.is_file():
                    broken = e.is_symlink() and not os.path.exists(e.path)
                    why = "broken symbolic link" if broken else "not a regular file (FIFO, device or socket); not read"
                    hits.append(("ND100", "error", why, e.path, None, {}))
                    continue
            except OSError as exc:
                hits.append(("ND100", "error", f"cannot stat: {exc.strerror or exc}", e.path, None, {}))
                continue
            (txt if ext == "txt" else img).append(e.path)
        stack.extend(reversed(subdirs))
    return txt, img


def read_data_yaml(path: Path, hits: list) -> dict:
    """data.yaml as Ultralytics reads it (PyYAML safe_load); problems become ND100, not exceptions."""
    import yaml

    try:
        if path.stat().st_size > 16 << 20:
            raise ValueError("larger than 16 MiB")
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError, RecursionError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        hits.append(("ND100", "error", f"cannot read data YAML: {msg}", str(path), None, {}))
        return {}
    if not isinstance(data, dict):
        hits.append(("ND100", "error", "data YAML is not a mapping of keys", str(path), None, {}))
        return {}
    return data


def _find_yaml(start: Path) -> Path | None:
    """data.yaml in the folder or up to two parents (a labels/train folder's dataset)."""
    for d in [start, *list(start.parents)[:2]]:
        for name in ("data.yaml", "data.yml", "dataset.yaml"):
            if (d / name).is_file():
                return d / name
    return None


def _splits(data: dict, yaml_path: Path, hits: list) -> tuple[list[str], list[str]]:
    """Image folders and listed image files of train/val/test, resolved as Ultralytics does."""
    root = Path(str(data.get("path") or "."))
    if not root.is_absolute():
        root = yaml_path.parent / root
    if not root.is_dir():
        root = yaml_path.parent  # `path` written on another machine (C:/Users/...): try beside the YAML
    dirs, listed = [], []
    for key in ("train", "val", "test", "minival"):
        values = data.get(key)
        for v in values if isinstance(values, list) else [values]:
            if not isinstance(v, str) or not v:
                continue
            p = Path(v) if Path(v).is_absolute() else root / v
            if not p.exists() and (yaml_path.parent / v).exists():
                p = yaml_path.parent / v
            if p.is_dir() and os.path.normpath(str(p)) not in dirs:
                dirs.append(os.path.normpath(str(p)))
            elif p.is_file() and p.suffix.lower() == ".txt":
                listed += _image_list(p, hits)
    return dirs, listed


def _image_list(p: Path, hits: list) -> list[str]:
    """A train.txt of image paths; `./x` is relative to the list's folder (Ultralytics' rule)."""
    try:
        if p.stat().st_size > 256 << 20:
            raise OSError("larger than 256 MiB")
        lines = p.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        hits.append(("ND100", "error", f"cannot read image list: {exc}", str(p), None, {}))
        return []
    parent = str(p.parent) + os.sep
    out = []
    for x in lines:
        x = x.strip()
        if x:
            x = x.replace("./", parent, 1) if x.startswith("./") else x
            out.append(os.path.normpath(x if os.path.isabs(x) else parent + x))
    return out


def discover(path: Path, images: bool | None) -> Layout:
    lay = Layout()
    if path.is_file() and path.suffix.lower() in (".yaml", ".yml"):
        lay.yaml_path = path
        lay.yaml = read_data_yaml(path, lay.hits)
        if not lay.yaml.keys() & DATA_YAML_KEYS:  # the YAML given describes no dataset (a training config?)
            why = lay.hits[-1][2] if lay.hits else "not a dataset YAML (none of path, train, val, names, nc)"
            raise NandoctorError(f"{path}: {why}")
        dirs, listed = _splits(lay.yaml, path, lay.hits)
        if not dirs and not listed:
            dirs = [str(path.parent)]
        label_dirs = {img2label(d + os.sep + "x.jpg").rsplit(os.sep, 1)[0] for d in dirs}
        label_dirs |= {img2label(i).rsplit(os.sep, 1)[0] for i in listed}
        txt, img = [], list(listed)
        for d in sorted(label_dirs | set(dirs)):
            if os.path.isdir(d):
                t, i = _walk(d, lay.hits)
                txt += t
                img += i
        return _finish(lay, sorted(set(txt)), img, images, dataset_root=path.parent)

    if path.is_file():
        lay.labels = [str(path)]
        found = _find_yaml(path.parent)
        if found:
            lay.yaml_path, lay.yaml = found, read_data_yaml(found, lay.hits)
        return lay

    found = _find_yaml(path)
    if found:
        lay.yaml_path, lay.yaml = found, read_data_yaml(found, lay.hits)
    txt, img = _walk(str(path), lay.hits)
    if not img:  # a bare labels folder: look for its images where Ultralytics would
        for d in sorted({t.rpartition(os.sep)[0] for t in txt}):
            cand = label2img_dir(d)
            if cand != d and os.path.isdir(cand):
                img += _walk(cand, lay.hits)[1]
    return _finish(lay, txt, img, images, dataset_root=path)


def _finish(lay: Layout, txt: list[str], img: list[str], images: bool | None, dataset_root: Path) -> Layout:
    """Label files are the .txt under a `labels` folder (all .txt when there is none)."""
    marker = f"{os.sep}labels{os.sep}"
    lay.labels = [t for t in txt if marker in t] or txt
    lay.images = sorted(set(img))
    lay.pairing = bool(lay.images) and images is not False
    return lay
