"""The typed verdicts triage composes, each built by its one constructor from the real engine's Report
on files written by the real writers: the values a caller reads are the ones the engine reported."""

from __future__ import annotations

from pathlib import Path

from nandoctor.ckpt.engine import inspect_ckpt
from nandoctor.ckpt.verdict import CheckpointScan
from nandoctor.config.engine import diagnose_config
from nandoctor.config.repair import ConfigRepair
from nandoctor.logs.engine import analyze_log
from nandoctor.logs.verdict import LogVerdict, Point
from tests.triage_runs import results_rows, ultralytics_run, write_results_csv


def test_log_verdict_dates_the_break_as_analyze_log_does(tmp_path):
    run = ultralytics_run(tmp_path / "run", epochs=6, nan_epoch=4)
    report = analyze_log(run / "results.csv")
    v = LogVerdict.of(report)
    assert (v.index_name, v.first_nonfinite, v.last_healthy) == ("epoch", Point(4, 3), Point(3, 2))
    assert v.pattern == report.summary["pattern"] and v.rows == 6
    assert "train/box_loss" in v.nonfinite_columns and v.resumes == ()
    assert v.first_nonfinite is not None and v.first_nonfinite.to_dict() == report.summary["first_nonfinite"]


def test_log_verdict_carries_the_resume_analyze_log_found(tmp_path):
    """A resume (ND314: the time column restarts) is dated at the resumed run's first row."""
    run = ultralytics_run(tmp_path / "run", epochs=6, nan_epoch=None)
    old, new = results_rows(6, None), results_rows(3, None, first=3)
    write_results_csv(run / "results.csv", {k: old[k] + new[k] for k in old})
    v = LogVerdict.of(analyze_log(run / "results.csv"))
    assert v.first_nonfinite is None and v.resumes == (Point(3, 6),)


def test_point_refuses_what_is_not_a_dated_event():
    assert Point.of({"index": True, "row": 1}) is None and Point.of({"index": 2, "row": "3"}) is None
    assert Point.of(None) is None and Point.of(4) is None
    assert Point.of({"index": 1.5, "row": 3, "batch": "2/8"}) == Point(1.5, 3, "2/8")
    assert Point(1.5, 3, "2/8").to_dict() == {"index": 1.5, "row": 3, "batch": "2/8"}


def test_checkpoint_scan_reads_status_epoch_and_the_recommended_one(tmp_path):
    run = ultralytics_run(tmp_path / "run", epochs=4, nan_epoch=None, poisoned=(3,))
    report = inspect_ckpt(run / "weights")
    scan = CheckpointScan.of(report)
    by_name = {Path(c.path).name: c for c in scan.checkpoints}
    assert set(by_name) == {f"epoch{n}.pt" for n in range(4)}
    assert [by_name[f"epoch{n}.pt"].epoch for n in range(4)] == [0, 1, 2, 3]
    assert by_name["epoch3.pt"].status == "poisoned" and by_name["epoch0.pt"].resumable
    assert scan.recommended == report.summary["recommended"] == str(run / "weights" / "epoch2.pt")
    assert [c.path for c in scan.checkpoints if c.recommended] == [scan.recommended]


def test_config_repair_names_the_changes_and_the_written_file(tmp_path):
    run = ultralytics_run(tmp_path / "run", epochs=6, nan_epoch=4)
    out = tmp_path / "args_fixed.yaml"
    repair = ConfigRepair.of(diagnose_config(run / "args.yaml", log=run / "results.csv", output=out))
    assert (repair.written, repair.kept, repair.status, repair.path) == (str(out), None, "written", str(out))
    amp = [c for c in repair.changes if c.key == "amp"]
    assert [(c.old, c.new) for c in amp] == [(True, False)] and out.is_file()
    assert repair.lr_ran == 0.001  # lr/pg0 in results.csv before the break
    again = ConfigRepair.of(diagnose_config(run / "args.yaml", output=out, keep_existing=True))
    assert (again.written, again.kept, again.status) == (None, str(out), "kept")
