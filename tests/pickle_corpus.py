"""The pickle-safety corpus: malicious and benign checkpoints written by the real writers.

Each malicious file's payload would create `canary` (or run a command that does) if a loader ran it:
`pickle` / `torch.save` of objects whose `__reduce__` names the real callable, so the bytes are exactly
what an attacker's writer produces. Hand-assembled opcodes only where the technique is a byte-level
trick (protocol-4 dotted names, memo confusion, BUILD on a global, a broken tail after the payload).
Shared by tests/test_pickle_safety.py and benchmarks/pickle_safety.py.
"""

from __future__ import annotations

import argparse
import builtins
import codecs
import collections
import datetime
import io
import os
import pathlib
import pickle
import tarfile
import types
import zipfile
from pathlib import Path
from typing import Callable

DATA = Path(__file__).parent / "data" / "pickle_safety"


class Reduce:
    """An object that pickles as `func(*args)`: the shape of every published payload."""

    def __init__(self, func: Callable, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)

    def __call__(self, *args):  # pickle wants a callable first element; nested payloads chain calls
        raise RuntimeError("a payload stand-in")


class CustomModel:
    """A user's own class: outside every allow-list, harmless."""

    def __init__(self):
        self.width = 4


def _op_str(s: str) -> bytes:
    raw = s.encode()
    return b"\x8c" + bytes([len(raw)]) + raw  # SHORT_BINUNICODE


def _call_bytes(module: str, name: str, arg: str, proto: int = 4) -> bytes:
    """`module.name(arg)` via STACK_GLOBAL (protocol 4), the name possibly dotted."""
    return (
        b"\x80" + bytes([proto]) + _op_str(module) + _op_str(name) + b"\x93" + _op_str(arg) + b"\x85R."
    )  # TUPLE1 REDUCE STOP


def _torch_save(path: Path, obj, **kw) -> Path:
    import torch

    torch.save(obj, path, **kw)
    return path


def _state(torch, value=None):
    return {"model": {"w": torch.ones(4) if value is None else value}, "epoch": 2}


def malicious(root: Path, canary: Path) -> dict[str, Path]:
    """name -> file. Every payload, if run, touches `canary` (directly or through a shell)."""
    import numpy as np
    import torch
    import torch.fx.graph_module as fx_gm
    import torch.jit.unsupported_tensor_ops as jit_ops
    import torch.serialization
    import torch.storage
    import torch.utils.collect_env as collect_env

    root.mkdir(parents=True, exist_ok=True)
    touch = f"touch {canary}"
    py = f"open({str(canary)!r}, 'w').close()"
    inner = io.BytesIO()
    torch.save(Reduce(os.system, touch), inner)  # what _load_from_bytes / torch.load would unpickle
    inner_file = root / "inner_payload.bin"
    inner_file.write_bytes(inner.getvalue())
    plain_inner = root / "inner_payload.pkl"
    plain_inner.write_bytes(pickle.dumps(Reduce(os.system, touch)))

    import copyreg
    import cProfile
    import doctest
    import ensurepip
    import functools
    import pydoc
    import shutil
    import timeit
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import mailcap
    import _osx_support
    import imaplib
    import importlib
    import logging
    import logging.config
    import marshal
    import pkgutil
    import subprocess
    import uuid

    import numpy.testing._private.utils as np_utils
    import pandas
    import sympy

    payloads = {
        "os.system": Reduce(os.system, touch),
        "subprocess.Popen": Reduce(subprocess.Popen, ["touch", str(canary)]),
        "builtins.eval": Reduce(builtins.eval, py),
        "builtins.exec": Reduce(builtins.exec, py),
        "torch.utils.collect_env.run": Reduce(collect_env.run, touch),
        "torch.jit.unsupported_tensor_ops.execWrapper": Reduce(jit_ops.execWrapper, py, {}, {}),
        "torch.fx.graph_module._forward_from_src": Reduce(fx_gm._forward_from_src, py, {}),
        "torch.storage._load_from_bytes": Reduce(torch.storage._load_from_bytes, inner.getvalue()),
        "torch.serialization.load": Reduce(torch.serialization.load, str(inner_file)),
        "doctest.debug_script": Reduce(doctest.debug_script, py),
        "uuid._get_command_stdout": Reduce(uuid._get_command_stdout, "touch", str(canary)),
        "imaplib.IMAP4_stream": Reduce(imaplib.IMAP4_stream, touch),
        "ensurepip._run_pip": Reduce(ensurepip._run_pip, ["--version", "--log", str(canary)]),
        "logging.config.dictConfig": Reduce(
            logging.config.dictConfig,
            {
                "version": 1,
                "handlers": {"h": {"class": "logging.FileHandler", "filename": str(canary)}},
                "root": {"handlers": ["h"]},
            },
        ),
        "_osx_support._read_output": Reduce(_osx_support._read_output, touch),
        "sympy.sympify": Reduce(sympy.sympify, f"__import__('os').system({touch!r})"),
        "numpy runstring": Reduce(np_utils.runstring, py, {}),
        "pandas.read_pickle": Reduce(pandas.read_pickle, str(plain_inner)),
        "logging.FileHandler": Reduce(logging.FileHandler, str(canary)),
        "numpy.savetxt": Reduce(np.savetxt, str(canary), [1.0]),
        "torch.save": Reduce(torch.save, {}, str(canary)),
        "codecs.open": Reduce(codecs.open, str(canary), "w"),
        "timeit.timeit": Reduce(timeit.timeit, py, "pass", timeit.default_timer, 1),
        "cProfile.run": Reduce(cProfile.run, py),
        "pydoc.pipepager": Reduce(pydoc.pipepager, "x", touch),
        "shutil.copyfile": Reduce(shutil.copyfile, __file__, str(canary)),
        "zipfile.ZipFile": Reduce(zipfile.ZipFile, str(canary), "w"),
        "pickle.loads": Reduce(pickle.loads, pickle.dumps(Reduce(os.system, touch))),
        "subprocess.run": Reduce(subprocess.run, ["touch", str(canary)]),
        "functools.partial": Reduce(functools.partial(os.system, touch)),
        "copyreg._reconstructor(Popen)": Reduce(
            copyreg._reconstructor, subprocess.Popen, subprocess.Popen, ["touch", str(canary)]
        ),
        "pathlib.Path.touch (method)": Reduce(pathlib.Path.touch, pathlib.Path(canary)),
        "mailcap.findmatch": Reduce(mailcap.findmatch, {"text/plain": [{"view": "true", "test": touch}]}, "text/plain"),
        # safe names used the way no checkpoint uses them
        "_rebuild_from_type_v2 func=OrderedDict": Reduce(
            torch._tensor._rebuild_from_type_v2, collections.OrderedDict, torch.Tensor, (), None
        ),
        "bytearray size bomb": Reduce(bytearray, 1 << 40),
        # published picklescan / modelscan bypasses
        "importlib.import_module": Reduce(
            Reduce(builtins.getattr, Reduce(importlib.import_module, "os"), "system"), touch
        ),
        "marshal.loads": Reduce(builtins.exec, Reduce(marshal.loads, marshal.dumps(compile(py, "<p>", "exec")))),
        "pkgutil.resolve_name": Reduce(Reduce(pkgutil.resolve_name, "os:system"), touch),
        "builtins.getattr chain": Reduce(Reduce(builtins.getattr, Reduce(builtins.__import__, "os"), "system"), touch),
        # torch's weights-only loader: _rebuild_from_type_v2 calls func(*args) whatever func is
        "_rebuild_from_type_v2 func=os.system": Reduce(
            torch._tensor._rebuild_from_type_v2, os.system, torch.Tensor, (touch,), None
        ),
        "_rebuild_tensor_v2 misused": Reduce(torch._utils._rebuild_tensor_v2, Reduce(os.system, touch), 0, (1,), (1,)),
    }
    out: dict[str, Path] = {}
    for i, (name, payload) in enumerate(payloads.items()):
        # inside a real-looking torch.save checkpoint, next to the weights
        out[name] = _torch_save(root / f"m{i:02d}.pt", {**_state(torch), "extra": {"note": [1, payload]}})
    out["bare pickle protocol 2"] = root / "bare.pkl"
    out["bare pickle protocol 2"].write_bytes(pickle.dumps({"state_dict": {}, "x": payloads["os.system"]}, protocol=2))
    out["bare pickle protocol 0"] = root / "bare0.pt"
    out["bare pickle protocol 0"].write_bytes(pickle.dumps(payloads["os.system"], protocol=0))
    out["legacy format"] = _torch_save(
        root / "legacy.pt", {**_state(torch), "x": payloads["os.system"]}, _use_new_zipfile_serialization=False
    )
    # protocol-4 dotted names: the module is torch, the attribute chain reaches os.system
    out["GLOBAL 'torch' 'os.system'"] = root / "dotted.pt"
    out["GLOBAL 'torch' 'os.system'"].write_bytes(_call_bytes("torch", "os.system", touch))
    for label, module, name in (
        ("GLOBAL 'pathlib' 'Path.touch'", "pathlib", "Path.touch"),
        ("GLOBAL 'argparse' '_os.system'", "argparse", "_os.system"),
    ):
        out[label] = root / f"dotted_{len(out)}.pt"
        out[label].write_bytes(_call_bytes(module, name, str(canary) if module == "pathlib" else touch))
    out["numpy prod BUILD trick"] = root / "prod.pkl"
    out["numpy prod BUILD trick"].write_bytes(  # modelscan #85: BUILD plants strings on a global
        b"\x80\x05cnumpy\nprod\nN(Va\nVos\nd\x86bN(Vb\nVsystem\nd\x86b0cnumpy\nprod.a\np0\n"
        b"cnumpy\nprod.b\np1\n00g0\ng1\n\x93V" + touch.encode() + b"\n\x85R."
    )
    # memo confusion (picklescan #14): BINPUT and MEMOIZE mixed so a scanner's memo says torch._utils
    memo = (
        b"\x80\x04"
        + _op_str("os")
        + b"q\x00"
        + _op_str("system")
        + b"q\x01"
        + _op_str("torch._utils")
        + b"\x94"
        + _op_str("_rebuild_tensor_v2")
        + b"\x94"
        + b"00"
        + b"h\x00h\x01\x93"
        + _op_str(touch)
        + b"\x85R."
    )
    out["memo confusion"] = root / "memo.pkl"
    out["memo confusion"].write_bytes(memo)
    # exception-directed: the payload runs, then a broken opcode stops scanners that give up on errors
    out["payload then garbage"] = root / "edp.pkl"
    out["payload then garbage"].write_bytes(pickle.dumps(payloads["os.system"], protocol=2)[:-1] + b"\xff\xff")
    # zip tricks: a decoy pickle torch never reads, and a second data.pkl (torch reads the last one)
    clean = io.BytesIO()
    torch.save(_state(torch), clean)
    evil = pickle.dumps({"w": payloads["os.system"]}, protocol=2)
    with zipfile.ZipFile(io.BytesIO(clean.getvalue())) as src:
        members = [(i.filename, src.read(i)) for i in src.infolist()]
    for label, extra in (
        ("zip decoy archive/xdata.pkl", [("archive/xdata.pkl", evil)]),
        ("zip duplicate data.pkl", [("archive/data.pkl", evil)]),
    ):
        path = root / f"{label.split()[1]}.pt"
        with zipfile.ZipFile(path, "w") as z, _quiet_duplicates():
            for name, data in members + extra:
                z.writestr(name, data)
        out[label] = path
    # torch's oldest (.tar) format, payload in its `pickle` member
    out[".tar format"] = root / "old.tar.pt"
    _write_tar(out[".tar format"], pickle.dumps({"x": payloads["os.system"]}, protocol=2))
    # an npz whose object array is a pickle
    out["npz object array"] = root / "obj.npz"
    np.savez(out["npz object array"], ok=np.ones(2), bad=np.array([payloads["os.system"]], dtype=object))
    return out


def unknown_only(root: Path) -> dict[str, Path]:
    """Files whose only non-listed global is a user's class: `unknown`, never `unsafe`."""
    import torch

    root.mkdir(parents=True, exist_ok=True)
    custom = _torch_save(root / "custom.pt", {**_state(torch), "config": CustomModel()})
    nan = _torch_save(
        root / "custom_nan.pt", {**_state(torch, torch.tensor([1.0, float("nan")])), "config": CustomModel()}
    )
    return {"custom class": custom, "custom class with NaN": nan}


class _quiet_duplicates:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": the point of the case

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


def _write_tar(path: Path, pickled: bytes) -> None:
    """The layout torch's legacy_load reads: sys_info, storages, tensors, pickle."""

    def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        add(tar, "sys_info", pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2))
        add(tar, "storages", pickle.dumps(0, protocol=2) + pickle.dumps([], protocol=2))
        add(tar, "tensors", pickle.dumps(0, protocol=2))
        add(tar, "pickle", pickled)


def benign(root: Path) -> dict[str, Path]:
    """Real checkpoints' shapes, each from the writer that makes them."""
    import numpy as np
    import torch

    from tests.ultralytics_writers import save_ultralytics_checkpoint

    root.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4))
    opt = torch.optim.AdamW(model.parameters())
    model(torch.randn(3, 4)).sum().backward()
    opt.step()
    out["state_dict + AdamW"] = _torch_save(
        root / "plain.pt", {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 1}
    )
    out["whole nn.Module"] = _torch_save(root / "module.pt", {"model": model, "epoch": 1})
    out["legacy format"] = _torch_save(
        root / "legacy.pt", {"model": model.state_dict()}, _use_new_zipfile_serialization=False
    )
    path = root / "ultralytics" / "last.pt"
    path.parent.mkdir(exist_ok=True)
    save_ultralytics_checkpoint(path, epoch=3, results={"epoch": [1, 2, 3, 4], "train/box_loss": [1.2, 1.1, 1.0, 0.9]})
    out["Ultralytics-shaped"] = path
    out["Lightning-style hparams"] = _torch_save(
        root / "lightning.ckpt",
        {
            "epoch": 2,
            "global_step": 20,
            "pytorch-lightning_version": "2.6.0",
            "state_dict": model.state_dict(),
            "optimizer_states": [opt.state_dict()],
            "hparams_name": "kwargs",
            "hyper_parameters": {
                "ns": argparse.Namespace(lr=0.1, root=pathlib.PosixPath("/data")),
                "sn": types.SimpleNamespace(a=1),
                "when": datetime.datetime(2024, 5, 1, 12, 0),
                "delta": datetime.timedelta(hours=1),
                "win": pathlib.PureWindowsPath("C:/x"),
            },
        },
    )
    out["containers"] = _torch_save(
        root / "containers.pt",
        {
            "w": torch.ones(2),
            "counts": collections.Counter(a=2),
            "groups": collections.defaultdict(list, a=[1]),
            "od": collections.OrderedDict(b=1),
            "r": range(3),
            "s": slice(1, 5, 2),
            "c": complex(1, 2),
            "set": {1, 2},
            "fs": frozenset({3}),
            "bytes": b"\x00\xff",
            "ba": bytearray(b"ab"),
        },
    )
    out["numpy scalars and arrays"] = _torch_save(
        root / "numpy.pt",
        {
            "w": torch.ones(2),
            "best_fitness": np.float64(0.5),
            "n": np.int64(3),
            "hist": np.arange(4.0),
            "rng": np.random.RandomState(0).get_state(),
        },
    )
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    out["GradScaler state"] = _torch_save(
        root / "scaler.pt", {"model": {"w": torch.ones(2)}, "scaler": scaler.state_dict()}
    )
    q = torch.quantize_per_tensor(torch.randn(4), 0.1, 0, torch.qint8)
    out["fp8 / bf16 / quantized / sparse"] = _torch_save(
        root / "dtypes.pt",
        {
            "f8": torch.randn(4).to(torch.float8_e4m3fn),
            "f8b": torch.randn(4).to(torch.float8_e5m2),
            "bf": torch.randn(4).to(torch.bfloat16),
            "q": q,
            "sp": torch.randn(3, 3).to_sparse(),
            "uint16": torch.zeros(4, dtype=torch.uint16),
            "param": torch.nn.Parameter(torch.ones(2)),
        },
    )
    ts = root / "scripted.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), ts)
    out["TorchScript"] = ts
    for name, label in (
        ("lightning.ckpt", "real Lightning hparams (omegaconf, AttributeDict)"),
        ("lightning_trainer.ckpt", "real Lightning Trainer.fit checkpoint"),
        ("training_args.bin", "real HF training_args.bin"),
    ):
        if (DATA / name).is_file():
            out[label] = DATA / name
    return out


UNKNOWN_BENIGN: set[str] = set()  # benign cases expected `unknown` (none: every class they use is listed)
