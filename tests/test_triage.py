"""`nandoctor triage` end to end on run folders written by the real writers (see triage_runs.py)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.triage_runs import generic_run, hf_run, lightning_run, tree_hash, ultralytics_run


@pytest.fixture
def demo_copy(demo_run, tmp_path) -> Path:
    """The session's demo run, copied: triage writes args_fixed.yaml into the run folder."""
    run = tmp_path / "run"
    shutil.copytree(demo_run, run)
    return run


def _checkpoint(summary: dict, name: str) -> dict:
    return next(c for c in summary["checkpoints"] if Path(c["path"]).name == name)


def test_ND501_demo_run_dated_linked_and_repaired(cli, demo_copy):
    """The issue's done-when: NaN at epoch 4, epoch2.pt recommended, args_fixed.yaml written,
    findings from the ckpt, log and config engines, weights untouched."""
    weights_before = tree_hash(demo_copy / "weights")
    r = cli("triage", demo_copy, "--format", "json")
    assert r.code == 1
    s = r.json["summary"]
    assert s["framework"] == "ultralytics"
    assert s["index_name"] == "epoch" and s["first_nonfinite"]["index"] == 4
    assert s["recommended"] == str(demo_copy / "weights" / "epoch2.pt")
    assert s["fixed_config"] == str(demo_copy / "args_fixed.yaml") and s["fixed_config_status"] == "written"
    assert (demo_copy / "args_fixed.yaml").is_file()
    codes = r.codes()
    assert {c[:3] for c in codes} >= {"ND1", "ND2", "ND3", "ND4"}
    # epochN.pt is 0-based: epoch3.pt holds results.csv epoch 4, the first NaN epoch
    assert _checkpoint(s, "epoch2.pt")["log_index"] == 3
    assert _checkpoint(s, "epoch3.pt")["log_index"] == 4
    # epoch3.pt holds NaN itself; last.pt (sanitised, so only suspect) is distrusted by its date
    assert _checkpoint(s, "epoch3.pt")["verdict"] == "poisoned"
    assert (_checkpoint(s, "last.pt")["status"], _checkpoint(s, "last.pt")["verdict"]) == ("suspect", "after-nonfinite")
    assert str(demo_copy / "weights" / "last.pt") in s["distrusted"]
    assert set(s["engines"]) == {"analyze-log", "inspect-ckpt", "diagnose-config", "check-data"}
    assert s["engines"]["inspect-ckpt"][0]["path"] == str(demo_copy / "weights")
    assert all(run["status"] == "ran" for runs in s["engines"].values() for run in runs)
    assert tree_hash(demo_copy / "weights") == weights_before


def test_demo_second_run_keeps_the_fixed_config_and_still_reports(cli, demo_copy):
    cli("triage", demo_copy, "--format", "json")
    fixed = demo_copy / "args_fixed.yaml"
    fixed.write_text(fixed.read_text() + "# my own edit\n")
    again = cli("triage", demo_copy, "--format", "json")
    assert again.code == 1
    s = again.json["summary"]
    assert s["fixed_config"] == str(fixed) and s["fixed_config_status"] == "kept"
    assert fixed.read_text().endswith("# my own edit\n")
    assert s["first_nonfinite"]["index"] == 4 and s["recommended"].endswith("epoch2.pt")
    assert any("--force" in step for step in s["next_steps"])
    forced = cli("triage", demo_copy, "--force", "--format", "json")
    assert forced.json["summary"]["fixed_config_status"] == "written"
    assert "# my own edit" not in fixed.read_text()


def test_demo_text_report_reads_like_the_emergency_guide(cli, demo_copy, monkeypatch):
    monkeypatch.setenv("COLUMNS", "2000")  # a wide terminal, so Rich never folds a path
    r = cli("triage", demo_copy)
    out = " ".join(r.stdout.split())
    assert r.code == 1
    assert "What happened" in out and "non-finite at epoch 4" in out
    assert "Evidence by engine" in out and "inspect-ckpt" in out and "analyze-log" in out
    epoch2 = demo_copy / "weights" / "epoch2.pt"
    # a new run in a new folder from epoch2.pt's weights; never Ultralytics' resume, which continues
    # in the old folder with the arguments that led to NaN
    assert f"yolo train cfg={demo_copy / 'args_fixed.yaml'}" in out and "resume" not in out.split("Next steps:")[1]
    import yaml

    fixed = yaml.safe_load((demo_copy / "args_fixed.yaml").read_text())
    assert fixed["model"] == fixed["pretrained"] == str(epoch2) and "save_dir" not in fixed
    assert (fixed["project"], fixed["name"], fixed["exist_ok"]) == (str(demo_copy.parent), "run_nandoctor", False)
    assert "Next steps:" in out and "1. Keep a copy" in out


def test_no_data_skips_the_dataset(cli, demo_copy):
    s = cli("triage", demo_copy, "--no-data", "--format", "json").json
    assert not [c for c in (f["code"] for f in s["findings"]) if c.startswith("ND1")]
    assert s["summary"]["engines"]["check-data"][0]["status"] == "skipped"


def test_ND501_clean_checkpoint_saved_after_the_nan_epoch_is_distrusted(cli, tmp_path):
    """No poisoned weights at all: only the log can tell epoch3.pt (results epoch 4) is after the NaN."""
    run = ultralytics_run(tmp_path / "run", epochs=5, nan_epoch=4)
    r = cli("triage", run, "--format", "json")
    s = r.json["summary"]
    nd501 = [f for f in r.json["findings"] if f["code"] == "ND501"]
    assert sorted(Path(f["path"]).name for f in nd501) == ["epoch3.pt", "epoch4.pt"]
    assert all(f["severity"] == "error" for f in nd501) and r.code == 1
    assert s["recommended"] == str(run / "weights" / "epoch2.pt")
    assert all(f"Resume from {run / 'weights' / 'epoch2.pt'} instead" in f["fix"] for f in nd501)


def test_ND501_results_epoch_is_checkpoint_epoch_plus_one(cli, tmp_path):
    """NaN in results.csv epoch 2 (1-based): epoch0.pt (results epoch 1) is the last good one."""
    run = ultralytics_run(tmp_path / "run", epochs=3, nan_epoch=2)
    s = cli("triage", run, "--format", "json").json["summary"]
    assert s["recommended"] == str(run / "weights" / "epoch0.pt")
    assert _checkpoint(s, "epoch1.pt")["verdict"] == "after-nonfinite"


def test_ND501_old_yolo_log_counting_from_zero(cli, tmp_path):
    """YOLOv8.0/YOLOv5 results.csv count epochs from 0 like the checkpoints: no +1 there."""
    run = ultralytics_run(tmp_path / "run", epochs=4, nan_epoch=2, first=0)
    s = cli("triage", run, "--format", "json").json["summary"]
    assert s["first_nonfinite"]["index"] == 2
    assert s["recommended"] == str(run / "weights" / "epoch1.pt")
    assert _checkpoint(s, "epoch2.pt")["verdict"] == "after-nonfinite"


def test_ND502_every_checkpoint_after_the_nan(cli, tmp_path):
    run = ultralytics_run(tmp_path / "run", epochs=3, nan_epoch=1, poisoned=(0,))
    r = cli("triage", run, "--format", "json")
    s = r.json["summary"]
    assert s["recommended"] is None and "ND502" in r.codes()
    assert any(step.startswith("No clean checkpoint") and "yolo train cfg=" in step for step in s["next_steps"])


def test_ND503_missing_dataset_is_info_not_failure(cli, tmp_path):
    run = ultralytics_run(tmp_path / "run", data="/nonexistent/data.yaml")
    r = cli("triage", run, "--format", "json")
    nd503 = [f for f in r.json["findings"] if f["code"] == "ND503"]
    assert any("/nonexistent/data.yaml" in f["message"] and f["severity"] == "info" for f in nd503)
    assert "check-data" not in r.json["summary"]["engines"]


def test_ND504_unreadable_log_is_an_error_and_checkpoints_still_inspected(cli, tmp_path):
    """The run's only log is binary junk: the NaN cannot be dated, so exit 1 (never 0 as if healthy)."""
    run = ultralytics_run(tmp_path / "run", epochs=3, nan_epoch=None)
    (run / "results.csv").write_bytes(b"\x00\xff" * 100)
    r = cli("triage", run, "--format", "json")
    s = r.json["summary"]
    assert r.code == 1
    assert s["first_nonfinite"] is None and s["engines"]["analyze-log"][0]["status"] == "failed"
    nd504 = [f for f in r.json["findings"] if f["code"] == "ND504"]
    assert [f["path"] for f in nd504] == [str(run / "results.csv")] and nd504[0]["severity"] == "error"
    assert "binary file" in nd504[0]["message"] and "could not be dated" in nd504[0]["message"]
    # without a log nothing is dated, so the newest clean resumable checkpoint is the answer
    assert s["engines"]["inspect-ckpt"][0]["status"] == "ran" and s["recommended"] == str(run / "weights" / "epoch2.pt")
    assert s["fixed_config"] == str(run / "args_fixed.yaml")  # the config is still repaired, without --log


def test_ND501_hf_trainer_checkpoint_after_nan_grad_norm(cli, tmp_path):
    """HF steps: grad_norm NaN from step 250; checkpoint-300 distrusted, checkpoint-200 chosen."""
    run = hf_run(tmp_path / "run", steps=(100, 200, 300), nan_step=250)
    r = cli("triage", run, "--format", "json")
    s = r.json["summary"]
    assert s["framework"] == "hf" and s["index_name"] == "step"
    assert s["discovered"]["log"] == str(run / "checkpoint-300" / "trainer_state.json")
    assert str(run / "checkpoint-300") in s["distrusted"]
    assert s["recommended"] == str(run / "checkpoint-200") and s["restart_weights"] is None
    assert "ND501" in r.codes()
    assert any(
        f"trainer.train(resume_from_checkpoint='{run / 'checkpoint-200'}')" in step and "old learning rate" in step
        for step in s["next_steps"]
    )


def test_hf_training_args_bin_read_without_executing_and_repaired(cli, tmp_path):
    """No YAML in an HF run: the TrainingArguments inside training_args.bin are read by the restricted
    unpickler (no transformers import) and repaired into training_args_fixed.yaml."""
    import yaml

    run = hf_run(tmp_path / "run", nan_step=250, training_args={"learning_rate": 2e-4, "fp16": True})
    r = cli("triage", run, "--format", "json")
    s = r.json["summary"]
    binary = str(run / "checkpoint-300" / "training_args.bin")
    assert s["discovered"]["training_args"] == binary
    assert s["fixed_config"] == str(run / "training_args_fixed.yaml") and s["fixed_config_status"] == "written"
    fixed = yaml.safe_load((run / "training_args_fixed.yaml").read_text())
    assert fixed["fp16"] is False and fixed["learning_rate"] < 2e-4
    config_findings = [f for f in r.json["findings"] if f["code"].startswith("ND4") and f["where"] == "fp16"]
    assert config_findings and all(f["path"] == binary and f["line"] is None for f in config_findings)


def test_ND202_malicious_training_args_bin_is_reported_not_run(cli, tmp_path):
    import torch

    from tests.hostile.test_cross_cutting import CanaryPayload

    canary = tmp_path / "CANARY"
    run = hf_run(tmp_path / "run", steps=(100,), nan_step=None)
    torch.save({"learning_rate": 1e-4, "x": CanaryPayload(canary)}, run / "checkpoint-100" / "training_args.bin")
    r = cli("triage", run, "--format", "json")
    assert r.code == 1 and "ND202" in r.codes() and not canary.exists()
    assert r.json["summary"]["fixed_config"] is None


def test_checkpoint_beside_ultralytics_results_is_inspected_not_run(cli, tmp_path):
    """A weights file dropped next to results.csv (a copied best.pt, a stranger's download) is read."""
    import torch

    from tests.hostile.test_cross_cutting import CanaryPayload

    canary = tmp_path / "CANARY"
    run = ultralytics_run(tmp_path / "run", epochs=5, nan_epoch=4)
    torch.save({"model": CanaryPayload(canary)}, run / "downloaded.pt")
    r = cli("triage", run, "--format", "json")
    unsafe = [f for f in r.json["findings"] if f["code"] == "ND202"]
    assert r.code == 1 and not canary.exists()
    assert [f["path"] for f in unsafe] == [str(run / "downloaded.pt")]
    assert r.json["summary"]["recommended"] == str(run / "weights" / "epoch2.pt")


def test_ND501_lightning_epochs_from_zero(cli, tmp_path):
    run = lightning_run(tmp_path / "run", epochs=4, nan_epoch=2)
    r = cli("triage", run, "--format", "json")
    s = r.json["summary"]
    ckpts = run / "lightning_logs" / "version_0" / "checkpoints"
    assert s["framework"] == "lightning"
    assert s["recommended"] == str(ckpts / "epoch=1-step=20.ckpt")
    assert str(ckpts / "epoch=2-step=30.ckpt") in s["distrusted"]
    assert any("ckpt_path=" in step for step in s["next_steps"])


def test_ND501_generic_loop(cli, tmp_path):
    run = generic_run(tmp_path / "run", epochs=4, nan_epoch=3)
    s = cli("triage", run, "--format", "json").json["summary"]
    assert s["framework"] == "generic"
    assert s["recommended"] == str(run / "epoch_2.pt")
    assert {Path(p).name for p in s["distrusted"]} == {"epoch_3.pt", "epoch_4.pt"}


def test_healthy_real_files_give_no_error(cli, tmp_path, shared_formats):
    """A run folder assembled from real healthy files (linked, not copied): no error."""
    before = tree_hash(shared_formats)
    run = tmp_path / "run"
    run.mkdir()
    (run / "args.yaml").symlink_to(shared_formats / "ultralytics" / "args_detect.yaml")
    (run / "results.csv").symlink_to(shared_formats / "ultralytics" / "results_detect_v8new.csv")
    r = cli("triage", run, "--format", "json")
    assert r.code == 0, r.stdout
    assert r.json["summary"]["first_nonfinite"] is None
    assert (run / "args_fixed.yaml").is_file() and not (run / "args_fixed.yaml").is_symlink()
    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "trainer_state.json").symlink_to(shared_formats / "hf" / "trainer_state_tinyllama_sft.json")
    assert cli("triage", hf, "--format", "json").code == 0
    lit = tmp_path / "lit" / "lightning_logs" / "version_0"
    lit.mkdir(parents=True)
    (lit / "metrics.csv").symlink_to(shared_formats / "lightning" / "metrics.csv")
    assert cli("triage", tmp_path / "lit", "--format", "json").code == 0
    assert tree_hash(shared_formats) == before


def test_empty_folder_and_file_argument_exit_2_with_one_line(tmp_path):
    empty = run_cli("triage", tmp_path)
    assert empty.code == 2 and empty.stderr.count("\n") == 1 and "found no log" in empty.stderr
    f = tmp_path / "x.csv"
    f.write_text("epoch,loss\n1,0.5\n")
    single = run_cli("triage", f)
    assert single.code == 2 and "not a folder" in single.stderr and "Traceback" not in single.stderr
    missing = run_cli("triage", tmp_path / "nope")
    assert missing.code == 2 and "no such file" in missing.stderr


def test_a_folder_of_runs_names_them(tmp_path):
    ultralytics_run(tmp_path / "train", epochs=1, nan_epoch=None)
    ultralytics_run(tmp_path / "train2", epochs=1, nan_epoch=None)
    r = run_cli("triage", tmp_path)
    assert r.code == 2 and r.stderr.count("\n") == 1
    assert str(tmp_path / "train") in r.stderr and str(tmp_path / "train2") in r.stderr


def test_readme_quickstart_runs_and_ends_with_triage_on_the_demo(cli, tmp_path):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("## Quickstart", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].split() for line in block.strip().splitlines()]
    assert commands[-1] == ["nandoctor", "triage", "/tmp/run"]
    run = tmp_path / "run"
    codes = [cli(*[str(run) if a == "/tmp/run" else a for a in cmd[1:]]).code for cmd in commands]
    assert codes[:-1] == [0] * (len(codes) - 1) and codes[-1] == 1  # triage finds the demo's errors
    assert (run / "args_fixed.yaml").is_file()


def test_one_log_verdict_validation_inf_with_a_finite_loss(cli, tmp_path):
    """results.csv whose val/box_loss is inf for 3 early epochs while the training loss stays finite:
    triage takes analyze-log's verdict (ND308, the non-finite columns) and never says the log shows
    no non-finite value."""
    from tests.triage_runs import results_rows, write_results_csv

    run = ultralytics_run(tmp_path / "run", epochs=6, nan_epoch=None)
    rows = results_rows(6, None)
    rows["val/box_loss"][:3] = [math.inf] * 3
    write_results_csv(run / "results.csv", rows)
    log = cli("analyze-log", run / "results.csv", "--format", "json").json
    r = cli("triage", run, "--no-data", "--format", "json")
    s = r.json["summary"]
    assert "ND308" in [f["code"] for f in log["findings"]] and "ND308" in r.codes()
    assert s["nonfinite_columns"] == log["summary"]["nonfinite_columns"] == ["val/box_loss"]
    assert s["first_nonfinite"] == log["summary"]["first_nonfinite"]
    text = " ".join(cli("triage", run, "--no-data").stdout.split())
    assert "no non-finite value" not in text and "val/box_loss went non-finite" in text
    cfg = cli("diagnose-config", run / "args.yaml", "--log", run / "results.csv", "--dry-run", "--format", "json")
    nd417 = [f["message"] for f in cfg.json["findings"] if f["code"] == "ND417"]
    assert len(nd417) == 1 and "val/box_loss" in nd417[0] and "training loss stays finite" in nd417[0]


def _resumed_after_nan(tmp_path, *, old_epochs: int, new_epochs: int) -> Path:
    """results.csv as a resume leaves it: the old segment (NaN from epoch 4), then the rows of the
    run resumed from epoch2.pt, whose time column restarts at epoch 3."""
    from tests.triage_runs import results_rows, write_results_csv

    run = ultralytics_run(tmp_path / "run", epochs=old_epochs, nan_epoch=None)
    old, new = results_rows(old_epochs, 4), results_rows(new_epochs, None, first=3)
    write_results_csv(run / "results.csv", {k: old[k] + new[k] for k in old})
    return run


def test_ND508_resumed_run_judged_on_its_latest_segment(cli, tmp_path):
    """The NaN at epoch 4 is in the segment the resume replaced; the rewritten epoch3..5.pt come
    from the finite latest segment, so epoch5.pt (epoch 6) is recommended, not epoch2.pt."""
    run = _resumed_after_nan(tmp_path, old_epochs=6, new_epochs=4)
    r = cli("triage", run, "--no-data", "--format", "json")
    s = r.json["summary"]
    assert s["first_nonfinite"]["index"] == 4 and "ND301" in r.codes()  # analyze-log's verdict on the file
    assert s["latest_segment"]["first_nonfinite"] is None and s["latest_segment"]["segment_end"] == 6
    nd508 = [f for f in r.json["findings"] if f["code"] == "ND508"]
    assert len(nd508) == 1 and nd508[0]["where"] == "epoch 3"
    assert s["recommended"] == str(run / "weights" / "epoch5.pt") and "ND501" not in r.codes()


def test_resumed_run_distrusts_what_only_the_superseded_segment_reached(cli, tmp_path):
    """Resumed from epoch2.pt and now at epoch 5: epoch5..7.pt were written by the old segment after
    its NaN and not yet rewritten; they stay distrusted and epoch4.pt (epoch 5) is recommended."""
    run = _resumed_after_nan(tmp_path, old_epochs=8, new_epochs=3)
    s = cli("triage", run, "--no-data", "--format", "json").json["summary"]
    assert s["recommended"] == str(run / "weights" / "epoch4.pt")
    assert [_checkpoint(s, f"epoch{n}.pt")["verdict"] for n in (5, 6, 7)] == ["after-nonfinite"] * 3


def test_a_kept_repaired_config_that_names_the_old_folder_is_not_pasted(cli, demo_copy):
    """An args_fixed.yaml kept from before (here: the user's own copy of args.yaml, save_dir and all)
    is never handed to `yolo train cfg=`: the printed line names the weights, data and a new folder."""
    (demo_copy / "args_fixed.yaml").write_text((demo_copy / "args.yaml").read_text() + f"save_dir: {demo_copy}\n")
    s = cli("triage", demo_copy, "--no-data", "--format", "json").json["summary"]
    assert s["fixed_config_status"] == "kept"
    line = next(step for step in s["next_steps"] if "yolo train" in step)
    epoch2 = demo_copy / "weights" / "epoch2.pt"
    assert "cfg=" not in line
    assert f"model={epoch2} pretrained={epoch2}" in line
    assert f"project={demo_copy.parent} name=run_nandoctor exist_ok=False" in line


def test_ND504_a_bug_inside_one_engine_is_named_an_internal_error_and_the_others_still_judge(
    cli, demo_copy, monkeypatch
):
    """A bug of nandoctor's in diagnose-config is reported as ours, never as a verdict on args.yaml, and
    the log and the checkpoints are still judged."""
    from nandoctor.config import engine as config_engine

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(config_engine, "diagnose_config", broken)
    r = cli("triage", demo_copy, "--format", "json", "--fail-on", "never", "--no-data")
    failed = [f for f in r.json["findings"] if f["code"] == "ND504"]
    assert len(failed) == 1 and failed[0]["path"].endswith("args.yaml")
    assert "internal error in nandoctor, please report: ZeroDivisionError: division by zero" in failed[0]["message"]
    assert {"ND201", "ND301"} <= set(r.codes())  # the checkpoints and the log were still judged
