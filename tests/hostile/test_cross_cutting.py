"""Every command against one directory of corrupt and malicious files, as a new user would try it.

Per file and per command: an exit code of the contract, never a crash surfaced as an "internal error",
never a hang (a per-call alarm), the input tree byte-identical afterwards, no canary. Then the
writes: atomic (a new inode, no temp files left), never over an existing file without --force,
never through a symlink; permission-denied inputs, symlink loops, unicode paths, BOM/CRLF labels.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import re
import shutil
import signal
import struct
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.triage_runs import tree_hash

COMMANDS = ["check-data", "inspect-ckpt", "analyze-log", "diagnose-config", "triage"]
EXTENSIONS = [
    ".pt",
    ".pth",
    ".ckpt",
    ".safetensors",
    ".bin",
    ".npz",
    ".npy",
    ".pkl",
    ".csv",
    ".json",
    ".jsonl",
    ".yaml",
    ".yml",
    ".txt",
    ".log",
]
PER_CALL_SECONDS = 30  # a parser that loops fails the test instead of hanging CI


class CanaryPayload:
    """Would create the canary if any command ever executed the pickle."""

    def __init__(self, canary: Path):
        self.canary = canary

    def __reduce__(self):
        return (os.system, (f"touch {self.canary}",))


def _safetensors(header: dict, data: bytes = b"", claim: int | None = None) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if claim is None else claim) + raw + data


def build_corpus(root: Path, canary: Path) -> None:
    """The hostile directory: one file per way a file can be broken or malicious."""
    import numpy as np
    import torch

    rnd = random.Random(8)
    root.mkdir(parents=True)
    for ext in EXTENSIONS:
        (root / f"empty{ext}").write_bytes(b"")
        (root / f"random{ext}").write_bytes(bytes(rnd.randrange(256) for _ in range(4096)))
    buf = root / "whole.pt"
    torch.save({"model": {"w": torch.ones(64, 64)}, "epoch": 3}, buf)
    (root / "truncated.pt").write_bytes(buf.read_bytes()[: buf.stat().st_size // 2])
    buf.unlink()
    np.save(root / "ok.npy", np.ones(4))
    (root / "broken_header.npy").write_bytes((root / "ok.npy").read_bytes()[:12] + b"{'descr': '<f8', 'shape': (")
    (root / "ok.npy").unlink()
    (root / "huge_claim.safetensors").write_bytes(
        _safetensors({"w": {"dtype": "F32", "shape": [2**30, 2**30], "data_offsets": [0, 2**60]}})
    )
    (root / "past_end.safetensors").write_bytes(
        _safetensors({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8)
    )
    (root / "header_len_2p60.safetensors").write_bytes(_safetensors({}, claim=2**60))
    (root / "junk.csv").write_bytes(b",".join(bytes(rnd.randrange(256) for _ in range(9)) for _ in range(500)))
    (root / "header_only.csv").write_text("epoch,train/box_loss,train/cls_loss\n")
    (root / "no_numeric.csv").write_text("name,comment\nfoo,bar\nbaz,qux\n")
    (root / "malformed.json").write_text('{"log_history": [{"loss": 1.0, "step":')
    (root / "wrong_shape.json").write_text("[1, 2, 3]")
    (root / "hf").mkdir()
    (root / "hf" / "trainer_state.json").write_text(json.dumps({"log_history": "not a list", "global_step": "x"}))
    (root / "not_utf8.yaml").write_bytes(b"lr0: 0.01\nname: \xff\xfe\xfa\n")
    (root / "tabs.yaml").write_text("lr0:\t0.01\n\tamp: true\n")
    (root / "list.yaml").write_text("- lr0\n- 0.01\n")
    (root / "alias_bomb.yaml").write_text(
        'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
        + "".join(f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))
    )
    labels = root / "labels"
    labels.mkdir()
    (labels / "bom.txt").write_bytes(b"\xef\xbb\xbf0 0.5 0.5 0.2 0.2\n")
    (labels / "crlf.txt").write_bytes(b"0 0.5 0.5 0.2 0.2\r\n1 0.3 0.3 0.1 0.1\r\n")
    (labels / "trailing_spaces.txt").write_text("0 0.5 0.5 0.2 0.2   \n")
    (labels / "标签_ünïcode.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (labels / "binary.txt").write_bytes(bytes(rnd.randrange(256) for _ in range(2048)))
    (root / "self_loop").symlink_to(root / "self_loop")
    (root / "sub").mkdir()
    (root / "sub" / "back_to_root").symlink_to(root, target_is_directory=True)
    (root / "dangling.pt").symlink_to(root / "does_not_exist.pt")
    (root / "evil.pkl").write_bytes(pickle.dumps({"state_dict": {}, "x": CanaryPayload(canary)}, protocol=2))
    torch.save({"model": {"w": torch.zeros(2)}, "epoch": 1, "cb": CanaryPayload(canary)}, root / "evil.pt")
    torch.save({"w": torch.zeros(2), "epoch": 0, "x": CanaryPayload(canary)}, root / "weights_evil.ckpt")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    canary = base / "CANARY"
    build_corpus(base / "corpus", canary)
    return base / "corpus", canary


@contextmanager
def time_bound(seconds: int, what: str):
    def alarm(signum, frame):
        raise TimeoutError(f"{what} ran past {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _is_output(rel: str) -> bool:
    return Path(rel).stem.endswith("_fixed")


def _call_and_check(cli, root: Path, canary: Path, *args) -> object:
    """Run one command, then prove the contract and that the inputs are untouched."""
    before = tree_hash(root)
    with time_bound(PER_CALL_SECONDS, " ".join(map(str, args))):
        r = cli(*args, "--format", "json")
    after = tree_hash(root)
    created = set(after) - set(before)
    assert {k: after.get(k) for k in before} == before, f"{args}: an input changed"
    assert all(_is_output(c) for c in created), f"{args}: unexpected new files {created}"
    for c in created:  # outputs are not inputs: keep the corpus identical for the next call
        (root / c).unlink()
    assert not canary.exists(), f"{args}: a pickle payload ran"
    assert r.code in (0, 1, 2), (args, r.code)
    if r.code == 2:
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("nandoctor: error:"), (args, r.stderr)
        assert "internal error" not in r.stderr, (args, r.stderr)  # the catch-all for engine bugs
    else:
        json.loads(r.stdout)  # stdout is exactly the envelope
    return r


def _corpus_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink() if "back_to_root" not in p.parts)


@pytest.mark.parametrize("command", COMMANDS[:4])
def test_every_command_on_every_hostile_file(cli, corpus, command):
    root, canary = corpus
    for path in _corpus_files(root):
        _call_and_check(cli, root, canary, command, path)


def test_triage_on_every_hostile_folder(cli, corpus):
    root, canary = corpus
    for folder in [root, root / "hf", root / "labels", root / "sub", root / "sub" / "back_to_root", root / "self_loop"]:
        _call_and_check(cli, root, canary, "triage", folder)


BROKEN_FOR = {  # inputs each command must never pass (exit 0) as if they were fine
    "inspect-ckpt": [
        f"{kind}{ext}"
        for kind in ("empty", "random")
        for ext in (".pt", ".pth", ".ckpt", ".safetensors", ".bin", ".npz", ".pkl")
    ]
    + [
        "truncated.pt",
        "huge_claim.safetensors",
        "past_end.safetensors",
        "header_len_2p60.safetensors",
        "evil.pt",
        "evil.pkl",
        "weights_evil.ckpt",
        "dangling.pt",
        "self_loop",
    ],
    "analyze-log": [
        "junk.csv",
        "header_only.csv",
        "no_numeric.csv",
        "malformed.json",
        "wrong_shape.json",
        "random.csv",
        "empty.csv",
        "random.log",
        "empty.log",
        "hf",
    ],
    "diagnose-config": [
        "not_utf8.yaml",
        "tabs.yaml",
        "list.yaml",
        "random.yaml",
        "random.yml",
        "malformed.json",
        "wrong_shape.json",
        "alias_bomb.yaml",
    ],
    "check-data": ["labels/binary.txt", "random.txt", "random.jsonl", "random.npy", "broken_header.npy"],
}


@pytest.mark.parametrize("command", list(BROKEN_FOR))
def test_clearly_broken_inputs_never_pass(cli, corpus, command):
    root, canary = corpus
    passed = [
        name for name in BROKEN_FOR[command] if _call_and_check(cli, root, canary, command, root / name).code == 0
    ]
    assert not passed, f"{command} exited 0 on {passed}"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_on_the_whole_hostile_directory_in_a_fresh_process(corpus, command):
    """As a new user would: a subprocess, exit 1 or 2, no traceback, quickly, no canary."""
    root, canary = corpus
    before = tree_hash(root)
    r = run_cli(command, root, timeout=120)
    assert r.code in (1, 2), (r.code, r.stdout[-2000:], r.stderr[-2000:])
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr[-2000:]
    if r.code == 2:
        assert r.stderr.count("\n") == 1
    after = tree_hash(root)
    assert {k: after.get(k) for k in before} == before
    for c in set(after) - set(before):
        assert _is_output(c)
        (root / c).unlink()
    assert not canary.exists()


def test_ND202_triage_reports_malicious_checkpoints_in_a_run_and_never_runs_them(cli, tmp_path):
    import torch

    canary = tmp_path / "CANARY"
    run = tmp_path / "run"
    (run / "weights").mkdir(parents=True)
    torch.save({"epoch": 0, "model": {"w": torch.ones(2)}, "x": CanaryPayload(canary)}, run / "weights" / "epoch0.pt")
    (run / "results.csv").write_text("epoch,train/box_loss\n1,1.0\n2,nan\n")
    r = _call_and_check(cli, run, canary, "triage", run)
    assert r.code == 1 and "ND202" in r.codes()
    unsafe = [f for f in r.json["findings"] if f["code"] == "ND202"]
    assert "system" in json.dumps(unsafe)
    assert r.json["summary"]["recommended"] is None


def test_ND202_a_stray_trainer_state_json_does_not_hide_a_malicious_sibling(cli, tmp_path):
    import torch

    canary = tmp_path / "CANARY"
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": 10, "log_history": []}))
    torch.save({"w": torch.zeros(2), "x": CanaryPayload(canary)}, folder / "model.pt")
    r = _call_and_check(cli, folder, canary, "inspect-ckpt", folder)
    assert r.code == 1 and "ND202" in r.codes()


def test_ND202_malicious_training_args_bin_in_an_hf_checkpoint_is_reported(cli, tmp_path):
    """training_args.bin sits beside the weights the HF unit reads; it must still be scanned, never run."""
    import torch
    from safetensors.torch import save_file

    canary = tmp_path / "CANARY"
    ckpt = tmp_path / "output" / "checkpoint-500"
    ckpt.mkdir(parents=True)
    save_file({"linear.weight": torch.ones(2, 2)}, ckpt / "model.safetensors")
    (ckpt / "trainer_state.json").write_text(json.dumps({"global_step": 500, "epoch": 1.0, "log_history": []}))
    torch.save({"args": CanaryPayload(canary)}, ckpt / "training_args.bin")
    r = _call_and_check(cli, tmp_path / "output", canary, "inspect-ckpt", tmp_path / "output")
    assert r.code == 1
    [unsafe] = [f for f in r.json["findings"] if f["code"] == "ND202"]
    assert unsafe["path"].endswith("training_args.bin") and "system" in unsafe["where"]
    statuses = {Path(c["path"]).name: c["status"] for c in r.json["summary"]["checkpoints"]}
    assert statuses == {"checkpoint-500": "clean", "training_args.bin": "unsafe"}


def test_triage_on_a_run_of_corrupt_pieces_keeps_going(cli, tmp_path):
    """Truncated checkpoint, binary results.csv, args.yaml alias bomb: findings, no crash."""
    canary = tmp_path / "CANARY"
    run = tmp_path / "run"
    build_corpus(tmp_path / "c", canary)
    (run / "weights").mkdir(parents=True)
    shutil.copy(tmp_path / "c" / "truncated.pt", run / "weights" / "epoch0.pt")
    shutil.copy(tmp_path / "c" / "junk.csv", run / "results.csv")
    shutil.copy(tmp_path / "c" / "alias_bomb.yaml", run / "args.yaml")
    r = _call_and_check(cli, run, canary, "triage", run)
    assert r.code == 1
    statuses = {c["path"]: c["status"] for c in r.json["summary"]["checkpoints"]}
    assert statuses == {str(run / "weights" / "epoch0.pt"): "unreadable"}


# --- writes: atomic, never over an existing file without --force, never through a symlink ---------


@pytest.fixture
def config_dir(tmp_path, demo_run):
    d = tmp_path / "cfg"
    d.mkdir()
    shutil.copy(demo_run / "args.yaml", d / "args.yaml")
    return d


def test_output_is_written_atomically_and_only_with_force(cli, config_dir):
    src, out = config_dir / "args.yaml", config_dir / "args_fixed.yaml"
    out.write_text("mine\n")
    inode = out.stat().st_ino
    refused = cli("diagnose-config", src)
    assert refused.code == 2 and "--force" in refused.stderr and out.read_text() == "mine\n"
    forced = cli("diagnose-config", src, "--force")
    assert forced.code in (0, 1) and out.read_text() != "mine\n"
    assert out.stat().st_ino != inode  # replaced by rename, never rewritten in place
    assert sorted(p.name for p in config_dir.iterdir()) == ["args.yaml", "args_fixed.yaml"]  # no temp files


def test_forced_output_replaces_a_symlink_never_its_target(cli, config_dir, tmp_path):
    precious = tmp_path / "precious.yaml"
    precious.write_text("do not touch\n")
    (config_dir / "args_fixed.yaml").symlink_to(precious)
    assert cli("diagnose-config", config_dir / "args.yaml").code == 2
    assert cli("diagnose-config", config_dir / "args.yaml", "--force").code in (0, 1)
    assert not (config_dir / "args_fixed.yaml").is_symlink()
    assert precious.read_text() == "do not touch\n"


def test_triage_never_overwrites_the_fixed_config_without_force(cli, config_dir):
    (config_dir / "results.csv").write_text("epoch,train/box_loss\n1,1.0\n2,nan\n")
    (config_dir / "args_fixed.yaml").write_text("mine\n")
    r = cli("triage", config_dir, "--format", "json")
    assert r.json["summary"]["fixed_config_status"] == "kept"
    assert (config_dir / "args_fixed.yaml").read_text() == "mine\n"


def test_demo_refuses_a_non_empty_directory(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    r = run_cli("demo", tmp_path)
    assert r.code == 2 and "--force" in r.stderr and sorted(os.listdir(tmp_path)) == ["keep.txt"]


# --- permissions, loops, unicode, BOM/CRLF ------------------------------------------------------


@contextmanager
def unprivileged():
    """Tests run as root, for whom chmod 000 denies nothing: drop the effective uid to nobody for the
    call (everything it needs is imported first). Where that is impossible, skip, saying why."""
    if os.geteuid() != 0:
        yield
        return
    try:
        os.setegid(65534)
        os.seteuid(65534)
    except OSError as exc:
        pytest.skip(f"running as root and cannot drop privileges ({exc}): chmod 000 would not deny anything")
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def test_permission_denied_files_and_folders(cli):
    import nandoctor.ckpt.engine
    import nandoctor.config.engine
    import nandoctor.data.engine
    import nandoctor.logs.engine
    import nandoctor.triage  # noqa: F401

    base = Path(tempfile.mkdtemp(prefix="nd-perm-"))  # under /tmp, traversable by nobody
    try:
        os.chmod(base, 0o755)
        run = base / "run"
        (run / "weights").mkdir(parents=True)
        (run / "results.csv").write_text("epoch,train/box_loss\n1,1.0\n2,nan\n")
        (run / "args.yaml").write_text("lr0: 0.01\namp: true\nimgsz: 1280\n")
        (run / "weights" / "epoch0.pt").write_bytes(b"PK")
        labels, denied = run / "labels", base / "denied"
        labels.mkdir()
        denied.mkdir()
        (labels / "a.txt").write_text("0 0.5 0.5 0.1 0.1\n")
        (denied / "b.txt").write_text("0 0.5 0.5 0.1 0.1\n")
        for p in [run, run / "weights", labels]:
            os.chmod(p, 0o755)
        for p in [run / "results.csv", run / "args.yaml", run / "weights" / "epoch0.pt", labels / "a.txt", denied]:
            os.chmod(p, 0o000)
        calls = [
            ("check-data", labels),
            ("check-data", denied),
            ("inspect-ckpt", run / "weights"),
            ("inspect-ckpt", denied),
            ("analyze-log", run / "results.csv"),
            ("diagnose-config", run / "args.yaml"),
            ("triage", run),
        ]
        for cmd, target in calls:  # as root first, so lazy imports are done before the uid drops
            cli(cmd, target, "--format", "json")
        for f in run.glob("*_fixed.yaml"):
            f.unlink()
        with unprivileged():
            with pytest.raises(PermissionError):
                (run / "results.csv").read_bytes()  # the denial is real for this process
            results = {(cmd, target.name): cli(cmd, target, "--format", "json") for cmd, target in calls}
    finally:
        shutil.rmtree(base, ignore_errors=True)
    broken = {
        call: (r.code, r.stderr)
        for call, r in results.items()
        if r.code not in (1, 2)
        or "internal error" in r.stderr
        or (r.code == 2 and (r.stderr.count("\n") != 1 or "ermission" not in r.stderr))
    }
    assert not broken, broken
    assert results[("analyze-log", "results.csv")].code == 2
    assert results[("diagnose-config", "args.yaml")].code == 2


def test_bom_crlf_and_trailing_spaces_in_label_files(cli, tmp_path):
    """CRLF and trailing spaces parse as Ultralytics parses them; a BOM is named at its file and line
    (a warning: Ultralytics 8.4 strips it, older releases dropped the image)."""
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "bom.txt").write_bytes(b"\xef\xbb\xbf0 0.5 0.5 0.2 0.2\n")
    (labels / "crlf.txt").write_bytes(b"0 0.5 0.5 0.2 0.2\r\n1 0.3 0.3 0.1 0.1\r\n")
    (labels / "trailing.txt").write_text("0 0.5 0.5 0.2 0.2   \n")
    r = _call_and_check(cli, tmp_path, tmp_path / "CANARY", "check-data", labels)
    named = [(Path(f["path"]).name, f["line"], f["severity"]) for f in r.json["findings"] if f["severity"] != "info"]
    assert r.code == 0 and named == [("bom.txt", 1, "warning")]


def test_unicode_run_folder_every_command(cli, demo_run, tmp_path):
    run = tmp_path / "实验 ünï" / "run 1"
    shutil.copytree(demo_run, run)
    canary = tmp_path / "CANARY"
    for cmd, target in [
        ("check-data", run / "dataset"),
        ("inspect-ckpt", run / "weights"),
        ("analyze-log", run / "results.csv"),
    ]:
        assert _call_and_check(cli, run, canary, cmd, target).code == 1
    r = cli("triage", run, "--format", "json")
    assert r.code == 1 and r.json["summary"]["recommended"] == str(run / "weights" / "epoch2.pt")
    assert (run / "args_fixed.yaml").is_file()


# --- terminal injection: names from the files never style, link or drive the terminal ------------

EVIL = "[link=https://evil.example]x[/link]w[/]\x1b]52;c;ZXZpbA==\x07\x1b[2J\u202e"


def _evil_run(root: Path) -> Path:
    """A run folder whose file names, tensor names, CSV columns and config keys all carry EVIL."""
    import torch
    import yaml

    run = root / "run"
    (run / "weights").mkdir(parents=True)
    safe = EVIL.replace("/", "%")  # a file name cannot hold "/"
    torch.save(
        {"model": {f"{EVIL}.weight": torch.tensor([float("nan"), 1.0])}, "epoch": 1},
        run / "weights" / f"epoch1{safe}.pt",
    )
    (run / "results.csv").write_text(f"epoch,train/box_loss,{EVIL}\n1,1.0,0.5\n2,nan,0.5\n")
    # the broken loss column is named EVIL (its "loss" suffix makes it the loss series)
    (root / "history.csv").write_text(f"epoch,{EVIL}loss\n1,2.0\n2,1.9\n3,nan\n")
    (root / "no_loss.csv").write_text(f"epoch,{EVIL}\n1,2.0\n2,1.9\n3,nan\n")  # no loss series at all
    (run / "args.yaml").write_text(yaml.safe_dump({"lr0": 0.01, "amp": True, "imgsz": 1280, EVIL: 1}))
    labels = run / "dataset" / "labels" / "train"
    labels.mkdir(parents=True)
    (labels / f"{safe}.txt").write_text("9 0.5 0.5 0.2 0.2\n")
    return run


@pytest.mark.parametrize("fmt", ["text", "concise", "github", "json"])
def test_no_markup_or_escape_sequence_from_an_input_reaches_the_terminal(tmp_path, fmt):
    run = _evil_run(tmp_path)
    calls = [
        ("check-data", run / "dataset" / "labels", "--num-classes", "3"),
        ("inspect-ckpt", run / "weights", "--stats"),
        ("analyze-log", run / "results.csv"),
        ("analyze-log", tmp_path / "history.csv"),
        ("diagnose-config", run / "args.yaml", "--dry-run"),
        ("triage", run, "--force"),
    ]
    for call in calls:
        r = run_cli(*call, "--format", fmt, "--color", "always", env={"PYTHONIOENCODING": "utf-8"})
        assert r.code in (0, 1), (call, r.code, r.stderr)
        assert "Traceback" not in r.stderr and "MarkupError" not in r.stderr, (call, r.stderr)
        ours = re.sub(r"\x1b\[[0-9;]*m", "", r.stdout)  # nandoctor's own colours are the only escapes
        assert "\x1b" not in ours and "\x07" not in ours and "\u202e" not in ours, call
        assert "\x1b]8;" not in r.stdout, call  # no live hyperlink
        assert "\x1b" not in r.stderr, call
        if call[0] == "inspect-ckpt" or call[1].name == "history.csv":  # shown escaped, not dropped
            assert r"\x1b]52;c;ZXZpbA==\x07" in ours.replace("\\\\", "\\"), (call, fmt)
    # the one-line error for a log without a loss series lists its columns, escaped too
    r = run_cli(
        "analyze-log", tmp_path / "no_loss.csv", "--format", fmt, "--color", "always", env={"PYTHONIOENCODING": "utf-8"}
    )
    assert r.code == 2 and "could not find a loss series" in r.stderr, (r.code, r.stderr)
    assert "\x1b" not in r.stderr and "\x07" not in r.stderr and "\u202e" not in r.stderr
    assert r"\x1b]52;c;ZXZpbA==\x07" in r.stderr.replace("\\\\", "\\"), r.stderr
