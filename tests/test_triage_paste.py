"""Paste test: every command triage prints for Ultralytics and transformers runs, run in the real
framework. Skipped where the framework is not installed (CI); run locally with the scratch venv:

    PYTHONPATH=$PWD /work/fwvenv/bin/python -m pytest tests/test_triage_paste.py -q
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nandoctor.triage import triage
from tests.triage_runs import tree_hash

RUNS = Path(__file__).parent / "data" / "runs"


def _command(steps: list[str], start: str) -> str:
    line = next(s for s in steps if start in s)
    return line[line.index(start):].split("  (")[0].strip()


def test_printed_yolo_train_runs_a_new_folder_from_the_recommended_weights(tmp_path):
    pytest.importorskip("ultralytics")
    shutil.copytree(RUNS / "yolo_data", tmp_path / "yolo_data")
    shutil.copytree(RUNS / "yolo_nan_persisted", tmp_path / "run")
    run = tmp_path / "run" / "train"
    report = triage(run, no_data=True)
    rec = report.summary["recommended"]
    assert rec == str(run / "weights" / "epoch1.pt")
    command = _command(report.next_steps, "yolo train")
    assert "resume" not in command
    old = tree_hash(run, skip=("args_fixed.yaml",))
    # the data path in the fixture's args.yaml is where it was built; point it at the copy
    fixed = Path(re.search(r"cfg=(\S+)", command).group(1))
    fixed.write_text(re.sub(r"(?m)^data: .*$", f"data: {tmp_path / 'yolo_data' / 'data.yaml'}", fixed.read_text()))
    yolo = Path(sys.executable).with_name("yolo")
    done = subprocess.run([str(yolo), *command.split()[2:], "epochs=1", "device=cpu", "workers=0"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout + done.stderr
    assert "Transferred" in out and "from pretrained weights" in out  # epoch1.pt's weights were loaded
    new = tmp_path / "run" / "train_nandoctor"
    assert (new / "results.csv").is_file() and (new / "weights" / "last.pt").is_file()
    assert tree_hash(run, skip=("args_fixed.yaml",)) == old  # the old run is untouched


def test_printed_training_arguments_construct_in_transformers(tmp_path):
    pytest.importorskip("transformers")
    import yaml
    from transformers import TrainingArguments

    shutil.copytree(RUNS / "hf_nan_step15", tmp_path / "run")
    out = tmp_path / "run" / "out"
    report = triage(out, no_data=True)
    fixed = report.summary["fixed_config"]
    assert fixed == str(out / "training_args_fixed.yaml")
    steps = " ".join(report.next_steps)
    snippet = f"TrainingArguments(**yaml.safe_load(open({fixed!r})))"
    assert snippet in steps or fixed in steps
    args = eval(snippet, {"TrainingArguments": TrainingArguments, "yaml": yaml})  # the printed expression
    assert Path(args.output_dir) == tmp_path / "run" / "out_nandoctor"
    assert args.learning_rate < 5e-4 and 0 < args.warmup_steps < args.max_steps
