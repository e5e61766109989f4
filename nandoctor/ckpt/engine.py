"""inspect-ckpt: which checkpoint is still clean, what exactly is broken in the others.

Discovery -> read (readers.py, never running pickled code) -> name tensors (walk.py) -> scan each
tensor once in bounded chunks (scan.py) -> judge (checks.py) -> pick the one to resume from (select.py).
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable

from nandoctor.ckpt.names import SCANNED_SUFFIXES
from nandoctor.findings import NandoctorError, Report, WrongKind

INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
MAX_FILES = 100_000
# What parsing a corrupt, truncated or lying file raises (zipfile: NotImplementedError for a compression
# method it lacks). Caught only around reading and scanning; anything else is a bug in nandoctor.
PARSE_ERRORS = (
    ValueError,
    OSError,
    EOFError,
    zipfile.BadZipFile,
    pickle.UnpicklingError,
    struct.error,
    OverflowError,
    RecursionError,
    MemoryError,
    zlib.error,
    NotImplementedError,
)


def discover(root: Path) -> list[Path]:
    """Checkpoint units under root: files, sharded-model folders (one unit), DCP folders (one unit), HF
    Trainer folders (weights + optimizer.pt + trainer_state.json as one unit).

    An HF `output_dir` holds `checkpoint-N/` folders beside its own trainer_state.json (save_state())
    and maybe the final model (save_model()): the folder is a unit only when it holds weights, and its
    checkpoint-N folders are read either way.
    """
    if not root.is_dir():
        return [root]
    if _leaf_unit(root):
        return [root, *_unread_siblings(root)]
    units: list[Path] = []
    seen = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        d = Path(dirpath)
        dirnames.sort()
        if d != root and _leaf_unit(d):
            units += [d, *_unread_siblings(d)]
            dirnames[:] = []
            continue
        seen += len(filenames)
        if seen > MAX_FILES:
            raise NandoctorError(f"{root}: more than {MAX_FILES:,} files; point inspect-ckpt at the weights folder")
        if _hf_unit(d):
            units += [d, *_unread_siblings(d)]
            continue
        for name in sorted(filenames):
            p = d / name
            if p.suffix.lower() in SCANNED_SUFFIXES and (p.is_file() or p.is_symlink()):
                units.append(p)
    return units


def _unread_siblings(d: Path) -> list[Path]:
    """Files beside an HF Trainer folder's own files (training_args.bin, rng_state.pth, a stray .pt)
    are scanned on their own: a stray trainer_state.json must never hide a malicious pickle."""
    if (d / ".metadata").is_file() or any((d / i).is_file() for i in INDEXES):
        return []
    from nandoctor.ckpt.readers import HF_WEIGHTS

    read_by_unit = {*HF_WEIGHTS, "optimizer.pt", "scaler.pt"} if _hf_unit(d) else set()
    return sorted(
        p
        for p in d.iterdir()
        if p.suffix.lower() in SCANNED_SUFFIXES and p.name not in read_by_unit and (p.is_file() or p.is_symlink())
    )


def _leaf_unit(d: Path) -> bool:
    """A folder read as one checkpoint with nothing below it: DCP, a sharded model, checkpoint-N."""
    return (
        (d / ".metadata").is_file()
        or any((d / i).is_file() for i in INDEXES)
        or (_hf_unit(d) and not any(p.name.startswith("checkpoint-") and p.is_dir() for p in d.iterdir()))
    )


def _hf_unit(d: Path) -> bool:
    """A Trainer checkpoint: trainer_state.json with weights or optimizer.pt beside it, or a
    `checkpoint-N` folder without them (a save cut short: reported, not skipped). One with
    subfolders (DeepSpeed's global_stepN/) is walked instead."""
    from nandoctor.ckpt.readers import HF_WEIGHTS

    if not (d / "trainer_state.json").is_file():
        return False
    if any((d / w).is_file() for w in (*HF_WEIGHTS, "optimizer.pt")):
        return True
    return d.name.startswith("checkpoint-") and not any(p.is_dir() for p in d.iterdir())


def inspect_ckpt(path: Path, *, stats: bool = False) -> Report:
    from nandoctor.ckpt.tensors import inflate_budget
    from nandoctor.progress import progress

    path = Path(path)
    if not path.exists():
        raise NandoctorError(f"{path}: no such file or directory")
    units = discover(path)
    if not units:
        raise NandoctorError(
            f"{path}: no checkpoints found (looked for {', '.join(sorted(SCANNED_SUFFIXES))}, "
            "sharded model folders and DCP folders)"
        )
    report = Report(command="inspect-ckpt")
    scanned: list[tuple[dict[str, Any], Report]] = []
    sizes = [_size(u) for u in units]
    with inflate_budget(), progress("Scanning checkpoints (MiB)", max(1, sum(sizes) >> 20)) as bar:
        for unit, size in zip(units, sizes, strict=True):
            done = [0]

            # progress by bytes scanned: one huge file still moves (`done` bound now, per unit)
            def advance(nbytes: int, done: list[int] = done) -> None:
                before = done[0] >> 20
                done[0] += nbytes
                bar.advance((done[0] >> 20) - before)  # whole MiB, however small each tensor

            sub = Report(command="inspect-ckpt")
            scanned.append((_inspect_one(unit, str(unit), sub, stats, advance), sub))
            bar.advance(max(0, (size >> 20) - (done[0] >> 20)))
    from nandoctor.ckpt.checks import compare_run

    compare_run([e for e, _ in scanned])
    entries: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for entry, sub in scanned:
        verdict = entry.pop("_verdict", None)
        if verdict is not None:
            for issue in verdict.issues:
                sub.add(
                    issue.code, issue.severity, issue.message, path=entry["path"], where=issue.where, data=issue.data
                )
            entry["status"] = verdict.status
            if entry.get("pickle") == "unknown" and verdict.status == "clean":
                entry["status"] = "unknown"  # clean tensors in a pickle nandoctor cannot vouch for: never recommended
            if verdict.exploded:
                entry["reason"] = "exploded"
            if verdict.role != "model" and entry["status"] == "clean":
                entry["status"] = "no-weights"
        quiet = entry.pop("not_checkpoint", False) or entry["status"] == "no-weights"
        if quiet and len(units) > 1:  # trainer state beside the weights: checked for safety, not listed
            others.append({"path": entry["path"], "role": entry.get("role") or "trainer-state"})
            continue
        if quiet and entry.get("role") is not None:
            what = (
                "it holds no tensors"
                if not entry["tensors"]
                else {"optimizer": "optimizer state only"}.get(
                    entry["role"], "trainer state only (RNG, scheduler, counters)"
                )
            )
            sub.add(
                "ND214", "warning", f"not a model checkpoint: {what}, no weights to resume from", path=entry["path"]
            )
        entries.append(entry)
        report.extend(sub)
    if not entries:
        raise NandoctorError(f"{path}: no checkpoints found (the candidate files hold no weights)")
    _conclude(report, entries, path, others)
    return report


def _size(unit: Path) -> int:
    try:
        if unit.is_dir():
            return sum(p.stat().st_size for p in unit.iterdir() if p.is_file())
        return unit.stat().st_size
    except OSError:
        return 0


def _inspect_one(
    unit: Path, shown: str, report: Report, want_stats: bool, advance: Callable[[int], None] = lambda n: None
) -> dict[str, Any]:
    """One unit -> its summary entry; the verdict rides along in entry['_verdict'] until the run
    comparison has seen every checkpoint. A file's own defects become an `unreadable` entry; a bug in
    nandoctor propagates (the CLI reports it as an internal error, never as a verdict on the file)."""
    from nandoctor.ckpt import checks, readers, scan, select, walk
    from nandoctor.ckpt.tensors import FileChanged
    from nandoctor.ckpt.unpickle import UnsafePickle

    try:
        mtime = unit.stat().st_mtime
    except OSError:
        mtime = 0.0
    entry: dict[str, Any] = {
        "path": shown,
        "status": "unreadable",
        "epoch": None,
        "step": None,
        "resumable": False,
        "format": None,
        "framework": None,
        "role": None,
        "tensors": 0,
        "nonfinite_tensors": [],
        "mtime": mtime,
    }
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
        what = (
            f"the pickle is {exc.reason}"
            if exc.global_name == "pickle memo"
            else f"the pickle names {exc.global_name} ({exc.reason})"
        )
        report.add(
            "ND202",
            "error",
            what
            + (f" and {more} more global(s) that can run code" if more > 0 else "")
            + "; it was not run and nothing else was read from this file",
            path=shown,
            where=exc.global_name,
            data={"global": exc.global_name, **exc.verdict.to_dict()},
        )
        entry["unsafe_global"] = exc.global_name
        entry["globals"] = exc.verdict.globals
        entry["pickle"] = exc.verdict.status
        return entry
    except walk.PickleBomb as exc:
        entry["status"] = "unsafe"
        report.add("ND202", "error", f"{exc}; nothing else was read from this file", path=shown)
        return entry
    except PARSE_ERRORS as exc:  # what a corrupt, truncated or lying file makes a parser raise
        entry["status"] = "unreadable"
        report.add("ND200", "error", _one_line(exc), path=shown, wrong_kind=isinstance(exc, WrongKind))
        return entry
    except (TypeError, KeyError, IndexError, AttributeError) as exc:
        if not _from_unpickling(exc):
            raise
        entry["status"] = "unreadable"
        report.add("ND200", "error", _one_line(exc), path=shown)
        return entry

    # Judged outside the handlers above: those catch what a defective file makes a parser raise; an
    # error while judging what was read is a bug in nandoctor (the CLI's internal error), never a
    # verdict of "unreadable" on the user's file.
    _judge_pickle(loaded.verdict, entry, report, shown)
    if not named:  # training_args.bin, a dataset cache .pkl, torch.save({'epoch': 1}): not checkpoints
        entry["not_checkpoint"] = True
        if loaded.format == "pickle":
            report.add(
                "ND200", "error", "no tensors in this pickle: not a torch, safetensors or npz checkpoint", path=shown
            )
        else:
            entry.update(status="no-weights", role="trainer-state", format=loaded.format)
        return entry
    obj = loaded.obj
    top = obj if isinstance(obj, dict) else {}
    if loaded.format == "dcp":
        top = loaded.metadata  # step/epoch saved beside the tensors
    meta = loaded.metadata if loaded.format in ("hf-trainer", "dcp") else None
    try:
        verdict = checks.judge(named, tensor_stats, obj, loaded.shards, _pad_rows(unit, named), meta)
    except FileChanged as exc:  # a tensor re-read for its padding rows was cut short under us
        report.add("ND200", "error", _one_line(exc), path=shown)
        return entry
    facts = {**top, **(meta or {})}
    epoch = _int(facts.get("epoch"))
    step = next(
        (
            s
            for s in (_int(facts.get(k)) for k in ("global_step", "step", "steps", "iteration", "iter"))
            if s is not None
        ),
        None,
    )
    if step is None and unit.parent.name.startswith("checkpoint-") and unit.parent.name[11:].isdigit():
        step = int(unit.parent.name[11:])  # a file inside an HF checkpoint-N folder (adapters, DeepSpeed)
    order = select.order_epoch(epoch, facts, unit.name)

    entry.update(
        {
            "status": verdict.status,
            "epoch": epoch,
            "step": step,
            "resumable": _resumable(named, top) and verdict.role != "trainer-state",
            "format": loaded.format,
            "framework": _framework(unit, loaded, top),
            "role": verdict.role,
            "tensors": len(named),
            "nonfinite_tensors": verdict.nonfinite,
            "order_epoch": order,
            "globals": list(loaded.globals),  # every global, torch's included
            "_verdict": verdict,
        }
    )
    if loaded.shards:
        entry["shards"] = sorted(set(loaded.shards.values()))
    if want_stats:
        entry["stats"] = [{"name": n.name, **tensor_stats[n.name].to_dict()} for n in named if n.name in tensor_stats]
    return entry


def _judge_pickle(policy, entry: dict[str, Any], report: Report, shown: str) -> None:
    """Every global in the JSON (torch's included); an `unknown` pickle is reported, its tensors still read."""
    entry["pickle"] = policy.status if policy is not None else None
    if policy is None or policy.status != "unknown":
        return
    entry["unknown_globals"] = list(policy.unknown)
    listed = ", ".join(policy.unknown[:5]) + (f" and {len(policy.unknown) - 5} more" if len(policy.unknown) > 5 else "")
    report.add(
        "ND217",
        "warning",
        f"the pickle names {listed}, outside nandoctor's allow-list; nothing was run "
        "and the tensors were scanned, but loading it with weights_only=False would import and call "
        f"them; not recommended (pass --trust {policy.unknown[0]} if you trust its code)",
        path=shown,
        where=policy.unknown[0],
        data=policy.to_dict(),
    )


def _from_unpickling(exc: BaseException) -> bool:
    """True when a TypeError & co. was raised while a pickle was being read: pickle's opcodes call
    constructors (dict(1), set(None)) with whatever arguments the file holds. Raised anywhere else,
    it is a bug in nandoctor and must not be reported as the file's fault."""
    import pickle

    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if isinstance(frame.f_locals.get("self"), pickle.Unpickler) or frame.f_code.co_name in (
            "restricted_loads",
            "read_pickle",
            "load_torch_zip",
        ):
            return True
        tb = tb.tb_next
    return False


def _pad_rows(unit: Path, named: list) -> dict[str, set[int]]:
    """Embedding rows zero by construction: config.json's pad_token_id beside an HF checkpoint."""
    config = (unit if unit.is_dir() else unit.parent) / "config.json"
    try:
        if not config.is_file() or config.stat().st_size > 10 << 20:
            return {}
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    pads = [data.get(k) for k in ("pad_token_id", "padding_idx")] if isinstance(data, dict) else []
    if isinstance(data, dict) and isinstance(data.get("text_config"), dict):
        pads.append(data["text_config"].get("pad_token_id"))
    rows = {p for p in pads if isinstance(p, int) and not isinstance(p, bool) and p >= 0}
    if not rows:
        return {}
    return {
        n.name: rows
        for n in named
        if _is_embedding(n.name) and len(getattr(n.ref, "shape", ())) == 2 and n.ref.shape[0] > max(rows)
    }


def _is_embedding(name: str) -> bool:
    last = name.rsplit(".", 2)
    owner = last[-2].lower() if len(last) >= 2 else ""
    return name.endswith("weight") and (
        "embed" in owner or owner in ("wte", "shared", "tok_embeddings", "word_embeddings", "lm_head")
    )


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
    if (
        loaded.format.endswith("sharded")
        or loaded.format == "hf-trainer"
        or unit.name.startswith(("pytorch_model", "model.safetensors"))
        or unit.name.startswith("model-0")
    ):
        return "hf"
    if loaded.format == "dcp":
        return "dcp"
    return "generic"


def _conclude(
    report: Report, entries: list[dict[str, Any]], root: Path, others: list[dict[str, Any]] | None = None
) -> None:
    from nandoctor.ckpt.select import progress_key, recommend

    best, why = recommend(entries)
    ordered = sorted(entries, key=progress_key)
    report.summary = {
        "checkpoints": [{k: v for k, v in e.items() if k not in ("mtime", "order_epoch")} for e in ordered],
        "recommended": best["path"] if best else None,
        "recommended_reason": why,
        "counts": {
            s: sum(e["status"] == s for e in entries)
            for s in ("clean", "poisoned", "suspect", "unknown", "unsafe", "unreadable", "no-weights")
        },
    }
    if others:  # rng_state.pth, scheduler.pt, training_args.bin: read for safety, never resumed from
        report.summary["other_files"] = others
    entries = [e for e in entries if e["status"] != "no-weights"]
    if not entries:
        return
    bad = [e for e in ordered if e["status"] in ("poisoned", "suspect")]
    newest_bad = bad[-1]["path"] if bad else None
    last = next((e["path"] for e in entries if Path(e["path"]).name == "last.pt" and e["status"] != "clean"), None)
    keep = last or newest_bad
    steps: list[str] = []
    if keep:
        from nandoctor.catalogue.recipes import backup_command

        dest = (root if root.is_dir() else root.parent).parent / "nan_backup"  # outside what is scanned
        steps.append(
            f"Keep a backup of {keep} as evidence before anything overwrites it; do not resume from it: "
            f"{backup_command([keep], dest)}"
        )
    if best is None and [e["path"] for e in entries] == [str(root)]:
        # one file (or one checkpoint-N folder) asked about: the earlier ones are elsewhere, not absent.
        # A folder searched that holds one poisoned checkpoint is ND212 like one holding ten.
        steps.append(f"Look for an earlier clean checkpoint: nandoctor inspect-ckpt {root.parent}")
    elif best is None:
        report.add(
            "ND212", "error" if bad else "warning", f"none of the {len(entries)} checkpoints is clean", path=str(root)
        )
        steps.append(
            "Restart from the pretrained weights with the repaired config "
            "(nandoctor diagnose-config), and keep epoch checkpoints (save_period)."
        )
    elif not bad and all(e["status"] == "clean" for e in entries):
        steps.append(
            f"No checkpoint is broken; the newest to resume from is {best['path']}. Look for the cause in "
            "the data, the loss log and the config (nandoctor triage RUN_DIR)."
        )
    else:
        at = ", ".join(f"{k} {best[k]}" for k in ("epoch", "step") if best.get(k) is not None)
        at = f" ({at})" if at else ""
        if best.get("framework") == "ultralytics":
            # Ultralytics' resume restores the checkpoint's own train_args (and refuses a finished run), and
            # args.yaml carries save_dir: a repaired config needs a new run in a new folder, loading these
            # weights explicitly, or it writes over the old run's epochN.pt files.
            ckpt = Path(best["path"])
            run = ckpt.parent.parent if ckpt.parent.name == "weights" else ckpt.parent
            steps.append(
                f"Resume from the weights of {best['path']}{at} in a new run folder, with the repaired "
                f"config (nandoctor diagnose-config {run / 'args.yaml'}): `yolo train model={best['path']} "
                f"cfg={run / 'args_fixed.yaml'} pretrained=True "
                f"save_dir={run.with_name(f'{run.name}_from_{ckpt.stem}')}`."
            )
        elif best["resumable"]:
            steps.append(
                f"Resume from {best['path']}{at} with the repaired config (lower LR, gradient clipping, "
                "AMP off or bf16)."
            )
        else:
            steps.append(f"Start a new run from the weights of {best['path']}{at} ({why}) with the repaired config.")
    report.next_steps = steps
