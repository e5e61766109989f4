"""diagnose-config on hostile input: one line and exit 2 (or an info and exit 0), never a traceback,
never a hang, never a write to the input."""

from __future__ import annotations

import math
import os
import string
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nandoctor.config.engine import diagnose_config
from nandoctor.findings import NandoctorError
from tests.conftest import run_cli

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize(
    "name,payload,needle",
    [
        ("latin1.yaml", "lr: 0.01\nname: caf\xe9\n".encode("latin-1"), "UTF-8"),
        ("tabs.yaml", b"training:\n\tlr: 0.01\n", "tab"),
        ("list.yaml", b"- lr: 0.01\n- amp: true\n", "list"),
        ("bomb.yaml", BOMB.encode(), "alias"),
        ("recursive.yaml", b"a: &x\n  b: *x\n", "recursive"),
        ("junk.yaml", bytes(range(256)) * 4, "binary"),
        ("truncated.json", b'{"fp16": {"enabled": tru', "JSON"),
        ("scalar.yaml", b"just a sentence\n", "str"),
        ("deep.yaml", b"a: " + b"[" * 20000 + b"]" * 20000 + b"\n", "deep"),
        ("deep.json", b'{"a": ' + b"[" * 20000 + b"]" * 20000 + b"}", "deep"),
        ("bigint.yaml", b"lr0: 0.01\nepochs: 1" + b"0" * 5000 + b"\n", "line 2 holds a number of 5001 digits"),
        ("bigint.json", b'{"lr": 1' + b"0" * 5000 + b"}", "4300-digit"),
    ],
)
def test_hostile_yaml_exits_2_with_one_line(tmp_path, name, payload, needle):
    p = tmp_path / name
    p.write_bytes(payload)
    r = run_cli("diagnose-config", p, timeout=60)
    assert r.code == 2, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert needle.lower() in r.stderr.lower()
    assert p.read_bytes() == payload and sorted(x.name for x in tmp_path.iterdir()) == [name]


def test_empty_file_is_info_exit_0(tmp_path):
    p = tmp_path / "empty.yaml"
    p.write_bytes(b"")
    r = run_cli("diagnose-config", p, "--format", "json")
    assert r.code == 0 and r.codes() == ["ND414"]


def test_directory_and_missing_path_exit_2(tmp_path, cli):
    assert cli("diagnose-config", tmp_path).code == 2
    r = cli("diagnose-config", tmp_path / "missing.yaml")
    assert r.code == 2 and "no such file" in r.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_permission_denied_exits_2(tmp_path, cli):
    p = tmp_path / "args.yaml"
    p.write_text("lr0: 0.01\n")
    p.chmod(0)
    r = cli("diagnose-config", p)
    assert r.code == 2 and "cannot read" in r.stderr


def test_unwritable_output_folder_exits_2_and_leaves_no_temp(tmp_path, cli):
    cfg = tmp_path / "args.yaml"
    cfg.write_text("lr0: 0.01\nimgsz: 1280\namp: true\noptimizer: auto\n")
    r = cli("diagnose-config", cfg, "--output", tmp_path / "nodir" / "x.yaml")
    assert r.code == 2 and "no such directory" in r.stderr


def test_unicode_path_and_crlf_file(tmp_path):
    p = tmp_path / "配置 args.yaml"
    p.write_bytes(b"lr0: 0.01\r\nimgsz: 1280\r\namp: true\r\noptimizer: auto\r\n")
    report = diagnose_config(p)
    text = Path(report.summary["output"]).read_bytes()
    assert b"amp: false  # nandoctor:" in text and text.count(b"\r\n") == 4
    assert yaml.safe_load(text)["amp"] is False


# --- properties: arbitrary input raises nothing but NandoctorError -----------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=string.printable + "\u00e9\u4e2d&*!|>{}[]", max_size=300))
def test_property_arbitrary_text_only_raises_nandoctor_error(tmp_path, text):
    p = tmp_path / "cfg.yaml"
    p.write_text(text, encoding="utf-8")
    try:
        diagnose_config(p, dry_run=True)
    except NandoctorError:
        pass


KEYS = st.sampled_from(
    [
        "lr",
        "lr0",
        "learning_rate",
        "fp16",
        "amp",
        "max_grad_norm",
        "mixed_precision",
        "imgsz",
        "optimizer",
        "warmup_epochs",
        "loss",
        "type",
        "enable_logits_masking",
        "num_classes",
        "gradient_clipping",
        "enabled",
        "trainer",
        "precision",
        "training",
    ]
)
VALUES = st.one_of(
    st.booleans(),
    st.none(),
    st.integers(-5, 5000),
    st.floats(allow_nan=True),
    st.sampled_from(["1e-6", "auto", "fp16", "16-mixed", "focal", "no", "1.0e-4", ""]),
)
CONFIGS = st.recursive(
    VALUES, lambda kids: st.dictionaries(KEYS, kids, max_size=6) | st.lists(kids, max_size=3), max_leaves=25
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(KEYS, CONFIGS, min_size=1, max_size=8), st.booleans())
def test_property_training_like_configs_repair_or_refuse_cleanly(tmp_path, data, as_json):
    import json

    p = tmp_path / ("cfg.json" if as_json else "cfg.yaml")
    p.write_text(json.dumps(data) if as_json else yaml.safe_dump(data), encoding="utf-8")
    out = tmp_path / ("fixed.json" if as_json else "fixed.yaml")
    try:
        report = diagnose_config(p, output=out, force=True)
    except NandoctorError:
        return
    if report.summary["output"]:  # every written repair re-reads with the new values (verified in write.py)
        assert out.is_file()


def _leaves(v, path=()):
    if isinstance(v, dict):
        for k, x in v.items():
            yield from _leaves(x, (*path, str(k)))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from _leaves(x, (*path, i))
    else:
        yield path, v


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(KEYS, CONFIGS, min_size=1, max_size=8),
    st.booleans(),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.booleans(),
)
def test_property_flow_crlf_bom_repairs_keep_every_other_value(tmp_path, data, flow, newline, bom):
    """Flow or block style, any line ending, with or without a BOM: a written repair changes exactly the
    reported keys, keeps the line endings and the BOM, and every other value reads back unchanged."""
    import math

    text = yaml.safe_dump(data, default_flow_style=flow, width=10_000).replace("\n", newline)
    raw = (b"\xef\xbb\xbf" if bom else b"") + text.encode()
    p = tmp_path / "cfg.yaml"
    p.write_bytes(raw)
    out = tmp_path / "fixed.yaml"
    try:
        report = diagnose_config(p, output=out, force=True, find_log=False)
    except NandoctorError:
        return
    if not report.summary["output"]:
        return
    got = out.read_bytes()
    assert got.startswith(b"\xef\xbb\xbf") is bom
    other = {"\n": (b"\r",), "\r\n": (), "\r": (b"\n",)}[newline]
    assert all(x not in got for x in other) and (newline != "\r\n" or got.count(b"\n") == got.count(b"\r\n"))
    before, after = yaml.safe_load(raw.decode("utf-8-sig")), yaml.safe_load(got.decode("utf-8-sig"))
    changed = {c["key"] for c in report.summary["changes"]}
    for path, value in _leaves(before):
        key = ".".join(map(str, path))
        if key in changed or any(key.startswith(c + ".") for c in changed):
            continue
        node = after
        for part in path:
            node = node[part]
        assert node == value or (isinstance(value, float) and math.isnan(value) and math.isnan(node)), key


def test_fifo_beside_the_config_or_as_output_neither_hangs_nor_is_written(tmp_path):
    cfg = tmp_path / "args.yaml"
    cfg.write_text("lr0: 0.01\nimgsz: 640\namp: true\noptimizer: SGD\n")
    os.mkfifo(tmp_path / "results.csv")  # a log that would block a reader
    os.mkfifo(tmp_path / "out.yaml")
    r = run_cli("diagnose-config", cfg, "--dry-run", "--format", "json", timeout=60)
    assert r.code == 0 and r.json["summary"]["log"] is None
    w = run_cli("diagnose-config", cfg, "-o", tmp_path / "out.yaml", "--force", timeout=60)
    assert w.code == 2 and "not a regular file" in w.stderr and len(w.stderr.strip().splitlines()) == 1
    import stat

    assert stat.S_ISFIFO(os.stat(tmp_path / "out.yaml").st_mode)


def test_huge_flat_config_is_too_large_not_an_alias_bomb(tmp_path):
    p = tmp_path / "flat.yaml"
    p.write_text("".join(f"k{i}: {i}\n" for i in range(120_000)))
    r = run_cli("diagnose-config", p, "--dry-run", timeout=60)
    assert r.code == 2 and "far more than a training config" in r.stderr and "alias" not in r.stderr


def _peak_rss_mib(*args) -> tuple[int, str, float]:
    """Run diagnose-config in a fresh interpreter; (exit code, stderr, its own peak RSS in MiB).

    The peak is VmHWM of the interpreter's own address space: ru_maxrss would carry over the RSS of the
    forked pytest process across exec."""
    import subprocess
    import sys

    if not Path("/proc/self/status").is_file():
        pytest.skip("peak RSS is read from /proc (Linux)")
    code = (
        "import runpy, sys\n"
        "sys.argv = ['nandoctor', 'diagnose-config', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('nandoctor', run_name='__main__')\n"
        "except SystemExit as e:\n    rc = e.code\n"
        "hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
        "print('PEAK', hwm.split()[1], file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    p = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, timeout=60)
    lines = p.stderr.strip().splitlines()
    peak = int(lines[-1].split()[1]) / 1024
    return p.returncode, "\n".join(lines[:-1]), peak


@pytest.mark.parametrize("name,what", [("flat.yaml", "1,000,000 lines"), ("flat.json", "comma-separated values")])
def test_flat_million_key_config_is_refused_for_its_size_before_parsing(tmp_path, name, what):
    p = tmp_path / name
    if name.endswith(".json"):  # one line, as json.dump writes it
        p.write_text("{" + ",".join(f'"k{i}":{i}' for i in range(1_000_000)) + "}")
    else:
        p.write_text("".join(f"k{i}: {i}\n" for i in range(1_000_000)))
    code, err, peak = _peak_rss_mib(p, "--dry-run", "--no-log")
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert what in err and "far more than a training config holds" in err and "alias" not in err
    assert peak < 512  # refused from a count of the text: no million-node tree is ever built


def test_alias_bomb_still_named_an_alias_bomb(tmp_path):
    p = tmp_path / "bomb.yaml"
    p.write_text(BOMB)
    code, err, peak = _peak_rss_mib(p, "--dry-run")
    assert code == 2 and "aliases expand" in err and peak < 512


@pytest.mark.parametrize(
    "name,text,key,line",
    [
        ("args.yaml", "lr0: .nan\nimgsz: 640\noptimizer: SGD\namp: false\n", "lr0", 1),
        ("args.yaml", "imgsz: 640\noptimizer: SGD\namp: false\nlr0: 1e400\n", "lr0", 4),
        (
            "training_args.yaml",
            "learning_rate: 2.0e-05\nper_device_train_batch_size: 8\nmax_grad_norm: .inf\n",
            "max_grad_norm",
            3,
        ),
        (
            "ds.json",
            '{"train_micro_batch_size_per_gpu": 4,\n "bf16": {"enabled": true},\n "optimizer": {"type": "AdamW",'
            ' "params": {"lr": NaN}}}',
            "optimizer.params.lr",
            3,
        ),
        (
            "hf.json",
            '{"learning_rate": -Infinity, "per_device_train_batch_size": 8, "max_grad_norm": 1.0}',
            "learning_rate",
            1,
        ),
    ],
)
def test_ND419_non_finite_hyperparameter_is_an_error_and_never_written(tmp_path, cli, name, text, key, line):
    cfg = tmp_path / name
    cfg.write_text(text)
    r = cli("diagnose-config", cfg, "--no-log", "--format", "json")
    assert r.code == 1
    f = next(f for f in r.json["findings"] if f["code"] == "ND419")
    assert f["severity"] == "error" and f["where"] == key and f["line"] == line
    changes = r.json["summary"]["changes"]
    assert all(c["key"] != key for c in changes)
    assert all(not isinstance(c["new"], float) or math.isfinite(c["new"]) for c in changes)
    assert cfg.read_text() == text


def test_non_finite_lr0_after_a_nan_run_gets_no_lr_proposal(tmp_path, cli):
    """The run's log went NaN, but lr0 itself is .nan: nothing is halved from it, nothing non-finite is written."""
    pytest.importorskip("nandoctor.logs.engine")
    from tests.analyze_log_fixtures import write_ultralytics_results

    write_ultralytics_results(tmp_path / "results.csv", [1.9, 1.8, 1.7, float("nan"), float("nan")])
    cfg = tmp_path / "args.yaml"
    cfg.write_text("lr0: .nan\nimgsz: 1280\noptimizer: SGD\namp: true\nwarmup_epochs: 3.0\n")
    r = cli("diagnose-config", cfg, "--format", "json")
    assert r.code == 1 and "ND419" in r.codes() and r.json["summary"]["log"]["first_nonfinite"] is not None
    assert all(c["key"] != "lr0" for c in r.json["summary"]["changes"])
    fixed = yaml.safe_load((tmp_path / "args_fixed.yaml").read_text())
    assert math.isnan(fixed["lr0"]) and fixed["amp"] is not True  # the rest is repaired; lr0 is the user's to set
