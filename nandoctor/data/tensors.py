"""Tensor files (.pt/.pth/.bin, .npy, .npz, .safetensors): non-finite values and numeric hazards per named tensor.

Pickles are never executed: a .pt is first judged by nandoctor's pickle policy (the same verdict as
inspect-ckpt); only a file judged safe reaches torch.load(weights_only=True), others are read through
nandoctor's inert unpickler. .npy/.npz load with allow_pickle=False.
"""

from __future__ import annotations

from pathlib import Path

from nandoctor.findings import Report

FP16_MAX = 65504.0
MAX_TENSORS = 100_000   # names reported per file; a checkpoint of 10,000 tiny tensors fits


def check_tensor_files(paths: list[Path], report: Report, vocab_size: int | None) -> None:
    stats = report.summary.setdefault("tensors", {})
    for path in paths:
        found = 0
        for name, arr in _load(path, report):
            found += 1
            if found > MAX_TENSORS:
                break
            stats[f"{path}:{name}" if len(paths) > 1 else name] = _check(arr, name, str(path), report, vocab_size)
        report.summary["files_scanned"] = report.summary.get("files_scanned", 0) + 1
    report.summary["format"] = "tensors"


def _load(path: Path, report: Report):
    """Yield (name, numpy array) for every tensor in the file; problems become findings."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".pt", ".pth", ".bin"):
            yield from _torch(path, report)
        elif suffix == ".npy":
            yield from _numpy(path, report)
        elif suffix == ".npz":
            yield from _npz(path, report)
        else:
            yield from _safetensors(path, report)
    except MemoryError:
        report.add("ND100", "error", "too large to load into memory", path=str(path))


def _torch(path: Path, report: Report):
    import pickle
    import zipfile

    import torch

    from nandoctor.data.pickles import judge, tensors_of, torch_may_load

    loaded = judge(path, report)  # the same pickle policy as inspect-ckpt: unsafe files stop here
    if loaded is None:
        return
    if not torch_may_load(loaded):  # unknown, TorchScript, .tar, bare pickles: read through nandoctor only
        yield from tensors_of(loaded, path, report)
        return
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=_is_zip(path))
    except pickle.UnpicklingError:  # safe by nandoctor's list (Namespace, DictConfig, ...) but not torch's
        yield from tensors_of(loaded, path, report)
        return
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, KeyError, AttributeError,
            TypeError, IndexError, RecursionError, OverflowError, UnicodeDecodeError) as exc:
        report.add("ND100", "error", f"cannot load with torch.load: {_first_line(str(exc)) or type(exc).__name__}",
                   path=str(path))
        return
    found = False
    for name, t in _walk(obj, ""):
        found = True
        try:
            arr = _to_numpy(t)
        except (RuntimeError, TypeError) as exc:  # sparse, quantized, meta tensors
            report.add("ND100", "error", f"{name}: cannot read values: {_first_line(str(exc))}", path=str(path),
                       where=name)
            continue
        yield name or "tensor", arr
    if not found:
        report.add("ND100", "error", "no tensors inside (expected a tensor, dict, list or tuple of tensors)",
                   path=str(path))


def _is_zip(path: Path) -> bool:
    import zipfile

    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False


def _walk(obj, prefix: str, depth: int = 0):
    import torch

    if depth > 50:
        return
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, f"{prefix}.{k}" if prefix else str(k), depth + 1)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _walk(v, f"{prefix}.{i}" if prefix else str(i), depth + 1)


def _to_numpy(t):
    """A numpy view or copy numpy can hold: bf16/fp16/fp8 -> float32, unsigned wide ints -> int64."""
    import torch

    t = t.detach()
    if t.is_complex():
        return t.abs().numpy()
    if t.is_floating_point() and t.dtype not in (torch.float32, torch.float64):
        return t.float().numpy()
    if t.dtype in (torch.uint16, torch.uint32, torch.uint64):
        return t.to(torch.int64).numpy()
    return t.numpy()


def _numpy(path: Path, report: Report):
    import zipfile

    import numpy as np

    try:
        arr = np.load(path, allow_pickle=False, mmap_mode="r")
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            report.add("ND128", "error", "holds pickled Python objects (object array); not loaded",
                       path=str(path), data={"global": "numpy object array"})
        else:
            report.add("ND100", "error", f"cannot load .npy: {_first_line(str(exc))}", path=str(path))
        return
    # np.load treats a file that starts with b'PK' as an .npz archive, whatever its name.
    except (OSError, EOFError, SyntaxError, TypeError, OverflowError, MemoryError, zipfile.BadZipFile) as exc:
        report.add("ND100", "error", f"cannot load .npy: {_first_line(str(exc)) or type(exc).__name__}",
                   path=str(path))
        return
    yield path.stem, arr


def _npz(path: Path, report: Report):
    import zipfile

    import numpy as np

    try:
        archive = np.load(path, allow_pickle=False)
        names = list(archive.files)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        report.add("ND100", "error", f"cannot open .npz: {_first_line(str(exc)) or type(exc).__name__}",
                   path=str(path))
        return
    with archive:
        for name in names:
            try:
                arr = archive[name]
            except ValueError as exc:
                code = "ND128" if "pickle" in str(exc).lower() else "ND100"
                report.add(code, "error", f"{name}: {_first_line(str(exc))}", path=str(path), where=name)
                continue
            except (OSError, EOFError, zipfile.BadZipFile, KeyError, SyntaxError, TypeError) as exc:
                report.add("ND100", "error", f"{name}: {_first_line(str(exc)) or type(exc).__name__}",
                           path=str(path), where=name)
                continue
            yield name, arr


def _safetensors(path: Path, report: Report):
    from safetensors import safe_open

    try:
        f = safe_open(str(path), framework="pt")
        names = list(f.keys())
    except Exception as exc:  # SafetensorError is not importable as a stable name across versions
        report.add("ND100", "error", f"cannot open safetensors: {_first_line(str(exc)) or type(exc).__name__}",
                   path=str(path))
        return
    for name in names:
        try:
            t = f.get_tensor(name)
        except Exception as exc:
            report.add("ND100", "error", f"{name}: {_first_line(str(exc))}", path=str(path), where=name)
            continue
        yield name, _to_numpy(t)


def _first_line(s: str) -> str:
    return s.strip().splitlines()[0][:300] if s.strip() else ""


def _first_index(mask) -> list[int]:
    import numpy as np

    flat = int(np.argmax(mask.reshape(-1)))
    return [int(i) for i in np.unravel_index(flat, mask.shape)] if mask.ndim else []


def _check(arr, name: str, path: str, report: Report, vocab_size: int | None) -> dict:
    """Per-tensor stats and findings: NaN/Inf, not-normalised images, constant, > fp16 max, ids >= vocab."""
    import numpy as np

    arr = np.asarray(arr)
    info = {"shape": list(arr.shape), "dtype": str(arr.dtype)}
    if arr.size == 0 or arr.dtype.kind not in "biuf":
        return info
    if arr.dtype.kind == "f":
        nan, inf = np.isnan(arr), np.isinf(arr)
        n_nan, n_inf = int(nan.sum()), int(inf.sum())
        info.update(nan=n_nan, inf=n_inf)
        if n_nan or n_inf:
            parts = []
            data = {"nan": n_nan, "inf": n_inf, "size": int(arr.size)}
            if n_nan:
                data["first_nan"] = _first_index(nan)
                parts.append(f"{n_nan} NaN (first at {data['first_nan']})")
            if n_inf:
                data["first_inf"] = _first_index(inf)
                parts.append(f"{n_inf} Inf (first at {data['first_inf']})")
            report.add("ND123", "error", f"{name}: {' and '.join(parts)} of {arr.size} values", path=path,
                       where=name, data=data)
        finite = arr[~(nan | inf)] if (n_nan or n_inf) else arr
        if finite.size == 0:
            return info
        lo, hi = float(finite.min()), float(finite.max())
        info.update(min=lo, max=hi)
        if max(abs(lo), abs(hi)) > FP16_MAX:
            n = int((np.abs(finite) > FP16_MAX).sum())
            report.add("ND126", "warning", f"{name}: {n} values beyond ±65504 (max |x| = {max(abs(lo), abs(hi)):.6g}):"
                       " inf under fp16 AMP", path=path, where=name, data={"count": n})
        if _looks_like_images(arr) and lo >= 0 and 1.0 < hi <= 255.0:
            report.add("ND124", "warning", f"{name}: float image values in [{lo:.6g}, {hi:.6g}], not [0, 1]",
                       path=path, where=name, data={"min": lo, "max": hi})
    else:
        lo, hi = int(arr.min()), int(arr.max())
        info.update(min=lo, max=hi)
        if vocab_size is not None and hi >= vocab_size:
            over = arr >= vocab_size
            n = int(over.sum())
            report.add("ND127", "error", f"{name}: {n} ids >= vocab size {vocab_size} (max {hi}, first at "
                       f"{_first_index(over)})", path=path, where=name,
                       data={"count": n, "max": hi, "first": _first_index(over)})
    if arr.size > 1 and lo == hi and not (info.get("nan") or info.get("inf")):
        what = "all zero" if lo == 0 else f"constant ({lo:.6g})"
        report.add("ND125", "warning", f"{name}: {what} over {arr.size} values (zero variance)", path=path,
                   where=name, data={"value": lo})
    return info


def _looks_like_images(arr) -> bool:
    """(…, C, H, W) or (…, H, W, C) with C in 1/3/4 and both spatial sides >= 8."""
    if arr.ndim < 3:
        return False
    s = arr.shape
    return (s[-3] in (1, 3, 4) and min(s[-2:]) >= 8) or (s[-1] in (1, 3, 4) and min(s[-3:-1]) >= 8)
