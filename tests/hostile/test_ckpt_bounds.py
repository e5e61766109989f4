"""Hostile checkpoints with a bound: each runs the real CLI in a subprocess and measures its peak memory
(RUSAGE_CHILDREN of a fresh parent whose only child is the CLI) and wall time, then asserts the exit
code and the one-line reason. Every input is generated here, small on disk.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest

from tests.hostile.test_ckpt import _safetensors

torch = pytest.importorskip("torch")

MAX_RSS_KB = 512 * 1024
MAX_SECONDS = 20.0

_MEASURE = """
import json, resource, subprocess, sys, time
t = time.monotonic()
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"code": p.returncode, "out": p.stdout, "err": p.stderr, "s": time.monotonic() - t,
                  "rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def bounded(*args) -> dict:
    """`nandoctor ARGS --format json` in a subprocess: its exit code, JSON, stderr, peak RSS and time."""
    p = subprocess.run(
        [sys.executable, "-c", _MEASURE, sys.executable, "-m", "nandoctor", *map(str, args), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    r = json.loads(p.stdout)
    assert r["rss"] < MAX_RSS_KB, f"peak RSS {r['rss'] // 1024} MiB"
    assert r["s"] < MAX_SECONDS, f"took {r['s']:.1f} s"
    assert "Traceback" not in r["err"]
    r["json"] = json.loads(r["out"]) if r["out"].strip() else None
    return r


def rewrite_zip(src: Path, dst: Path, members: dict) -> None:
    """Copy a torch zip, replacing members by name suffix with bytes or a (size, compress) of zeros."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            new = next((v for k, v in members.items() if info.filename.endswith(k)), None)
            if isinstance(new, tuple):  # (bytes of zeros, deflated), streamed: never held in memory
                size, _ = new
                with zout.open(zipfile.ZipInfo(info.filename), "w", force_zip64=True) as out:
                    out._compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
                    out._zinfo.compress_type = zipfile.ZIP_DEFLATED
                    block = bytes(1 << 20)
                    for _ in range(size >> 20):
                        out.write(block)
            else:
                zout.writestr(info.filename, zin.read(info) if new is None else new)


def test_compressed_storages_are_capped_in_total_per_file(tmp_path):
    """8 compressed storages of 80 MiB each: every one under the per-member cap, 640 MiB in all."""
    torch.save({f"w{i}": torch.zeros(12345) for i in range(8)}, tmp_path / "src.pt")
    with zipfile.ZipFile(tmp_path / "src.pt") as z:
        pkl = next(n for n in z.namelist() if n.endswith("data.pkl"))
        data = z.read(pkl)
    big = 80 << 20
    data = data.replace(b"M90", b"J" + (big // 4).to_bytes(4, "little"))  # BININT2 12345 -> 20,971,520
    rewrite_zip(
        tmp_path / "src.pt", tmp_path / "bomb.pt", {"data.pkl": data, **{f"data/{i}": (big, True) for i in range(8)}}
    )
    assert (tmp_path / "bomb.pt").stat().st_size < 4 << 20
    r = bounded("inspect-ckpt", tmp_path / "bomb.pt")
    assert r["code"] == 1
    [f] = r["json"]["findings"]
    assert f["code"] == "ND200" and "compressed storages inflate to more than" in f["message"]
    assert r["json"]["summary"]["checkpoints"][0]["status"] == "unreadable"


def test_views_are_read_through_their_strides_and_judged_on_their_storage(tmp_path):
    n = 1 << 22
    base = torch.randn(n)
    base[123_456] = float("nan")
    torch.save(
        {
            "overlap": base.as_strided((60, n - 60), (1, 1)),  # 60x its storage, overlapping
            "expanded": base.expand(64, n),  # 64x its storage through a stride-0 dimension
            "transposed": torch.randn(1024, 1024).t(),
            "gappy": torch.randn(1024, 1024)[:, :100],
        },
        tmp_path / "views.pt",
    )
    r = bounded("inspect-ckpt", tmp_path / "views.pt")
    assert r["code"] == 1
    assert sorted(r["json"]["summary"]["checkpoints"][0]["nonfinite_tensors"]) == ["expanded", "overlap"]
    msgs = sorted(f["message"] for f in r["json"]["findings"] if f["code"] == "ND201")
    assert msgs[0].startswith("1 NaN values in expanded") and msgs[1].startswith("1 NaN values in overlap")


def test_stride_zero_view_of_2_to_the_32_elements(tmp_path):
    torch.save({"big": torch.zeros(1).expand(1 << 32), "w": torch.ones(3)}, tmp_path / "e.pt")
    r = bounded("inspect-ckpt", tmp_path / "e.pt")
    assert r["code"] == 0 and [f["code"] for f in r["json"]["findings"]] == ["ND213"]


def test_tensor_name_with_state_repeated_80k_times(tmp_path):
    name = "opt" + ".state" * 80_000 + ".exp_avg_sq"
    torch.save({"optimizer": {name: -torch.ones(2)}, "model": {"w": torch.ones(2)}}, tmp_path / "n.pt")
    r = bounded("inspect-ckpt", tmp_path / "n.pt")
    [f] = r["json"]["findings"]
    assert r["code"] == 1 and f["code"] == "ND204"


def test_tensor_under_1_9_million_nested_lists(tmp_path):
    torch.save(torch.ones(3), tmp_path / "src.pt")
    with zipfile.ZipFile(tmp_path / "src.pt") as z:
        ops = z.read(next(n for n in z.namelist() if n.endswith("data.pkl")))
    depth = 1_900_000
    assert ops[:2] == b"\x80\x02" and ops[-1:] == b"."
    rewrite_zip(
        tmp_path / "src.pt",
        tmp_path / "deep.pt",
        {"data.pkl": b"\x80\x02" + b"]" * depth + ops[2:-1] + b"a" * depth + b"."},
    )
    r = bounded("inspect-ckpt", tmp_path / "deep.pt")
    assert r["code"] == 0
    [c] = r["json"]["summary"]["checkpoints"]
    assert c["status"] == "clean" and c["tensors"] == 1


def test_folder_of_120k_empty_pt_files_ends_at_once(tmp_path):
    d = tmp_path / "many"
    d.mkdir()
    for i in range(120_000):
        (d / f"{i}.pt").touch()
    r = bounded("inspect-ckpt", d)
    assert r["code"] == 2 and "more than 100,000 files" in r["err"] and r["err"].count("\n") == 1


def test_39_mb_trainer_state_is_not_a_pickle_bomb(tmp_path):
    from safetensors.torch import save_file

    d = tmp_path / "checkpoint-400000"
    d.mkdir()
    save_file({"w": torch.randn(16, 16)}, d / "model.safetensors")
    history = [
        {"epoch": i / 1e5, "grad_norm": 0.5, "learning_rate": 1e-4, "loss": 0.69, "step": i} for i in range(1, 400_001)
    ]
    (d / "trainer_state.json").write_text(json.dumps({"global_step": 400_000, "epoch": 4.0, "log_history": history}))
    assert (d / "trainer_state.json").stat().st_size > 35 << 20
    r = bounded("inspect-ckpt", d)
    assert r["code"] == 0 and r["json"]["summary"]["checkpoints"][0]["status"] == "clean"
    assert r["json"]["findings"] == []


@pytest.mark.parametrize(
    "blob,reason",
    [
        (
            _safetensors(
                {
                    "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                    "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
                },
                b"\0" * 12,
            ),
            "overlaps",
        ),
        (
            _safetensors(
                {
                    "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                    "b": {"dtype": "F32", "shape": [2], "data_offsets": [12, 20]},
                },
                b"\0" * 20,
            ),
            "hole of 4 bytes",
        ),
        (_safetensors({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 8), "after the last"),
        (
            _safetensors(
                {"__metadata__": {"format": 1}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4
            ),
            "strings to strings",
        ),
        (b"", "twice"),
    ],
)
def test_safetensors_the_real_loader_refuses_are_unreadable_never_recommended(tmp_path, blob, reason):
    from safetensors.torch import save_file

    if not blob:  # duplicate keys: json.dumps cannot write them
        raw = (
            b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, '
            b'"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}'
        )
        blob = len(raw).to_bytes(8, "little") + raw + b"\0" * 4
    (tmp_path / "model-epoch9.safetensors").write_bytes(blob)
    save_file({"a": torch.ones(2)}, tmp_path / "model-epoch1.safetensors")
    r = bounded("inspect-ckpt", tmp_path)
    rows = {Path(c["path"]).name: c["status"] for c in r["json"]["summary"]["checkpoints"]}
    assert rows == {"model-epoch9.safetensors": "unreadable", "model-epoch1.safetensors": "clean"}
    [f] = r["json"]["findings"]
    assert f["code"] == "ND200" and reason in f["message"] and "\n" not in f["message"]
    assert Path(r["json"]["summary"]["recommended"]).name == "model-epoch1.safetensors"


def test_torch_zip_that_torch_refuses_is_unreadable(tmp_path):
    torch.save({"w": torch.ones(2)}, tmp_path / "src.pt")
    with zipfile.ZipFile(tmp_path / "src.pt") as zin, zipfile.ZipFile(tmp_path / "nover.pt", "w") as zout:
        for info in zin.infolist():
            if not info.filename.endswith("/version"):
                zout.writestr(info.filename, zin.read(info))
    with pytest.raises(RuntimeError):
        torch.load(tmp_path / "nover.pt", weights_only=True)
    r = bounded("inspect-ckpt", tmp_path / "nover.pt")
    [f] = r["json"]["findings"]
    assert r["code"] == 1 and f["code"] == "ND200" and "version record" in f["message"]


def test_pt_without_tensors_says_so(tmp_path):
    torch.save({"epoch": 1}, tmp_path / "e.pt")
    r = bounded("inspect-ckpt", tmp_path / "e.pt")
    [f] = r["json"]["findings"]
    assert r["code"] == 0 and f["code"] == "ND214" and f["severity"] == "warning" and "no tensors" in f["message"]
    assert r["json"]["summary"]["recommended"] is None


def test_file_truncated_while_being_scanned_is_changed_while_reading(tmp_path):
    """Was SIGBUS through a memmap: now a short read, a clear one-line error."""
    from nandoctor.ckpt import readers, scan, walk

    for name, tensor in (("contiguous", torch.randn(1 << 20)), ("gappy", torch.randn(1024, 1024)[:, :100])):
        path = tmp_path / f"{name}.pt"
        torch.save({"w": tensor}, path)
        [n] = walk.flatten(readers.read_any(path).obj)
        os.truncate(path, path.stat().st_size // 2)
        with pytest.raises(ValueError, match="changed while reading"):
            scan.scan(n.ref)


def test_per_file_errors_stay_per_file_in_a_folder(tmp_path):
    torch.save({"model": {"w": torch.ones(3)}, "epoch": 10**5000}, tmp_path / "huge_epoch.pt")
    (tmp_path / "broken.pt").write_bytes(io.BytesIO(b"PK\x03\x04 not really").getvalue())
    torch.save({"model": {"w": torch.ones(3)}, "epoch": 2}, tmp_path / "epoch2.pt")
    r = bounded("inspect-ckpt", tmp_path)
    rows = {Path(c["path"]).name: c["status"] for c in r["json"]["summary"]["checkpoints"]}
    assert rows == {"huge_epoch.pt": "clean", "broken.pt": "unreadable", "epoch2.pt": "clean"}
    assert r["code"] == 1 and [f["code"] for f in r["json"]["findings"]] == ["ND200"]


def test_inflate_budget_is_shared_by_every_file_of_a_run(tmp_path, monkeypatch):
    """The per-run total (2 GiB) is too costly to build here: shrink it and check the accounting."""
    from nandoctor.ckpt import tensors
    from nandoctor.ckpt.engine import inspect_ckpt

    torch.save({"w": torch.zeros(12345)}, tmp_path / "src.pt")
    for name in ("epoch1.pt", "epoch2.pt", "epoch3.pt"):
        rewrite_zip(tmp_path / "src.pt", tmp_path / name, {"data/0": (1 << 20, True)})
    (tmp_path / "src.pt").unlink()
    monkeypatch.setattr(tensors, "MAX_INFLATE_RUN", (5 << 20) // 2)  # room for two 1 MiB members
    r = inspect_ckpt(tmp_path)
    rows = {Path(c["path"]).name: c["status"] for c in r.summary["checkpoints"]}
    assert rows == {"epoch1.pt": "clean", "epoch2.pt": "clean", "epoch3.pt": "unreadable"}
    [f] = r.findings
    assert "compressed storages of this run inflate to more than" in f.message
    r = inspect_ckpt(tmp_path / "epoch3.pt")  # a new run, a new budget
    assert r.summary["checkpoints"][0]["status"] == "clean"
