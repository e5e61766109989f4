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

from nandoctor.triage.engine import triage
from tests.triage_runs import tree_hash

RUNS = Path(__file__).parent / "data" / "runs"


def _command(steps: list[str], start: str) -> str:
    line = next(s for s in steps if start in s)
    return line[line.index(start) :].split("  (")[0].strip()


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
    done = subprocess.run(
        [str(yolo), *command.split()[2:], "epochs=1", "device=cpu", "workers=0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
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
    assert snippet in steps
    args = eval(snippet, {"TrainingArguments": TrainingArguments, "yaml": yaml})  # the printed expression
    assert Path(args.output_dir) == tmp_path / "run" / "out_nandoctor"
    assert args.learning_rate < 5e-4 and 0 < args.warmup_steps < args.max_steps


def _snippet(line: str, start: str) -> str:
    return line[line.index(start) :]


def test_printed_from_pretrained_snippet_trains_a_new_run(tmp_path):
    """The HF new-run line, for the truth's clean checkpoint-10, pasted with the placeholders filled
    (your model class, your dataset): it loads the weights and trains into a new output_dir."""
    pytest.importorskip("transformers")
    import yaml
    from transformers import BertForSequenceClassification, Trainer, TrainingArguments

    from nandoctor.triage.discover import discover
    from nandoctor.triage.steps import _hf_new_run
    from tests.make_real_runs import hf_toy_dataset

    shutil.copytree(RUNS / "hf_nan_step15", tmp_path / "run")
    out = tmp_path / "run" / "out"
    fixed = triage(out, no_data=True).summary["fixed_config"]
    clean = out / "checkpoint-10"  # the truth's expected_recommended
    line = _hf_new_run(fixed, str(clean))
    code = (
        line.replace("<YourModelClass>", "BertForSequenceClassification")
        .replace("<your dataset>", "hf_toy_dataset(64, 1)")
        .replace("; ", "\n")
    )
    before = tree_hash(out, skip=("training_args_fixed.yaml",))
    namespace = {
        "BertForSequenceClassification": BertForSequenceClassification,
        "Trainer": Trainer,
        "TrainingArguments": TrainingArguments,
        "yaml": yaml,
        "hf_toy_dataset": hf_toy_dataset,
    }
    exec(code, namespace)  # the printed line, as pasted
    loaded = BertForSequenceClassification.from_pretrained(str(clean))
    assert namespace["model"].config.vocab_size == loaded.config.vocab_size == 64
    assert (tmp_path / "run" / "out_nandoctor").is_dir() and discover(out).framework == "hf"
    assert tree_hash(out, skip=("training_args_fixed.yaml",)) == before  # the old run is untouched


def test_printed_load_from_checkpoint_snippet_runs_in_lightning(tmp_path):
    """The Lightning new-run line for a clean weights-only checkpoint: the repaired lr reaches the
    module, clipping reaches the Trainer, and the run writes a new folder."""
    pytest.importorskip("lightning")
    import functools

    import lightning as L

    from nandoctor.triage.discover import discover
    from nandoctor.triage.steps import _lightning_new_run
    from tests.make_real_runs import lightning_regressor, regression_loader

    shutil.copytree(RUNS / "lightning_weights_only", tmp_path / "run")
    run = tmp_path / "run"
    s = triage(run, no_data=True).summary
    weights = s["restart_weights"]
    assert weights == str(run / "lightning_logs/version_0/checkpoints/epoch=5-step=48.ckpt")
    line = _lightning_new_run(discover(run), s["fixed_config"], weights)
    assert "lr=0.025" in line and "gradient_clip_val=1.0" in line

    class Data(L.LightningDataModule):
        def train_dataloader(self):
            return regression_loader()

    shim = type(
        "L",
        (),
        {
            "Trainer": functools.partial(
                L.Trainer, max_epochs=1, accelerator="cpu", enable_progress_bar=False, logger=False
            )
        },
    )
    namespace = {"MyModule": lightning_regressor(), "L": shim, "dm": Data()}
    exec(line.replace("; ", "\n"), namespace)  # the printed line, run for 1 epoch
    assert namespace["model"].hparams.lr == 0.025
    assert namespace["trainer"].gradient_clip_val == 1.0 and (tmp_path / "run_nandoctor").is_dir()
