"""The one learning-rate policy (nandoctor.catalogue.lr_policy): analyze-log, diagnose-config and triage
advise the same LR for the same run, in text and JSON, and the policy itself cuts by time-to-NaN."""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import pytest
import yaml

from nandoctor.catalogue import get_rule
from nandoctor.catalogue.lr_policy import CUT_TEXT, advise_lr


def _peak_lr_before_nan(results: Path) -> float:
    """What the log shows, read here with the csv module: lr/pg0 over the rows before the first NaN loss."""
    peak = 0.0
    with results.open(newline="") as f:
        for row in csv.DictReader(f):
            if not math.isfinite(float(row["train/box_loss"])):
                break
            peak = max(peak, float(row["lr/pg0"]))
    return peak


def test_ND402_same_lr_from_analyze_log_diagnose_config_and_triage(tmp_path, cli):
    pytest.importorskip("nandoctor.logs.engine")
    run = tmp_path / "run"
    assert cli("demo", run).code == 0
    ran = _peak_lr_before_nan(run / "results.csv")

    log = cli("analyze-log", run / "results.csv", "--format", "json", "--fail-on", "never").json["summary"]
    advised = log["suggested_lr"]
    assert log["lr_ran"] == ran and log["lr_column"] == "lr/pg0"
    assert 0 < advised < ran  # below what ran (optimizer: auto ignored lr0 0.01), not a table value above it

    cfg = cli("diagnose-config", run / "args.yaml", "--dry-run", "--format", "json", "--fail-on", "never").json
    lr0 = next(c for c in cfg["summary"]["changes"] if c["key"] == "lr0")
    assert lr0["code"] == "ND402" and lr0["new"] == advised
    assert cfg["summary"]["log"]["lr_ran"] == ran  # taken from analyze-log's summary, not read again

    tri = cli("triage", run, "--format", "json", "--fail-on", "never").json
    step = next(s for s in tri["summary"]["next_steps"] if s.startswith("Learning rate"))
    assert f"lr0 {advised:g} " in step
    assert yaml.safe_load((run / "args_fixed.yaml").read_text())["lr0"] == advised  # the file triage wrote

    # the text views print the same number, and no other advised LR beside it (the rule's fix text,
    # the same everywhere, states the policy with its own examples)
    texts = {
        "analyze-log": cli("analyze-log", run / "results.csv").stdout,
        "diagnose-config": cli("diagnose-config", run / "args.yaml", "--dry-run").stdout,
        "triage": cli("triage", run, "--force").stdout,
    }
    for command, text in texts.items():
        assert f"{advised:g}" in text, command
        advice = "\n".join(line for line in text.splitlines() if "fix:" not in line)
        assert not re.search(r"lr0 0\.00[35]\b|to resume or|2e-05", advice), command


def test_the_policy_cuts_by_time_to_nan_from_the_lr_that_ran():
    quick = advise_lr(ran=1e-4, epochs_to_nonfinite=2)
    middle = advise_lr(ran=1e-4, epochs_to_nonfinite=5)
    late = advise_lr(ran=1e-4, epochs_to_nonfinite=40)
    assert (quick.value, middle.value, late.value) == (1e-5, 2e-5, 5e-5)  # the time-to-NaN table's rows
    assert "1e-05" not in quick.reason and "0.0001" in quick.reason and "2 epochs" in quick.reason
    # the LR that ran beats the configured one (Ultralytics optimizer: auto ignores lr0)
    assert advise_lr(ran=0.002, configured=0.01, epochs_to_nonfinite=40).value == 0.001
    assert advise_lr(configured=0.01, epochs_to_nonfinite=40).basis == "configured"


def test_the_policy_never_advises_a_non_finite_or_higher_lr():
    for ran in (float("nan"), float("inf"), -1.0, 0.0):
        a = advise_lr(ran=ran, configured=3e-4, epochs_to_nonfinite=4)
        assert a is not None and a.basis == "configured" and 0 < a.value < 3e-4
    assert advise_lr(epochs_to_nonfinite=None) is None  # nothing known: no number
    assert advise_lr(epochs_to_nonfinite=float("nan")) is None
    yolo = advise_lr(framework="ultralytics-console", optimizer="AdamW", epochs_to_nonfinite=3)
    assert yolo is not None and yolo.value == pytest.approx(3e-4) and "Adam" in yolo.reason


def test_catalogue_fix_texts_state_the_policy():
    assert CUT_TEXT in get_rule("ND402").fix and CUT_TEXT in get_rule("ND305").fix
