"""Writes never land on an input, a device, a FIFO or a directory (`--force` or not), are atomic,
and get the mode the umask gives."""

from __future__ import annotations

import os
import stat

import pytest

from nandoctor.findings import NandoctorError
from nandoctor.safe_write import write_atomic
from tests.conftest import run_cli

pytest.importorskip("matplotlib")


def test_plot_over_the_log_itself_is_refused_even_with_force(demo_run, tmp_path):
    log = tmp_path / "results.csv"
    log.write_bytes((demo_run / "results.csv").read_bytes())
    before = log.read_bytes()
    r = run_cli("analyze-log", log, "--plot", log, "--force")
    assert r.code == 2 and "input" in r.stderr and r.stderr.count("\n") == 1
    assert log.read_bytes() == before
    link = tmp_path / "loss.png"
    link.symlink_to(log)  # through a symlink: still the input
    assert run_cli("analyze-log", log, "--plot", link, "--force").code == 2 and log.read_bytes() == before
    hard = tmp_path / "hard.png"
    os.link(log, hard)  # a hard link is the same file
    assert run_cli("analyze-log", log, "--plot", hard, "--force").code == 2 and log.read_bytes() == before


def test_plot_into_a_run_folder_input_is_refused(demo_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(demo_run, run)
    before = (run / "results.csv").read_bytes()
    r = run_cli("analyze-log", run, "--plot", run / "results.csv", "--force")  # the log found inside the folder
    assert r.code == 2 and (run / "results.csv").read_bytes() == before


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_never_writes_over_a_fifo_a_directory_or_a_device(demo_run, tmp_path, kind):
    target = tmp_path / "target"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "directory":
        target.mkdir()
    else:
        target = tmp_path / "null-link"
        target.symlink_to("/dev/null")
    r = run_cli("analyze-log", demo_run / "results.csv", "--plot", target, "--force", timeout=60)
    assert r.code == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    mode = os.lstat(target).st_mode
    assert {"fifo": stat.S_ISFIFO, "directory": stat.S_ISDIR, "device": stat.S_ISLNK}[kind](mode)
    with pytest.raises(NandoctorError):
        write_atomic("/dev/null", b"x", force=True)


def test_plot_says_where_it_wrote_and_honours_the_umask(demo_run, tmp_path):
    out = tmp_path / "loss.png"
    old = os.umask(0o022)
    try:
        r = run_cli("analyze-log", demo_run / "results.csv", "--plot", out)
    finally:
        os.umask(old)
    assert r.code == 1 and f"wrote the plot to {out}" in r.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o644 and out.read_bytes()[:4] == b"\x89PNG"


def test_write_atomic_replaces_only_with_force_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "out.yaml"
    write_atomic(target, "a: 1\n")
    with pytest.raises(NandoctorError, match="--force"):
        write_atomic(target, "a: 2\n")
    inode = target.stat().st_ino
    write_atomic(target, "a: 2\n", force=True)
    assert target.read_text() == "a: 2\n" and target.stat().st_ino != inode
    assert [p.name for p in tmp_path.iterdir()] == ["out.yaml"]
    with pytest.raises(NandoctorError, match="input"):
        write_atomic(target, "a: 3\n", force=True, inputs=[tmp_path / "." / "out.yaml"])
