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
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nandoctor.findings import NandoctorError
from tests.check_data_fixtures import tree_hash, write_dataset
from tests.conftest import Result, run_cli

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


# What each extension gives, empty and as 4 KiB of random bytes: (exit code, [(code, severity, message
# start)] for exit 0/1, or the one stderr line's end for exit 2).
EMPTY = {  # given alone: nothing to check, except an empty YOLO label (a background image, as Ultralytics reads it)
    **{ext: (2, "empty file, nothing to check") for ext in EXTS},
    ".txt": (0, [("ND120", "info", "no class count"), ("ND113", "info", "empty label file: a background image")]),
}
RANDOM = {
    # one binary file given alone is the wrong kind of file (exit 2); inside a dataset it stays an ND100
    # finding about that file (test_ND100_binary_label_named_txt_via_subprocess)
    ".txt": (2, "junk.txt: binary content (NUL bytes) in a label file: not a label, JSONL/CSV or tensor file"),
    ".npy": (2, "junk.npy: not an .npy file (no \\x93NUMPY magic; np.load would try to unpickle it)"),
    ".npz": (2, "junk.npz: cannot open .npz: File is not a zip file"),
    ".safetensors": (
        2,
        "junk.safetensors: cannot open safetensors: Error while deserializing header: header too large",
    ),
    ".csv": (2, "no 'label' column (use --label-key)"),
    ".yaml": (
        2,
        "junk.yaml: cannot read data YAML: 'utf-8' codec can't decode byte 0xa8 in position 0: invalid start byte",
    ),
}


def _outcome(r, expected) -> None:
    code, what = expected
    assert r.code == code, (r.code, r.stdout, r.stderr)
    if code == 2:
        assert r.stderr.strip().endswith(what), r.stderr
    else:
        got = [(f["code"], f["severity"], f["message"]) for f in r.json["findings"]]
        assert len(got) == len(what) and all(
            g[:2] == w[:2] and g[2].startswith(w[2]) for g, w in zip(got, what, strict=True)
        ), got


@pytest.mark.parametrize("ext", EXTS)
def test_empty_file(cli, tmp_path, ext):
    r = cli("check-data", _blob(f"empty{ext}", b"", tmp_path), "--format", "json")
    _ok(r)
    _outcome(r, EMPTY[ext])


@pytest.mark.parametrize("ext", EXTS)
def test_random_bytes(cli, tmp_path, ext):
    data = np.random.default_rng(len(ext)).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    r = cli("check-data", _blob(f"junk{ext}", data, tmp_path), "--format", "json")
    _ok(r)
    if ext in RANDOM:
        _outcome(r, RANDOM[ext])
    elif ext == ".jsonl":  # every line that is not UTF-8 JSON, at its line
        lines = data.split(b"\n")
        bad = [i + 1 for i, line in enumerate(lines) if line.strip()]
        assert r.code == 1 and [(f["code"], f["line"]) for f in r.json["findings"][:-1]] == [("ND100", n) for n in bad]
        assert r.json["findings"][-1]["code"] == "ND120"
    else:  # .pt/.pth: garbage is the wrong kind of file for both commands, or (a pickle opcode first) one error;
        # whether "unreadable" or "refused pickle" is the pickle policy's
        assert r.code == cli("inspect-ckpt", tmp_path / f"junk{ext}").code, r.stderr
        assert (
            r.code == 2
            or r.code == 1
            and [(f["code"] in ("ND100", "ND128"), f["severity"]) for f in r.json["findings"]] == [(True, "error")]
        )


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


@pytest.mark.parametrize(
    "text",
    [
        b"\xff\xfe not utf8",
        b"names:\n\t- a\n",
        b"- a\n- b\n",
        b"",
        b'a: &a ["x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b]\n'
        b"d: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\nnames: [*d,*d,*d,*d,*d,*d,*d,*d]\n",
    ],
)
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
        ("ND100", "gone.txt")
    ]


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

    return {
        "os.system": System(),
        "subprocess.Popen": Popen(),
        "builtins.eval": Eval(),
        "builtins.exec": Exec(),
        "builtins.__import__": Import(),
        "builtins.getattr": GetattrChain(),
    }


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
            torch.save(
                {
                    "epoch": 3,
                    "best_fitness": 0.4,
                    "model": None,
                    "ema": {"model.0.conv.weight": torch.ones(2)},
                    "optimizer": None,
                    "train_args": {"task": "detect", "callbacks": payload},
                    "version": "8.4.190",
                },
                p,
            )
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


def test_ND100_binary_label_via_data_yaml_is_a_finding_not_the_wrong_kind_of_file(tmp_path):
    """data.yaml given as the path is one file, but its binary label is one finding about that label
    (it was "data.yaml: ... not a label, JSONL/CSV or tensor file", exit 2)."""
    root = write_dataset(tmp_path / "ds", {"a": "0 0.5 0.5 0.2 0.2\n", "b": "0 0.5 0.5 0.2 0.2\n"}, ["x"])
    (root / "labels" / "train" / "a.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 8)
    r = run_cli("check-data", root / "data.yaml", "--format", "json")
    _ok(r)
    assert r.code == 1 and [(f["code"], Path(f["path"]).name) for f in r.json["findings"]] == [("ND100", "a.txt")]


def test_fifo_and_device_tables_and_tensors_in_a_folder_never_hang(tmp_path):
    """A folder of tables and tensors (no YOLO labels) with a FIFO and a /dev/zero link among them:
    each named once, never opened; the real files are still checked."""
    os.mkfifo(tmp_path / "pipe.csv")
    (tmp_path / "zero.npy").symlink_to("/dev/zero")
    (tmp_path / "train.csv").write_text("path,label\na.jpg,1\nb.jpg,7\n")
    r = run_cli("check-data", tmp_path, "--num-classes", "3", "--format", "json", timeout=60)
    _ok(r)
    got = sorted((f["code"], Path(f["path"]).name, f["line"]) for f in r.json["findings"])
    assert r.code == 1 and got == [("ND100", "pipe.csv", None), ("ND100", "zero.npy", None), ("ND121", "train.csv", 3)]


def test_huge_jsonl_line_is_skipped_not_loaded(tmp_path):
    from nandoctor.data.engine import check_data

    f = tmp_path / "t.jsonl"
    f.write_bytes(b'{"label": 1}\n{"label": "' + b"x" * (3 << 20) + b'"}\n{"label": 9}\n')
    rep = check_data(f, num_classes=3)
    assert [(x.code, x.line) for x in rep.findings] == [("ND100", 2), ("ND121", 3)]


# --- memory and time bounds, measured on the real CLI in a subprocess ------------------------------

PEAK_MIB, CPU_S = 512, 20


# Measured from a small go-between process: a child's ru_maxrss starts at its parent's peak (Linux
# carries it across fork and exec), and the pytest process is large.
_MEASURE = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[2:])\n"
    "_, status, ru = os.wait4(p.pid, 0)\n"
    "with open(sys.argv[1], 'w') as f:\n"
    "    f.write(f'{os.waitstatus_to_exitcode(status)} {ru.ru_maxrss} {ru.ru_utime + ru.ru_stime}')\n"
)


def _measured(*args, timeout: float = 180) -> tuple[Result, float, float]:
    """Run the CLI in a fresh process; its exit code, peak RSS in MiB and CPU seconds. CPU time, not
    wall time, is bounded: the wall clock of a loaded machine says nothing about the work done (a
    hang is still caught by the timeout)."""
    with tempfile.TemporaryDirectory() as tmp:
        stats = Path(tmp) / "rusage"
        p = subprocess.Popen(
            [sys.executable, "-c", _MEASURE, str(stats), sys.executable, "-m", "nandoctor", *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)
            raise AssertionError(f"check-data {args} ran past {timeout} s") from None
        code, rss, cpu = stats.read_text().split()
    return Result(int(code), out, err), int(rss) / 1024, float(cpu)


def _bounded(*args) -> Result:
    r, peak, cpu = _measured(*args)
    _ok(r)
    assert peak < PEAK_MIB and cpu < CPU_S, (peak, cpu, r.stderr)
    return r


def _zip(path: Path, members: list[tuple[str, bytes, int, int, int]]) -> None:
    """A zip written field by field, as an attacker writes it: (name, deflated data, crc, inflated
    size, method). zipfile itself would spend a minute deflating gigabytes of zeros."""
    local, central, offset = [], [], 0
    for name, data, crc, size, method in members:
        n = name.encode()
        head = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(data), size, len(n), 0) + n
        central.append(
            struct.pack(
                "<4s6H3L5H2L",
                b"PK\x01\x02",
                20,
                20,
                0,
                method,
                0,
                0,
                crc,
                len(data),
                size,
                len(n),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + n
        )
        local.append(head + data)
        offset += len(head) + len(data)
    cd = b"".join(central)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(cd), offset, 0)
    path.write_bytes(b"".join(local) + cd + end)


def _zeros_npy(mib: int) -> tuple[bytes, int, int]:
    """An .npy of mib MiB of float32 zeros, deflated: (deflate stream, crc32, inflated size). Blocks
    ending in a full flush are self-contained, so one 64 MiB block is repeated."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": ((mib << 20) // 4,)})
    header, zeros = buf.getvalue(), bytes(64 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(header) + c.flush(zlib.Z_FULL_FLUSH)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(header)
    for _ in range(mib // 64):
        crc = zlib.crc32(zeros, crc)
    return head + block * (mib // 64) + b"\x03\x00", crc, len(header) + (mib << 20)


def test_npz_zip_bomb_is_refused_before_inflating(tmp_path):
    data, crc, size = _zeros_npy(896)
    bomb = tmp_path / "bomb.npz"
    _zip(bomb, [(f"a{i}.npy", data, crc, size, zipfile.ZIP_DEFLATED) for i in range(7)])
    assert bomb.stat().st_size < 8 << 20
    with zipfile.ZipFile(bomb) as z:  # a real bomb: zipfile reads it and would inflate 6.1 GiB of zeros
        assert sum(i.file_size for i in z.infolist()) > 6 << 30
        assert z.open("a0.npy").read(1 << 20)[-4:] == b"\0\0\0\0"
    r = _bounded("check-data", bomb, "--format", "json")
    assert r.code == 1
    assert [(f["code"], f["message"].split(":")[0]) for f in r.json["findings"]] == [
        ("ND100", f"its 7 members inflate to {7 * size:,} bytes, over the 2 GiB limit per file (a zip bomb?)")
    ]


def test_npz_members_that_are_not_npy_are_findings(tmp_path):
    good = io.BytesIO()
    np.save(good, np.array([1.0, np.nan], dtype=np.float32))
    p = tmp_path / "mixed.npz"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("notes.txt", "plain text, not an array")
        z.writestr("junk.npy", bytes(range(256)) * 4)
        z.writestr("obj.npy", pickle.dumps({"a": 1}, protocol=4))
        z.writestr("cut.npy", good.getvalue()[:-3])
        z.writestr("good.npy", good.getvalue())
    r = _bounded("check-data", p, "--format", "json")
    assert r.code == 1
    assert [(f["code"], f["where"], f["message"]) for f in r.json["findings"]] == [
        ("ND100", "notes.txt", "notes.txt: not an .npy array: no \\x93NUMPY magic"),
        ("ND100", "junk", "junk: not an .npy array: no \\x93NUMPY magic"),
        ("ND100", "obj", "obj: not an .npy array: a pickle"),
        ("ND100", "cut", "cut: header says 8 bytes of data, the file holds 5 (truncated or not an array)"),
        ("ND123", "good", "good: 1 NaN (first at [1]) of 2 values"),
    ]


def test_stride0_view_of_2_pow_32_elements_is_judged_on_its_stored_value(tmp_path):
    p = tmp_path / "wide.pt"
    torch.save({"x": torch.full((1,), float("nan")).expand(2**32)}, p)
    assert p.stat().st_size < 4096
    r = _bounded("check-data", p, "--format", "json")
    assert r.code == 1
    assert [(f["code"], f["message"]) for f in r.json["findings"]] == [
        ("ND123", "x: 1 NaN (first at [0]) of 1 stored values")
    ]
    judged = r.json["summary"]["tensors"]["x"]["judged"]
    assert judged == "judged on the 1 stored values its 4,294,967,296 elements read"


def test_overlapping_view_64x_its_storage_is_never_materialised(tmp_path):
    base = torch.zeros(1 << 20)
    base[5] = float("inf")
    col = torch.zeros(1 << 20, 1)
    col[9, 0] = float("nan")
    p = tmp_path / "strided.pt"
    torch.save(
        {
            "v": base.as_strided((8192, 8192), (1, 127)),  # 64 Mi elements over 1 Mi stored floats
            "t": col.expand(1 << 20, 64).t(),
        },
        p,
    )  # a transposed expand: 64x its storage
    r = _bounded("check-data", p, "--format", "json")
    assert r.code == 1
    assert [(f["code"], f["message"]) for f in r.json["findings"]] == [
        ("ND123", "v: 1 Inf (first at [5, 0]) of 1048449 stored values"),
        ("ND123", "t: 1 NaN (first at [0, 9]) of 1048576 stored values"),
    ]
    assert r.json["summary"]["tensors"]["t"]["shape"] == [64, 1 << 20]


def test_folder_of_empty_pt_files_is_one_finding_each_listed_capped(tmp_path):
    d = tmp_path / "many"  # 20,000 here (200,000 measured by hand: 4 s CPU, 184 MiB)
    d.mkdir()
    for i in range(20_000):
        (d / f"{i:06d}.pt").touch()
    r = _bounded("check-data", d, "--format", "json")
    assert r.code == 1 and r.json["summary"]["by_code"] == {"ND100": 20_000}
    assert len(r.json["findings"]) == 1000 and r.json["summary"]["findings_not_listed"] == {"ND100": 19_000}
    assert r.json["findings"][0]["message"] == "empty file (0 bytes): no tensors to check"


def test_transposed_view_is_read_through_its_strides(tmp_path):
    m = torch.randn(2048, 4096)
    m[3, 7] = float("nan")
    p = tmp_path / "t.pt"
    torch.save({"t": m.t()}, p)  # a view: torch.save keeps the strides
    r = _bounded("check-data", p, "--format", "json")
    assert [(f["code"], f["message"]) for f in r.json["findings"]] == [
        ("ND123", "t: 1 NaN (first at [7, 3]) of 8388608 values")
    ]
    assert "judged" not in r.json["summary"]["tensors"]["t"]


def test_huge_integer_labels_are_findings_at_their_line(tmp_path):
    nines = "9" * 5000
    p = _blob(
        "big.jsonl",
        f'{{"label": 1}}\n{{"label": {10**23}}}\n{{"label": {nines}}}\n{{"label": 2, "note": {nines}}}\n'.encode(),
        tmp_path,
    )
    r = _bounded("check-data", p, "--num-classes", "3", "--format", "json")
    assert r.code == 1
    assert [(f["code"], f["line"], f["message"].split(":")[0]) for f in r.json["findings"]] == [
        ("ND121", 2, "label is an integer of 24 digits"),
        ("ND121", 3, "label is an integer of 5000 digits"),
    ]
    assert r.json["summary"]["rows"] == 2
    csv = _blob("big.csv", f"label\n1\n{10**23}\n{nines}\n".encode(), tmp_path)
    r = _bounded("check-data", csv, "--num-classes", "3", "--format", "json")
    assert [(f["code"], f["line"]) for f in r.json["findings"]] == [("ND121", 3), ("ND121", 4)]


def test_huge_integer_in_a_config_is_one_line_exit_2(tmp_path):
    root = write_dataset(tmp_path / "ds", {"a": "0 0.5 0.5 0.2 0.2\n"}, ["x"])
    cfg = _blob(
        "cfg.yaml", b"datasets:\n  dataset_configs:\n    a:\n      num_classes: " + b"9" * 5000 + b"\n", tmp_path
    )
    r = _bounded("check-data", root, "--config", cfg, "--dataset", "a")
    assert r.code == 2 and "cannot read config: Exceeds the limit (4300 digits)" in r.stderr


def test_one_hostile_file_is_one_finding_the_folder_is_still_judged(tmp_path):
    d = tmp_path / "tensors"
    d.mkdir()
    data, crc, size = _zeros_npy(2304)  # one member over the per-file limit
    _zip(d / "b_bomb.npz", [("a.npy", data, crc, size, zipfile.ZIP_DEFLATED)])
    torch.save({"x": torch.full((1,), float("nan")).expand(2**32)}, d / "c_wide.pt")
    np.save(d / "a_ok.npy", np.arange(10, dtype=np.float32))
    np.save(d / "d_nan.npy", np.array([0.0, np.inf], dtype=np.float32))
    (d / "e_text.npy").write_text("not an array")
    r = _bounded("check-data", d, "--format", "json")
    assert r.code == 1
    assert [(Path(f["path"]).name, f["code"]) for f in r.json["findings"]] == [
        ("b_bomb.npz", "ND100"),
        ("c_wide.pt", "ND123"),
        ("d_nan.npy", "ND123"),
        ("e_text.npy", "ND100"),
    ]
    assert (
        r.json["summary"]["files_scanned"] == 5 and r.json["summary"]["tensors"][f"{d / 'a_ok.npy'}:a_ok"]["max"] == 9
    )


def test_inflate_budget_is_per_run_not_per_file(tmp_path, monkeypatch):
    from nandoctor.data import engine, tensors

    for i in range(3):
        np.savez_compressed(tmp_path / f"p{i}.npz", x=np.ones(1 << 18, dtype=np.float32))  # 1 MiB each inflated
    with zipfile.ZipFile(tmp_path / "p0.npz") as z:
        inflated = z.getinfo("x.npy").file_size
    monkeypatch.setattr(tensors, "MAX_INFLATE_RUN", inflated * 5 // 2)  # room for two files of the three
    rep = engine.check_data(tmp_path)
    errors = [(Path(f.path).name, f.code, f.message) for f in rep.findings if f.severity.value == "error"]
    why = (
        f"its 1 members inflate to {inflated:,} bytes, over what is left of the "
        f"{inflated * 5 / 2 / 2**20:g} MiB limit per run: not read"
    )
    assert errors == [("p2.npz", "ND100", why)]
    assert len(rep.summary["tensors"]) == 2


def test_compressed_pt_members_are_capped_before_torch_load(tmp_path, monkeypatch):
    from nandoctor.data import engine, tensors

    plain = tmp_path / "plain.pt"
    torch.save({"x": torch.ones(1 << 18)}, plain)
    packed = tmp_path / "packed.pt"
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    monkeypatch.setattr(tensors, "MAX_PT_INFLATE", 1 << 19)
    rep = engine.check_data(packed)
    with zipfile.ZipFile(packed) as z:
        inflated = sum(i.file_size for i in z.infolist())
    assert [(f.code, f.message) for f in rep.findings] == [
        (
            "ND100",
            (
                f"compressed zip members inflate to {inflated:,} bytes, over the 0.5 MiB limit (torch.save "
                "never compresses them; a zip bomb?): not loaded"
            ),
        )
    ]
