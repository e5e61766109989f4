"""Everything a user may copy from the text view pastes as exactly what it was: each command's text
view is rendered in a real pseudo-terminal at 80 and 120 columns, and piped, and every printed
command, path and diff line must sit whole on one line of the byte stream (a terminal soft-wraps a
long line, and copying joins it again; an inserted newline would split it for good)."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from nandoctor.layout import split_step

ROOT = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR")}
    env["TERM"] = "xterm-256color"
    return env


def in_pty(args: list, cols: int) -> tuple[int, list[str]]:
    """Run `nandoctor ARGS` with a terminal of `cols` columns on stdin/stdout/stderr; its lines."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
    p = subprocess.Popen(
        [sys.executable, "-m", "nandoctor", *map(str, args)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=ROOT,
        env=_env(),
        close_fds=True,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    code = p.wait(timeout=120)
    text = ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))
    return code, text.replace("\r\n", "\n").replace("\r", "").splitlines()


def piped(args: list) -> tuple[int, list[str]]:
    p = subprocess.run(
        [sys.executable, "-m", "nandoctor", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_env(),
        timeout=120,
    )
    return p.returncode, p.stdout.splitlines()


def pasteables(command: str, args: list) -> set[str]:
    """What the user may copy, from the engine's own Report: finding paths, the commands of its
    next steps and their backticked spans, the diff lines, the paths the summary names."""
    from nandoctor.ckpt.engine import inspect_ckpt
    from nandoctor.config.engine import diagnose_config
    from nandoctor.data.engine import check_data
    from nandoctor.logs.engine import analyze_log
    from nandoctor.triage.engine import triage

    target = Path(args[1])
    report = {
        "check-data": lambda: check_data(target),
        "inspect-ckpt": lambda: inspect_ckpt(target, stats=True),
        "analyze-log": lambda: analyze_log(target),
        "diagnose-config": lambda: diagnose_config(target, dry_run=True),
        "triage": lambda: triage(target, force=True),
    }[command]()
    out = {f.path for f in report.findings if f.path}
    for step in report.next_steps:
        out |= {text for kind, text in split_step(step) if kind == "code"}
        out |= set(re.findall(r"`[^`]+`", step))
    s = report.summary
    for key in ("recommended", "fixed_config", "output", "plot", "run_dir"):
        if isinstance(s.get(key), str):
            out.add(s[key])
    out |= {line for line in (s.get("diff") or "").splitlines() if line.strip()}
    return out


@pytest.fixture(scope="module")
def run_copy(tmp_path_factory, demo_run):
    d = tmp_path_factory.mktemp("paste") / "a run folder with a long name for wrapping" / "run"
    shutil.copytree(demo_run, d)
    return d


def _cases(run: Path) -> dict[str, list]:
    return {
        "check-data": ["check-data", run / "dataset"],
        "inspect-ckpt": ["inspect-ckpt", run / "weights", "--stats"],
        "analyze-log": ["analyze-log", run / "results.csv"],
        "diagnose-config": ["diagnose-config", run / "args.yaml", "--dry-run"],
        "triage": ["triage", run, "--force"],
    }


@pytest.mark.parametrize("command", ["check-data", "inspect-ckpt", "analyze-log", "diagnose-config", "triage"])
def test_every_command_path_and_diff_line_survives_copy_paste(run_copy, command):
    args = _cases(run_copy)[command]
    wanted = pasteables(command, args)
    assert wanted, "nothing to check: the command printed no path"
    views = {"piped": piped(args), "80 columns": in_pty(args, 80), "120 columns": in_pty(args, 120)}
    for name, (code, lines) in views.items():
        assert code in (0, 1), (name, lines[-5:])
        missing = sorted(w for w in wanted if not any(w in line for line in lines))
        assert not missing, (command, name, missing[:3])


@pytest.mark.parametrize("cols", [80, 120])
def test_next_step_commands_sit_alone_on_their_lines(run_copy, cols):
    """`yolo train cfg=...` is one line by itself, so pasting the line runs all of it; the repaired
    config it names loads the clean weights and trains into a new folder (Ultralytics takes `model`
    from the cfg file when the command line gives none)."""
    from shlex import quote

    import yaml

    _, lines = in_pty(["triage", run_copy, "--force"], cols)
    yolo = [line.strip() for line in lines if line.strip().startswith("yolo train")]
    fixed = run_copy / "args_fixed.yaml"
    assert yolo == [f"yolo train cfg={quote(str(fixed))}"]
    cfg = yaml.safe_load(fixed.read_text())
    weights = str(run_copy / "weights" / "epoch2.pt")
    assert cfg["model"] == weights and cfg["pretrained"] == weights
    assert Path(cfg["project"]) / cfg["name"] == run_copy.parent / "run_nandoctor" and cfg["exist_ok"] is False
    assert not (run_copy.parent / "run_nandoctor").exists() and cfg["resume"] is False and "save_dir" not in cfg
    prose = [line for line in lines if line.startswith("     ") and "/" not in line]
    assert prose and all(len(line) <= cols for line in prose)  # prose wraps (only a path may run past the edge)
    assert not [line for line in lines if line.startswith(("fp16", "warmup", "lr0"))]  # no wrapped line at column 0


def test_demo_and_explain_text_paste_whole(tmp_path):
    d = tmp_path / "demo run"
    code, lines = in_pty(["demo", d], 80)
    assert code == 0 and f"  nandoctor inspect-ckpt {d / 'weights'}" in lines
    code, lines = in_pty(["explain", "ND402"], 80)
    assert code == 0 and all(len(line) <= 80 for line in lines)
