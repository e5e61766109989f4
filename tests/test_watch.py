"""`analyze-log --watch` as a monitor: it waits for the log, beats, follows truncation, deletion and
re-creation (reading the new log from its start), refreshes --plot and says why it stopped.

The clock and the sleep are injected: each "sleep" runs the next change to the log, so every test is
deterministic (no timing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nandoctor.logs.watch import watch_log

HEADER = "epoch,train_loss,val_loss,val_acc\n"


def rows(losses, start=1) -> str:
    return "".join(f"{start + i},{v},{v},0.5\n" for i, v in enumerate(losses))


class Script:
    """A fake clock whose sleep applies the next scripted change to the log."""

    def __init__(self, *changes):
        self.now, self.changes = 0.0, list(changes)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 1.0)
        if self.changes:
            self.changes.pop(0)()


def _watch(path: Path, script: Script, **kw):
    lines: list[str] = []
    report = watch_log(
        path,
        interval=1.0,
        timeout=kw.pop("timeout", 50.0),
        emit=lines.append,
        clock=script.clock,
        sleep=script.sleep,
        **kw,
    )
    return report, lines


def test_waits_for_a_log_that_does_not_exist_yet(tmp_path):
    log = tmp_path / "training_history.csv"
    script = Script(
        lambda: None,
        lambda: log.write_text(HEADER + rows([2.0, 1.9])),
        lambda: log.write_text(HEADER + rows([2.0, 1.9, "nan"])),
    )
    report, lines = _watch(log, script)
    assert lines[0].startswith(f"watching {log} every 1 s")
    assert lines[1] == f"waiting for {log} to appear ..."
    assert "epoch 1: train_loss 2" in lines and "epoch 3: train_loss NaN" in lines
    assert report.alarm and report.summary["watch"]["stopped"] == "alarm"
    assert lines[-1].startswith("stopped: ND301")


def test_truncation_in_place_is_read_again_from_the_start(tmp_path):
    log = tmp_path / "training_history.csv"
    log.write_text(HEADER + rows([2.0, 1.9, 1.8, 1.7]))
    inode = log.stat().st_ino

    def restart():  # the trainer restarts and truncates the same file
        with open(log, "r+") as fh:
            fh.truncate(0)
            fh.write(HEADER + rows([3.0]))

    script = Script(restart, lambda: log.open("a").write(rows(["nan"], start=2)))
    report, lines = _watch(log, script)
    assert log.stat().st_ino == inode
    assert f"{log} was truncated; reading it from the start" in lines
    after = lines[lines.index(f"{log} was truncated; reading it from the start") + 1 :]
    assert after[:2] == ["epoch 1: train_loss 3", "epoch 2: train_loss NaN"]  # the new log's first point is not skipped
    assert report.summary["first_nonfinite"] == {"index": 2, "row": 1}


def test_deletion_and_re_creation(tmp_path):
    log = tmp_path / "training_history.csv"
    log.write_text(HEADER + rows([2.0, 1.9, 1.8]))

    def recreate():
        log.write_text(HEADER + rows([2.5, 2.4]))

    script = Script(log.unlink, lambda: None, recreate, lambda: log.open("a").write(rows(["inf"], start=3)))
    report, lines = _watch(log, script)
    assert f"{log} is gone; waiting for it" in lines
    assert f"{log} was re-created; reading it from the start" in lines
    tail = lines[lines.index(f"{log} was re-created; reading it from the start") + 1 :]
    assert tail[:3] == ["epoch 1: train_loss 2.5", "epoch 2: train_loss 2.4", "epoch 3: train_loss Inf"]
    assert report.alarm


def test_heartbeat_and_timeout_say_what_happened(tmp_path):
    log = tmp_path / "training_history.csv"
    log.write_text(HEADER + rows([2.0, 1.9, 1.8]))
    report, lines = _watch(log, Script(), timeout=10.0, heartbeat=4)
    beats = [line for line in lines if line.startswith("still watching")]
    assert len(beats) == 2 and "3 points, last epoch 3: train_loss 1.8" in beats[0]
    assert lines[-1] == "stopped: --timeout 10 s reached with no alarm (3 points; exit 3)"
    assert not report.alarm and report.summary["watch"] == {"stopped": "timeout", "codes": []}


def test_a_log_that_never_appears_is_exit_2_material(tmp_path):
    from nandoctor.findings import NandoctorError

    with pytest.raises(NandoctorError, match="no readable log appeared within 3 s"):
        _watch(tmp_path / "never.csv", Script(), timeout=3.0)


def test_plot_is_refreshed_with_each_new_point(tmp_path):
    pytest.importorskip("matplotlib")
    log = tmp_path / "training_history.csv"
    log.write_text(HEADER + rows([2.0, 1.9, 1.8]))  # three points: enough for a verdict, so a plot
    png = tmp_path / "loss.png"
    drawn = []

    def grow(value, start):
        def change():
            drawn.append(png.stat().st_ino)
            log.open("a").write(rows([value], start=start))

        return change

    report, lines = _watch(log, Script(grow(1.7, 4), grow("nan", 5)), plot=png)
    assert lines.count(f"wrote the plot to {png} (redrawn with each new point)") == 1
    drawn.append(png.read_bytes())
    assert len(set(drawn)) == 3  # written at the start, after epoch 4, after the NaN
    assert report.summary["plot"] == str(png) and png.read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loss.png", "training_history.csv"]
