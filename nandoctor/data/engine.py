"""check-data: detect what PATH holds (YOLO dataset, labels, classification labels, tensors) and check it.

Label files are read once each, in parallel across cores, and checked in vectorised numpy
(see yolo.py); nothing is ever written into the dataset.
"""

from __future__ import annotations

import os
from pathlib import Path

from nandoctor.data.yolo import MAX_PER_CODE  # findings kept per code; the total stays in summary.by_code
from nandoctor.findings import NandoctorError, Report

TASKS = ("detect", "segment", "pose", "obb")
TENSOR_EXTS = (".pt", ".pth", ".bin", ".npy", ".npz", ".safetensors")
CLASSIFICATION_EXTS = (".jsonl", ".ndjson", ".csv")
PARALLEL_FROM = 2000  # below this many files a process pool costs more than it saves
CHUNK = 1000


def check_data(
    path: Path,
    *,
    num_classes: int | None = None,
    config: Path | None = None,
    dataset: str | None = None,
    task: str | None = None,
    images: bool | None = None,
    label_key: str = "label",
    ignore_index: list[int] | None = None,
    vocab_size: int | None = None,
) -> Report:
    path = Path(path)
    if not path.exists():
        raise NandoctorError(f"{path}: no such file or directory")
    if task is not None and task not in TASKS:
        raise NandoctorError(f"--task must be one of {', '.join(TASKS)}, not {task!r}")
    if num_classes is not None and num_classes < 1:
        raise NandoctorError("--num-classes must be at least 1")
    if (config is None) != (dataset is None):
        raise NandoctorError("--config and --dataset go together (datasets.dataset_configs.NAME.num_classes)")
    if config is not None and dataset is not None and num_classes is None:
        num_classes = num_classes_from_config(Path(config), dataset)

    if not path.is_dir() and not path.is_file():
        raise NandoctorError(f"{path}: not a regular file or folder (FIFO, device or broken link)")
    suffix = path.suffix.lower()
    if path.is_file() and path.stat().st_size == 0 and suffix != ".txt":  # an empty .txt: a background image
        raise NandoctorError(f"{path}: empty file, nothing to check")
    report = Report(command="check-data")
    if path.is_file() and suffix in TENSOR_EXTS:
        from nandoctor.data.tensors import check_tensor_files

        check_tensor_files([path], report, vocab_size)
    elif path.is_file() and suffix in CLASSIFICATION_EXTS:
        from nandoctor.data.classification import check_classification

        check_classification(path, report, num_classes, label_key, ignore_index or [])
    else:
        _check_yolo(path, report, num_classes, task, images, vocab_size, label_key, ignore_index or [])
    _finish(report)
    return report


def num_classes_from_config(config: Path, dataset: str) -> int:
    """`datasets.dataset_configs.NAME.num_classes` of a multi-dataset config (field notes §3)."""
    import yaml

    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError, ValueError) as exc:  # ValueError: an
        # integer over Python's 4300-digit limit
        raise NandoctorError(f"{config}: cannot read config: {str(exc).splitlines()[0] if str(exc) else exc}") from exc
    configs = ((data or {}).get("datasets") or {}).get("dataset_configs") if isinstance(data, dict) else None
    if not isinstance(configs, dict):
        raise NandoctorError(f"{config}: no datasets.dataset_configs mapping")
    entry = configs.get(dataset)
    if not isinstance(entry, dict) or not isinstance(entry.get("num_classes"), int) or entry["num_classes"] < 1:
        names = ", ".join(map(str, configs)) or "none"
        raise NandoctorError(f"{config}: no datasets.dataset_configs.{dataset}.num_classes (datasets: {names})")
    return entry["num_classes"]


def _workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


def run_chunks(fn, items: list, args: tuple, bar) -> list:
    """fn(chunk, *args) over chunks of items, in worker processes when it pays off."""
    chunks = [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]
    workers = min(_workers(), len(chunks))
    results = []
    if workers > 1 and len(items) >= PARALLEL_FROM:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        try:
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
                futures = {pool.submit(fn, c, *args): len(c) for c in chunks}
                for fut in as_completed(futures):
                    results.append(fut.result())
                    bar.advance(futures[fut])
            return results
        except (OSError, RuntimeError):  # no fork/processes here: fall back to one process
            results = []
    for c in chunks:
        results.append(fn(c, *args))
        bar.advance(len(c))
    return results


def _yaml_classes(lay, report: Report) -> int | None:
    data, where = lay.yaml, str(lay.yaml_path) if lay.yaml_path else None
    names, nc = data.get("names"), data.get("nc")
    n_names = len(names) if isinstance(names, (list, dict)) else None
    if isinstance(nc, bool) or (nc is not None and not isinstance(nc, int)):
        report.add("ND119", "error", f"nc is {nc!r}, not an integer", path=where)
        nc = None
    if nc is not None and n_names is not None and nc != n_names:
        report.add(
            "ND119",
            "error",
            f"nc is {nc} but names lists {n_names} classes",
            path=where,
            data={"nc": nc, "names": n_names},
        )
        return min(nc, n_names)  # ids valid under both
    return n_names if n_names is not None else nc


def _check_yolo(
    path: Path, report: Report, num_classes, task, images, vocab_size, label_key: str, ignore_index: list[int]
) -> None:
    from nandoctor.data import yolo
    from nandoctor.data.layout import discover, img2label
    from nandoctor.progress import progress

    lay = discover(path, images)
    for h in lay.hits:
        _add(report, h)
    nc = num_classes if num_classes is not None else _yaml_classes(lay, report)
    kpt = lay.yaml.get("kpt_shape")
    kpt = (
        tuple(kpt)
        if isinstance(kpt, list) and len(kpt) == 2 and all(isinstance(x, int) and x > 0 for x in kpt)
        else None
    )
    if task is None and kpt:
        task = "pose"
    if not lay.labels:
        if path.is_dir() and _check_other_files(path, report, num_classes, vocab_size, label_key, ignore_index):
            return
        raise NandoctorError(f"{path}: no YOLO label files (.txt) found")
    if nc is None:
        report.add(
            "ND120",
            "info",
            "no class count (data.yaml names/nc, --num-classes, --config/--dataset): "
            "class ids were checked for being non-negative integers only",
            path=str(path),
        )

    spec = yolo.Spec(task=task, nc=nc, kpt=kpt, guess_pose=lay.yaml_path is None)
    total = yolo.Scan()
    if len(lay.labels) >= PARALLEL_FROM:  # many files: progress per chunk of files
        with progress("Scanning labels", len(lay.labels)) as bar:
            for part in run_chunks(yolo.scan_files, lay.labels, (spec,), bar):
                total.merge(part)
    else:  # a few files, maybe huge ones: progress per block of bytes, in this process
        with progress("Scanning labels (bytes)", _total_size(lay.labels)) as bar:
            total.merge(yolo.scan_files(lay.labels, spec, on_bytes=bar.advance))
    if lay.labels == [str(path)] and any(h[0] == "ND100" and h[5].get("content") == "binary" for h in total.hits):
        # one binary file given alone (a PNG passed as a label file) is the wrong kind of file
        raise NandoctorError(
            f"{path}: binary content (NUL bytes) in a label file: not a label, JSONL/CSV or tensor file"
        )
    for h in sorted(total.hits, key=lambda h: (h[3] or "", h[4] or 0)):
        _add(report, h)
    dropped = report.summary.setdefault("findings_not_listed", {})
    for code, n in total.dropped.items():  # capped inside the workers already
        dropped[code] = dropped.get(code, 0) + n

    pairing = {"checked": False}
    if lay.pairing:
        pairing = _pair(lay, report, img2label)
    elif images is not False and (path.is_dir() or path.suffix.lower() in (".yaml", ".yml")):
        report.add(
            "ND118",
            "info",
            "no images folder found (images/ beside labels/): images without labels and "
            "labels without images were not checked",
            path=str(path),
        )

    hist = dict(sorted(total.classes.items()))
    report.summary.update(
        {
            "format": "yolo",
            "task": task or "auto",
            "files_scanned": total.files,
            "rows": total.rows,
            "num_classes": nc,
            "class_histogram": hist,
            "classes_never_seen": [c for c in range(nc) if c not in hist][:1000] if nc and nc <= 100000 else [],
            "data_yaml": str(lay.yaml_path) if lay.yaml_path else None,
            "images": pairing,
        }
    )


def _total_size(paths: list[str]) -> int:
    total = 0
    for p in paths:
        try:
            total += os.stat(p).st_size
        except OSError:
            pass
    return total


def _pair(lay, report: Report, img2label) -> dict:
    from nandoctor.data.images import check_images
    from nandoctor.progress import progress

    labels = set(lay.labels)
    mapped = {img2label(i): i for i in lay.images}
    no_label = [i for lbl, i in mapped.items() if lbl not in labels]
    no_image = sorted(labels - mapped.keys())
    for i in no_label:
        _add(
            report,
            (
                "ND114",
                "info",
                "image has no label file (trained as background)",
                i,
                None,
                {"expected_label": img2label(i)},
            ),
        )
    for lbl in no_image:
        _add(
            report,
            ("ND115", "warning", "no image for this label in the dataset's splits: it is never used", lbl, None, {}),
        )
    show = len(lay.images) >= PARALLEL_FROM
    hits = []
    with progress("Reading image headers", len(lay.images) if show else None) as bar:
        for part in run_chunks(check_images, lay.images, (), bar):
            hits.extend(part)
    for h in sorted(hits, key=lambda h: h[3]):
        _add(report, h)
    return {
        "checked": True,
        "images": len(lay.images),
        "without_label": len(no_label),
        "labels_without_image": len(no_image),
        "unreadable": len(hits),
    }


def _check_other_files(
    path: Path, report: Report, num_classes, vocab_size, label_key: str, ignore_index: list[int]
) -> bool:
    """A folder of tensors or classification label files instead of YOLO labels; a table that cannot
    be read is one finding, the other files are still checked."""
    tensors: list[Path] = []
    tables: list[Path] = []
    odd: list[Path] = []
    for d, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            low, p = name.lower(), Path(d) / name
            if low.endswith(TENSOR_EXTS + CLASSIFICATION_EXTS) and not p.is_file():
                odd.append(p)  # a FIFO or device would block or never end: named, never opened
            elif low.endswith(TENSOR_EXTS):
                tensors.append(p)
            elif low.endswith(CLASSIFICATION_EXTS):
                tables.append(p)
    if not tensors and not tables and not odd:
        return False
    for p in odd:
        report.add("ND100", "error", "not a regular file (FIFO, device, socket or broken link); not read", path=str(p))
    if tensors:
        from nandoctor.data.tensors import check_tensor_files

        check_tensor_files(tensors, report, vocab_size)
    from nandoctor.data.classification import check_classification

    for t in tables:
        sub = Report(command="check-data")
        try:
            check_classification(t, sub, num_classes, label_key, ignore_index)
        except NandoctorError as exc:
            sub.add("ND100", "error", str(exc).removeprefix(f"{t}: "), path=str(t))
        report.extend(sub)
        report.summary.setdefault("tables", {})[str(t)] = sub.summary
    return True


def _add(report: Report, hit: tuple) -> None:
    """Add a worker's finding tuple, keeping at most MAX_PER_CODE per code (JSON stays usable)."""
    code, severity, message, path, line, data = hit
    dropped = report.summary.setdefault("findings_not_listed", {})
    listed = report.__dict__.setdefault("_listed", {})
    if listed.get(code, 0) >= MAX_PER_CODE:
        dropped[code] = dropped.get(code, 0) + 1
        return
    listed[code] = listed.get(code, 0) + 1
    report.add(code, severity, message, path=path, line=line, data=data)


def _finish(report: Report) -> None:
    """At most MAX_PER_CODE findings listed per code (tensor and table findings are added uncapped);
    by_code counts every finding, listed or not."""
    from collections import Counter

    dropped = report.summary.setdefault("findings_not_listed", {})
    seen: Counter = Counter()
    kept = []
    for f in report.findings:
        seen[f.code] += 1
        if seen[f.code] <= MAX_PER_CODE:
            kept.append(f)
        else:
            dropped[f.code] = dropped.get(f.code, 0) + 1
    report.findings[:] = kept
    by_code = Counter(f.code for f in report.findings) + Counter(dropped)
    report.summary["by_code"] = dict(sorted(by_code.items()))
    if dropped:
        report.next_steps.append(
            f"Only the first {MAX_PER_CODE} findings per code are listed; summary.by_code has the totals."
        )
    errors = [f for f in report.findings if f.severity.value == "error"]
    if errors:
        codes = sorted({f.code for f in errors})
        report.next_steps.append(
            f"Fix the rows and files marked error ({', '.join(codes)}); "
            f"`nandoctor explain {codes[0]}` says why each one breaks training."
        )
