"""triage on runs made by the real trainers (tests/make_real_runs.py; ../shared/runs when present),
checked against truth made from the raw numbers: isfinite over every tensor, the injected step."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nandoctor.findings import Severity
from nandoctor.triage.engine import triage
from tests.triage_runs import tree_hash

RUNS = Path(__file__).parent / "data" / "runs"
SHARED_RUNS = Path(__file__).resolve().parents[1].parent / "shared" / "runs"
RUN_DIRS = {
    "yolo_healthy": "train",
    "yolo_nan_recovered": "train",
    "yolo_nan_persisted": "train",
    "yolo_resumed": "train",
    "hf_healthy": "out",
    "hf_nan_step15": "out",
    "hf_lr10_diverge": "out",
    "hf_state_only_nan_step25": "out",
    "lightning_healthy": "",
    "lightning_nan_epoch3": "",
    "lightning_weights_only": "",
    "plain_scaler_nan_epoch4": "",
}


def _copy(name: str, tmp_path: Path) -> tuple[Path, Path, dict]:
    """The fixture copied (triage writes its repaired config into the run folder)."""
    root = tmp_path / name
    shutil.copytree(RUNS / name, root)
    if (RUNS / "yolo_data").is_dir() and name.startswith("yolo"):
        shutil.copytree(RUNS / "yolo_data", tmp_path / "yolo_data")
    return root, root / RUN_DIRS[name], json.loads((root / "truth.json").read_text())


def _verdicts(summary: dict, root: Path) -> dict[str, str]:
    return {str(Path(c["path"]).relative_to(root)): c["verdict"] for c in summary["checkpoints"]}


# inspect-ckpt tells bookkeeping and construction from poison: Lightning's ModelCheckpoint stores
# kth_value = inf in its callback state, BERT's padding row is zeros by design
@pytest.mark.parametrize("name", list(RUN_DIRS))
def test_recommendation_matches_the_truth(tmp_path, name):
    root, run, truth = _copy(name, tmp_path)
    before = tree_hash(root, skip=("truth.json",))
    s = triage(run, no_data=True).summary
    if "expected_restart_weights" in truth:  # save_weights_only: clean weights, nothing to resume
        assert s["recommended"] is None
        assert s["restart_weights"] == str(root / truth["expected_restart_weights"])
    else:
        expected = truth["expected_recommended"]
        assert s["recommended"] == (str(root / expected) if expected else None)
    # no checkpoint holding a non-finite weight is ever trusted
    weights_bad = {f.get("unit", f["file"]) for f in truth["files"] if not f.get("weights_finite", f["all_finite"])}
    trusted = {k for k, v in _verdicts(s, root).items() if v in ("trusted", "recommended")}
    assert not (weights_bad & trusted)
    # the run's own files are untouched; only the repaired config is new
    after = tree_hash(root, skip=("truth.json",))
    assert {k: v for k, v in after.items() if not k.endswith("_fixed.yaml")} == before


@pytest.mark.parametrize(
    "name",
    ["yolo_healthy", "yolo_nan_recovered", "yolo_resumed", "hf_healthy", "lightning_healthy", "lightning_weights_only"],
)
def test_healthy_real_runs_get_no_error(tmp_path, name):
    """Healthy, or recovered by the trainer itself (8.4's NaN recovery, a resume after it)."""
    _, run, _ = _copy(name, tmp_path)
    report = triage(run, no_data=True)
    assert [f.code for f in report.findings if f.severity is Severity.ERROR] == []
    assert report.summary["first_nonfinite"] is None and report.summary["diverged_at"] is None


def test_ND507_ultralytics_nan_persisted_dated_after_the_last_row(tmp_path):
    """8.4 kept the NaN epoch out of results.csv and stopped with 'NaN persisted': triage names
    the ending and the epoch, and recommends the newest checkpoint of the finite rows."""
    root, run, truth = _copy("yolo_nan_persisted", tmp_path)
    assert "NaN persisted" in truth["error"] and truth["results_nonfinite_cells"] == 0
    report = triage(run, no_data=True)
    nd507 = [f for f in report.findings if f.code == "ND507"]
    assert len(nd507) == 1 and nd507[0].where == f"epoch {truth['injected_log_epoch']}"
    assert report.summary["finished"] is False
    assert report.summary["recommended"] == str(root / truth["expected_recommended"])


def test_resumed_ultralytics_run_latest_segment_trusted(tmp_path):
    """Resumed after 'NaN persisted': the time column restarts at the resume and the epochN.pt the
    resumed segment rewrote are clean; the newest is recommended and the run counts as finished."""
    root, run, truth = _copy("yolo_resumed", tmp_path)
    report = triage(run, no_data=True)
    codes = [f.code for f in report.findings]
    assert truth["time_restarts_at_row"] == [3] and "ND314" in codes and "ND507" not in codes
    assert report.summary["finished"] is True
    assert report.summary["recommended"] == str(root / truth["expected_recommended"])


def test_finite_divergence_distrusts_every_checkpoint_after_its_onset(tmp_path):
    """transformers at learning_rate 10: loss 0.70 -> 189 by step 2 and stays up; no NaN anywhere."""
    root, run, truth = _copy("hf_lr10_diverge", tmp_path)
    assert truth["diverged_step"] == 2 and all(f["all_finite"] for f in truth["files"])
    s = triage(run, no_data=True).summary
    assert s["pattern"] == "exponential_growth" and s["diverged_at"] == 2 and s["first_nonfinite"] is None
    verdicts = _verdicts(s, root)
    assert {verdicts[f"out/checkpoint-{n}"] for n in (10, 20, 30, 40)} == {"after-divergence"}
    assert s["recommended"] is None and s["restart_weights"] is None


# --- ../shared/runs: 8 runs made by the real libraries, with their own truth files -------------

SHARED = {  # run -> (folder to triage, the newest checkpoint with finite weights before the break)
    "p1_healthy": ("run", "run/checkpoints/epoch_30.pt"),
    # loss 0.05 at epoch 6, 6.0 at epoch 7 (fc1 activations 6 -> 23081), NaN at epoch 10
    "p5_fp16_overflow": ("run", "run/checkpoints/epoch_6.pt"),
    "h3_nan_end30": ("out", "out/checkpoint-20"),
    "h1_healthy": ("out", "out/checkpoint-60"),
    "l1_healthy": ("run", "run/lightning_logs/version_0/checkpoints/epoch=9-step=80.ckpt"),
    "l2_diverge": ("run", None),  # the loss diverges from step 3: every checkpoint comes after
    "x2_lightning_defaults": ("", "lightning_logs/version_0/checkpoints/epoch=1-step=8.ckpt"),
}


def _shared_truth(run: str) -> list[dict]:
    return [json.loads(line) for line in (SHARED_RUNS / run / "ckpt_truth.jsonl").read_text().splitlines() if line]


@pytest.mark.parametrize("name", list(SHARED))
def test_shared_real_runs(tmp_path, name):
    if not SHARED_RUNS.is_dir():
        pytest.skip("../shared/runs is not beside the checkout")
    shutil.copytree(SHARED_RUNS / name, tmp_path / name)
    root = tmp_path / name
    folder, expected = SHARED[name]
    s = triage(root / folder if folder else root, no_data=True).summary
    assert s["recommended"] == (str(root / expected) if expected else None)
    weights = ("model_state_dict", "state_dict", "bert", "classifier", "state")
    bad = {
        Path(t["file"]).relative_to(name)
        for t in _shared_truth(name)
        if any(sec.get("nonfinite_tensors") for key, sec in t["sections"].items() if key in weights)
    }
    for c in s["checkpoints"]:
        rel = Path(c["path"]).relative_to(root)
        if rel in bad or any(b.parent == rel for b in bad):
            assert c["verdict"] not in ("trusted", "recommended"), rel


def test_shared_p4_recovered_spike_is_not_called_broken(tmp_path):
    """A poisoned sample at epoch 10 spiked the loss to 3.5e7; it came back down by epoch 15 and
    every weight stayed finite: the log is healthy with recovered spikes, never a NaN date."""
    if not SHARED_RUNS.is_dir():
        pytest.skip("../shared/runs is not beside the checkout")
    truth = json.loads((SHARED_RUNS / "p4_poison_recover" / "run_truth.json").read_text())
    assert all(e["params_finite"] for e in truth["epochs"])
    report = triage(SHARED_RUNS / "p4_poison_recover" / "run", no_data=True)
    assert report.summary["first_nonfinite"] is None and report.summary["pattern"] == "healthy"
    assert {f.code for f in report.findings if f.code.startswith("ND3")} == {"ND302"}


@pytest.mark.parametrize("keep_state", [True, False])
def test_one_hf_checkpoint_folder_is_one_unit_and_its_bookkeeping_is_never_recommended(tmp_path, keep_state):
    """triage pointed at a copied checkpoint-40/ (with or without its trainer_state.json): the folder
    is the unit, resumable by its optimizer.pt; rng_state.pth, scheduler.pt and optimizer.pt are
    never offered as weights on their own."""
    folder = tmp_path / "ck"
    shutil.copytree(RUNS / "hf_healthy" / "out" / "checkpoint-40", folder)
    if not keep_state:
        (folder / "trainer_state.json").unlink()
    s = triage(folder, no_data=True).summary
    assert s["framework"] == "hf"
    assert [(c["path"], c["resumable"]) for c in s["checkpoints"]] == [(str(folder), True)]
    assert s["checkpoints"][0]["step"] == (40 if keep_state else None)
    assert (s["recommended"], s["restart_weights"]) == (str(folder), None)  # the folder, never a file in it
