"""One reader per checkpoint format; each returns a `Loaded` (an object tree of TensorRefs + facts).

Readers only parse; they never judge. A reader raises `UnsafePickle` for a dangerous global and
`ValueError`/`OSError` for anything unreadable; the engine turns both into findings.
"""

from __future__ import annotations

import io
import json
import pickle
import warnings
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nandoctor.ckpt.tensors import (DTYPES, MAX_INFLATE, SAFETENSORS_DTYPES, TensorRef, _charge, _contiguous_strides,
                                    _numel, zip_member_offset)
from nandoctor.ckpt.unpickle import RestrictedUnpickler, UnsafePickle, load_torch_zip, restricted_loads

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
MAX_HEADER = 100 << 20  # safetensors caps its own header at 100 MB
# What torch's own DCP .metadata pickle names; anything else is refused before torch unpickles it
# (dangerous globals never get this far: the restricted unpickler has already refused them).
DCP_PREFIXES = ("torch.distributed.checkpoint.", "collections.", "builtins.", "_codecs.", "pathlib.Posix",
                "pathlib.Windows", "pathlib.Pure", "copyreg._reconstructor")
DCP_TORCH = {"torch.serialization._get_layout", "torch.Size"} | {f"torch.{t}" for t in DTYPES if t.islower()}


@dataclass
class Loaded:
    format: str
    obj: Any
    globals: list[str] = field(default_factory=list)
    shards: dict[str, str] = field(default_factory=dict)   # tensor name -> shard file (sharded models)
    metadata: dict = field(default_factory=dict)           # safetensors __metadata__, DCP non-tensor keys
    files: list[Path] = field(default_factory=list)        # every file read


def read_any(path: Path) -> Loaded:
    """Dispatch on content, not extension (a `.bin` may be torch zip or legacy pickle)."""
    if path.is_dir():
        if (path / ".metadata").is_file():
            return read_dcp(path)
        if (path / "trainer_state.json").is_file():
            return read_hf_trainer(path)
        for index in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
            if (path / index).is_file():
                return read_sharded(path / index)
        raise ValueError("folder is neither a DCP checkpoint nor a sharded model")
    if not path.is_file():  # a FIFO or device would block or never end
        raise ValueError("not a regular file")
    if path.name.endswith(".index.json"):
        return read_sharded(path)
    with open(path, "rb") as f:
        head = f.read(9)
    if not head:
        raise ValueError("empty file")
    if head[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if any(n.endswith("data.pkl") for n in names):
                prefix = next(n for n in names if n.endswith("data.pkl"))[: -len("data.pkl")]
                if not {prefix + "version", prefix + ".data/version"} & set(names):
                    raise ValueError("torch zip without a version record: torch.load refuses it")
                tz = load_torch_zip(path, zf)
                return Loaded("torch-zip", tz.obj, tz.globals, files=[path])
            if names and all(n.endswith(".npy") for n in names):
                return read_npz(path, zf)
        raise ValueError("zip archive without data.pkl or .npy members: not a checkpoint")
    if len(head) >= 9 and head[8:9] == b"{":
        return read_safetensors(path)
    if head[:1] == b"\x80" or head[:1] in (b"(", b"}", b"]", b"c"):
        return read_pickle(path)
    raise ValueError("not a torch, safetensors or npz checkpoint (unrecognised first bytes)")


def read_safetensors(path: Path) -> Loaded:
    """Header first, validated against the file size before any tensor is trusted.

    Hand-parsed rather than via `safetensors.safe_open`: we need each tensor's byte offset for
    bounded reads, bf16/fp8 support without torch, and a one-line reason for a lying header.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            raise ValueError("file shorter than the 8-byte safetensors header length")
        (n,) = struct.unpack("<Q", raw)
        if n > MAX_HEADER or 8 + n > size:
            raise ValueError(f"safetensors header claims {n} bytes but the file has {size}")
        try:
            header = json.loads(f.read(n), object_pairs_hook=_no_duplicate_keys)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"safetensors header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise ValueError("safetensors header is not a JSON object")
    data_start, data_len = 8 + n, size - 8 - n
    meta = header.pop("__metadata__", None)
    if meta is not None and not (isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values())):
        raise ValueError("safetensors __metadata__ must map strings to strings (the safetensors loader refuses it)")
    tensors: dict[str, TensorRef] = {}
    spans: list[tuple[int, int, str]] = []
    for name, info in header.items():
        if not isinstance(info, dict):
            raise ValueError(f"tensor {name!r}: header entry is not an object")
        dtype = SAFETENSORS_DTYPES.get(str(info.get("dtype")))
        shape, offs = info.get("shape"), info.get("data_offsets")
        if dtype is None:
            raise ValueError(f"tensor {name!r}: unknown dtype {info.get('dtype')!r}")
        if (not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape)
                or not isinstance(offs, list) or len(offs) != 2 or not all(isinstance(o, int) for o in offs)):
            raise ValueError(f"tensor {name!r}: malformed shape or data_offsets")
        begin, end = offs
        ref = TensorRef(dtype=dtype, numel_storage=_numel(shape), file=str(path), base=data_start + begin,
                        shape=tuple(shape), stride=_contiguous_strides(shape))
        if not 0 <= begin <= end <= data_len:
            raise ValueError(f"tensor {name!r}: data_offsets {offs} lie outside the {data_len}-byte data area")
        if end - begin != ref.nbytes:
            raise ValueError(f"tensor {name!r}: {end - begin} bytes for shape {shape} of {info['dtype']}")
        tensors[name] = ref
        spans.append((begin, end, name))
    # The safetensors loader's own rules: tensors tile the data area exactly, no overlap, no hole.
    at = 0
    for begin, end, name in sorted(spans):
        if begin != at:
            what = "overlaps the tensor before it" if begin < at else f"leaves a hole of {begin - at} bytes before it"
            raise ValueError(f"tensor {name!r}: data_offsets [{begin}, {end}] {what} (the safetensors loader "
                             "refuses this file)")
        at = end
    if at != data_len:
        raise ValueError(f"the data area has {data_len - at} bytes after the last tensor (the safetensors loader "
                         "refuses this file)")
    return Loaded("safetensors", tensors, metadata=meta if isinstance(meta, dict) else {}, files=[path])


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"safetensors header names {key!r} twice (the safetensors loader refuses this file)")
        out[key] = value
    return out


def read_npz(path: Path, zf: zipfile.ZipFile) -> Loaded:
    """.npz members are .npy files: stored ones are read in place, compressed ones via np.load."""
    import numpy as np
    from numpy.lib import format as npf

    tensors: dict[str, Any] = {}
    globs: list[str] = []
    for info in zf.infolist():
        name = info.filename[: -len(".npy")]
        with zf.open(info) as member:
            version = npf.read_magic(member)
            if version not in ((1, 0), (2, 0), (3, 0)):
                raise ValueError(f"{info.filename}: unsupported .npy version {version}")
            reader = npf.read_array_header_1_0 if version == (1, 0) else npf.read_array_header_2_0
            shape, fortran, dtype = reader(member, max_header_size=10000)
            header_len = member.tell()
            if dtype.hasobject:
                # An object array is a pickle: check it for dangerous globals, never load it.
                up = RestrictedUnpickler(member)
                up.load()
                globs += up.globals
                continue
        code = _torch_name(dtype)
        if code is None:
            continue
        numel = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if numel * dtype.itemsize > info.file_size - header_len:
            raise ValueError(f"{info.filename}: header claims {numel} x {dtype} but the member is shorter")
        order = "big" if dtype.byteorder == ">" else "little"
        # Fortran order is a permuted view of the same bytes: reversed strides, still read in place.
        stride = tuple(reversed(_contiguous_strides(tuple(reversed(shape))))) if fortran else _contiguous_strides(shape)
        if info.compress_type == zipfile.ZIP_STORED:
            tensors[name] = TensorRef(dtype=code, numel_storage=numel, file=str(path), byteorder=order,
                                      base=zip_member_offset(zf, info) + header_len, shape=tuple(shape),
                                      stride=stride)
        else:  # inflated as a stream when scanned, against the per-file and per-run budget
            if info.file_size > MAX_INFLATE:
                raise ValueError(f"{info.filename}: compressed member inflates to {info.file_size:,} bytes")
            _charge(str(path), info.file_size, info.filename)
            tensors[name] = TensorRef(dtype=code, numel_storage=numel, file=str(path), byteorder=order,
                                      member=info.filename, base=header_len, shape=tuple(shape), stride=stride)
    return Loaded("npz", tensors, globs, files=[path])


def read_pickle(path: Path) -> Loaded:
    """Legacy (pre-1.6, non-zip) torch files and bare pickles.

    Every pickle in the file is first read with the restricted unpickler (dangerous globals ->
    UnsafePickle); only then is a legacy torch file handed to `torch.load(weights_only=True)`.
    """
    globs: list[str] = []
    with open(path, "rb") as f:
        up = RestrictedUnpickler(f, storage_for=None)
        first = up.load()
        globs += up.globals
        if first != LEGACY_MAGIC:
            return Loaded("pickle", first, globs, files=[path])
        for _ in range(3):  # protocol version, sys info, the object itself
            up = RestrictedUnpickler(f, storage_for=None)
            up.load()
            globs += up.globals
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch's weights-only refusal of custom classes, truncation, ...
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"legacy (non-zip) torch file that torch's weights-only loader refuses: {reason}") from None
    return Loaded("torch-legacy", _from_torch(obj), globs, files=[path])


def read_sharded(index: Path) -> Loaded:
    """A sharded HF model: the index's weight_map names each tensor's shard; read every shard."""
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{index.name} is not valid JSON ({exc})") from None
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise ValueError(f"{index.name} has no weight_map")
    folder = index.parent.resolve()
    tensors: dict[str, Any] = {}
    shards: dict[str, str] = {}
    globs: list[str] = []
    files = [index]
    fmt = "safetensors-sharded" if index.name.startswith("model.safetensors") else "torch-sharded"
    for shard in sorted(set(map(str, weight_map.values()))):
        shard_path = (folder / shard).resolve()
        if folder not in shard_path.parents:
            raise ValueError(f"{index.name} points outside its folder: {shard}")
        if not shard_path.is_file():
            raise ValueError(f"shard {shard} named in {index.name} is missing")
        part = read_any(shard_path)
        globs += part.globals
        files.append(shard_path)
        from nandoctor.ckpt.walk import flatten

        for named in flatten(part.obj):
            tensors[named.name] = named.ref
            shards[named.name] = shard
    missing = sorted(set(weight_map) - set(tensors))
    if missing:
        raise ValueError(f"{len(missing)} tensors named in {index.name} are in no shard, e.g. {missing[0]}")
    return Loaded(fmt, tensors, globs, shards=shards, files=files)


HF_WEIGHTS = ("model.safetensors.index.json", "pytorch_model.bin.index.json", "model.safetensors",
              "pytorch_model.bin")


def read_hf_trainer(folder: Path) -> Loaded:
    """An HF Trainer `checkpoint-N` folder as one checkpoint: weights + optimizer.pt + scaler.pt, with
    step, epoch and log_history from trainer_state.json (training_args.bin is never unpickled)."""
    try:
        state = json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"trainer_state.json is not valid JSON ({exc})") from None
    if not isinstance(state, dict):
        raise ValueError("trainer_state.json is not a JSON object")
    weights = next((folder / w for w in HF_WEIGHTS if (folder / w).is_file()), None)
    # log_history is plain JSON: kept beside the tensors, never walked for them (a long run's 40 MB
    # history is not a pickle bomb)
    facts = {"global_step": state.get("global_step"), "epoch": state.get("epoch"),
             "log_history": state.get("log_history")}
    obj: dict[str, Any] = {}
    globs: list[str] = []
    shards: dict[str, str] = {}
    files = [folder / "trainer_state.json"]
    if weights is None and folder.name.startswith("checkpoint-"):
        raise ValueError("this Trainer checkpoint holds no model weights (no model.safetensors or "
                         "pytorch_model.bin): a save cut short?")
    if weights is not None:
        part = read_any(weights)
        from nandoctor.ckpt.walk import flatten

        obj["model"] = {n.name: n.ref for n in flatten(part.obj)}
        globs += part.globals
        shards = part.shards
        files += part.files
    for name, key in (("optimizer.pt", "optimizer"), ("scaler.pt", "scaler")):
        if (folder / name).is_file():
            part = read_any(folder / name)
            obj[key] = part.obj
            globs += part.globals
            files.append(folder / name)
    return Loaded("hf-trainer", obj, globs, shards=shards, metadata=facts, files=files)


def read_dcp(folder: Path) -> Loaded:
    """torch.distributed.checkpoint: `.metadata` (a pickle: checked restrictedly first) + *.distcp.

    Tensors are loaded through torch's own reader in groups of at most ~256 MiB each.
    """
    with open(folder / ".metadata", "rb") as f:
        up = RestrictedUnpickler(f)
        up.load()
    globs = up.globals
    odd = [g for g in globs if not (g.startswith(DCP_PREFIXES) or g in DCP_TORCH)]
    if odd:
        raise UnsafePickle(odd[0], "DCP metadata names a non-torch global")
    import torch
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.metadata import TensorStorageMetadata

    reader = dcp.FileSystemReader(str(folder))
    meta = reader.read_metadata()
    entries = {k: v for k, v in meta.state_dict_metadata.items() if isinstance(v, TensorStorageMetadata)}
    tensors: dict[str, Any] = {}
    group: dict[str, Any] = {}
    group_bytes = 0

    def flush() -> None:
        nonlocal group, group_bytes
        if group:
            with warnings.catch_warnings():  # "torch.distributed is disabled ... single process": expected here
                warnings.simplefilter("ignore", UserWarning)
                dcp.load(group, storage_reader=dcp.FileSystemReader(str(folder)),
                         planner=dcp.DefaultLoadPlanner(allow_partial_load=True))
            for k, t in group.items():
                tensors[k] = _torch_ref(t)
        group, group_bytes = {}, 0

    for key, md in entries.items():
        t = torch.empty(tuple(md.size), dtype=md.properties.dtype)
        group[key] = t
        group_bytes += t.numel() * t.element_size()
        if group_bytes > 256 << 20:
            flush()
    flush()
    extras = _dcp_scalars(folder, meta, [k for k in meta.state_dict_metadata if k not in entries])
    return Loaded("dcp", tensors, globs, metadata=extras, files=[folder / ".metadata", *sorted(folder.glob("*.distcp"))])


def _dcp_scalars(folder: Path, meta: Any, keys: list[str]) -> dict[str, Any]:
    """Non-tensor DCP entries (step, epoch) are torch.save streams inside the .distcp files. torch's
    planner would load them with weights_only=False, so read them with the restricted unpickler and
    keep only plain numbers and strings."""
    out: dict[str, Any] = {}
    wanted = {k for k in keys if k.split(".")[-1] in ("step", "global_step", "epoch", "iteration")}
    for index, info in meta.storage_data.items():
        if index.fqn not in wanted or info.length > 1 << 20:
            continue
        shard = (folder / info.relative_path).resolve()
        if folder.resolve() not in shard.parents:
            continue
        with open(shard, "rb") as f:
            f.seek(info.offset)
            blob = f.read(info.length)
        try:
            with zipfile.ZipFile(io.BytesIO(blob)) as zf:
                pkl = next(n for n in zf.namelist() if n.endswith("data.pkl"))
                value, _ = restricted_loads(zf.read(pkl))  # a storage would be Unsupported: dropped below
        except UnsafePickle:
            raise
        except (ValueError, EOFError, StopIteration, zipfile.BadZipFile, pickle.UnpicklingError, TypeError,
                KeyError, IndexError):  # an entry we cannot read is just left out (step, epoch are optional)
            continue
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            out[index.fqn.split(".")[-1]] = value
    return out


def _torch_ref(t: Any) -> TensorRef:
    import torch

    name = str(t.dtype).replace("torch.", "")
    if t.dtype == torch.bfloat16:
        return TensorRef.from_array(t.detach().contiguous().view(torch.int16).numpy().view("u2"), "bfloat16")
    if name not in DTYPES:
        raise ValueError(f"unsupported dtype {t.dtype}")
    return TensorRef.from_array(t.detach().cpu().contiguous().numpy(), name)


def _from_torch(obj: Any, depth: int = 0) -> Any:
    """A torch.load result with TensorRefs in place of tensors (what the walkers expect)."""
    import torch

    if depth > 200:
        return None
    if isinstance(obj, torch.Tensor):
        try:
            return _torch_ref(obj)
        except (ValueError, RuntimeError, TypeError):
            from nandoctor.ckpt.unpickle import Unsupported

            return Unsupported(str(obj.dtype))
    if isinstance(obj, dict):
        return {k: _from_torch(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_torch(v, depth + 1) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_from_torch(v, depth + 1) for v in obj)
    return obj


def _torch_name(dtype: Any) -> str | None:
    name = dtype.newbyteorder("=").name if dtype.byteorder in "<>" else dtype.name
    return name if name in DTYPES else None
