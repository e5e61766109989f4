"""Tensor files (.pt/.pth/.bin, .npy, .npz, .safetensors): non-finite values and numeric hazards per named tensor.

Pickles are never executed: a .pt is first judged by nandoctor's pickle policy (the same verdict as
inspect-ckpt); only a file judged safe reaches torch.load(weights_only=True), others are read through
nandoctor's inert unpickler. .npy/.npz load with allow_pickle=False.

Memory is bounded by design, not by what a file claims: values are checked in blocks of CHUNK
(views are read through their strides, never copied whole), .npy and .npz members are streamed
from disk, a view that reads more elements than it has stored values (stride 0, overlapping
strides) is judged on those stored values, and zip members may inflate to MAX_INFLATE_FILE per
file and MAX_INFLATE_RUN per run (declared sizes, summed over members, refused before reading).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from nandoctor.findings import Report, WrongKind

FP16_MAX = 65504.0
MAX_TENSORS = 100_000  # names reported per file; a checkpoint of 10,000 tiny tensors fits
CHUNK = 1 << 22  # values checked at once (16 MiB of float32)
MAX_INFLATE_FILE = 2 << 30  # bytes the members of one .npz may inflate to (streamed: bounds time, not memory)
MAX_INFLATE_RUN = 8 << 30  # ... and of every zip in one run together
MAX_PT_INFLATE = 256 << 20  # compressed members of a .pt, which torch.load holds in memory (torch.save never
# compresses them)


class Unreadable(Exception):
    """A file or tensor that cannot be read; its message is the finding's."""


class Budget:
    """Inflated bytes still allowed in this run."""

    def __init__(self) -> None:
        self.left = MAX_INFLATE_RUN

    def take(self, n: int, what: str) -> None:
        if n > MAX_INFLATE_FILE:
            raise Unreadable(
                f"{what} inflate to {n:,} bytes, over the {_size(MAX_INFLATE_FILE)} limit per file "
                "(a zip bomb?): not read"
            )
        if n > self.left:
            raise Unreadable(
                f"{what} inflate to {n:,} bytes, over what is left of the {_size(MAX_INFLATE_RUN)} "
                "limit per run: not read"
            )
        self.left -= n


def _size(n: int) -> str:
    return f"{n / 2**30:g} GiB" if n >= 1 << 30 else f"{n / 2**20:g} MiB"


@dataclass
class Values:
    """A tensor's values as 1-D blocks of at most CHUNK, so no tensor is ever held whole twice."""

    shape: tuple
    dtype: str
    blocks: Callable[[], Iterator[tuple[int, Any]]]  # (flat position of the block's first value, numpy values)
    index: Callable[[int], list[int]]  # flat position -> the index shown to the user
    note: str = ""  # how the values were judged, when not one by one


def check_tensor_files(paths: list[Path], report: Report, vocab_size: int | None) -> None:
    import zipfile
    import zlib

    stats = report.summary.setdefault("tensors", {})
    budget = Budget()
    for path in paths:
        found = 0
        loader = _load(path, report, budget)
        try:  # per file: one hostile file is one finding, the rest of the folder is still judged
            if path.stat().st_size == 0:
                raise Unreadable("empty file (0 bytes): no tensors to check")
            for name, values in loader:
                found += 1
                if found > MAX_TENSORS:
                    break
                key = f"{path}:{name}" if len(paths) > 1 else name
                try:
                    stats[key] = _check(values, name, str(path), report, vocab_size)
                except (Unreadable, RuntimeError, EOFError, zlib.error, zipfile.BadZipFile) as exc:  # data cut
                    # short, a bad CRC or deflate stream, a storage torch cannot read
                    report.add(
                        "ND100", "error", f"{name}: cannot read values: {_reason(exc)}", path=str(path), where=name
                    )
        except (
            Unreadable,
            OSError,
            ValueError,
            RuntimeError,
            EOFError,
            OverflowError,
            zlib.error,
            zipfile.BadZipFile,
            NotImplementedError,
        ) as exc:
            report.add("ND100", "error", _reason(exc), path=str(path), wrong_kind=isinstance(exc, WrongKind))
        except MemoryError:
            report.add("ND100", "error", "too large to load into memory", path=str(path))
        finally:
            loader.close()
        report.summary["files_scanned"] = report.summary.get("files_scanned", 0) + 1
    report.summary["format"] = "tensors"


def _reason(exc: BaseException) -> str:
    return _first_line(str(exc)) or type(exc).__name__


def _load(path: Path, report: Report, budget: Budget):
    """Yield (name, Values) for every tensor in the file; problems become findings."""
    suffix = path.suffix.lower()
    if suffix in (".pt", ".pth", ".bin"):
        yield from _torch(path, report, budget)
    elif suffix == ".npy":
        yield from _numpy(path, report, budget)
    elif suffix == ".npz":
        yield from _npz(path, report, budget)
    else:
        yield from _safetensors(path, report)


def _torch(path: Path, report: Report, budget: Budget):
    import pickle
    import zipfile

    from nandoctor.data.torch_pickle import judge, tensors_of, torch_may_load

    is_zip = _is_zip(path)
    if is_zip:
        _pt_inflate_cap(path, budget)  # before the pickle scan, so a zip bomb is never inflated
    loaded = judge(path, report)  # the same pickle policy as inspect-ckpt: unsafe files stop here
    if loaded is None:
        return
    if not torch_may_load(loaded):  # unknown, TorchScript, .tar, bare pickles: read through nandoctor only
        yield from _arrays(tensors_of(loaded, path, report))
        return
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=is_zip)
    except pickle.UnpicklingError:  # safe by nandoctor's list (Namespace, DictConfig, ...) but not torch's
        yield from _arrays(tensors_of(loaded, path, report))
        return
    except (
        RuntimeError,
        EOFError,
        OSError,
        ValueError,
        zipfile.BadZipFile,
        KeyError,
        AttributeError,
        TypeError,
        IndexError,
        RecursionError,
        OverflowError,
        UnicodeDecodeError,
    ) as exc:
        report.add(
            "ND100",
            "error",
            f"cannot load with torch.load: {_first_line(str(exc)) or type(exc).__name__}",
            path=str(path),
        )
        return
    found = False
    for name, t in _walk(obj, ""):
        found = True
        try:
            values = _torch_values(t)
        except (RuntimeError, TypeError) as exc:  # sparse, quantized, meta tensors
            report.add(
                "ND100", "error", f"{name}: cannot read values: {_first_line(str(exc))}", path=str(path), where=name
            )
            continue
        yield name or "tensor", values
    if not found:
        report.add(
            "ND100", "error", "no tensors inside (expected a tensor, dict, list or tuple of tensors)", path=str(path)
        )


def _arrays(named):
    """(name, numpy array) from nandoctor's own reader -> (name, Values), checked in blocks like the rest."""
    for name, arr in named:
        shape = tuple(arr.shape)
        yield (
            name,
            Values(shape, str(arr.dtype), lambda a=arr: _blocks(a, lambda b: b), lambda k, s=shape: _unravel(k, s)),
        )


def _pt_inflate_cap(path: Path, budget: Budget) -> None:
    """For a zip (.pt) only. torch.save stores members uncompressed (torch.load maps them); compressed ones are inflated
    into memory, so their declared sizes are capped before anything is read."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            packed = sum(i.file_size for i in z.infolist() if i.compress_type != zipfile.ZIP_STORED)
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return  # torch.load reports it
    if packed > MAX_PT_INFLATE:
        raise Unreadable(
            f"compressed zip members inflate to {packed:,} bytes, over the {_size(MAX_PT_INFLATE)} "
            "limit (torch.save never compresses them; a zip bomb?): not loaded"
        )
    budget.take(packed, "compressed zip members")


def _torch_values(t) -> Values:
    """A tensor read through its strides; a view of more elements than the values it stores (stride 0,
    overlapping strides) is judged on those stored values, never expanded."""
    import torch

    t = t.detach()
    if t.layout != torch.strided or t.is_quantized or t.device.type == "meta":
        raise TypeError(f"{t.layout} {t.dtype} tensor on {t.device.type}: values not readable here")
    shape, n = tuple(t.shape), t.numel()
    dtype = str(_to_numpy(torch.empty(0, dtype=t.dtype)).dtype)
    span = 1 + sum((s - 1) * st for s, st in zip(t.shape, t.stride(), strict=True)) if n else 0
    if n <= span:
        return Values(shape, dtype, lambda: _blocks(t, _to_numpy), lambda k: _unravel(k, shape))
    stored = torch.empty(0, dtype=t.dtype).set_(t.untyped_storage(), t.storage_offset(), (span,), (1,))
    return Values(
        shape,
        dtype,
        lambda: _blocks(stored, _to_numpy),
        lambda k: _view_index(k, t),
        note=f"judged on the {span:,} stored values its {n:,} elements read",
    )


def _blocks(x, convert, start: int = 0):
    """C-order 1-D blocks of at most CHUNK values of a numpy array or torch tensor (each block a view
    or a small copy); `convert` turns a block into a numpy array numpy can judge."""
    shape = tuple(x.shape)
    n = 1
    for s in shape:
        n *= s
    if n == 0:
        return
    if n <= CHUNK or not shape:
        yield start, convert(x.reshape(-1))
        return
    inner = n // shape[0]
    if inner <= CHUNK:
        step = max(1, CHUNK // inner)
        for i in range(0, shape[0], step):
            yield start + i * inner, convert(x[i : i + step].reshape(-1))
    else:
        for i in range(shape[0]):
            yield from _blocks(x[i], convert, start + i * inner)


def _unravel(k: int, shape: tuple, order: Literal["C", "F"] = "C") -> list[int]:
    import numpy as np

    return [int(i) for i in np.unravel_index(k, shape, order=order)] if shape else []


def _view_index(k: int, t) -> list[int]:
    """An index of the view that reads stored value k (counted from the view's offset); [] if none."""
    dims = sorted((st, d) for d, st in enumerate(t.stride()) if st and t.shape[d] > 1)
    idx, rest = [0] * t.dim(), k
    for st, d in reversed(dims):
        idx[d] = min(rest // st, t.shape[d] - 1)
        rest -= idx[d] * st
    return idx if rest == 0 else []


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


def _numpy(path: Path, report: Report, budget: Budget):
    """Streamed from its header on; a file starting with PK is an .npz, as np.load reads it."""
    with open(path, "rb") as f:
        magic = f.read(6)
        f.seek(0)
        if magic.startswith(b"PK"):
            yield from _npz(path, report, budget)
            return
        if magic != b"\x93NUMPY":
            raise WrongKind("not an .npy file (no \\x93NUMPY magic; np.load would try to unpickle it)")
        size = path.stat().st_size
        yield from _npy_member(f, path.stem, size, "cannot load .npy", report, str(path))


def _npz(path: Path, report: Report, budget: Budget):
    import zipfile

    try:
        z = zipfile.ZipFile(path)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        with open(path, "rb") as f:  # a zip cut short is damaged; no zip at all is the wrong kind of file
            kind = Unreadable if f.read(4) == b"PK\x03\x04" else WrongKind
        raise kind(f"cannot open .npz: {_reason(exc)}") from exc
    with z:
        members = z.infolist()
        budget.take(sum(i.file_size for i in members), f"its {len(members)} members")
        for info in members:
            name = info.filename.removesuffix(".npy")
            if info.is_dir():
                continue
            try:
                member = z.open(info)
            except (RuntimeError, NotImplementedError, zipfile.BadZipFile, ValueError, OSError) as exc:
                report.add("ND100", "error", f"{name}: {_reason(exc)}", path=str(path), where=name)
                continue
            with member:
                yield from _npy_member(member, name, info.file_size, f"{name}: not an .npy array", report, str(path))


def _npy_member(f, name: str, size: int, what: str, report: Report, path: str):
    """One .npy stream: header checked against the bytes that follow, then values in blocks."""
    import numpy as np

    fmt = np.lib.format
    head = f.read(6)
    is_pickle = head[:1] == b"\x80"
    try:
        if head != b"\x93NUMPY":
            raise ValueError("a pickle" if is_pickle else "no \\x93NUMPY magic")
        version = tuple(f.read(2))
        readers = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}
        if version in readers:
            shape, fortran, dtype = readers[version](f)
        elif version == (3, 0):
            shape, fortran, dtype = fmt._read_array_header(f, version)  # type: ignore[attr-defined]  # utf-8 header; no public reader
        else:
            raise ValueError(f"unknown .npy version {version}")
    except (ValueError, SyntaxError, TypeError, OverflowError, EOFError) as exc:
        report.add("ND100", "error", f"{what}: {_reason(exc)}", path=path, where=name)
        return
    if dtype.hasobject:
        report.add(
            "ND128",
            "error",
            f"{name}: holds pickled Python objects (object array); not loaded",
            path=path,
            where=name,
            data={"global": "numpy object array"},
        )
        return
    count = 1
    for s in shape:
        count *= s
    data = size - f.tell()
    if data != count * dtype.itemsize:
        report.add(
            "ND100",
            "error",
            f"{name}: header says {count * dtype.itemsize:,} bytes of data, the file holds "
            f"{max(data, 0):,} (truncated or not an array)",
            path=path,
            where=name,
        )
        return
    order: Literal["C", "F"] = "F" if fortran else "C"

    def blocks():
        if dtype.kind not in "biufc":
            return
        done, step = 0, max(1, CHUNK)
        buf = memoryview(bytearray(min(step, count) * dtype.itemsize))  # one buffer, refilled per block
        while done < count:
            k = min(step, count - done)
            want, got = k * dtype.itemsize, 0
            while got < want and (n := f.readinto(buf[got:want])):
                got += n
            if got != want:
                raise Unreadable(f"data ends after {done * dtype.itemsize + got:,} bytes")
            arr = np.frombuffer(buf[:want], dtype)
            yield done, (np.abs(arr) if dtype.kind == "c" else arr)
            done += k

    judged = np.abs(np.empty(0, dtype)).dtype if dtype.kind == "c" else dtype.newbyteorder("=")  # |complex|, as
    # for torch tensors
    yield name, Values(tuple(shape), str(judged), blocks, lambda k: _unravel(k, tuple(shape), order))


def _safetensors(path: Path, report: Report):
    from safetensors import SafetensorError, safe_open

    # what the reader raises on a bad header or data: a bug of ours is not dressed as an unreadable file
    bad = (SafetensorError, OSError, ValueError, RuntimeError, TypeError, OverflowError)
    try:
        f = safe_open(str(path), framework="pt")
        names = list(f.keys())
    except bad as exc:
        with open(path, "rb") as h:  # no JSON header where safetensors puts it: the wrong kind of file
            wrong_kind = h.read(9)[8:9] != b"{"
        report.add(
            "ND100",
            "error",
            f"cannot open safetensors: {_first_line(str(exc)) or type(exc).__name__}",
            path=str(path),
            wrong_kind=wrong_kind,
        )
        return
    for name in names:
        try:
            t = f.get_tensor(name)
        except bad as exc:
            report.add("ND100", "error", f"{name}: {_first_line(str(exc))}", path=str(path), where=name)
            continue
        yield name, _torch_values(t)


def _first_line(s: str) -> str:
    return s.strip().splitlines()[0][:300] if s.strip() else ""


def _check(values: Values, name: str, path: str, report: Report, vocab_size: int | None) -> dict:
    """Per-tensor stats and findings: NaN/Inf, not-normalised images, constant, > fp16 max, ids >= vocab,
    accumulated block by block."""
    import numpy as np

    info: dict[str, Any] = {"shape": list(values.shape), "dtype": values.dtype}
    if values.note:
        info["judged"] = values.note
    kind = np.dtype(values.dtype).kind
    if kind not in "biuf":
        return info
    size = n_nan = n_inf = n_big = n_vocab = 0
    first_nan = first_inf = first_vocab = None
    lo = hi = None
    for start, v in values.blocks():
        size += v.size
        if kind == "f":
            finite = np.isfinite(v)
            if not finite.all():  # the rare block: count and locate NaN and Inf
                nan = np.isnan(v)
                a = int(nan.sum())
                b = v.size - int(finite.sum()) - a
                if a and first_nan is None:
                    first_nan = start + int(np.argmax(nan))
                if b and first_inf is None:
                    first_inf = start + int(np.argmax(~finite & ~nan))
                n_nan, n_inf = n_nan + a, n_inf + b
                v = v[finite]
                if not v.size:
                    continue
            blo, bhi = float(v.min()), float(v.max())
            if max(abs(blo), abs(bhi)) > FP16_MAX:
                n_big += int((np.abs(v) > FP16_MAX).sum())
        else:
            if not v.size:
                continue
            blo, bhi = int(v.min()), int(v.max())
            if vocab_size is not None and bhi >= vocab_size:
                over = v >= vocab_size
                n_vocab += int(over.sum())
                if first_vocab is None:
                    first_vocab = start + int(np.argmax(over))
        lo = blo if lo is None else min(lo, blo)
        hi = bhi if hi is None else max(hi, bhi)
    of = f"{size} stored values" if values.note else f"{size} values"
    if kind == "f":
        info.update(nan=n_nan, inf=n_inf)
        if n_nan or n_inf:
            parts = []
            data: dict[str, Any] = {"nan": n_nan, "inf": n_inf, "size": size}
            if n_nan and first_nan is not None:
                data["first_nan"] = values.index(first_nan)
                parts.append(f"{n_nan} NaN (first at {data['first_nan']})")
            if n_inf and first_inf is not None:
                data["first_inf"] = values.index(first_inf)
                parts.append(f"{n_inf} Inf (first at {data['first_inf']})")
            report.add("ND123", "error", f"{name}: {' and '.join(parts)} of {of}", path=path, where=name, data=data)
    if lo is None or hi is None:
        return info
    info.update(min=lo, max=hi)
    if kind == "f":
        if n_big:
            report.add(
                "ND126",
                "warning",
                f"{name}: {n_big} values beyond ±65504 (max |x| = {max(abs(lo), abs(hi)):.6g}): inf under fp16 AMP",
                path=path,
                where=name,
                data={"count": n_big},
            )
        if _looks_like_images(values.shape) and lo >= 0 and 1.0 < hi <= 255.0:
            report.add(
                "ND124",
                "warning",
                f"{name}: float image values in [{lo:.6g}, {hi:.6g}], not [0, 1]",
                path=path,
                where=name,
                data={"min": lo, "max": hi},
            )
    elif n_vocab and first_vocab is not None:
        first = values.index(first_vocab)
        report.add(
            "ND127",
            "error",
            f"{name}: {n_vocab} ids >= vocab size {vocab_size} (max {hi}, first at {first})",
            path=path,
            where=name,
            data={"count": n_vocab, "max": hi, "first": first},
        )
    numel = 1
    for d in values.shape:
        numel *= d
    if numel > 1 and lo == hi and not (n_nan or n_inf):
        what = "all zero" if lo == 0 else f"constant ({lo:.6g})"
        report.add(
            "ND125", "warning", f"{name}: {what} over {of} (zero variance)", path=path, where=name, data={"value": lo}
        )
    return info


def _looks_like_images(s: tuple) -> bool:
    """(…, C, H, W) or (…, H, W, C) with C in 1/3/4 and both spatial sides >= 8."""
    if len(s) < 3:
        return False
    return (s[-3] in (1, 3, 4) and min(s[-2:]) >= 8) or (s[-1] in (1, 3, 4) and min(s[-3:-1]) >= 8)
