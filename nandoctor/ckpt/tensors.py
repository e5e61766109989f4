"""TensorRef: a tensor that lives in a file, read in bounded chunks, never materialised whole.

Every reader (torch zip, safetensors, npz) turns a tensor into (file, byte offset, dtype, shape,
strides). Scanning reads it with `readinto`/`pread` into bounded buffers, so peak memory stays at
the chunk size however large the checkpoint is. No memmap: its touched pages count towards RSS, and
a file truncated under it kills the process with SIGBUS; a short read is a clear "changed while
reading" error instead. Views are read through their strides (stride-0 and overlapping views are
judged on the storage they cover), compressed storages are inflated as a stream, never cached, and
the total inflated per file and per run is capped.
"""

from __future__ import annotations

import contextlib
import os
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator

# torch dtype / storage names -> (numpy dtype the bytes are read as, logical kind)
# kind: "float" is scanned for NaN/Inf; "bf16"/"f8e4m3"/"f8e5m2" are floats numpy lacks, read as raw
# integers and decoded; "int"/"bool"/"complex" are not scanned for finiteness (complex is, as pairs).
DTYPES: dict[str, tuple[str, str]] = {
    "float32": ("f4", "float"),
    "Float": ("f4", "float"),
    "float": ("f4", "float"),
    "float64": ("f8", "float"),
    "Double": ("f8", "float"),
    "double": ("f8", "float"),
    "float16": ("f2", "float"),
    "Half": ("f2", "float"),
    "half": ("f2", "float"),
    "bfloat16": ("u2", "bf16"),
    "BFloat16": ("u2", "bf16"),
    "float8_e4m3fn": ("u1", "f8e4m3"),
    "Float8_e4m3fn": ("u1", "f8e4m3"),
    "float8_e5m2": ("u1", "f8e5m2"),
    "Float8_e5m2": ("u1", "f8e5m2"),
    "int64": ("i8", "int"),
    "Long": ("i8", "int"),
    "long": ("i8", "int"),
    "int32": ("i4", "int"),
    "Int": ("i4", "int"),
    "int": ("i4", "int"),
    "int16": ("i2", "int"),
    "Short": ("i2", "int"),
    "short": ("i2", "int"),
    "int8": ("i1", "int"),
    "Char": ("i1", "int"),
    "uint8": ("u1", "int"),
    "Byte": ("u1", "int"),
    "bool": ("b1", "bool"),
    "Bool": ("b1", "bool"),
    "complex64": ("c8", "complex"),
    "ComplexFloat": ("c8", "complex"),
    "complex128": ("c16", "complex"),
    "ComplexDouble": ("c16", "complex"),
}
# torch storage class stems (FloatStorage -> Float) -> torch dtype names
STORAGE_DTYPES = {
    "Float": "float32",
    "Double": "float64",
    "Half": "float16",
    "BFloat16": "bfloat16",
    "Float8_e4m3fn": "float8_e4m3fn",
    "Float8_e5m2": "float8_e5m2",
    "Long": "int64",
    "Int": "int32",
    "Short": "int16",
    "Char": "int8",
    "Byte": "uint8",
    "Bool": "bool",
    "ComplexFloat": "complex64",
    "ComplexDouble": "complex128",
}
# safetensors dtype names -> torch names
SAFETENSORS_DTYPES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U8": "uint8",
    "BOOL": "bool",
}

MAX_INFLATE = 512 << 20  # largest compressed member we decompress into memory (npz)
MAX_INFLATE_FILE = 512 << 20  # total bytes all compressed storages of one file may inflate to
MAX_INFLATE_RUN = 2 << 30  # ... and of all files in one inspect-ckpt run
_INFLATED: dict[str, int] = {"": 0}


@contextlib.contextmanager
def inflate_budget():
    """One run's budget of inflated bytes (per file and in all). torch never compresses storages, so
    a real checkpoint spends none of it; a zip bomb is refused before anything is inflated."""
    _INFLATED.clear()
    _INFLATED[""] = 0
    try:
        yield
    finally:
        _INFLATED.clear()
        _INFLATED[""] = 0


def _charge(path: str, nbytes: int, what: str) -> None:
    file_total = _INFLATED.get(path, 0) + nbytes
    if file_total > MAX_INFLATE_FILE:
        raise ValueError(
            f"compressed storages inflate to more than {file_total:,} bytes ({what}); torch never "
            f"compresses storages, refusing beyond {MAX_INFLATE_FILE:,} per file"
        )
    if _INFLATED.get("", 0) + nbytes > MAX_INFLATE_RUN:
        raise ValueError(f"compressed storages of this run inflate to more than {MAX_INFLATE_RUN:,} bytes")
    _INFLATED[path] = file_total
    _INFLATED[""] = _INFLATED.get("", 0) + nbytes


class FileChanged(ValueError):
    """A read came back short: the file was truncated or replaced while it was being scanned."""


CHUNK_BYTES = 4 << 20  # 4 MiB: large enough to stream at memory speed, small enough to stay in cache


def zip_member_offset(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """Byte offset of a member's data: the local header's own name/extra lengths can differ from the
    central directory's, so read them (zipfile does the same inside `open`)."""
    fp = zf.fp
    if fp is None:
        raise ValueError("the zip archive was closed while reading")
    fp.seek(info.header_offset)
    header = fp.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise ValueError(f"bad local header for {info.filename}")
    name_len = int.from_bytes(header[26:28], "little")
    extra_len = int.from_bytes(header[28:30], "little")
    return info.header_offset + 30 + name_len + extra_len


@dataclass(frozen=True)
class TensorRef:
    """A (view of a) storage: `file` + `base` byte offset, or `data` (in-memory array) for formats
    read through torch. `offset`/`shape`/`stride` are in elements, as torch pickles them."""

    dtype: str  # torch dtype name (float32, bfloat16, ...)
    numel_storage: int
    file: str | None = None
    base: int = 0
    data: Any = None  # numpy array holding the storage (torch loads, npz members)
    member: str | None = None  # a compressed zip member holding the storage, inflated as a stream
    byteorder: str = "little"
    offset: int = 0
    shape: tuple = ()
    stride: tuple = ()

    @classmethod
    def for_zip_member(
        cls, path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo, dtype: str, numel: int, byteorder: str = "little"
    ) -> "TensorRef":
        np_code, _ = DTYPES.get(dtype, ("u1", "unknown"))
        itemsize = _np(np_code).itemsize
        if dtype not in DTYPES:  # UntypedStorage: numel counts bytes
            itemsize = 1
        if numel < 0 or numel * itemsize > info.file_size:
            raise ValueError(
                f"storage {info.filename} holds {info.file_size} bytes, the pickle claims {numel} x {itemsize}"
            )
        ref = cls(dtype=dtype, numel_storage=numel, byteorder=byteorder, shape=(numel,), stride=(1,))
        if info.compress_type == zipfile.ZIP_STORED:
            return replace(ref, file=str(path), base=zip_member_offset(zf, info))
        if info.file_size > MAX_INFLATE:  # torch never compresses storages; a big one is a zip bomb
            raise ValueError(f"compressed storage {info.filename} inflates to {info.file_size:,} bytes")
        _charge(str(path), info.file_size, info.filename)
        return replace(ref, file=str(path), member=info.filename)

    @classmethod
    def from_array(cls, array: Any, dtype: str | None = None) -> "TensorRef":
        import numpy as np

        array = np.ascontiguousarray(array)
        name = dtype or str(array.dtype)
        return cls(
            dtype=name,
            numel_storage=array.size,
            data=array.reshape(-1),
            shape=tuple(array.shape),
            stride=_contiguous_strides(tuple(array.shape)),
        )

    def retype(self, dtype: str) -> "TensorRef":
        """An untyped (byte) storage read as `dtype`."""
        itemsize = _np(DTYPES[dtype][0]).itemsize
        return replace(
            self,
            dtype=dtype,
            numel_storage=self.numel_storage // itemsize,
            shape=(self.numel_storage // itemsize,),
            stride=(1,),
            data=None
            if self.data is None
            else self.data[: self.numel_storage // itemsize * itemsize].view(_np(DTYPES[dtype][0])),
        )

    # --- shape -----------------------------------------------------------------------------------------
    def view(self, offset: int, shape: tuple, stride: tuple) -> "TensorRef":
        if len(shape) != len(stride) or any(s < 0 for s in shape) or any(s < 0 for s in stride):
            raise ValueError("invalid tensor shape or stride")
        if _numel(shape):
            last = offset + sum((n - 1) * s for n, s in zip(shape, stride, strict=True))
            if offset < 0 or last >= self.numel_storage:
                raise ValueError(
                    f"tensor view [{offset}..{last}] lies outside its storage of {self.numel_storage} elements"
                )
        return replace(self, offset=offset, shape=shape, stride=stride)

    @property
    def numel(self) -> int:
        return _numel(self.shape)

    @property
    def kind(self) -> str:
        return DTYPES.get(self.dtype, ("u1", "unknown"))[1]

    @property
    def np_dtype(self):
        dt = _np(DTYPES.get(self.dtype, ("u1", "unknown"))[0])
        return dt.newbyteorder(">" if self.byteorder == "big" else "<") if dt.itemsize > 1 else dt

    @property
    def nbytes(self) -> int:
        return self.numel * self.np_dtype.itemsize

    # --- reading ---------------------------------------------------------------------------------------
    def chunks(self, chunk_bytes: int = CHUNK_BYTES) -> Iterator[Any]:
        """Yield the tensor's values (flat, logical dtype) in chunks. A yielded array may be reused by
        the next one: use it before asking for more.

        A view with gaps is read through its strides; one whose strides cover a contiguous block in
        another order (a transpose) or overlap themselves (expand, stride 0) is judged on the storage it
        covers, each element once."""
        n = self.numel
        if n == 0:
            return
        step = max(1, chunk_bytes // self.np_dtype.itemsize)
        offset, shape, stride = _covering(self.offset, self.shape, self.stride)
        if shape is None:  # dense: the contiguous block [offset, offset + count)
            for c in self._contiguous(offset, stride, step):
                yield _decode(c, self.kind)
            return
        if self.member is not None:
            raise ValueError("a strided view over a compressed storage: not read")
        for c in self._strided(offset, shape, stride, step):
            yield _decode(c, self.kind)

    def _contiguous(self, start: int, count: int, step: int) -> Iterator[Any]:
        import numpy as np

        dt = self.np_dtype
        if self.data is not None:
            flat = self.data[start : start + count]
            for i in range(0, count, step):
                yield flat[i : i + step]
            return
        buf = np.empty(min(step, count), dtype=dt)
        view = buf.data.cast("B")
        with self._open() as f:
            _skip(f, self.base + start * dt.itemsize, self.member is not None)
            done = 0
            while done < count:
                m = min(step, count - done)
                got = _readinto(f, view[: m * dt.itemsize])
                if got != m * dt.itemsize:
                    raise FileChanged(self._short(got, m * dt.itemsize))
                yield buf[:m]
                done += m

    def _strided(self, offset: int, shape: tuple, stride: tuple, step: int) -> Iterator[Any]:
        """Blocks along the outermost dimension, each read as one span of the storage (<= step elements)."""
        import numpy as np

        dt = self.np_dtype
        rest = _numel(shape[1:])
        inner = 1 + sum((k - 1) * s for k, s in zip(shape[1:], stride[1:], strict=True))
        if len(shape) > 1 and (inner > step or rest > step):
            for i in range(shape[0]):
                yield from self._strided(offset + i * stride[0], shape[1:], stride[1:], step)
            return
        per = max(1, min((step - inner) // max(stride[0], 1) + 1, step // max(rest, 1)))
        for i in range(0, shape[0], per):
            k = min(per, shape[0] - i)
            start = offset + i * stride[0]
            span = (k - 1) * stride[0] + inner
            raw = self._span(start, span)
            view = np.lib.stride_tricks.as_strided(
                raw, shape=(k, *shape[1:]), strides=[s * dt.itemsize for s in stride], writeable=False
            )
            yield np.ascontiguousarray(view).reshape(-1)

    def _span(self, start: int, count: int):
        import numpy as np

        if self.data is not None:
            return self.data[start : start + count]
        dt = self.np_dtype
        if self.file is None:
            raise ValueError("a tensor with neither a file nor data")
        with open(self.file, "rb") as f:
            raw = os.pread(f.fileno(), count * dt.itemsize, self.base + start * dt.itemsize)
        if len(raw) != count * dt.itemsize:
            raise FileChanged(self._short(len(raw), count * dt.itemsize))
        return np.frombuffer(raw, dtype=dt)

    def _open(self):
        if self.member is None:
            return open(self.file, "rb")
        zf = zipfile.ZipFile(self.file)
        member = zf.open(self.member)

        return contextlib.closing(_ZipStream(zf, member))

    def _short(self, got: int, want: int) -> str:
        try:
            now = os.stat(self.file).st_size if self.file else None
        except OSError:
            now = None
        if self.member is None and now is not None:
            return (
                f"the file changed while reading (it is now {now:,} bytes; a tensor needs bytes up to "
                f"{self.base + self.offset * self.np_dtype.itemsize + want:,}); got {got} of {want}"
            )
        return f"file ends inside a tensor ({got} of {want} bytes)"

    def array(self):
        """The whole tensor as a numpy array (logical dtype). For small tensors only (scalars, steps)."""
        import numpy as np

        parts = [np.array(c, copy=True) for c in self.chunks()]
        out = np.concatenate(parts) if parts else np.empty(0, dtype=self.np_dtype)
        return out.reshape(self.shape) if out.size == self.numel else out


class _ZipStream:
    """A compressed member read front to back; `close` closes the member and its archive."""

    def __init__(self, zf: zipfile.ZipFile, member: Any):
        self.zf, self.member = zf, member

    def readinto(self, view: memoryview) -> int:
        return self.member.readinto(view)

    def read(self, n: int) -> bytes:
        return self.member.read(n)

    def close(self) -> None:
        self.member.close()
        self.zf.close()


def _skip(f: Any, nbytes: int, stream: bool) -> None:
    if not stream:
        f.seek(nbytes)
        return
    while nbytes > 0:  # a compressed stream cannot seek: read and drop, in bounded pieces
        got = len(f.read(min(nbytes, CHUNK_BYTES)))
        if not got:
            raise ValueError("compressed storage ends before the tensor starts")
        nbytes -= got


def _readinto(f: Any, view: memoryview) -> int:
    total = 0
    while total < len(view):
        got = f.readinto(view[total:])
        if not got:
            break
        total += got
    return total


def _covering(offset: int, shape: tuple, stride: tuple) -> tuple[int, Any, Any]:
    """Reduce a view to the storage it touches: drop size-1 and stride-0 dimensions, order by stride.
    Returns (offset, None, count) when that is the contiguous block [offset, offset + count) (each
    element once: a transpose or an expand), else (offset, shape, stride) to read through strides; an
    overlapping view (more elements than the span it covers) is judged on that span."""
    dims = sorted(
        ((int(n), int(s)) for n, s in zip(shape, stride, strict=True) if n > 1 and s != 0), key=lambda d: -d[1]
    )
    acc = 1
    for n, s in reversed(dims):
        if s != acc:
            break
        acc *= n
    else:
        return offset, None, acc
    span = 1 + sum((n - 1) * s for n, s in dims)
    if _numel(tuple(n for n, _ in dims)) >= span:
        return offset, None, span
    return offset, tuple(n for n, _ in dims), tuple(s for _, s in dims)


def _decode(raw, kind: str):
    """bf16 / fp8 bytes -> float32 (numpy has neither dtype); complex -> its float pairs."""
    import numpy as np

    if kind == "bf16":
        return (raw.astype(np.uint32) << 16).view(np.float32)
    if kind in ("f8e4m3", "f8e5m2"):
        return _decode_fp8(raw, kind)
    if kind == "complex":
        native = raw if raw.dtype.isnative else raw.astype(raw.dtype.newbyteorder("="))
        return native.view(native.real.dtype)
    return raw


def _decode_fp8(raw, kind: str):
    """Only what the scan needs from fp8: NaN/Inf where they are, magnitude elsewhere (exact)."""
    import numpy as np

    b = raw.astype(np.int32)
    sign = np.where(b & 0x80, -1.0, 1.0).astype(np.float32)
    if kind == "f8e4m3":
        exp, man, bias, mbits = (b >> 3) & 0xF, b & 0x7, 7, 3
        nan = (b & 0x7F) == 0x7F
        inf = np.zeros_like(nan)
    else:
        exp, man, bias, mbits = (b >> 2) & 0x1F, b & 0x3, 15, 2
        nan = (exp == 0x1F) & (man != 0)
        inf = (exp == 0x1F) & (man == 0)
    normal = (1.0 + man / (1 << mbits)) * np.exp2(exp.astype(np.float32) - bias)
    sub = (man / (1 << mbits)) * np.exp2(np.float32(1 - bias))
    val = sign * np.where(exp == 0, sub, normal).astype(np.float32)
    val[nan] = np.nan
    val[inf] = sign[inf] * np.inf
    return val


def _np(code: str):
    import numpy as np

    return np.dtype(code)


def _numel(shape: tuple) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def _contiguous_strides(shape: tuple) -> tuple:
    strides, acc = [], 1
    for s in reversed(shape):
        strides.append(acc)
        acc *= max(int(s), 1)
    return tuple(reversed(strides))
