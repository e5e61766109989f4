"""triage when the pieces it finds cannot be read: a run whose only log or only config is unreadable
never exits 0 as if nothing were wrong. Nothing judged at all: exit 2 with the one-line reason; some
pieces judged: an ND504 error on the unreadable one. The files are what a killed or corrupted
Ultralytics run leaves: results.csv cut mid-row, binary garbage under the log's name."""

from __future__ import annotations

import pytest

from tests.triage_runs import results_rows, tree_hash, ultralytics_run, write_results_csv

GARBAGE = bytes(range(256)) * 8  # NUL bytes and invalid UTF-8: what a disk error leaves


def _cut_mid_row(path, rows: int = 1) -> None:
    """results.csv as a job killed while Ultralytics appended a row leaves it: `rows` complete data
    rows, then half of the next one."""
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join(lines[: rows + 1]) + b"\n" + lines[rows + 1][: len(lines[rows + 1]) // 2])


def _only(tmp_path, name: str, data: bytes):
    run = ultralytics_run(tmp_path / "full", epochs=4, nan_epoch=None)
    alone = tmp_path / "run"
    alone.mkdir()
    (alone / name).write_bytes(data if data else (run / name).read_bytes())
    return alone


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("results.csv", GARBAGE, "binary file, not a training log"),
        ("args.yaml", GARBAGE, "binary data (NUL bytes)"),
    ],
)
def test_only_input_unreadable_exits_2_with_one_line(cli, tmp_path, name, data, reason):
    run = _only(tmp_path, name, data)
    before = tree_hash(run)
    r = cli("triage", run, "--format", "json")
    assert r.code == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert str(run / name) in r.stderr and reason in r.stderr and "nothing in the run could be analysed" in r.stderr
    assert tree_hash(run) == before  # no repaired config or anything else written


def test_only_log_truncated_mid_row_exits_2(cli, tmp_path):
    run = _only(tmp_path, "results.csv", b"")
    _cut_mid_row(run / "results.csv", rows=1)
    r = cli("triage", run)
    assert r.code == 2 and r.stderr.count("\n") == 1
    assert str(run / "results.csv") in r.stderr and "too few to judge" in r.stderr


def test_ND504_log_truncated_in_its_header_in_a_full_run_is_an_error(cli, tmp_path):
    """Weights and args.yaml are judged; the log that would date the NaN was cut inside its header
    (a copy interrupted, a disk filled up): no row, no date, so exit 1 (never 0 as if healthy)."""
    run = ultralytics_run(tmp_path / "run", epochs=4, nan_epoch=None)
    log = run / "results.csv"
    log.write_bytes(log.read_bytes()[:60])
    r = cli("triage", run, "--no-data", "--format", "json")
    assert r.code == 1
    nd504 = [f for f in r.json["findings"] if f["code"] == "ND504"]
    assert [(f["path"], f["severity"]) for f in nd504] == [(str(run / "results.csv"), "error")]
    assert "header only" in nd504[0]["message"] and "could not be dated" in nd504[0]["message"]
    assert r.json["summary"]["engines"]["inspect-ckpt"][0]["status"] == "ran"
    assert r.json["summary"]["fixed_config"] == str(run / "args_fixed.yaml")


def test_ND504_unreadable_config_in_a_full_run_is_an_error(cli, tmp_path):
    """The log dates the NaN and the checkpoints are placed; args.yaml is garbage, so no repaired
    settings exist: an error naming args.yaml, and no args_fixed.yaml."""
    run = ultralytics_run(tmp_path / "run", epochs=5, nan_epoch=4)
    (run / "args.yaml").write_bytes(GARBAGE)
    r = cli("triage", run, "--format", "json")
    assert r.code == 1
    nd504 = [f for f in r.json["findings"] if f["code"] == "ND504"]
    assert [(f["path"], f["severity"]) for f in nd504] == [(str(run / "args.yaml"), "error")]
    assert "no repaired config was written" in nd504[0]["message"]
    assert r.json["summary"]["recommended"] == str(run / "weights" / "epoch2.pt")
    assert not (run / "args_fixed.yaml").exists()


def test_a_short_but_readable_log_stays_a_warning(cli, tmp_path):
    """Two finite epochs read fine but are too few for a curve: triage knows nothing non-finite was
    logged, so the ND504 stays a warning and the run exits 0."""
    run = ultralytics_run(tmp_path / "run", epochs=2, nan_epoch=None)
    r = cli("triage", run, "--no-data", "--format", "json")
    nd504 = [f for f in r.json["findings"] if f["code"] == "ND504"]
    assert r.code == 0 and [f["severity"] for f in nd504] == ["warning"]
    assert r.json["summary"]["recommended"] == str(run / "weights" / "epoch1.pt")


def test_a_second_unreadable_config_is_not_an_error(cli, tmp_path):
    """A generic run with a readable train.yaml and a junk other.yaml: the junk one is skipped (info)."""
    from tests.triage_runs import generic_run

    run = generic_run(tmp_path / "run", epochs=4, nan_epoch=3)
    (run / "train.yaml").write_text("lr: 0.1\nepochs: 4\nbatch_size: 32\noptimizer: adam\n")
    (run / "zz_other.yaml").write_bytes(GARBAGE)
    r = cli("triage", run, "--format", "json")
    found = {(f["code"], f["severity"]) for f in r.json["findings"] if f["path"] == str(run / "zz_other.yaml")}
    assert found == {("ND503", "info")} and r.code == 1  # 1: the NaN, not the junk file


def test_results_rows_helper_writes_what_the_cut_helper_cuts(tmp_path):
    """_cut_mid_row leaves a partial last row, as a killed writer does (not a whole one)."""
    p = tmp_path / "results.csv"
    write_results_csv(p, results_rows(4, None))
    _cut_mid_row(p, rows=2)
    last = p.read_text().split("\n")[-1]
    assert 0 < last.count(",") < p.read_text().split("\n")[0].count(",")
