"""analyze-log: readers on real files and real writers, the six patterns, dating, evidence, CLI."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nandoctor.logs.classify import PATTERNS, classify
from nandoctor.logs.engine import analyze_log
from tests.analyze_log_fixtures import (
    NAN,
    PLAYBOOK,
    healthy_variant,
    noisy_curve,
    with_recovered_spike,
    write_csv,
    write_lightning_metrics,
    write_trainer_state,
    write_training_history,
    write_ultralytics_results,
)
from tests.conftest import run_cli, sigint_as_in_a_terminal

ULTRALYTICS = [
    "results_classify.csv",
    "results_detect_padded_epoch1_healthy_same_project.csv",
    "results_detect_v8new.csv",
    "results_detect_v8padded.csv",
    "results_obb.csv",
    "results_pose.csv",
    "results_segment.csv",
    "results_yolov5.csv",
]
DIVERGENT = ["sudden_spike", "exponential_growth", "oscillating_divergence"]
CODE = {
    "nonfinite_from_start": "ND303",
    "sudden_spike": "ND304",
    "exponential_growth": "ND305",
    "oscillating_divergence": "ND306",
    "abrupt_nonfinite": "ND307",
}


def codes(report):
    return [f.code for f in report.findings]


def errors(report):
    return [f for f in report.findings if f.severity.value == "error"]


# --- the six patterns: playbook sequences and noisy per-step logs ----------------------------------


@pytest.mark.parametrize("pattern", PATTERNS)
def test_playbook_sequences(pattern):
    assert classify(PLAYBOOK[pattern]).pattern == pattern


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("n,seed,noise", [(300, 1, 0.2), (3000, 2, 0.08), (12000, 3, 0.05)])
def test_noisy_per_step_logs(pattern, n, seed, noise):
    y = noisy_curve(pattern, n=n, seed=seed, noise=noise)
    shape = classify(y)
    assert shape.pattern == pattern
    if pattern not in ("healthy", "nonfinite_from_start"):
        assert shape.first_bad == int(n * 0.85) + (1 if pattern == "sudden_spike" else 0)


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("seed", range(3))
def test_short_noisy_logs_of_100_points(pattern, seed):
    assert classify(noisy_curve(pattern, n=100, seed=seed, noise=0.2)).pattern == pattern


@pytest.mark.parametrize("seed", range(40))
def test_hard_healthy_curves_raise_no_pattern(seed):
    shape = classify(healthy_variant(seed))
    assert shape.pattern == "healthy", shape.detail


@pytest.mark.parametrize("pattern", DIVERGENT)
def test_divergence_without_nan_yet_is_named(pattern):
    seq = [v for v in PLAYBOOK[pattern] if math.isfinite(v)]
    assert classify(seq).pattern == pattern
    y = noisy_curve(pattern, n=3000, seed=4)
    assert classify(y[np.isfinite(y)]).pattern == pattern


@pytest.mark.parametrize("pattern", ["ND301", *CODE.values()])
def test_pattern_findings_in_training_history_csv(tmp_path, pattern):
    name = {v: k for k, v in CODE.items()}.get(pattern, "abrupt_nonfinite")
    log = write_training_history(tmp_path / "training_history.csv", PLAYBOOK[name])
    report = analyze_log(log)
    assert report.summary["pattern"] == name and report.summary["format"] == "csv"
    assert pattern in codes(report) and report.exit_code() == 1


def test_ND302_recovered_spike_is_a_warning_not_a_pattern(tmp_path):
    log = write_training_history(tmp_path / "h.csv", [2.1, 2.0, 8734.5, 1.9, 1.85, 1.8])
    report = analyze_log(log)
    s = report.summary
    assert s["pattern"] == "healthy" and report.exit_code() == 0
    assert codes(report) == ["ND302"] and s["spikes"][0]["index"] == 3 and s["spikes"][0]["row"] == 2
    assert report.findings[0].line == 4


def test_ND302_recovered_spike_in_noisy_per_step_log(tmp_path):
    y = with_recovered_spike(4000, seed=5)
    log = write_csv(tmp_path / "steps.csv", {"step": list(range(4000)), "loss": [float(v) for v in y]})
    report = analyze_log(log)
    s = report.summary
    assert s["pattern"] == "healthy" and s["index_name"] == "step"
    assert [sp["index"] for sp in s["spikes"]] == [2000] and 0 < s["spike_score"] < 0.001
    assert "ND302" in codes(report) and not errors(report)


# --- readers: real files ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ULTRALYTICS)
def test_real_ultralytics_results_are_read_and_healthy(shared_formats, name):
    report = analyze_log(shared_formats / "ultralytics" / name)
    s = report.summary
    assert s["format"] == "ultralytics-results" and s["index_name"] == "epoch"
    assert s["pattern"] == "healthy" and s["first_nonfinite"] is None and not errors(report)
    assert s["metric"].startswith("train/") and s["rows"] >= 5


def test_real_segment_spike_is_at_most_a_warning(shared_formats):
    report = analyze_log(shared_formats / "ultralytics" / "results_segment.csv")
    assert report.exit_code("error") == 0
    assert "seg_loss" in report.summary["metric"]


def test_ND313_real_obb_run_is_not_learning_without_nan(shared_formats):
    report = analyze_log(shared_formats / "ultralytics" / "results_obb.csv")
    assert report.summary["pattern"] == "healthy" and codes(report) == ["ND313"]
    assert report.findings[0].severity.value == "info" and "metrics/mAP50(B)" in report.findings[0].message


def test_real_yolov5_and_padded_headers(shared_formats):
    v5 = analyze_log(shared_formats / "ultralytics" / "results_yolov5.csv").summary
    assert v5["metric"] == "train/box_loss+train/obj_loss+train/cls_loss"
    padded = analyze_log(shared_formats / "ultralytics" / "results_detect_v8padded.csv").summary
    assert padded["metric"] == "train/box_loss+train/cls_loss+train/dfl_loss" and padded["rows"] == 25


def test_ND312_real_hf_spike_file_first_entry_is_not_an_alarm(shared_formats):
    report = analyze_log(shared_formats / "hf" / "trainer_state_small_gradnorm_spike.json")
    s = report.summary
    assert s["format"] == "hf-trainer-state" and s["metric"] == "loss" and s["index_name"] == "step"
    assert s["pattern"] == "healthy" and codes(report) == ["ND312"]
    assert 4 <= s["clip_threshold"] <= 7  # 2-3x the healthy norms (2.16, 0.60, 0.48), not 2.5x 47.77


def test_real_hf_tinyllama_is_healthy(shared_formats):
    report = analyze_log(shared_formats / "hf" / "trainer_state_tinyllama_sft.json")
    assert report.summary["pattern"] == "healthy" and not errors(report) and report.summary["rows"] == 200


def test_real_lightning_metrics_sparse_rows(shared_formats):
    report = analyze_log(shared_formats / "lightning" / "metrics.csv")
    s = report.summary
    assert s["format"] == "lightning-metrics" and s["metric"] == "train_loss_step"
    assert s["pattern"] == "healthy" and not errors(report) and s["nonfinite_columns"] == []


# --- dating: the field notes' stories ----------------------------------------------------------------


def test_ND301_demo_results_csv(demo_run):
    report = analyze_log(demo_run / "results.csv")
    s = report.summary
    assert s["pattern"] == "abrupt_nonfinite"
    assert s["first_nonfinite"] == {"index": 4, "row": 3} and s["last_healthy"] == {"index": 3, "row": 2}
    # the one LR policy: 1/5 of the lr/pg0 that ran (peak 0.00198 before the NaN) after 4 epochs
    assert s["epochs_to_nonfinite"] == 4 and s["lr_ran"] == 0.00198 and s["suggested_lr"] == 0.0004
    assert "weights/epoch2.pt" in report.next_steps[0]
    nd301 = [f for f in report.findings if f.code == "ND301"][0]
    assert nd301.line == 5 and nd301.severity.value == "error"
    assert analyze_log(demo_run).summary["first_nonfinite"] == {"index": 4, "row": 3}  # the run folder works too


def test_ND309_ultralytics_epoch_134_story(tmp_path):
    box = [1.9 - 0.003 * e for e in range(1, 134)] + [NAN] * 3
    log = write_ultralytics_results(tmp_path / "results.csv", box)
    report = analyze_log(log)
    s = report.summary
    assert s["first_nonfinite"] == {"index": 134, "row": 133} and s["last_healthy"] == {"index": 133, "row": 132}
    assert s["pattern"] == "abrupt_nonfinite" and s["epochs_to_nonfinite"] == 134
    assert s["lr_ran"] == 1e-3 and s["suggested_lr"] == 5e-4  # a late NaN: half the lr/pg0 that ran
    assert s["nonfinite_columns"][:3] == ["train/box_loss", "train/cls_loss", "train/dfl_loss"]
    assert "weights/epoch132.pt" in report.next_steps[0]
    snapped = [f for f in report.findings if f.code == "ND309"][0]
    assert "metrics/mAP50(B) 0.4 -> 0" in snapped.message


def test_ND307_ultralytics_console_epoch_134(tmp_path):
    log = tmp_path / "train.log"
    log.write_text(
        "      Epoch    GPU_mem   box_loss   cls_loss   dfl_loss  Instances       Size\n"
        "    133/200      24.6G      1.874      4.012      1.652        301       1280: 100%|####| 20/20\n"
        "    134/200      24.6G       1.88       4.06      1.659        316       1280\r"
        "    134/200      24.6G        nan        nan        nan        294       1280\n"
    )
    report = analyze_log(log)
    s = report.summary
    assert s["format"] == "ultralytics-console" and s["metric"] == "box_loss+cls_loss+dfl_loss"
    assert s["first_nonfinite"]["index"] == 134 and s["last_healthy"]["index"] == 133
    assert "ND307" in codes(report)


def test_ND308_ND309_field_notes_1A_validation_first_and_acc_snaps(tmp_path):
    log = tmp_path / "train.log"
    log.write_text(
        "Epoch 1/50 | Train Loss: 0.4974 | Val Loss: 2.1927 | Val Acc: 0.0000\n"
        "Epoch 2/50 | Train Loss: 0.7663 | Val Loss: nan | Val Acc: 1.0000\n"
        "Epoch 3/50 | Train Loss: nan | Val Loss: nan | Val Acc: 1.0000\n"
    )
    report = analyze_log(log)
    s = report.summary
    assert s["format"] == "pipe-console" and s["metric"] == "train_loss"
    assert s["nonfinite_columns"] == ["val_loss", "train_loss"]
    assert s["first_nonfinite"] == {"index": 3, "row": 2} and s["onset"] == {"index": 2, "row": 1}
    assert s["epochs_to_nonfinite"] == 3 and s["suggested_lr"] == 1e-5
    by = {f.code: f for f in report.findings}
    assert by["ND308"].line == 2 and "before train_loss" in by["ND308"].message
    assert "val_acc 0 -> 1" in by["ND309"].message


def test_ND303_field_notes_1C_inf_from_the_first_evaluation(tmp_path):
    log = tmp_path / "eval.log"
    log.write_text(
        "food101: Loss: inf, Accuracy: 0.0097 (0.97%)\nfood172: Loss: inf, Accuracy: 0.0035 (0.35%)\n"
        "foodx251: Loss: inf, Accuracy: 0.0050 (0.50%)\n"
    )
    report = analyze_log(log)
    assert report.summary["pattern"] == "nonfinite_from_start" and report.summary["last_healthy"] is None
    assert "ND303" in codes(report)


# --- HF, Lightning, TensorBoard built with their real structures --------------------------------------


def test_ND310_hf_filtered_loss_grad_norm_is_the_witness(tmp_path):
    n = 60
    losses = [2.0 - 0.01 * i for i in range(n)]  # logging_nan_inf_filter kept these finite
    grads = [1.0 + 0.01 * i for i in range(40)] + [NAN] * 20
    log = write_trainer_state(tmp_path / "trainer_state.json", losses, grads, eval_every=10)
    assert "NaN" in log.read_text()
    report = analyze_log(log)
    s = report.summary
    assert s["first_nonfinite"]["index"] == 410 and s["index_name"] == "step"
    assert "ND310" in codes(report) and "ND301" in codes(report)
    assert s["nonfinite_columns"] == ["grad_norm"]
    assert s["epochs_to_nonfinite"] == pytest.approx(4.1)


def test_ND305_hf_exponential_growth_with_eval_entries(tmp_path):
    y = noisy_curve("exponential_growth", n=2000, seed=7)
    log = write_trainer_state(tmp_path / "trainer_state.json", y, np.ones(2000), eval_every=50)
    report = analyze_log(log)
    assert report.summary["pattern"] == "exponential_growth" and "ND305" in codes(report)
    assert report.summary["first_nonfinite"]["index"] == 1701 * 10


def test_ND311_grad_norm_surge_before_the_break(tmp_path):
    grads = [1.0] * 50 + [1.1, 1.2, 9.0, 40.0] + [NAN]
    losses = [2.0 - 0.005 * i for i in range(54)] + [2.5]
    report = analyze_log(write_trainer_state(tmp_path / "trainer_state.json", losses, grads))
    surge = [f for f in report.findings if f.code == "ND311"][0]
    assert surge.severity.value == "warning" and "step 530" in surge.where


def test_lightning_nan_step_vs_empty_cells(tmp_path):
    y = noisy_curve("oscillating_divergence", n=1500, seed=8)
    log = write_lightning_metrics(tmp_path / "metrics.csv", [float(v) for v in y])
    text = log.read_text()
    assert ",nan," in text or ",nan\n" in text
    report = analyze_log(log)
    s = report.summary
    assert s["format"] == "lightning-metrics" and s["metric"] == "train_loss_step"
    assert s["pattern"] == "oscillating_divergence" and s["first_nonfinite"]["index"] == 1275


def test_tensorboard_event_files_from_summary_writer(tmp_path):
    pytest.importorskip("tensorboard")
    from torch.utils.tensorboard import SummaryWriter

    y = noisy_curve("sudden_spike", n=800, seed=9)
    with SummaryWriter(str(tmp_path / "tb")) as w:
        for i, v in enumerate(y):
            w.add_scalar("train/loss", float(v), i)
            if i % 100 == 0:
                w.add_scalar("val/loss", float(v) * 1.1, i)
    report = analyze_log(tmp_path / "tb")
    s = report.summary
    assert s["format"] == "tensorboard" and s["metric"] == "train/loss"
    assert s["pattern"] == "sudden_spike" and s["first_nonfinite"] == {"index": 681, "row": 681}


# --- options, views and the CLI -----------------------------------------------------------------------


def test_metric_option_and_unknown_metric(cli, demo_run):
    r = cli("analyze-log", demo_run / "results.csv", "--metric", "val/box_loss", "--format", "json")
    assert r.code == 1 and r.json["summary"]["metric"] == "val/box_loss"
    bad = cli("analyze-log", demo_run / "results.csv", "--metric", "nope")
    assert bad.code == 2 and "no column 'nope'" in bad.stderr


def test_text_view_marks_the_break(cli, demo_run):
    r = cli("analyze-log", demo_run / "results.csv")
    assert r.code == 1
    assert "│✗✗" in r.stdout and "pattern: abrupt_nonfinite" in r.stdout and "last healthy epoch 3" in r.stdout


def test_healthy_real_file_exits_0(cli, shared_formats):
    r = cli("analyze-log", shared_formats / "ultralytics" / "results_detect_v8new.csv", "--format", "json")
    assert r.code == 0 and r.json["summary"]["pattern"] == "healthy"


def test_plot_is_written_atomically_and_not_overwritten(cli, demo_run, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "loss.png"
    r = cli("analyze-log", demo_run / "results.csv", "--plot", out)
    assert r.code == 1 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = run_cli("analyze-log", demo_run / "results.csv", "--plot", out)
    assert again.code == 2 and "--force" in again.stderr and again.stderr.count("\n") == 1
    assert cli("analyze-log", demo_run / "results.csv", "--plot", out, "--force").code == 1
    assert [p.name for p in tmp_path.iterdir()] == ["loss.png"]  # no temp file left behind


def test_watch_exits_1_when_the_loss_turns_nonfinite(tmp_path):
    log = tmp_path / "training_history.csv"
    write_training_history(log, [2.0, 1.9, 1.8])
    writer = (
        "import time,sys\ntime.sleep(1.0)\nopen(sys.argv[1],'a').write('4,1.7,1.8,0.5\\n')\n"
        "time.sleep(0.5)\nopen(sys.argv[1],'a').write('5,nan,nan,1.0\\n')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", writer, str(log)])
    try:
        r = run_cli("analyze-log", log, "--watch", "--interval", "0.2", "--timeout", "30", "--format", "json")
    finally:
        proc.wait(timeout=30)
    assert r.code == 1 and r.json["summary"]["watch"]["stopped"] == "alarm"
    assert r.json["summary"]["first_nonfinite"] == {"index": 5, "row": 4}
    assert "epoch 4: train_loss 1.7" in r.stderr and "epoch 5: train_loss NaN" in r.stderr


def test_watch_timeout_on_a_healthy_log_exits_3(tmp_path):
    log = write_training_history(tmp_path / "h.csv", [2.0, 1.9, 1.8])
    r = run_cli("analyze-log", log, "--watch", "--interval", "0.1", "--timeout", "0.5", "--format", "json")
    assert r.code == 3 and r.json["summary"]["watch"]["stopped"] == "timeout" and "--timeout" in r.stderr


def test_analyze_log_never_imports_torch(demo_run):
    p = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "nandoctor",
            "analyze-log",
            str(demo_run / "results.csv"),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert p.returncode == 1 and '"pattern": "abrupt_nonfinite"' in p.stdout
    imported = {line.split("|")[-1].strip().split(".")[0] for line in p.stderr.splitlines() if "|" in line}
    assert "pandas" in imported and "torch" not in imported


def test_padded_v8_results_with_nan_rows(tmp_path):
    """8.0-8.2 padded every field to 23 characters; NaN rows keep the padding."""
    cols = ["epoch", "train/box_loss", "train/cls_loss", "train/dfl_loss", "metrics/mAP50(B)", "val/box_loss"]
    lines = [",".join(c.rjust(23) for c in cols)]
    for e in range(0, 12):
        vals = [str(e)] + (
            ["nan"] * 3 + ["0", "nan"]
            if e >= 9
            else [f"{1.5 - 0.02 * e:.5g}", f"{2.0 - 0.03 * e:.5g}", "1.2", "0.31", "1.6"]
        )
        lines.append(",".join(v.rjust(23) for v in vals))
    log = tmp_path / "results.csv"
    log.write_text("\n".join(lines) + "\n")
    s = analyze_log(log).summary
    assert s["format"] == "ultralytics-results" and s["first_nonfinite"] == {"index": 9, "row": 9}
    assert s["last_healthy"] == {"index": 8, "row": 8} and s["epochs_to_nonfinite"] == 10  # epoch from 0


def test_empty_cells_are_not_logged_values_not_nan(tmp_path):
    """A blank loss cell means 'not logged on this row', never the break."""
    log = tmp_path / "history.csv"
    rows = ["step,loss,val_loss"] + [f"{i},{2.0 - 0.01 * i:.4f}," for i in range(30)]
    rows[10] = "9,,1.95"
    log.write_text("\n".join(rows) + "\n")
    report = analyze_log(log)
    assert report.summary["pattern"] == "healthy" and report.summary["first_nonfinite"] is None
    assert report.summary["points"] == 29 and not errors(report)


def test_missing_optional_readers_say_what_to_install(tmp_path, monkeypatch, demo_run):
    from nandoctor.findings import NandoctorError

    events = tmp_path / "events.out.tfevents.1.host"
    events.write_bytes(b"\x00" * 16)
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    monkeypatch.setitem(sys.modules, "tensorboard.backend.event_processing", None)
    with pytest.raises(NandoctorError, match=r"nandoctor\[tensorboard\]"):
        analyze_log(events)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(NandoctorError, match=r"nandoctor\[plot\]"):
        analyze_log(demo_run / "results.csv", plot=tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_text_view_of_a_long_noisy_log(cli, tmp_path):
    y = noisy_curve("exponential_growth", n=5000, seed=11)
    log = write_csv(tmp_path / "steps.csv", {"step": list(range(5000)), "loss": [float(v) for v in y]})
    r = cli("analyze-log", log)
    assert r.code == 1 and "pattern: exponential_growth" in r.stdout and "│✗" in r.stdout
    assert "ND305" in r.stdout and "onset step" in r.stdout


def test_ND314_time_column_reset_on_resume(tmp_path):
    box = [1.9 - 0.01 * e for e in range(1, 21)]
    log = write_ultralytics_results(tmp_path / "results.csv", box)
    lines = log.read_text().splitlines()
    for i in range(12, 21):  # resumed at epoch 12: Ultralytics restarts `time`
        fields = lines[i].split(",")
        fields[1] = "%.6g" % (30.0 * (i - 11))
        lines[i] = ",".join(fields)
    log.write_text("\n".join(lines) + "\n")
    report = analyze_log(log)
    reset = [f for f in report.findings if f.code == "ND314"]
    assert len(reset) == 1 and reset[0].line == 13 and "epoch 12" in reset[0].message
    assert report.summary["pattern"] == "healthy" and report.exit_code() == 0


@pytest.mark.parametrize(
    "token,kind",
    [("nan", "NaN"), ("NaN", "NaN"), ("inf", "Inf"), ("Infinity", "Inf"), ("-inf", "-Inf"), ("-Infinity", "-Inf")],
)
def test_nonfinite_tokens_are_understood(tmp_path, token, kind):
    log = tmp_path / "history.csv"
    log.write_text("epoch,train_loss\n1,2.0\n2,1.9\n3," + token + "\n")
    report = analyze_log(log)
    assert report.summary["first_nonfinite"] == {"index": 3, "row": 2}
    assert f"became {kind} at epoch 3" in report.findings[0].message


def test_ND311_watch_stops_with_exit_1_on_a_grad_norm_warning(tmp_path):
    grads = [1.0] * 50 + [1.1, 1.2, 9.0]
    losses = [2.0 - 0.005 * i for i in range(53)]
    log = write_trainer_state(tmp_path / "trainer_state.json", losses, grads)
    r = run_cli("analyze-log", log, "--watch", "--interval", "0.1", "--timeout", "20", "--format", "json")
    assert r.code == 1 and r.json["summary"]["watch"] == {"stopped": "alarm", "codes": ["ND311"]}
    assert [f["severity"] for f in r.json["findings"] if f["code"] == "ND311"] == ["warning"]
    assert "53 points so far (loss)" in r.stderr


def test_watch_ctrl_c_exits_cleanly(tmp_path):
    import signal

    log = write_training_history(tmp_path / "h.csv", [2.0, 1.9, 1.8])
    p = subprocess.Popen(
        [sys.executable, "-m", "nandoctor", "analyze-log", str(log), "--watch", "--interval", "0.1", "--timeout", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        preexec_fn=sigint_as_in_a_terminal,
    )
    assert p.stderr.readline().startswith("watching ")  # the heartbeat: the watch is running, not starting
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130 and "interrupted" in err and "Traceback" not in err


@pytest.mark.parametrize("code", ["ND302", "ND304", "ND305", "ND306", "ND311"])
def test_the_catalogue_bad_sequence_raises_its_code(tmp_path, code):
    """`nandoctor explain` shows each rule's anti-pattern as numbers; logged by transformers' Trainer,
    those very numbers must raise the rule (ND311's did not: the surge test needed ten earlier values)."""
    import re

    from nandoctor.catalogue import get_rule

    numbers = [float(t) for t in re.findall(r"\d+\.\d+|NaN", get_rule(code).bad)]
    assert len(numbers) >= 4
    loss, grad = (numbers, [1.0] * len(numbers)) if code != "ND311" else ([2.1, 2.0, 1.9, 1.85, 1.8], numbers)
    report = analyze_log(write_trainer_state(tmp_path / "trainer_state.json", loss, grad_norms=grad))
    assert code in {f.code for f in report.findings}
    good = [float(t) for t in re.findall(r"\d+\.\d+", get_rule(code).good.split(" with ")[0].split(":")[-1])]
    if len(good) >= 4:  # the best practice as numbers, where the catalogue gives them
        loss, grad = (good, [1.0] * len(good)) if code != "ND311" else ([2.1, 2.0, 1.9, 1.85], good)
        report = analyze_log(write_trainer_state(tmp_path / "trainer_state.json", loss, grad_norms=grad))
        assert code not in {f.code for f in report.findings}


def test_ND317_a_log_cut_mid_row_is_named_with_its_line(cli, tmp_path):
    """A results.csv whose last row was cut while being written: the warning names the file and the
    cut row's line; a complete last row without a line end is not a cut."""
    header = "epoch,train/box_loss,train/cls_loss,metrics/mAP50(B),lr/pg0\n"
    rows = "".join(f"{i},{1.5 - i * 0.1:.4f},{2.0 - i * 0.1:.4f},{0.1 * i:.4f},0.001\n" for i in range(1, 6))
    cut = tmp_path / "results.csv"
    cut.write_text(header + rows + "6,1.0")
    r = cli("analyze-log", cut, "--format", "json", "--fail-on", "warning")
    found = [f for f in r.json["findings"] if f["code"] == "ND317"]
    assert r.code == 1 and len(found) == 1
    assert found[0]["path"] == str(cut) and found[0]["line"] == 7 and "2 of 5 fields" in found[0]["message"]

    whole = tmp_path / "whole.csv"
    whole.write_text(header + rows + "6,1.0,1.4,0.6,0.001")  # complete, only the final line end missing
    assert "ND317" not in cli("analyze-log", whole, "--format", "json").codes()
