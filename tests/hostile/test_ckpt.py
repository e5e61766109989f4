"""Hostile input for inspect-ckpt: malicious pickles (never run), corrupt, truncated, lying files.

Every payload would create a canary file if it ran; the canary must never appear.
"""

from __future__ import annotations

import builtins
import hashlib
import io
import os
import pickle
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nandoctor.ckpt.engine import inspect_ckpt
from nandoctor.ckpt.unpickle import UnsafePickle, restricted_loads
from nandoctor.pickle_policy import classify
from tests.conftest import run_cli

torch = pytest.importorskip("torch")


# --- payloads: each __reduce__ would touch the canary -------------------------------------------


class OsSystem:
    def __init__(self, canary):
        self.canary = canary

    def __reduce__(self):
        return (os.system, (f"touch {self.canary}",))


class Popen:
    def __init__(self, canary):
        self.canary = canary

    def __reduce__(self):
        return (subprocess.Popen, (["touch", str(self.canary)],))


class Eval:
    def __init__(self, canary):
        self.canary = canary

    def __reduce__(self):
        return (builtins.eval, (f"open({str(self.canary)!r}, 'w')",))


class Exec:
    def __init__(self, canary):
        self.canary = canary

    def __reduce__(self):
        return (builtins.exec, (f"open({str(self.canary)!r}, 'w')",))


class Import:
    def __init__(self, canary):
        self.canary = canary

    def __reduce__(self):
        return (builtins.__import__, ("os",))


class GetAttrChain:
    """getattr(__import__('os'), 'system')('touch canary') as nested reduces."""

    def __init__(self, canary):
        self.canary = canary

    def __reduce__(self):
        class Attr:
            def __reduce__(_self):
                return (getattr, (Import(self.canary), "system"))

        return (_call, (Attr(), f"touch {self.canary}"))


def _call(f, *args):  # a module-level function the chain pickles by name (nandoctor never resolves it)
    return f(*args)


PAYLOADS = {
    "os.system": (OsSystem, {"posix.system", "nt.system", "os.system"}),
    "subprocess.Popen": (Popen, {"subprocess.Popen"}),
    "builtins.eval": (Eval, {"builtins.eval"}),
    "builtins.exec": (Exec, {"builtins.exec"}),
    "__import__": (Import, {"builtins.__import__"}),
    "getattr chain": (GetAttrChain, {"builtins.getattr", "builtins.__import__"}),
}


@pytest.fixture
def canary(tmp_path):
    path = tmp_path / "CANARY"
    yield path
    assert not path.exists(), "a checkpoint payload ran"


def _assert_unsafe(report, expected: set[str]) -> None:
    [c] = report.summary["checkpoints"]
    assert c["status"] == "unsafe" and c["tensors"] == 0
    [f] = [f for f in report.findings if f.code == "ND202"]
    assert f.severity.value == "error" and f.where in expected and f.where in f.message


@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_ND202_bare_pickle_named_pt(tmp_path, canary, kind):
    cls, expected = PAYLOADS[kind]
    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps({"state_dict": {}, "x": cls(canary)}, protocol=2))
    _assert_unsafe(inspect_ckpt(path), expected)


@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_ND202_torch_zip_with_legitimate_looking_data_pkl(tmp_path, canary, kind):
    cls, expected = PAYLOADS[kind]
    path = tmp_path / "best.pt"
    # torch.save of a real state_dict with the payload nested in a container next to the weights
    torch.save(
        {
            "model_state_dict": {"w": torch.randn(4, 4)},
            "epoch": 3,
            "metrics": {"history": [1.0, {"note": cls(canary)}]},
        },
        path,
    )
    _assert_unsafe(inspect_ckpt(path), expected)


def test_ND202_inside_ultralytics_shaped_dict_and_legacy_format(tmp_path, canary):
    ckpt = {
        "epoch": 7,
        "best_fitness": 0.5,
        "model": None,
        "ema": None,
        "updates": 10,
        "optimizer": None,
        "train_args": {"imgsz": 640, "callbacks": [OsSystem(canary)]},
        "train_results": {"epoch": [1.0], "train/box_loss": [1.2]},
        "version": "8.4.190",
    }
    torch.save(ckpt, tmp_path / "last.pt")
    torch.save(ckpt, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    r = inspect_ckpt(tmp_path)
    assert {c["status"] for c in r.summary["checkpoints"]} == {"unsafe"}
    assert {f.where for f in r.findings if f.code == "ND202"} == {"os.system"}  # posix.system is os.system


def test_ND202_npz_object_array_and_dcp_metadata(tmp_path, canary):
    import numpy as np

    np.savez(tmp_path / "w.npz", ok=np.ones(3), bad=np.array([OsSystem(canary)], dtype=object))
    dcp = tmp_path / "dcp"
    dcp.mkdir()
    (dcp / ".metadata").write_bytes(pickle.dumps(OsSystem(canary)))
    (dcp / "__0_0.distcp").write_bytes(b"")
    r = inspect_ckpt(tmp_path)
    assert {Path(c["path"]).name: c["status"] for c in r.summary["checkpoints"]} == {"w.npz": "unsafe", "dcp": "unsafe"}


def test_ND202_cli_subprocess_reports_and_never_runs(tmp_path, canary):
    path = tmp_path / "evil.pth"
    torch.save({"w": torch.zeros(2), "p": Popen(canary)}, path)
    r = run_cli("inspect-ckpt", path, "--format", "json")
    assert r.code == 1 and "Traceback" not in r.stderr
    assert r.json["findings"][0]["where"] == "subprocess.Popen"


def test_malicious_among_clean_still_recommends_clean(tmp_path, canary):
    torch.save(
        {"model": {"w": torch.ones(3)}, "optimizer": {"state": {}, "param_groups": []}, "epoch": 1},
        tmp_path / "epoch1.pt",
    )
    torch.save({"model": {"w": torch.ones(3)}, "epoch": 2, "x": Eval(canary)}, tmp_path / "epoch2.pt")
    r = inspect_ckpt(tmp_path)
    assert Path(r.summary["recommended"]).name == "epoch1.pt"


def test_memo_and_recursion_bombs_end_quickly(tmp_path):
    # billion laughs through the memo: 10 levels of 10 references each to the previous list
    ops = [b"\x80\x02", b"]q\x00", b"K\x01a"]
    for i in range(1, 30):
        ops.append(b"(" + (b"h" + bytes([i - 1])) * 10 + b"lq" + bytes([i]))
    ops.append(b".")
    (tmp_path / "laughs.pt").write_bytes(b"".join(ops))
    # 200k-deep nested lists
    (tmp_path / "deep.pt").write_bytes(b"\x80\x02" + b"]" * 200_000 + b"a" * 199_999 + b".")
    for name in ("laughs.pt", "deep.pt"):
        r = run_cli("inspect-ckpt", tmp_path / name, "--format", "json", timeout=60)
        assert r.code == 1 and "Traceback" not in r.stderr
        assert r.json["summary"]["checkpoints"][0]["status"] == "unreadable"
        assert [f["code"] for f in r.json["findings"]] == ["ND200"] and "no tensors" in r.json["findings"][0]["message"]
    r = run_cli("inspect-ckpt", tmp_path, timeout=60)  # a folder of nothing but bombs holds no checkpoint
    assert r.code == 2 and "no checkpoints found" in r.stderr and "Traceback" not in r.stderr


def test_policy_judgement_by_name_only():
    for module, name in [
        ("os", "system"),
        ("posix", "system"),
        ("nt", "system"),
        ("subprocess", "check_output"),
        ("builtins", "eval"),
        ("builtins", "getattr"),
        ("__builtin__", "__import__"),
        ("importlib", "import_module"),
        ("runpy", "run_path"),
        ("socket", "socket"),
        ("shutil", "rmtree"),
        ("pickle", "loads"),
        ("torch", "load"),
        ("pathlib", "Path.write_text"),
        ("operator", "attrgetter"),
        ("sys", "modules"),
    ]:
        assert classify(module, name)[0] == "unsafe", (module, name)
    for module, name in [
        ("torch._utils", "_rebuild_tensor_v2"),
        ("collections", "OrderedDict"),
        ("ultralytics.nn.tasks", "DetectionModel"),
        ("builtins", "set"),
        ("argparse", "Namespace"),
        ("pathlib", "PosixPath"),
        ("numpy.core.multiarray", "_reconstruct"),
    ]:
        assert classify(module, name)[0] == "safe", (module, name)


def test_stack_global_protocol_4_is_caught(canary):
    data = pickle.dumps(OsSystem(canary), protocol=4)  # STACK_GLOBAL instead of GLOBAL
    with pytest.raises(UnsafePickle) as exc:
        restricted_loads(data)
    assert exc.value.global_name == "os.system"


# --- corrupt, truncated, lying files ------------------------------------------------------------


def _clean_pt(path: Path) -> Path:
    torch.save({"w": torch.randn(64, 64), "b": torch.zeros(64)}, path)
    return path


def test_ND200_truncated_zip_and_empty_and_random_files(tmp_path):
    whole = _clean_pt(tmp_path / "whole.pt").read_bytes()
    (tmp_path / "half.pt").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "empty.ckpt").write_bytes(b"")
    rng = __import__("random").Random(0)
    for ext in (".pt", ".pth", ".ckpt", ".bin", ".safetensors", ".npz"):
        (tmp_path / f"random{ext}").write_bytes(bytes(rng.randrange(256) for _ in range(4096)))
    # a zip whose central directory survives but whose storage is cut short
    z = io.BytesIO()
    with zipfile.ZipFile(tmp_path / "whole.pt") as src, zipfile.ZipFile(z, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info.filename, data[:10] if info.filename.endswith("data/0") else data)
    (tmp_path / "short_storage.pt").write_bytes(z.getvalue())
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}
    r = run_cli("inspect-ckpt", tmp_path, "--format", "json", timeout=60)
    assert r.code == 1 and "Traceback" not in r.stderr
    status = {Path(c["path"]).name: c["status"] for c in r.json["summary"]["checkpoints"]}
    assert status.pop("whole.pt") == "clean" and set(status.values()) == {"unreadable"}
    msgs = {Path(f["path"]).name: f["message"] for f in r.json["findings"] if f["code"] == "ND200"}
    assert "\n" not in "".join(msgs.values()) and "empty file" in msgs["empty.ckpt"]
    assert "storage" in msgs["short_storage.pt"]
    assert Path(r.json["summary"]["recommended"]).name == "whole.pt"
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}
    assert before == after  # inputs never modified


def _safetensors(header: dict, data: bytes = b"", claim: int | None = None) -> bytes:
    import json

    raw = json.dumps(header).encode()
    return struct.pack("<Q", claim if claim is not None else len(raw)) + raw + data


@pytest.mark.parametrize(
    "blob,reason",
    [
        (_safetensors({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8, claim=2**60), "claims"),
        (_safetensors({"a": {"dtype": "F32", "shape": [1000], "data_offsets": [0, 4000]}}, b"\0" * 8), "outside"),
        (_safetensors({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8), "bytes for shape"),
        (_safetensors({"a": {"dtype": "Q9", "shape": [1], "data_offsets": [0, 1]}}, b"\0"), "unknown dtype"),
        (_safetensors({"a": "nope"}), "not an object"),
        (struct.pack("<Q", 5) + b"{nope", "not valid JSON"),
    ],
)
def test_ND200_lying_safetensors_headers(tmp_path, blob, reason):
    (tmp_path / "m.safetensors").write_bytes(blob)
    r = inspect_ckpt(tmp_path / "m.safetensors")
    [f] = [f for f in r.findings if f.code == "ND200"]
    assert reason in f.message


def test_symlink_loop_and_sharded_index_escaping_its_folder(tmp_path):
    (tmp_path / "loop.pt").symlink_to(tmp_path / "loop.pt")
    shard = tmp_path / "sharded"
    shard.mkdir()
    (shard / "model.safetensors.index.json").write_text('{"weight_map": {"a": "../../etc/passwd"}}')
    r = run_cli("inspect-ckpt", tmp_path, "--format", "json", timeout=60)
    assert r.code == 1 and "Traceback" not in r.stderr
    msgs = " ".join(f["message"] for f in r.json["findings"])
    assert "points outside its folder" in msgs


# --- property tests: arbitrary bytes never raise anything but findings ---------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.binary(max_size=600), ext=st.sampled_from([".pt", ".safetensors", ".npz", ".bin"]))
def test_arbitrary_bytes_become_a_finding(tmp_path, blob, ext):
    path = tmp_path / f"x{ext}"
    path.write_bytes(blob)
    r = inspect_ckpt(path)
    assert r.summary["checkpoints"][0]["status"] in ("unreadable", "unsafe", "clean", "no-weights")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    header=st.dictionaries(
        st.text(max_size=8),
        st.one_of(
            st.none(),
            st.integers(),
            st.text(max_size=5),
            st.fixed_dictionaries(
                {
                    "dtype": st.sampled_from(["F32", "F16", "BF16", "I8", "X"]),
                    "shape": st.lists(st.integers(-2, 5), max_size=3),
                    "data_offsets": st.lists(st.integers(-5, 40), max_size=3),
                }
            ),
        ),
        max_size=4,
    ),
    data=st.binary(max_size=40),
)
def test_arbitrary_safetensors_headers_never_crash(tmp_path, header, data):
    path = tmp_path / "h.safetensors"
    path.write_bytes(_safetensors(header, data))
    r = inspect_ckpt(path)
    assert r.summary["checkpoints"][0]["status"] in ("unreadable", "clean", "poisoned", "suspect", "no-weights")


@settings(max_examples=80, deadline=None)
@given(
    blob=st.binary(max_size=300),
    module=st.sampled_from(["os", "json", "ultralytics.nn.tasks", "torch.hub", "antigravity", "this"]),
)
def test_restricted_unpickler_never_imports(blob, module):
    """Whatever the bytes (random opcodes after a GLOBAL naming a real module), no module is imported."""
    import sys

    before = set(sys.modules)
    data = b"\x80\x02c" + module.encode() + b"\nsomething\n" + blob
    try:
        restricted_loads(data)
    except Exception:  # a parse error or UnsafePickle: either way nothing ran
        pass
    assert set(sys.modules) == before


def test_unicode_path_and_real_shared_formats_tree(tmp_path, shared_formats):
    d = tmp_path / "权重 ünïcode"
    d.mkdir()
    _clean_pt(d / "epoch1.pt")
    r = run_cli("inspect-ckpt", d, "--format", "json")
    assert r.code == 0 and Path(r.json["summary"]["recommended"]).name == "epoch1.pt"
    # the real sample tree holds configs and logs but no checkpoint: a one-line exit 2, no error finding
    r = run_cli("inspect-ckpt", shared_formats)
    assert r.code == 2 and "no checkpoints found" in r.stderr and r.stderr.count("\n") == 1


def test_fifo_named_like_a_checkpoint_does_not_hang(tmp_path):
    fifo = tmp_path / "stuck.pt"
    os.mkfifo(fifo)
    r = run_cli("inspect-ckpt", fifo, "--format", "json", timeout=30)
    assert (
        r.code == 2
        and r.stderr
        == f"nandoctor: error: {fifo}: cannot read this checkpoint: not a regular file (a FIFO); it was not opened\n"
    )


def test_expanded_view_claiming_two_billion_elements_ends_quickly(tmp_path):
    # torch.save keeps an expanded tensor's tiny storage and its stride-0 view; a crafted file can claim any size
    torch.save({"big": torch.zeros(1).expand(10_000), "w": torch.ones(3)}, tmp_path / "e.pt")
    blob = (tmp_path / "e.pt").read_bytes()
    z = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(blob)) as src, zipfile.ZipFile(z, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("data.pkl"):
                data = data.replace(b"M\x10'", b"J\x00\x00\x00\x7f")  # BININT2 10000 -> BININT 2130706432
                assert b"J\x00\x00\x00\x7f" in data
            dst.writestr(info.filename, data)
    (tmp_path / "e.pt").write_bytes(z.getvalue())
    r = run_cli("inspect-ckpt", tmp_path / "e.pt", "--format", "json", timeout=30)
    assert r.code == 0 and [f["code"] for f in r.json["findings"]] == ["ND213"]


def test_compressed_storage_claiming_a_huge_size_is_refused_before_inflating(tmp_path):
    torch.save({"w": torch.ones(4)}, tmp_path / "src.pt")
    z = io.BytesIO()
    with zipfile.ZipFile(tmp_path / "src.pt") as src, zipfile.ZipFile(z, "w") as dst:
        for info in src.infolist():
            kind = zipfile.ZIP_DEFLATED if info.filename.endswith("data/0") else zipfile.ZIP_STORED
            dst.writestr(info.filename, src.read(info), compress_type=kind)
    blob = bytearray(z.getvalue())
    name = next(n for n in zipfile.ZipFile(io.BytesIO(bytes(blob))).namelist() if n.endswith("data/0")).encode()
    central = blob.index(b"PK\x01\x02")
    while blob[central + 46 : central + 46 + len(name)] != name:  # find the storage's central directory entry
        central = blob.index(b"PK\x01\x02", central + 4)
    blob[central + 24 : central + 28] = struct.pack("<I", 3 << 30)  # uncompressed size: 3 GiB
    (tmp_path / "bomb.pt").write_bytes(bytes(blob))
    r = inspect_ckpt(tmp_path / "bomb.pt")
    [f] = [f for f in r.findings if f.code == "ND200"]
    assert "inflates to 3,221,225,472 bytes" in f.message


def _sharded_with(folder: Path, second: str) -> None:
    """A two-shard safetensors model whose index names `second` for the second shard."""
    import json

    from safetensors.torch import save_file

    folder.mkdir()
    save_file({"a.weight": torch.ones(4)}, str(folder / "model-00001-of-00002.safetensors"))
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": {"a.weight": "model-00001-of-00002.safetensors", "b.weight": second}})
    )


def test_fifo_shard_is_not_a_regular_file_not_missing_and_never_opened(tmp_path):
    """A FIFO where a shard should be: the true reason, and no open() (it would block until a writer)."""
    _sharded_with(tmp_path / "model", "model-00002-of-00002.safetensors")
    os.mkfifo(tmp_path / "model" / "model-00002-of-00002.safetensors")
    r = run_cli("inspect-ckpt", tmp_path / "model", "--format", "json", timeout=60)
    [f] = [f for f in r.json["findings"] if f["code"] == "ND200"]
    assert r.code == 1 and "model-00002-of-00002.safetensors" in f["message"]
    assert "is not a regular file (a FIFO)" in f["message"] and "missing" not in f["message"]
    assert f["path"] == str(tmp_path / "model")


def test_absent_shard_is_still_called_missing(tmp_path):
    _sharded_with(tmp_path / "model", "model-00002-of-00002.safetensors")
    [f] = [f for f in inspect_ckpt(tmp_path / "model").findings if f.code == "ND200"]
    assert "shard model-00002-of-00002.safetensors named in model.safetensors.index.json is missing" in f.message


def test_fifo_optimizer_in_an_hf_checkpoint_is_reported_not_skipped(tmp_path):
    """optimizer.pt as a FIFO in checkpoint-N: unreadable with the reason, not a clean weights-only unit."""
    import json

    from safetensors.torch import save_file

    folder = tmp_path / "checkpoint-10"
    folder.mkdir()
    save_file({"w": torch.ones(4)}, str(folder / "model.safetensors"))
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": 10, "epoch": 1.0, "log_history": []}))
    os.mkfifo(folder / "optimizer.pt")
    r = run_cli("inspect-ckpt", folder, "--format", "json", timeout=60)
    assert r.code == 1 and r.json["summary"]["checkpoints"][0]["status"] == "unreadable"
    assert "optimizer.pt is not a regular file (a FIFO)" in r.json["findings"][0]["message"]


def test_fifo_dcp_storage_file_is_refused_before_torch_opens_it(tmp_path):
    import warnings

    import torch.distributed.checkpoint as dcp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # single-process save
        dcp.save({"model": {"w": torch.ones(4)}}, checkpoint_id=str(tmp_path / "dcp"))
    [storage] = (tmp_path / "dcp").glob("*.distcp")
    storage.unlink()
    os.mkfifo(storage)
    r = run_cli("inspect-ckpt", tmp_path / "dcp", "--format", "json", timeout=60)
    assert (
        r.code == 1
        and f"DCP storage file {storage.name} is not a regular file (a FIFO)" in r.json["findings"][0]["message"]
    )
