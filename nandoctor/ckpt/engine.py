"""inspect-ckpt: which checkpoint is still clean, what exactly is broken in the others.

Discovery -> read (readers.py, never running pickled code) -> name tensors (walk.py) -> scan each
tensor once in bounded chunks (scan.py) -> judge (checks.py) -> pick the one to resume from (select.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from nandoctor.findings import NandoctorError, Report

SUFFIXES = {".pt", ".pth", ".ckpt", ".bin", ".safetensors", ".npz", ".pkl", ".tar"}
INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
MAX_FILES = 100_000


def discover(root: Path) -> list[Path]:
    """Checkpoint units under root: files, sharded-model folders (one unit), DCP folders (one unit)."""
    if not root.is_dir():
        return [root]
    if _unit_dir(root):
        return [root, *_unread_siblings(root)]
    units: list[Path] = []
    seen = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        d = Path(dirpath)
        dirnames.sort()
        if d != root and _unit_dir(d):
            units += [d, *_unread_siblings(d)]
            dirnames[:] = []
            continue
        for name in sorted(filenames):
            seen += 1
            if seen > MAX_FILES:
                raise NandoctorError(f"{root}: more than {MAX_FILES:,} files; point inspect-ckpt at the weights folder")
            p = d / name
            if p.suffix.lower() in SUFFIXES and (p.is_file() or p.is_symlink()):
                units.append(p)
    return units


def _unread_siblings(d: Path) -> list[Path]:
    """Files beside an HF Trainer folder's own files (training_args.bin, rng_state.pth, a stray .pt)
    are scanned on their own: a stray trainer_state.json must never hide a malicious pickle."""
    if (d / ".metadata").is_file() or any((d / i).is_file() for i in INDEXES):
        return []
    from nandoctor.ckpt.readers import HF_WEIGHTS

    read_by_unit = {*HF_WEIGHTS, "optimizer.pt", "scaler.pt"}
    return sorted(p for p in d.iterdir() if p.suffix.lower() in SUFFIXES and p.name not in read_by_unit
                  and (p.is_file() or p.is_symlink()))


def _unit_dir(d: Path) -> bool:
    return ((d / ".metadata").is_file() or any((d / i).is_file() for i in INDEXES)
            or (d / "trainer_state.json").is_file())


def inspect_ckpt(path: Path, *, stats: bool = False) -> Report:
    from nandoctor.progress import progress

    path = Path(path)
    if not path.exists():
        raise NandoctorError(f"{path}: no such file or directory")
    units = discover(path)
    if not units:
        raise NandoctorError(f"{path}: no checkpoints found (looked for {', '.join(sorted(SUFFIXES))}, "
                             "sharded model folders and DCP folders)")
    report = Report(command="inspect-ckpt")
    entries: list[dict[str, Any]] = []
    sizes = [_size(u) for u in units]
    with progress("Scanning checkpoints (MiB)", max(1, sum(sizes) >> 20)) as bar:
        for unit, size in zip(units, sizes):
            done = [0]

            def advance(nbytes: int) -> None:  # progress by bytes scanned: one huge file still moves
                done[0] += nbytes
                bar.advance(nbytes / (1 << 20))

            sub = Report(command="inspect-ckpt")
            entry = _inspect_one(unit, str(unit), sub, stats, advance)
            if not (entry.pop("not_checkpoint", False) and len(units) > 1):
                entries.append(entry)
                report.extend(sub)
            bar.advance(max(0, size - done[0]) / (1 << 20))
    if not entries:
        raise NandoctorError(f"{path}: no checkpoints found (the candidate files hold no tensors)")
    _conclude(report, entries, path)
    return report


def _size(unit: Path) -> int:
    try:
        if unit.is_dir():
            return sum(p.stat().st_size for p in unit.iterdir() if p.is_file())
        return unit.stat().st_size
    except OSError:
        return 0


def _inspect_one(unit: Path, shown: str, report: Report, want_stats: bool,
                 advance: Callable[[int], None] = lambda n: None) -> dict[str, Any]:
    from nandoctor.ckpt import checks, readers, scan, select, walk
    from nandoctor.ckpt.unpickle import UnsafePickle

    try:
        mtime = unit.stat().st_mtime
    except OSError:
        mtime = 0.0
    entry: dict[str, Any] = {"path": shown, "status": "unreadable", "epoch": None, "step": None,
                             "resumable": False, "format": None, "framework": None, "tensors": 0,
                             "nonfinite_tensors": [], "mtime": mtime}
    try:
        loaded = readers.read_any(unit)
        named = walk.flatten(loaded.obj)
        tensor_stats = {}
        for n in named:
            if _is_ref(n.ref):
                tensor_stats[n.name] = scan.scan(n.ref, stats=want_stats)
                advance(n.ref.nbytes)
    except UnsafePickle as exc:
        entry["status"] = "unsafe"
        more = len(exc.verdict.unsafe) - 1
        what = (f"the pickle is {exc.reason}" if exc.global_name == "pickle memo"
                else f"the pickle names {exc.global_name} ({exc.reason})")
        report.add("ND202", "error", what
                   + (f" and {more} more global(s) that can run code" if more > 0 else "")
                   + "; it was not run and nothing else was read from this file", path=shown, where=exc.global_name,
                   data={"global": exc.global_name, **exc.verdict.to_dict()})
        entry["unsafe_global"] = exc.global_name
        entry["globals"] = exc.verdict.globals
        entry["pickle"] = exc.verdict.status
        return entry
    except walk.PickleBomb as exc:
        entry["status"] = "unsafe"
        report.add("ND202", "error", f"{exc}; nothing else was read from this file", path=shown)
        return entry
    except Exception as exc:  # anything a corrupt file makes a parser raise: a finding, never a traceback
        entry["status"] = "unreadable"
        report.add("ND200", "error", _one_line(exc), path=shown)
        return entry

    policy = loaded.verdict
    entry["globals"] = list(loaded.globals)
    entry["pickle"] = policy.status if policy is not None else None
    if policy is not None and policy.status == "unknown":  # tensors are read; the file is still not trusted
        entry["unknown_globals"] = list(policy.unknown)
        listed = ", ".join(policy.unknown[:5]) + (f" and {len(policy.unknown) - 5} more" if len(policy.unknown) > 5 else "")
        report.add("ND214", "warning", f"the pickle names {listed}, outside nandoctor's allow-list; nothing was run "
                   "and the tensors were scanned, but loading it with weights_only=False would import and call "
                   f"them; not recommended (pass --trust {policy.unknown[0]} if you trust its code)",
                   path=shown, where=policy.unknown[0], data=policy.to_dict())
    if not named:  # training_args.bin, a dataset cache .pkl: not checkpoints (in a folder scan, skipped)
        entry["not_checkpoint"] = True
        if loaded.format == "pickle":
            report.add("ND200", "error", "no tensors in this pickle: not a torch, safetensors or npz checkpoint",
                       path=shown)
        return entry
    obj = loaded.obj
    top = obj if isinstance(obj, dict) else {}
    if loaded.format == "dcp":
        top = loaded.metadata  # step/epoch saved beside the tensors
    verdict = checks.judge(named, tensor_stats, obj, loaded.shards)
    for issue in verdict.issues:
        report.add(issue.code, issue.severity, issue.message, path=shown, where=issue.where, data=issue.data)
    status = verdict.status
    if policy is not None and policy.status == "unknown" and status == "clean":
        status = "unknown"  # clean tensors in a pickle nandoctor cannot vouch for: never recommended
    epoch = _int(top.get("epoch"))
    step = next((s for s in (_int(top.get(k)) for k in ("global_step", "step", "steps", "iteration", "iter"))
                 if s is not None), None)
    entry.update({
        "status": status,
        "epoch": epoch,
        "step": step,
        "resumable": _resumable(named, top),
        "format": loaded.format,
        "framework": _framework(unit, loaded, top),
        "tensors": len(named),
        "nonfinite_tensors": verdict.nonfinite,
        "order_epoch": select.order_epoch(epoch, top, unit.name),
    })
    if loaded.shards:
        entry["shards"] = sorted(set(loaded.shards.values()))
    if want_stats:
        entry["stats"] = [{"name": n.name, **tensor_stats[n.name].to_dict()} for n in named if n.name in tensor_stats]
    return entry


def _is_ref(ref: Any) -> bool:
    from nandoctor.ckpt.tensors import TensorRef

    return isinstance(ref, TensorRef)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (KeyError, IndexError, TypeError, AttributeError)) or text == type(exc).__name__:
        text = f"{type(exc).__name__}: {text}"
    import zipfile

    if isinstance(exc, (zipfile.BadZipFile, EOFError)):
        text = f"truncated or corrupt archive ({text})"
    return f"cannot read this checkpoint: {text[:300]}"


def _int(x: Any) -> int | None:
    from nandoctor.ckpt.checks import _number

    value = _number(x)
    return int(value) if value is not None and value == value and abs(value) < 1e18 else None


def _resumable(named: list, top: dict) -> bool:
    if any(n.section == "optimizer" for n in named):
        return True
    for key in ("optimizer", "optimizer_state_dict", "optimizer_states"):
        if top.get(key):
            return True
    return False


def _framework(unit: Path, loaded: Any, top: dict) -> str:
    if "train_results" in top or "train_args" in top or any(g.startswith("ultralytics.") for g in loaded.globals):
        return "ultralytics"
    if "pytorch-lightning_version" in top or "optimizer_states" in top:
        return "lightning"
    if loaded.format.endswith("sharded") or loaded.format == "hf-trainer" or unit.name.startswith(("pytorch_model", "model.safetensors")) \
            or unit.name.startswith("model-0"):
        return "hf"
    if loaded.format == "dcp":
        return "dcp"
    return "generic"


def _conclude(report: Report, entries: list[dict[str, Any]], root: Path) -> None:
    from nandoctor.ckpt.select import progress_key, recommend

    best, why = recommend(entries)
    ordered = sorted(entries, key=progress_key)
    report.summary = {
        "checkpoints": [{k: v for k, v in e.items() if k not in ("mtime", "order_epoch")} for e in ordered],
        "recommended": best["path"] if best else None,
        "recommended_reason": why,
        "counts": {s: sum(e["status"] == s for e in entries)
                   for s in ("clean", "poisoned", "suspect", "unknown", "unsafe", "unreadable")},
    }
    bad = [e for e in ordered if e["status"] in ("poisoned", "suspect")]
    newest_bad = bad[-1]["path"] if bad else None
    last = next((e["path"] for e in entries if Path(e["path"]).name == "last.pt"
                 and e["status"] != "clean"), None)
    keep = last or newest_bad
    steps: list[str] = []
    if keep:
        steps.append(f"Keep a backup of {keep} for forensics (cp {keep} {keep}.bak); do not resume from it.")
    if best is None and len(entries) == 1:
        steps.append(f"Look for an earlier clean checkpoint: nandoctor inspect-ckpt {root.parent}")
    elif best is None:
        report.add("ND212", "error" if bad else "warning", f"none of the {len(entries)} checkpoints is clean",
                   path=str(root))
        steps.append("Restart from the pretrained weights with the repaired config "
                     "(nandoctor diagnose-config), and keep epoch checkpoints (save_period).")
    elif not bad and all(e["status"] == "clean" for e in entries):
        steps.append(f"No checkpoint is broken; the newest to resume from is {best['path']}. Look for the cause in "
                     "the data, the loss log and the config (nandoctor triage RUN_DIR).")
    else:
        at = ", ".join(f"{k} {best[k]}" for k in ("epoch", "step") if best.get(k) is not None)
        at = f" ({at})" if at else ""
        if best.get("framework") == "ultralytics":
            # Ultralytics' resume restores the checkpoint's own train_args, so a repaired config needs a new run.
            steps.append(f"Resume from {best['path']}{at}: `yolo train resume model={best['path']}` keeps its "
                         "stored settings; to apply the repaired config (nandoctor diagnose-config args.yaml) "
                         f"start from its weights: `yolo train model={best['path']} cfg=args_fixed.yaml`.")
        elif best["resumable"]:
            steps.append(f"Resume from {best['path']}{at} with the repaired config (lower LR, gradient clipping, "
                         "AMP off or bf16).")
        else:
            steps.append(f"Start a new run from the weights of {best['path']}{at} ({why}) with the repaired config.")
    report.next_steps = steps
