"""One reader per checkpoint format; each returns a `Loaded` (an object tree of TensorRefs + facts).

Readers only parse; they never judge. A reader raises `UnsafePickle` for a dangerous global and
`ValueError`/`OSError` for anything unreadable; the engine turns both into findings.
"""

from __future__ import annotations

import io
import json
import os
import struct
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nandoctor.ckpt.tensors import (
    DTYPES,
    MAX_INFLATE,
    SAFETENSORS_DTYPES,
    TensorRef,
    _charge,
    _contiguous_strides,
    _numel,
    zip_member_offset,
)
from nandoctor.ckpt.unpickle import (
    StorageType,
    UnsafePickle,
    Unsupported,
    judge_pickle,
    load_torch_zip,
    next_pickle,
    restricted_loads,
)
from nandoctor.findings import WrongKind
from nandoctor.pickle_policy import UNSAFE, Verdict

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
# Opcodes a pickle can start with (PROTO, or a protocol 0/1 opcode): such a file is judged as a pickle.
PICKLE_FIRST = {bytes([b]) for b in b"\x80(}])cILFSVNKJMGTUXi\x88\x89\x8a\x8c"}
# Image signatures that happen to start with a pickle opcode (PNG's \x89 is NEWFALSE): an unknown opcode
# follows within a few bytes, before any GLOBAL, so no loader can run code from them. Not checkpoints.
NOT_PICKLES = (b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a")
MAX_HEADER = 100 << 20  # safetensors caps its own header at 100 MB
# What torch's own DCP .metadata pickle names; anything else is refused before torch unpickles it
# (dangerous globals never get this far: the restricted unpickler has already refused them).
DCP_PREFIXES = (
    "torch.distributed.checkpoint.",
    "collections.",
    "builtins.",
    "_codecs.",
    "pathlib.Posix",
    "pathlib.Windows",
    "pathlib.Pure",
    "copyreg._reconstructor",
)
DCP_TORCH = {"torch.serialization._get_layout", "torch.Size"} | {f"torch.{t}" for t in DTYPES if t.islower()}


@dataclass
class Loaded:
    format: str
    obj: Any
    globals: list[str] = field(default_factory=list)
    shards: dict[str, str] = field(default_factory=dict)  # tensor name -> shard file (sharded models)
    metadata: dict = field(default_factory=dict)  # safetensors __metadata__, DCP non-tensor keys
    verdict: Verdict | None = None  # the pickle policy's judgement (None: no pickle)


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
    if not path.is_file():  # a FIFO or device would block or never end: never opened
        try:
            regular_file(path, path.name)
        except ValueError as exc:
            raise WrongKind(str(exc).removeprefix(f"{path.name} is ")) from None
    if path.name.endswith(".index.json"):
        return read_sharded(path)
    with open(path, "rb") as f:
        head = f.read(512)  # enough for every magic below, the tar header's included
    if not head:
        raise WrongKind("empty file")
    if head[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if any(n.endswith(".pkl") for n in names):  # every pickle judged, decoys included
                tz = load_torch_zip(path, zf)  # judged first: a payload is unsafe, not unreadable
                data = [n for n in names if n.endswith("data.pkl")]
                prefix = data[0][: -len("data.pkl")] if data else ""
                if data and not {prefix + "version", prefix + ".data/version"} & set(names):
                    raise ValueError("torch zip without a version record: torch.load refuses it")
                return Loaded("torch-zip", tz.obj, tz.globals, verdict=tz.verdict)
            if names and all(n.endswith(".npy") for n in names):
                return read_npz(path, zf)
        raise WrongKind("zip archive without data.pkl or .npy members: not a checkpoint")
    if len(head) >= 9 and head[8:9] == b"{":
        return read_safetensors(path)
    if _is_tar(head):
        return read_tar(path)
    if head[:1] in PICKLE_FIRST and not head.startswith(NOT_PICKLES):
        return read_pickle(path)
    raise WrongKind("not a torch, safetensors or npz checkpoint (unrecognised first bytes)")


def regular_file(path: Path, what: str) -> None:
    """Raise the true reason `path` cannot be read as a file, before anything opens it: opening a FIFO
    blocks until a writer comes, a device never ends. `what` names it in the message."""
    import stat

    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ValueError(f"{what} is missing") from None
    except OSError as exc:
        raise ValueError(f"{what} cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        kind = (
            "a FIFO"
            if stat.S_ISFIFO(mode)
            else "a folder"
            if stat.S_ISDIR(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "special"
        )
        raise ValueError(f"{what} is not a regular file ({kind}); it was not opened")


def _present(path: Path) -> bool:
    """The name exists, whatever it is (a FIFO, a dangling link): then it is read or reported, never skipped."""
    return os.path.lexists(path)


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
        if (
            not isinstance(shape, list)
            or not all(isinstance(s, int) and s >= 0 for s in shape)
            or not isinstance(offs, list)
            or len(offs) != 2
            or not all(isinstance(o, int) for o in offs)
        ):
            raise ValueError(f"tensor {name!r}: malformed shape or data_offsets")
        begin, end = offs
        ref = TensorRef(
            dtype=dtype,
            numel_storage=_numel(tuple(shape)),
            file=str(path),
            base=data_start + begin,
            shape=tuple(shape),
            stride=_contiguous_strides(tuple(shape)),
        )
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
            raise ValueError(
                f"tensor {name!r}: data_offsets [{begin}, {end}] {what} (the safetensors loader refuses this file)"
            )
        at = end
    if at != data_len:
        raise ValueError(
            f"the data area has {data_len - at} bytes after the last tensor (the safetensors loader refuses this file)"
        )
    return Loaded("safetensors", tensors, metadata=meta if isinstance(meta, dict) else {})


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
    verdict = Verdict()
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
                # An object array is a pickle: judged by the same policy, never loaded.
                if info.file_size > 256 << 20:
                    raise ValueError(f"{info.filename}: object array of {info.file_size:,} bytes")
                blob = io.BytesIO(member.read())
                judge_pickle(next_pickle(blob), None, info.filename, verdict)
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
            tensors[name] = TensorRef(
                dtype=code,
                numel_storage=numel,
                file=str(path),
                byteorder=order,
                base=zip_member_offset(zf, info) + header_len,
                shape=tuple(shape),
                stride=stride,
            )
        else:  # inflated as a stream when scanned, against the per-file and per-run budget
            if info.file_size > MAX_INFLATE:
                raise ValueError(f"{info.filename}: compressed member inflates to {info.file_size:,} bytes")
            _charge(str(path), info.file_size, info.filename)
            tensors[name] = TensorRef(
                dtype=code,
                numel_storage=numel,
                file=str(path),
                byteorder=order,
                member=info.filename,
                base=header_len,
                shape=tuple(shape),
                stride=stride,
            )
    if verdict.status == UNSAFE:
        raise UnsafePickle(verdict)
    return Loaded("npz", tensors, verdict.globals, verdict=verdict if verdict.pickles else None)


def read_pickle(path: Path) -> Loaded:
    """Legacy (pre-1.6, non-zip) torch files and bare pickles.

    The legacy format is five pickles (magic number, protocol, sys info, the object, the storage keys)
    followed by each storage as an 8-byte count and raw bytes. All five are judged; tensors are then
    read in place from those offsets (torch's loader is never run on the file).
    """
    size = path.stat().st_size
    verdict = Verdict()
    with open(path, "rb") as f:
        magic, _ = judge_pickle(next_pickle(f, size), None, "pickle", verdict)
        if magic != LEGACY_MAGIC:
            _raise_if_unsafe(verdict)
            return Loaded("pickle", magic, verdict.globals, verdict=verdict)
        verdict.pickles[-1] = "legacy magic number"
        blobs = [next_pickle(f, size) for _ in range(4)]
        data_start = f.tell()
    judge_pickle(blobs[0], None, "legacy protocol", verdict)
    info, _ = judge_pickle(blobs[1], None, "legacy sys_info", verdict)
    named: dict[str, tuple[str, int]] = {}

    def record(key: str, dtype: str, numel: int) -> Any:
        named.setdefault(key, (dtype, numel))
        return Unsupported("legacy storage")

    judge_pickle(blobs[2], record, "legacy object", verdict)
    keys, _ = judge_pickle(blobs[3], None, "legacy storage keys", verdict)
    _raise_if_unsafe(verdict)
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ValueError("legacy torch file: the storage-key pickle is not a list of names")
    byteorder = "big" if isinstance(info, dict) and info.get("little_endian") is False else "little"
    offsets: dict[str, tuple[int, int]] = {}
    pos = data_start
    with open(path, "rb") as f:
        for key in keys:
            f.seek(pos)
            raw = f.read(8)
            if len(raw) != 8:
                raise ValueError(f"legacy torch file ends before storage {key!r}")
            count = int.from_bytes(raw, "little", signed=True)
            dtype = named.get(key, ("uint8", 0))[0]
            itemsize = _itemsize(dtype)
            if count < 0 or pos + 8 + count * itemsize > size:
                raise ValueError(f"legacy storage {key!r} claims {count:,} elements past the end of the file")
            offsets[key] = (pos + 8, count)
            pos += 8 + count * itemsize

    def storage_for(key: str, dtype: str, numel: int) -> TensorRef:
        if key not in offsets or numel > offsets[key][1]:
            raise ValueError(f"legacy storage {key!r} is missing or shorter than the pickle claims")
        return TensorRef(
            dtype=dtype,
            numel_storage=numel,
            file=str(path),
            base=offsets[key][0],
            byteorder=byteorder,
            shape=(numel,),
            stride=(1,),
        )

    obj, _ = judge_pickle(blobs[2], storage_for, "legacy object", Verdict())
    return Loaded("torch-legacy", obj, verdict.globals, verdict=verdict)


def _itemsize(dtype: str) -> int:
    import numpy as np

    return np.dtype(DTYPES[dtype][0]).itemsize if dtype in DTYPES else 1


def _raise_if_unsafe(verdict: Verdict) -> None:
    if verdict.status == UNSAFE:
        raise UnsafePickle(verdict)


def _is_tar(block: bytes) -> bool:
    """A file's first 512 bytes hold a POSIX tar header."""
    return len(block) == 512 and block[257:262] == b"ustar"


def read_tar(path: Path) -> Loaded:
    """torch's oldest format (a tar of `sys_info`, `storages`, `tensors`, `pickle`): every pickle in
    every member is judged, walking the binary records between them as torch's legacy_load does.
    Tensor values are not read (no torch since 0.4 writes this format): they are reported unscanned."""
    import tarfile

    verdict = Verdict()
    obj: Any = None
    try:
        tar = tarfile.open(path, mode="r:")
    except tarfile.TarError as exc:
        raise ValueError(f"not a readable tar archive ({exc})") from None
    with tar:
        members: dict[str, tarfile.TarInfo] = {}
        for m in tar:
            if len(members) > 64:
                break
            if m.isfile():
                members[m.name] = m
        if "pickle" not in members:
            raise ValueError("tar archive without a `pickle` member: not a torch checkpoint")
        for name in ("sys_info", "storages", "tensors", "pickle"):
            if name not in members:
                continue
            f = tar.extractfile(members[name])
            if f is None:  # a regular member always extracts; anything else is not torch's layout
                raise ValueError(f"tar member {name} cannot be read")
            end = members[name].size

            def one(label: str, f: Any = f, end: int = end) -> Any:
                return judge_pickle(next_pickle(f, end), None, f"tar {label}", verdict)[0]

            if name in ("sys_info", "pickle"):
                value = one(name)
                obj = value if name == "pickle" else obj
                continue
            count = one(f"{name} count")
            if not isinstance(count, int) or not 0 <= count <= 1_000_000:
                raise ValueError(f"tar member {name}: record count is not a number")
            for _ in range(count):
                args = one(name)
                if name == "storages":
                    stype = args[2] if isinstance(args, tuple) and len(args) == 3 else None
                    raw = f.read(8)
                    if not isinstance(stype, StorageType) or len(raw) != 8:
                        raise ValueError("tar member storages: malformed storage record")
                    f.seek(f.tell() + int.from_bytes(raw, "little", signed=True) * _itemsize(stype.dtype))
                else:
                    raw = f.read(8)
                    if len(raw) != 8:
                        raise ValueError("tar member tensors: malformed tensor record")
                    ndim = int.from_bytes(raw[:4], "little", signed=True)
                    if not 0 <= ndim <= 64:
                        raise ValueError("tar member tensors: malformed tensor record")
                    f.seek(f.tell() + 16 * ndim + 8)
            if name == "storages":
                one("storage views")
    _raise_if_unsafe(verdict)
    return Loaded("torch-tar", obj, verdict.globals, verdict=verdict)


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
    verdict: Verdict | None = None
    fmt = "safetensors-sharded" if index.name.startswith("model.safetensors") else "torch-sharded"
    for shard in sorted(set(map(str, weight_map.values()))):
        shard_path = (folder / shard).resolve()
        if folder not in shard_path.parents:
            raise ValueError(f"{index.name} points outside its folder: {shard}")
        regular_file(shard_path, f"shard {shard} named in {index.name}")
        part = read_any(shard_path)
        globs += part.globals
        verdict = _merged(verdict, part.verdict)
        from nandoctor.ckpt.walk import flatten

        for named in flatten(part.obj):
            tensors[named.name] = named.ref
            shards[named.name] = shard
    missing = sorted(set(weight_map) - set(tensors))
    if missing:
        raise ValueError(f"{len(missing)} tensors named in {index.name} are in no shard, e.g. {missing[0]}")
    return Loaded(fmt, tensors, globs, shards=shards, verdict=verdict)


def _merged(into: Verdict | None, part: Verdict | None) -> Verdict | None:
    if part is None:
        return into
    into = into or Verdict()
    into.merge(part)
    return into


HF_WEIGHTS = ("model.safetensors.index.json", "pytorch_model.bin.index.json", "model.safetensors", "pytorch_model.bin")


def read_hf_trainer(folder: Path) -> Loaded:
    """An HF Trainer `checkpoint-N` folder as one checkpoint: weights + optimizer.pt + scaler.pt, with
    step, epoch and log_history from trainer_state.json (training_args.bin is never unpickled)."""
    try:
        state = json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"trainer_state.json is not valid JSON ({exc})") from None
    if not isinstance(state, dict):
        raise ValueError("trainer_state.json is not a JSON object")
    weights = next((folder / w for w in HF_WEIGHTS if _present(folder / w)), None)
    # log_history is plain JSON: kept beside the tensors, never walked for them (a long run's 40 MB
    # history is not a pickle bomb)
    facts = {
        "global_step": state.get("global_step"),
        "epoch": state.get("epoch"),
        "log_history": state.get("log_history"),
    }
    obj: dict[str, Any] = {}
    globs: list[str] = []
    verdict: Verdict | None = None
    shards: dict[str, str] = {}
    if weights is None and folder.name.startswith("checkpoint-"):
        raise ValueError(
            "this Trainer checkpoint holds no model weights (no model.safetensors or "
            "pytorch_model.bin): a save cut short?"
        )
    if weights is not None:
        regular_file(weights, weights.name)
        part = read_any(weights)
        from nandoctor.ckpt.walk import flatten

        obj["model"] = {n.name: n.ref for n in flatten(part.obj)}
        globs += part.globals
        verdict = _merged(verdict, part.verdict)
        shards = part.shards
    for name, key in (("optimizer.pt", "optimizer"), ("scaler.pt", "scaler")):
        if _present(folder / name):
            regular_file(folder / name, name)
            part = read_any(folder / name)
            obj[key] = part.obj
            globs += part.globals
            verdict = _merged(verdict, part.verdict)
    return Loaded("hf-trainer", obj, globs, shards=shards, metadata=facts, verdict=verdict)


def read_dcp(folder: Path) -> Loaded:
    """torch.distributed.checkpoint: `.metadata` (a pickle: checked restrictedly first) + *.distcp.

    Tensors are loaded through torch's own reader in groups of at most ~256 MiB each.
    """
    with open(folder / ".metadata", "rb") as f:
        _, verdict = judge_pickle(next_pickle(f), None, ".metadata")
    _raise_if_unsafe(verdict)
    globs = verdict.globals
    odd = [g for g in globs if not (g.startswith(DCP_PREFIXES) or g in DCP_TORCH)]
    if odd:
        raise UnsafePickle(odd[0], "DCP metadata names a non-torch global")
    import torch
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.metadata import TensorStorageMetadata

    reader = dcp.FileSystemReader(str(folder))
    meta = reader.read_metadata()
    for rel in sorted({str(info.relative_path) for info in meta.storage_data.values()}):
        regular_file(folder / rel, f"DCP storage file {rel}")  # torch's reader would block on a FIFO
    entries = {k: v for k, v in meta.state_dict_metadata.items() if isinstance(v, TensorStorageMetadata)}
    tensors: dict[str, Any] = {}
    group: dict[str, Any] = {}
    group_bytes = 0

    def flush() -> None:
        nonlocal group, group_bytes
        if group:
            with warnings.catch_warnings():  # "torch.distributed is disabled ... single process": expected here
                warnings.simplefilter("ignore", UserWarning)
                dcp.load(
                    group,
                    storage_reader=dcp.FileSystemReader(str(folder)),
                    planner=dcp.DefaultLoadPlanner(allow_partial_load=True),
                )
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
    return Loaded("dcp", tensors, globs, metadata=extras, verdict=verdict)


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
        except (ValueError, EOFError, StopIteration, zipfile.BadZipFile, NotImplementedError):
            # an entry we cannot read is just left out (step, epoch are optional); a malformed pickle
            # reaches here as judge_pickle's ValueError, so a TypeError & co. would be a bug: raised
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


def _torch_name(dtype: Any) -> str | None:
    name = dtype.newbyteorder("=").name if dtype.byteorder in "<>" else dtype.name
    return name if name in DTYPES else None
