"""check-data on hostile input: corrupt, truncated, empty, binary, malicious. Always a finding (exit 1) or
one line on stderr (exit 2); never a traceback, a hang, an executed payload, or a modified input."""

from __future__ import annotations

import builtins
import io
import json
import os
import pickle
import struct
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nandoctor.findings import NandoctorError
from tests.check_data_fixtures import tree_hash, write_dataset
from tests.conftest import run_cli

EXTS = [".txt", ".pt", ".pth", ".npy", ".npz", ".safetensors", ".jsonl", ".csv", ".yaml"]


def _ok(r) -> None:
    """The contract: exit 0/1 with a report, or exit 2 with one line; never a caught crash."""
    assert r.code in (0, 1, 2), (r.code, r.stderr)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    if r.code == 2:
        assert r.stderr.count("\n") == 1, r.stderr


def _blob(name: str, data: bytes, tmp_path: Path) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize("ext", EXTS)
def test_empty_file(cli, tmp_path, ext):
    _ok(cli("check-data", _blob(f"empty{ext}", b"", tmp_path)))


@pytest.mark.parametrize("ext", EXTS)
def test_random_bytes(cli, tmp_path, ext):
    data = np.random.default_rng(len(ext)).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    r = cli("check-data", _blob(f"junk{ext}", data, tmp_path), "--format", "json")
    _ok(r)
    if r.code == 1:
        assert {"ND100", "ND128", "ND104", "ND103"} & set(r.codes())


def test_ND100_binary_label_named_txt_via_subprocess(tmp_path):
    root = write_dataset(tmp_path / "ds", {"a": "0 0.5 0.5 0.2 0.2\n"}, ["x"])
    (root / "labels" / "train" / "a.txt").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" * 20)
    r = run_cli("check-data", root, "--format", "json")
    _ok(r)
    assert r.code == 1 and [(f["code"], Path(f["path"]).name) for f in r.json["findings"]] == [("ND100", "a.txt")]


def test_truncated_checkpoint_and_safetensors_headers(cli, tmp_path):
    full = tmp_path / "full.pt"
    torch.save({"x": torch.ones(1000)}, full)
    half = _blob("half.pt", full.read_bytes()[: full.stat().st_size // 2], tmp_path)
    huge = _blob("huge.safetensors", struct.pack("<Q", 1 << 60) + b"{}", tmp_path)
    header = json.dumps({"x": {"dtype": "F32", "shape": [1000], "data_offsets": [0, 4000]}}).encode()
    past = _blob("past.safetensors", struct.pack("<Q", len(header)) + header + b"\0" * 16, tmp_path)
    cut = _blob("cut.safetensors", struct.pack("<Q", 500) + b'{"x": {"dty', tmp_path)
    npy = _blob("bad.npy", b"\x93NUMPY\x01\x00\x20\x00{'descr': '<f4', 'shape': (", tmp_path)
    for p in (half, huge, past, cut, npy):
        r = cli("check-data", p, "--format", "json")
        _ok(r)
        assert r.code == 1 and r.codes() == ["ND100"], (p, r.stdout)


def test_jsonl_and_csv_junk(cli, tmp_path):
    deep = _blob("deep.jsonl", b'{"label": 1}\n' + b"[" * 200_000 + b"\n", tmp_path)
    r = cli("check-data", deep, "--num-classes", "2", "--format", "json")
    _ok(r)
    assert [(f["code"], f["line"]) for f in r.json["findings"]] == [("ND100", 2)]
    for data in (b"label\n", b"\x00\x01\x02\xff\xfe" * 100, b"a,b\n1,2\n"):
        _ok(cli("check-data", _blob("t.csv", data, tmp_path), "--num-classes", "2"))


@pytest.mark.parametrize("text", [b"\xff\xfe not utf8", b"names:\n\t- a\n", b"- a\n- b\n", b"",
                                  b'a: &a ["x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b]\n'
                                  b"d: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\nnames: [*d,*d,*d,*d,*d,*d,*d,*d]\n"])
def test_hostile_data_yaml(cli, tmp_path, text):
    root = write_dataset(tmp_path / "ds", {"a": "0 0.5 0.5 0.2 0.2\n"}, ["x"])
    (root / "data.yaml").write_bytes(text)
    for target in (root, root / "data.yaml"):
        _ok(cli("check-data", target))


def test_bom_crlf_trailing_spaces_unicode_path(cli, tmp_path):
    rows = "0 0.5 0.5 0.2 0.2   \r\n1 0.4 0.4 0.1 0.1\r\n"  # trailing spaces, CRLF
    root = write_dataset(tmp_path / "数据 set", {"ümlaut": rows}, ["a", "b"])
    r = cli("check-data", root, "--format", "json")
    _ok(r)
    assert r.code == 0 and r.json["summary"]["rows"] == 2
    (root / "labels" / "train" / "ümlaut.txt").write_bytes(b"\xef\xbb\xbf0 0.5 0.5 0.2 0.2\r\n")
    r = cli("check-data", root, "--format", "json")
    assert [(f["code"], f["line"]) for f in r.json["findings"]] == [("ND104", 1)]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything")
def test_permission_denied(cli, tmp_path):
    root = write_dataset(tmp_path / "ds", {"a": "0 0.5 0.5 0.2 0.2\n", "b": "0 0.5 0.5 0.2 0.2\n"}, ["x"])
    (root / "labels" / "train" / "a.txt").chmod(0)
    r = cli("check-data", root, "--format", "json")
    _ok(r)
    assert "ND100" in r.codes()


def test_symlink_loop_and_dangling_link(cli, tmp_path):
    root = write_dataset(tmp_path / "ds", {"a": "0 0.5 0.5 0.2 0.2\n"}, ["x"])
    (root / "labels" / "train" / "loop").symlink_to(root / "labels")
    (root / "labels" / "train" / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    r = cli("check-data", root, "--format", "json")
    _ok(r)
    assert [(f["code"], Path(f["path"]).name) for f in r.json["findings"] if f["severity"] == "error"] == [
        ("ND100", "gone.txt")]


# --- malicious pickles: each must be named, none may run --------------------------------------------

def _payloads(canary: Path) -> dict[str, object]:
    cmd = f"touch {canary}"

    class System:
        def __reduce__(self):
            return (os.system, (cmd,))

    class Popen:
        def __reduce__(self):
            return (subprocess.Popen, (["touch", str(canary)],))

    class Eval:
        def __reduce__(self):
            return (builtins.eval, (f"open({str(canary)!r}, 'w')",))

    class Exec:
        def __reduce__(self):
            return (builtins.exec, (f"open({str(canary)!r}, 'w')",))

    class Import:
        def __reduce__(self):
            return (builtins.__import__, ("os",))

    class GetattrChain:  # getattr(__import__("os"), "system")
        def __reduce__(self):
            return (builtins.getattr, (Import(), "system"))

    return {"os.system": System(), "subprocess.Popen": Popen(), "builtins.eval": Eval(),
            "builtins.exec": Exec(), "builtins.__import__": Import(), "builtins.getattr": GetattrChain()}


@pytest.mark.parametrize("container", ["torch_dict", "nested", "raw_pickle", "ultralytics", "zip_data_pkl"])
def test_ND128_malicious_pickles_named_never_run(cli, tmp_path, container):
    canary = tmp_path / "CANARY"
    for i, (name, payload) in enumerate(_payloads(canary).items()):
        p = tmp_path / f"evil{i}.pt"
        if container == "torch_dict":
            torch.save({"x": torch.zeros(2), "y": payload}, p)
        elif container == "nested":
            torch.save([torch.ones(1), (torch.ones(1), {"deep": [payload]})], p)
        elif container == "raw_pickle":
            p.write_bytes(pickle.dumps({"x": payload}, protocol=4))
        elif container == "ultralytics":  # the 8.4 key layout, the payload hidden in train_args
            torch.save({"epoch": 3, "best_fitness": 0.4, "model": None, "ema": {"model.0.conv.weight": torch.ones(2)},
                        "optimizer": None, "train_args": {"task": "detect", "callbacks": payload},
                        "version": "8.4.190"}, p)
        else:  # a zip that looks like a torch checkpoint, with the payload in data.pkl
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as z:
                z.writestr("archive/data.pkl", pickle.dumps({"w": payload}, protocol=2))
                z.writestr("archive/version", "3\n")
            p.write_bytes(buf.getvalue())
        r = cli("check-data", p, "--format", "json")
        _ok(r)
        bad = [f for f in r.json["findings"] if f["code"] == "ND128"]
        assert bad and name in bad[0]["message"], (name, container, r.stdout)
    assert not canary.exists()


def test_ND128_memo_bomb_ends_quickly(cli, tmp_path):
    # a "billion laughs" pickle: lists of lists via memo references
    body = b"\x80\x02]q\x00" + b"".join(b"(h%c" % i + b"h%c" % i * 8 + b"lq%c" % (i + 1) for i in range(60))
    p = _blob("bomb.pt", body + b".", tmp_path)
    r = run_cli("check-data", p, timeout=60)
    _ok(r)


def test_inputs_are_never_modified(cli, demo_run):
    before = tree_hash(demo_run)
    for target in (demo_run / "dataset", demo_run / "dataset" / "data.yaml", demo_run / "weights" / "best.pt"):
        _ok(cli("check-data", target))
    assert tree_hash(demo_run) == before


# --- property tests: arbitrary input raises nothing but NandoctorError ------------------------------

@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=600))
def test_label_parser_takes_any_bytes(tmp_path, data):
    from nandoctor.data import yolo

    f = tmp_path / "x.txt"
    f.write_bytes(data)
    for spec in (yolo.Spec(nc=3), yolo.Spec(task="pose", kpt=(2, 3)), yolo.Spec(task="obb")):
        scan = yolo.scan_files([str(f)], spec)
        assert all(isinstance(h[4], (int, type(None))) for h in scan.hits)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400), ext=st.sampled_from([".jsonl", ".csv", ".safetensors", ".npy", ".yaml"]))
def test_table_and_tensor_readers_take_any_bytes(tmp_path, data, ext):
    from nandoctor.data.engine import check_data

    f = tmp_path / f"x{ext}"
    f.write_bytes(data)
    try:
        check_data(f, num_classes=3)
    except NandoctorError:
        pass


def test_fifo_and_device_links_never_hang(cli, tmp_path):
    root = write_dataset(tmp_path / "ds", {"a": "0 0.5 0.5 0.2 0.2\n"}, ["x"])
    os.mkfifo(root / "labels" / "train" / "pipe.txt")
    (root / "labels" / "train" / "zero.txt").symlink_to("/dev/zero")
    r = run_cli("check-data", root, "--format", "json", timeout=60)
    _ok(r)
    assert sorted(Path(f["path"]).name for f in r.json["findings"] if f["code"] == "ND100") == ["pipe.txt", "zero.txt"]
    r = run_cli("check-data", root / "labels" / "train" / "pipe.txt", timeout=60)
    assert r.code == 2 and "not a regular file" in r.stderr


def test_huge_jsonl_line_is_skipped_not_loaded(tmp_path):
    from nandoctor.data.engine import check_data

    f = tmp_path / "t.jsonl"
    f.write_bytes(b'{"label": 1}\n{"label": "' + b"x" * (3 << 20) + b'"}\n{"label": 9}\n')
    rep = check_data(f, num_classes=3)
    assert [(x.code, x.line) for x in rep.findings] == [("ND100", 2), ("ND121", 3)]
