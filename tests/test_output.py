"""What reaches the user's terminal, pipe or CI log: inert user strings, the four output formats,
true totals, tables that fit, colour, several inputs, and the docs commands' JSON."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.conftest import run_cli

OSC52 = "\x1b]52;c;ZXZpbA==\x07"  # a clipboard write, if it ever reached a terminal raw


@pytest.fixture
def hostile_names(tmp_path):
    """A real safetensors file whose tensor names carry Rich markup, a hyperlink and escape codes."""
    import torch
    from safetensors.torch import save_file

    path = tmp_path / "m.safetensors"
    save_file(
        {
            "w[/]": torch.ones(2),
            f"{OSC52}evil": torch.tensor([float("nan"), 1.0]),
            "[link=https://evil.example]click[/link]": torch.zeros(3),
            "clear\x1b[2J": torch.ones(1),
        },
        path,
    )
    return path


@pytest.mark.parametrize("fmt", ["text", "concise", "github", "json"])
def test_markup_and_escapes_in_tensor_names_are_printed_inert(cli, hostile_names, fmt):
    r = run_cli("inspect-ckpt", hostile_names, "--stats", "--format", fmt, "--color", "always")
    assert r.code == 1 and "Traceback" not in r.stderr and "MarkupError" not in r.stderr
    plain = re.sub(r"\x1b\[[0-9;]*m", "", r.stdout)  # our own SGR colours are the only escapes allowed
    assert "\x1b" not in plain and "\x07" not in plain
    assert "\x1b]8;" not in r.stdout  # no hyperlink was made
    plain = plain.replace("\\\\", "\\")  # JSON writes the backslash of `\x1b` twice
    assert r"\x1b]52;c;ZXZpbA==\x07evil" in plain
    if fmt in ("text", "json"):  # the whole table / summary: every name, as written
        assert "[link=https://evil.example]click[/link]" in plain and "w[/]" in plain and r"clear\x1b[2J" in plain


def test_latin1_file_names_under_a_strict_utf8_stdout(tmp_path):
    labels = tmp_path / "labels"
    labels.mkdir()
    name = os.fsdecode(b"caf\xe9[bold]x.txt")  # not UTF-8: Python decodes it to a lone surrogate
    (labels / name).write_text("7 0.5 0.5 0.2 0.2\n")
    for fmt in ("text", "concise", "github", "json"):
        r = run_cli("check-data", labels, "--num-classes", "3", "--format", fmt, env={"PYTHONIOENCODING": "utf-8"})
        assert r.code == 1 and "Traceback" not in r.stderr, (fmt, r.stderr)
        assert r"caf\xe9[bold]x.txt" in r.stdout.replace("\\\\", "\\"), fmt


def test_a_csv_column_with_markup_and_escapes(cli, tmp_path):
    log = tmp_path / "results.csv"
    log.write_text("epoch,loss[/]\x1b[2J\n1,2.0\n2,1.9\n3,nan\n")
    r = cli("analyze-log", log)
    assert r.code == 1 and r"loss[/]\x1b[2J became NaN at epoch 3" in r.stdout and "\x1b" not in r.stdout


def test_a_rendering_error_is_one_line_exit_2(monkeypatch, cli, demo_run):
    """Anything that breaks while printing is handled like any other error, never a traceback."""
    import nandoctor.logs.view as view

    def broken(report, console=None):
        raise ValueError("boom")

    monkeypatch.setattr(view, "summary_view", broken)
    r = cli("analyze-log", demo_run / "results.csv")
    assert r.code == 2 and r.stderr.count("\n") == 1
    assert r.stderr.startswith("nandoctor: error: internal error in nandoctor, please report: ValueError: boom")


def test_concise_and_github_formats_name_file_and_line(cli, demo_run):
    concise = cli("check-data", demo_run / "dataset", "--output-format", "concise")
    lines = concise.stdout.splitlines()
    label = demo_run / "dataset" / "labels" / "train"
    assert concise.code == 1
    assert f"{label / 'img_002.txt'}:2: ND101 error class 5 >= nc 3 (valid ids 0..2)" in lines
    assert lines[-1].startswith("nandoctor check-data: 4 errors")
    gh = cli("check-data", demo_run / "dataset", "--format", "github")
    assert (
        f"::error file={label / 'img_002.txt'},line=2,title=ND101 class id out of range::class 5 >= nc 3 "
        "(valid ids 0..2)" in gh.stdout.splitlines()
    )
    assert all(line.startswith(("::error ", "::warning ", "::notice ")) for line in gh.stdout.splitlines())


def test_statistics_and_quiet(cli, demo_run):
    stats = cli("check-data", demo_run / "dataset", "--statistics", "-f", "concise", "-q")
    rows = [line.split() for line in stats.stdout.splitlines()]
    assert stats.code == 1 and ["1", "ND101", "error"] in [r[:3] for r in rows]
    assert {r[1] for r in rows} >= {"ND101", "ND105", "ND106", "ND108"}
    quiet = cli("check-data", demo_run / "dataset", "-f", "concise", "--quiet")
    assert quiet.code == 1 and all(" ND1" in line for line in quiet.stdout.splitlines())
    text_quiet = cli("analyze-log", demo_run / "results.csv", "--quiet")
    assert (
        "Next steps" not in text_quiet.stdout and "pattern:" not in text_quiet.stdout and "ND301" in text_quiet.stdout
    )


def test_capped_lists_print_the_true_totals(cli, tmp_path):
    """1,779 files with one bad row each: the list keeps 1,000, the summary line says 1,779."""
    labels = tmp_path / "labels"
    labels.mkdir()
    for i in range(1779):
        (labels / f"{i:05d}.txt").write_text("0 0.5 0.5 0 0.2\n")  # zero width
    r = cli("check-data", labels, "--num-classes", "1", "-f", "concise")
    listed = [line for line in r.stdout.splitlines() if " ND108 " in line]
    assert len(listed) == 1000
    total = r.stdout.splitlines()[-1]
    assert "1,779 errors, first 1,000 listed" in total or "1,779 warnings, first 1,000 listed" in total
    stats = cli("check-data", labels, "--num-classes", "1", "--statistics")
    assert re.search(r"^\s+1,779\s+ND108\b", stats.stdout, re.M)


def test_stats_table_at_80_columns_keeps_names_bad_counts_and_whole_numbers(tmp_path):
    import torch

    from nandoctor.ckpt.engine import inspect_ckpt
    from nandoctor.render import render_text, stdout_console

    name = "model.model.22.cv3.2.1.conv.bn.running_var_long_enough_name"
    path = tmp_path / "last.pt"
    torch.save(
        {
            "model": {
                name: torch.tensor([65504.0, -65504.0, float("nan")]),
                "model.0.conv.weight": torch.full((16, 3, 3, 3), 0.125),
            }
        },
        path,
    )
    report = inspect_ckpt(path, stats=True)
    for width in (80, 200):
        console = stdout_console(width=width)
        with console.capture() as cap:
            render_text(report, console)
        out = cap.get()
        assert all(
            len(line) <= width
            for line in out.splitlines()
            if name not in line and "fix:" not in line and "/" not in line
        ), width
        assert name in out and "65504" in out and "-65504" in out and "…" not in out
        lines = out.splitlines()
        at = next(i for i, line in enumerate(lines) if line.strip().startswith(name))
        row = " ".join(lines[at : at + 2])  # beside the name, or on the line below it when the name is long
        assert re.search(r"\b(bad )?1\s+(min )?-65504\s+(max )?65504\b", row), row
    wide = stdout_console(width=200)
    with wide.capture() as cap:
        render_text(report, wide)
    assert re.search(r"\bstd\b", cap.get()) and "f32" in cap.get()


def test_config_keys_are_never_cut_at_80_columns(tmp_path):
    from nandoctor.config.engine import diagnose_config
    from nandoctor.render import render_text, stdout_console

    cfg = tmp_path / "train.yaml"
    cfg.write_text(
        "training:\n  lr: 0.01\n  max_grad_norm_for_the_very_long_key_name_here: null\n  amp: true\n"
        "  fp16: true\n  warmup_steps: 0\n"
    )
    report = diagnose_config(cfg, dry_run=True)
    keys = [c["key"] for c in report.summary.get("changes", [])]
    assert keys
    console = stdout_console(width=80)
    with console.capture() as cap:
        render_text(report, console)
    out = cap.get()
    assert all(k in out for k in keys) and "…" not in out


def test_piped_text_is_not_wrapped_at_80_columns(demo_run, tmp_path):
    import shutil

    run = shutil.copytree(demo_run, tmp_path / "run")  # triage writes args_fixed.yaml beside args.yaml
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    r = run_cli("triage", run, "--no-data", env=env)
    from shlex import quote

    lines = [line.strip() for line in r.stdout.splitlines()]
    assert max(len(line) for line in lines) > 120  # prose runs on: a pipe has no edge to wrap at
    backup = [line for line in lines if line.startswith("mkdir -p ")]  # save the scene, the broken files named
    assert len(backup) == 1 and len(backup[0]) > 120 and backup[0].endswith(f"{quote(str(run / 'nan_backup'))}/")
    assert f"yolo train cfg={quote(str(run / 'args_fixed.yaml'))}" in lines


@pytest.mark.parametrize("color,expect", [("always", True), ("never", False), ("auto", False)])
def test_color_option(demo_run, color, expect):
    r = run_cli("analyze-log", demo_run / "results.csv", "--color", color)
    assert r.code == 1 and ("\x1b[" in r.stdout) is expect


def test_several_paths_and_a_glob_make_one_report(cli, demo_run, tmp_path):
    healthy = tmp_path / "h.csv"
    healthy.write_text("epoch,train_loss\n1,2.0\n2,1.9\n3,1.8\n")
    r = cli("analyze-log", demo_run / "results.csv", healthy, "-f", "json")
    assert r.code == 1 and [i["path"] for i in r.json["summary"]["inputs"]] == [
        str(demo_run / "results.csv"),
        str(healthy),
    ]
    assert [i["summary"]["pattern"] for i in r.json["summary"]["inputs"]] == ["abrupt_nonfinite", "healthy"]
    glob = cli("inspect-ckpt", str(demo_run / "weights" / "epoch[23].pt"), "-f", "json")
    assert glob.code == 1 and len(glob.json["summary"]["inputs"]) == 2
    none = run_cli("check-data", str(tmp_path / "*.nothing"))
    assert none.code == 2 and "no file matches" in none.stderr and none.stderr.count("\n") == 1


def test_several_inputs_each_get_their_own_view_in_text(cli, demo_run, tmp_path):
    healthy = tmp_path / "h.csv"
    healthy.write_text("epoch,train_loss\n1,2.0\n2,1.9\n3,1.8\n")
    r = cli("analyze-log", healthy, demo_run / "results.csv", "--color", "never")
    heads = [line.split("  (")[0] for line in r.stdout.splitlines() if "  (csv, " in line or "  (ultralytics" in line]
    assert r.code == 1 and heads == [str(healthy), str(demo_run / "results.csv")], r.stdout[:600]
    assert "pattern: healthy" in r.stdout and "pattern: abrupt_nonfinite" in r.stdout


def test_explain_and_demo_speak_json(tmp_path):
    one = run_cli("explain", "ND201", "--format", "json")
    [rule] = one.json["summary"]["rules"]
    assert one.code == 0 and rule["code"] == "ND201" and rule["fix"] and rule["bad"] and rule["good"]
    listing = run_cli("explain", "-f", "json")
    assert len(listing.json["summary"]["rules"]) > 50
    demo = run_cli("demo", tmp_path / "run", "--format", "json")
    assert demo.code == 0 and demo.json["summary"]["try_next"][0] == f"nandoctor triage {tmp_path / 'run'}"


def test_help_version_and_completion():
    assert run_cli("-h").stdout.startswith("Usage: nandoctor")
    assert run_cli("check-data", "-h").code == 0
    assert run_cli("-V").stdout.strip() == "nandoctor 0.1.0"
    assert "--install-completion" in run_cli("--help").stdout


def test_usage_errors_are_one_line():
    for args in (["check-data"], ["analyze-log", "x.csv", "--fail-on", "bogus"], ["nope"], ["explain", "--bogus"]):
        r = run_cli(*args)
        assert r.code == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("nandoctor: error: "), (args, r.stderr)


def test_json_envelope_stays_valid_for_hostile_summary_keys(hostile_names):
    r = run_cli("inspect-ckpt", hostile_names, "--stats", "-f", "json")
    names = [t["name"] for t in r.json["summary"]["checkpoints"][0]["stats"]]
    assert "w[/]" in names and r"\x1b]52;c;ZXZpbA==\x07evil" in names
    json.dumps(r.json, ensure_ascii=False).encode("utf-8")  # no lone surrogate anywhere


def test_inert_escapes_what_a_terminal_would_act_on():
    from nandoctor.inert import inert

    assert inert("a\x1b[2Jb\x07\r\n\t\u202e") == r"a\x1b[2Jb\x07\x0d\x0a\x09\u202e"
    assert inert(os.fsdecode(b"caf\xe9")) == r"caf\xe9"
    assert inert("plain [bold] text é 实验") == "plain [bold] text é 实验"
    assert inert("line\r\nnext\x1b", keep_newlines=True) == "line\nnext\\x1b"


def test_wrap_never_breaks_a_path_or_a_backticked_command():
    from nandoctor.layout import split_step, wrap

    path = "/very/long/path with spaces/实验/run 1/weights/epoch2.pt"
    lines = wrap(
        f"resume from {path} and run `nandoctor triage /tmp/run --force` then stop here now", 30, "  ", "    ", [path]
    )
    assert any(path in line for line in lines)
    assert any("`nandoctor triage /tmp/run --force`" in line for line in lines)
    assert all(line.startswith("    ") for line in lines[1:])
    parts = split_step("Watch the new run and re-run: nandoctor analyze-log /x/results.csv")
    assert parts == [("prose", "Watch the new run and re-run:"), ("code", "nandoctor analyze-log /x/results.csv")]
    assert Path(path).name == "epoch2.pt"


@pytest.mark.parametrize("width", [80, 200])
def test_every_view_fits_and_cuts_nothing(demo_run, tmp_path, width):
    """Each command's text view at 80 and 200 columns: no cell cut to `…`, and the only lines past
    the edge are those holding a path or a command, or a line of the repaired file's diff (printed
    whole on purpose, each on a line of its own)."""
    import shutil

    from nandoctor.ckpt.engine import inspect_ckpt
    from nandoctor.config.engine import diagnose_config
    from nandoctor.data.engine import check_data
    from nandoctor.logs.engine import analyze_log
    from nandoctor.render import render_text, stdout_console
    from nandoctor.triage.engine import triage

    run = tmp_path / "run"
    shutil.copytree(demo_run, run)
    reports = [
        check_data(run / "dataset"),
        inspect_ckpt(run / "weights", stats=True),
        analyze_log(run / "results.csv"),
        diagnose_config(run / "args.yaml", dry_run=True),
        triage(run, force=True),
    ]
    for report in reports:
        console = stdout_console(width=width)
        with console.capture() as cap:
            render_text(report, console)
        out = cap.get()
        assert "…" not in out, report.command
        diff = [line for line in (report.summary.get("diff") or "").splitlines() if line.strip()]
        printed = out.splitlines()
        assert all(line in printed for line in diff), report.command  # whole and alone on its line
        long = [
            line for line in printed if len(line) > width and "/" not in line and "=" not in line and line not in diff
        ]
        assert not long, (report.command, long[:3])
