"""The CLI contract every command honours: JSON envelope, exit codes, colour, fast start."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nandoctor.findings import Report
from nandoctor.render import to_json
from tests.conftest import run_cli, sigint_as_in_a_terminal


def _report() -> Report:
    r = Report(command="inspect-ckpt", summary={"loss": float("nan"), "best": float("inf")})
    r.add("ND201", "error", "3 NaN values in model.1.conv.weight", path="w/last.pt", where="model.1.conv.weight")
    r.add("ND302", "warning", "spike", path="results.csv", line=5)
    return r


def test_json_envelope_has_exactly_the_contract_keys():
    env = json.loads(to_json(_report()))
    assert list(env) == ["tool", "version", "command", "findings", "summary"]
    assert env["tool"] == "nandoctor" and env["command"] == "inspect-ckpt"
    f = env["findings"][0]
    assert list(f) == ["code", "severity", "title", "message", "path", "line", "where", "fix", "data"]
    assert f["severity"] == "error" and f["where"] == "model.1.conv.weight"
    assert "nandoctor explain ND201" in f["fix"]
    # NaN/Inf in summaries stay valid JSON
    assert env["summary"] == {"loss": "nan", "best": "inf"}


@pytest.mark.parametrize(
    "worst,fail_on,expected",
    [
        ("error", "error", 1),
        ("error", "never", 0),
        ("warning", "error", 0),
        ("warning", "warning", 1),
        ("warning", "info", 1),
        ("warning", "never", 0),
        ("info", "error", 0),
        ("info", "warning", 0),
        ("info", "info", 1),
    ],
)
def test_exit_code_follows_fail_on(worst, fail_on, expected):
    """Each threshold is tested on a report whose worst finding sits on the other side of it."""
    r = Report(command="x")
    r.add({"error": "ND201", "warning": "ND302", "info": "ND113"}[worst], worst, "one finding")
    assert r.exit_code(fail_on) == expected


def test_warning_only_report_passes_default_fail_on():
    r = Report(command="x")
    r.add("ND302", "warning", "spike")
    assert r.exit_code("error") == 0 and r.exit_code("warning") == 1


def test_unknown_code_is_rejected():
    with pytest.raises(KeyError):
        Report(command="x").add("ND999", "error", "nope")


def test_explain_lists_and_explains(cli):
    listing = cli("explain")
    assert listing.code == 0 and "ND201" in listing.stdout
    one = cli("explain", "nd201")
    assert one.code == 0 and "Why it leads to NaN/Inf" in one.stdout and "Best practice" in one.stdout


def test_explain_unknown_code_exits_2_with_one_line():
    r = run_cli("explain", "ND999")
    assert r.code == 2
    assert r.stderr.count("\n") == 1 and "ND999" in r.stderr and "Traceback" not in r.stderr


def test_bad_option_exits_2():
    r = run_cli("explain", "--no-such-option")
    assert r.code == 2 and "Traceback" not in r.stderr


def test_no_color_and_non_tty_output_has_no_escape_codes():
    r = run_cli("explain", "ND201", env={"NO_COLOR": "1"})
    assert r.code == 0 and "\x1b[" not in r.stdout


def test_version():
    r = run_cli("--version")
    assert r.code == 0 and r.stdout.strip() == "nandoctor 0.1.0"


@pytest.mark.parametrize("args", [["--help"], ["explain"], ["--version"]])
def test_fast_commands_import_neither_torch_nor_pandas(args):
    p = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "nandoctor", *args], capture_output=True, text=True, timeout=60
    )
    assert p.returncode == 0
    imported = {line.split("|")[-1].strip().split(".")[0] for line in p.stderr.splitlines() if "|" in line}
    assert "torch" not in imported and "pandas" not in imported


def test_demo_layout_and_refusal(tmp_path):
    d = tmp_path / "run"
    r = run_cli("demo", d)
    assert r.code == 0 and f"nandoctor triage {d}" in r.stdout
    ds = d / "dataset"
    assert (ds / "data.yaml").is_file() and (d / "results.csv").is_file() and (d / "args.yaml").is_file()
    jpgs = sorted((ds / "images" / "train").glob("*.jpg"))
    assert jpgs and jpgs[0].read_bytes()[:2] == b"\xff\xd8"  # real JPEGs
    assert {p.name for p in (d / "weights").glob("*.pt")} >= {"epoch2.pt", "epoch3.pt", "last.pt"}
    assert "nan" in (d / "results.csv").read_text()
    again = run_cli("demo", d)
    assert again.code == 2 and "not empty" in again.stderr and "--force" in again.stderr
    assert run_cli("demo", d, "--force").code == 0


def test_alarm_fails_the_command_unless_fail_on_never():
    r = Report(command="analyze-log")
    r.add("ND311", "warning", "grad norm 5x within 10 steps")
    assert r.exit_code("error") == 0
    r.alarm = True  # analyze-log --watch stopped on this warning
    assert r.exit_code("error") == 1 and r.exit_code("never") == 0


# --- the exit-code table in the README is the contract: every command on each class of input --------

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ["check-data", "inspect-ckpt", "analyze-log", "diagnose-config", "triage"]


def readme_exit_codes() -> dict[str, int]:
    """{input class: exit code} from the README's exit-code table."""
    text = (ROOT / "README.md").read_text()
    table = text[text.index("### Exit codes") :]
    classes: dict[str, int] = {}
    for line in table.splitlines()[1:]:
        m = re.match(r"\|\s*(\d+)\s*\|.*\|(.*)\|\s*$", line)
        if m:
            for name in re.findall(r"`([^`]+)`", m.group(2)):
                classes[name] = int(m.group(1))
        elif line.startswith("#"):
            break
    return classes


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, demo_run) -> dict[str, dict[str, list]]:
    """{class: {command: argv}} built with the real writers."""
    import shutil

    import torch
    from PIL import Image

    d = tmp_path_factory.mktemp("contract")
    demo_run = shutil.copytree(demo_run, d / "run")  # triage writes args_fixed.yaml: never into the shared demo
    healthy = d / "healthy_run"
    (healthy / "weights").mkdir(parents=True)
    torch.save({"model": {"w": torch.ones(3)}, "epoch": 2}, healthy / "weights" / "epoch2.pt")
    (healthy / "results.csv").write_text(
        "epoch,train/box_loss,train/cls_loss,train/dfl_loss\n1,1.5,2.0,1.2\n2,1.4,1.9,1.1\n3,1.3,1.8,1.0\n"
    )
    (d / "healthy.yaml").write_text("lr0: 0.001\namp: false\nimgsz: 640\n")
    (d / "label.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    picture = d / "picture.png"
    Image.new("RGB", (8, 8)).save(picture)
    broken = {
        "check-data": [demo_run / "dataset"],
        "inspect-ckpt": [demo_run / "weights"],
        "analyze-log": [demo_run / "results.csv"],
        "diagnose-config": [demo_run / "args.yaml", "--log", demo_run / "results.csv", "--dry-run"],
        "triage": [demo_run, "--no-data"],
    }
    return {
        "healthy": {
            "check-data": [d / "label.txt", "--num-classes", "1"],
            "inspect-ckpt": [healthy / "weights" / "epoch2.pt"],
            "analyze-log": [healthy / "results.csv"],
            "diagnose-config": [d / "healthy.yaml", "--dry-run"],
            "triage": [healthy],
        },
        "broken": broken,
        "broken --fail-on never": {c: [*a, "--fail-on", "never"] for c, a in broken.items()},
        "missing": {c: [d / "does_not_exist"] for c in COMMANDS},
        "wrong kind": {c: [picture] for c in COMMANDS},
        "bad option": {c: [*broken[c][:1], "--fail-on", "sometimes"] for c in COMMANDS},
        "no argument": {c: [] for c in COMMANDS},
    }


PIPED = ("broken, stdout closed", "broken, stdout closed, --fail-on never")
SPECIAL = {"watch alarm", "watch timeout", "interrupted"}  # analyze-log --watch only, tested below


def test_the_readme_table_names_every_class_this_test_runs(inputs):
    assert set(readme_exit_codes()) == set(inputs) | set(PIPED) | SPECIAL


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_on_each_class_of_input_exits_as_the_readme_says(inputs, command):
    table = readme_exit_codes()
    for cls, per_command in inputs.items():
        r = run_cli(command, *per_command[command])
        assert r.code == table[cls], (command, cls, r.code, r.stderr[-300:])
        assert "Traceback" not in r.stderr, (command, cls)
        if r.code == 2:
            assert r.stderr.count("\n") == 1 and r.stderr.startswith("nandoctor: error: "), (command, cls, r.stderr)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_closed_stdout_is_not_an_error(inputs, command):
    """`nandoctor ... | head -1`: the reader goes away; the exit code is still the verdict's."""
    table = readme_exit_codes()
    for cls, extra in zip(PIPED, ([], ["--fail-on", "never"]), strict=True):
        args = [sys.executable, "-m", "nandoctor", command, *map(str, inputs["broken"][command]), *extra]
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
        p.stdout.readline()
        p.stdout.close()  # as `head -1` does
        err = p.stderr.read().decode()
        assert p.wait(timeout=120) == table[cls], (command, cls, err)
        assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err


def test_watch_codes_follow_the_table(tmp_path):
    import signal

    table = readme_exit_codes()
    log = tmp_path / "h.csv"
    log.write_text("epoch,train_loss\n1,2.0\n2,1.9\n3,1.8\n")  # enough points to judge: no alarm
    assert (
        run_cli("analyze-log", log, "--watch", "--interval", "0.1", "--timeout", "0.3").code == table["watch timeout"]
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("epoch,train_loss\n1,2.0\n2,nan\n")
    assert run_cli("analyze-log", bad, "--watch", "--interval", "0.1", "--timeout", "30").code == table["watch alarm"]
    p = subprocess.Popen(
        [sys.executable, "-m", "nandoctor", "analyze-log", str(log), "--watch", "--interval", "0.1", "--timeout", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        preexec_fn=sigint_as_in_a_terminal,
    )
    assert p.stderr.readline().startswith("watching ")
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    assert p.returncode == table["interrupted"] and "interrupted" in err and "Traceback" not in err


def test_an_internal_error_is_named_as_ours_with_the_traceback_under_debug(monkeypatch, cli, demo_run):
    import nandoctor.logs.engine as engine

    def bug(*a, **kw):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(engine, "analyze_log", bug)
    r = cli("analyze-log", demo_run / "results.csv")
    assert r.code == 2 and r.stderr == (
        "nandoctor: error: internal error in nandoctor, please report: "
        "ZeroDivisionError: division by zero (rerun with --debug for the traceback)\n"
    )
    d = cli("analyze-log", demo_run / "results.csv", "--debug")
    assert d.code == 2 and "Traceback" in d.stderr and "ZeroDivisionError" in d.stderr


def test_a_known_parse_error_is_exit_2_with_its_reason(monkeypatch, cli, demo_run):
    import json as _json

    import nandoctor.logs.engine as engine

    def parse(*a, **kw):
        raise _json.JSONDecodeError("Expecting value", "x", 0)

    monkeypatch.setattr(engine, "analyze_log", parse)
    r = cli("analyze-log", demo_run / "results.csv")
    assert r.code == 2 and r.stderr.startswith(f"nandoctor: error: {demo_run / 'results.csv'}: not valid JSON")
    assert "internal error" not in r.stderr


# --- one file of the wrong kind: exit 2 with one line naming it, whichever command reads it ----------

WRONG_KIND_COMMANDS = {
    "random bytes": ["check-data", "inspect-ckpt", "analyze-log", "diagnose-config"],
    "png": ["check-data", "inspect-ckpt", "analyze-log", "diagnose-config"],
    "empty": ["check-data", "inspect-ckpt", "analyze-log"],
    "yaml config": ["check-data", "inspect-ckpt", "analyze-log"],
}


@pytest.fixture(scope="module")
def wrong_kind_files(tmp_path_factory) -> dict[str, list[Path]]:
    """Each class as the files a user might hand the wrong command, written by the real writers."""
    import numpy as np
    import yaml
    from PIL import Image

    d = tmp_path_factory.mktemp("wrong_kind")
    noise = np.random.default_rng(16).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    from nandoctor.ckpt.readers import PICKLE_FIRST

    assert noise[:1] not in PICKLE_FIRST  # a pickle opcode first would make it a (broken) pickle, not noise
    files: dict[str, list[Path]] = {"random bytes": [], "png": [], "empty": [], "yaml config": []}
    for ext in (".bin", ".pt", ".npy", ".npz", ".safetensors", ".txt"):
        (d / f"noise{ext}").write_bytes(noise)
        files["random bytes"].append(d / f"noise{ext}")
    for ext in (".bin", ".pt", ".npy", ".csv"):  # an empty .txt is a YOLO label (a background image): not here
        (d / f"empty{ext}").write_bytes(b"")
        files["empty"].append(d / f"empty{ext}")
    Image.new("RGB", (16, 16), (200, 30, 30)).save(d / "picture.png")
    files["png"].append(d / "picture.png")
    (d / "args.yaml").write_text(
        yaml.safe_dump(
            {
                "task": "detect",
                "mode": "train",
                "model": "yolov8n.pt",
                "data": "coco8.yaml",
                "epochs": 3,
                "lr0": 0.01,
                "amp": True,
            }
        )
    )
    files["yaml config"].append(d / "args.yaml")
    return files


@pytest.mark.parametrize("kind", list(WRONG_KIND_COMMANDS))
def test_a_file_of_the_wrong_kind_exits_2_naming_it_in_every_command(cli, wrong_kind_files, kind):
    for path in wrong_kind_files[kind]:
        codes = {}
        for command in WRONG_KIND_COMMANDS[kind]:
            extra = ["--dry-run", "--no-log"] if command == "diagnose-config" else []
            r = cli(command, path, *extra, "--format", "json")
            codes[command] = r.code
            assert r.stdout == "", (command, path.name, r.stdout[:300])
            assert r.stderr.startswith(f"nandoctor: error: {path}: ") and r.stderr.count("\n") == 1, (command, r.stderr)
        assert set(codes.values()) == {2}, (path.name, codes)


def test_a_file_of_the_wrong_kind_in_a_folder_stays_a_finding_about_it(cli, wrong_kind_files, tmp_path):
    import shutil

    import torch

    torch.save({"model": {"w": torch.ones(3)}, "epoch": 1}, tmp_path / "epoch1.pt")
    shutil.copy(wrong_kind_files["random bytes"][1], tmp_path / "epoch2.pt")
    r = cli("inspect-ckpt", tmp_path, "--format", "json")
    assert r.code == 1 and [(f["code"], Path(f["path"]).name) for f in r.json["findings"]] == [("ND200", "epoch2.pt")]
    assert Path(r.json["summary"]["recommended"]).name == "epoch1.pt"
    both = cli("inspect-ckpt", tmp_path / "epoch1.pt", tmp_path / "epoch2.pt", "--format", "json")
    assert both.code == 1 and "ND200" in both.codes()  # among several inputs, too


def test_library_warnings_stay_off_stderr_unless_debug(tmp_path):
    """numpy's overflow warning while summing squares of 1e308 weights (--stats) is chatter, not a line
    of the report; --debug shows it, which proves the input really triggers one."""
    import torch

    torch.save(
        {"model": {"w": torch.tensor([1e308, -1e308, 1e308, 5.0], dtype=torch.float64)}, "epoch": 1},
        tmp_path / "huge.pt",
    )
    r = run_cli("inspect-ckpt", tmp_path / "huge.pt", "--stats", "--format", "json")
    assert r.code in (0, 1) and r.stderr == "", r.stderr
    row = json.loads(r.stdout)["summary"]["checkpoints"][0]
    assert row["tensors"] == 1 and row["status"] != "unreadable"  # huge weights are a verdict, not a read error
    d = run_cli("inspect-ckpt", tmp_path / "huge.pt", "--stats", "--format", "json", "--debug")
    assert d.code == r.code and "RuntimeWarning" in d.stderr


def _bug(*a, **kw):
    raise ZeroDivisionError("division by zero")


@pytest.mark.parametrize(
    "command,target",
    [
        ("inspect-ckpt", "nandoctor.ckpt.scan.scan"),
        ("inspect-ckpt", "nandoctor.pickle_policy.classify"),
        ("check-data", "nandoctor.ckpt.readers.read_any"),
        ("check-data", "nandoctor.pickle_policy.classify"),
    ],
)
def test_a_bug_deep_inside_an_engine_is_an_internal_error_never_a_verdict_on_the_file(
    monkeypatch, cli, tmp_path, command, target
):
    """The per-file handlers catch what a file can make a parser raise; a bug of ours (here in the tensor
    scan, the pickle policy or the reader check-data shares) must not become "unreadable checkpoint"."""
    import importlib

    import torch

    torch.save({"model": {"w": torch.ones(3)}, "epoch": 1}, tmp_path / "epoch1.pt")
    module, _, name = target.rpartition(".")
    monkeypatch.setattr(importlib.import_module(module), name, _bug)
    r = cli(command, tmp_path / "epoch1.pt", "--format", "json")
    assert r.code == 2 and r.stdout == "", (r.code, r.stdout[:300])
    assert r.stderr == (
        "nandoctor: error: internal error in nandoctor, please report: ZeroDivisionError: "
        "division by zero (rerun with --debug for the traceback)\n"
    )
