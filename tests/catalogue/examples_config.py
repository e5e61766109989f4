"""diagnose-config rules (ND4xx): configs as Ultralytics, Hugging Face and Lightning users write them.

Each example writes a real YAML file (an Ultralytics args.yaml, a TrainingArguments YAML, a LightningCLI
config.yaml, a multi-dataset research config) and, where a rule needs the run's log, the log as the
trainer writes it (Ultralytics results.csv, Lightning CSVLogger metrics.csv). diagnose-config writes
`<name>_fixed.yaml` beside its input, here inside the test's tmp folder.

ND420 has no runnable example: it fires only when the framework itself (Ultralytics, transformers,
accelerate, DeepSpeed, Lightning) is installed and its own loader refuses the repaired file, and the
test environment deliberately has none of them (nandoctor never depends on them).
"""

from __future__ import annotations

from pathlib import Path

from tests.catalogue import example

# An Ultralytics args.yaml as `yolo train` saves it (default.yaml order), without the risky values
# each example sets itself.
ARGS = """task: detect
mode: train
model: yolov8n.pt
data: coco8.yaml
epochs: 100
batch: 16
imgsz: 640
save: true
save_period: 5
optimizer: SGD
amp: false
lr0: 0.01
lrf: 0.01
momentum: 0.937
weight_decay: 0.0005
warmup_epochs: 3.0
hsv_h: 0.015
hsv_s: 0.7
hsv_v: 0.4
mosaic: 1.0
mixup: 0.0
copy_paste: 0.0
"""

# A TrainingArguments YAML (HfArgumentParser.parse_yaml_file) for a full fine-tune.
HF = """output_dir: out/bert-sst2
per_device_train_batch_size: 32
num_train_epochs: 3
learning_rate: 2.0e-05
lr_scheduler_type: linear
warmup_steps: 0.1
weight_decay: 0.01
max_grad_norm: 1.0
bf16: true
save_strategy: epoch
"""

# A LightningCLI config.yaml (`python train.py fit --config config.yaml`).
LIGHTNING = """seed_everything: 42
trainer:
  accelerator: gpu
  devices: 1
  precision: bf16-mixed
  max_epochs: 20
  gradient_clip_val: 1.0
model:
  class_path: mymodel.LitClassifier
  init_args:
    num_classes: 10
optimizer:
  class_path: torch.optim.AdamW
  init_args:
    lr: 1.0e-05
    eps: 1.0e-08
"""


def _set(text: str, key: str, value: str) -> str:
    """`key: value` replaced in a top-level YAML mapping (added at the end when absent)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(f"{key}:"):
            lines[i] = f"{key}: {value}"
            return "\n".join(lines) + "\n"
    return text + f"{key}: {value}\n"


def _args(tmp: Path, **values: str) -> list:
    text = ARGS
    for key, value in values.items():
        text = _set(text, key, value)
    (tmp / "args.yaml").write_text(text)
    return [tmp / "args.yaml", "--no-log"]


def _hf(tmp: Path, **values: str) -> list:
    text = HF
    for key, value in values.items():
        text = _set(text, key, value)
    (tmp / "training_args.yaml").write_text(text)
    return [tmp / "training_args.yaml", "--no-log"]


def _results_csv(path: Path, nan_epoch: int | None) -> Path:
    """results.csv as Ultralytics writes it: a plain header, '%.6g' numbers, `nan` from the broken epoch."""
    header = (
        "epoch,time,train/box_loss,train/cls_loss,train/dfl_loss,metrics/precision(B),metrics/recall(B),"
        "metrics/mAP50(B),metrics/mAP50-95(B),val/box_loss,val/cls_loss,val/dfl_loss,lr/pg0,lr/pg1,lr/pg2"
    )
    rows = [header]
    for e in range(1, 7):
        bad = nan_epoch is not None and e >= nan_epoch
        loss = ["nan"] * 3 if bad else [f"{1.8 - 0.05 * e:.6g}", f"{2.4 - 0.08 * e:.6g}", f"{1.7 - 0.03 * e:.6g}"]
        metrics = ["0"] * 4 if bad else ["0.5", "0.45", "0.4", "0.2"]
        val = ["nan"] * 3 if bad else [f"{1.9 - 0.05 * e:.6g}", f"{2.5 - 0.08 * e:.6g}", f"{1.8 - 0.03 * e:.6g}"]
        rows.append(",".join([str(e), str(40 * e), *loss, *metrics, *val, "0.00198", "0.00198", "0.00198"]))
    path.write_text("\n".join(rows) + "\n")
    return path


def _metrics_csv(path: Path, nan_epoch: int | None) -> Path:
    """Lightning CSVLogger's metrics.csv: train rows and validation rows interleaved, empty cells between."""
    rows = ["epoch,step,train_loss,val_loss"]
    for e in range(6):
        bad = nan_epoch is not None and e >= nan_epoch
        rows.append(f"{e},{e * 50 + 49},{'nan' if bad else f'{1.2 - 0.1 * e:.4f}'},")
        rows.append(f"{e},{e * 50 + 49},,{'nan' if bad else f'{1.3 - 0.1 * e:.4f}'}")
    path.write_text("\n".join(rows) + "\n")
    return path


# --- ND401 fp16 -----------------------------------------------------------------------------------


@example("ND401", "bad", "diagnose-config")
def _(tmp: Path) -> list:
    return _args(tmp, amp="true")


@example("ND401", "good", "diagnose-config")
def _(tmp: Path) -> list:
    return _args(tmp, amp="false")


# --- ND402 learning rate high for the setting ------------------------------------------------------


@example("ND402", "bad", "diagnose-config")
def _(tmp: Path) -> list:
    return _args(tmp, imgsz="1280", lr0="0.01", optimizer="SGD")


@example("ND402", "good", "diagnose-config")
def _(tmp: Path) -> list:
    return _args(tmp, imgsz="1280", lr0="0.003", optimizer="SGD")


# --- ND403 eps below fp16's smallest subnormal -----------------------------------------------------


@example("ND403", "bad", "diagnose-config")
def _(tmp: Path) -> list:
    (tmp / "config.yaml").write_text(LIGHTNING.replace("precision: bf16-mixed", "precision: 16-true"))
    return [tmp / "config.yaml", "--no-log"]


@example("ND403", "good", "diagnose-config")
def _(tmp: Path) -> list:
    (tmp / "config.yaml").write_text(
        LIGHTNING.replace("precision: bf16-mixed", "precision: 16-true").replace("eps: 1.0e-08", "eps: 1.0e-06")
    )
    return [tmp / "config.yaml", "--no-log"]


# --- ND404 clipping off ------------------------------------------------------------------------------


@example("ND404", "bad", "diagnose-config")
def _(tmp: Path) -> list:
    return _hf(tmp, max_grad_norm="0.0")


@example("ND404", "good", "diagnose-config")
def _(tmp: Path) -> list:
    return _hf(tmp, max_grad_norm="1.0")


# --- ND405 no warmup ---------------------------------------------------------------------------------


@example("ND405", "bad", "diagnose-config")
def _(tmp: Path) -> list:
    return _args(tmp, warmup_epochs="0.0")


@example("ND405", "good", "diagnose-config")
def _(tmp: Path) -> list:
    return _args(tmp, warmup_epochs="3.0")


# --- ND406 / ND407 / ND413: a multi-dataset classifier's research config --------------------------

MULTI = """model:
  backbone: vit_base_patch16_224
  num_classes: {head}
training:
  lr: 5.0e-05
  epochs: 30
  max_grad_norm: 1.0
  mixed_precision: "no"
loss:
  type: {loss}
datasets:
  enable_logits_masking: {masking}
dataset_configs:
  food101:
    num_classes: 101
  veg200:
    num_classes: 200
"""


def _multi(tmp: Path, head: int = 301, loss: str = "cross_entropy", masking: str = "false") -> list:
    (tmp / "config.yaml").write_text(MULTI.format(head=head, loss=loss, masking=masking))
    return [tmp / "config.yaml", "--no-log"]


@example("ND406", "bad", "diagnose-config")
def _(tmp: Path) -> list:
    return _multi(tmp, masking="true")


@example("ND406", "good", "diagnose-config")
def _(tmp: Path) -> list:
    return _multi(tmp, masking="false")


@example("ND407", "bad", "diagnose-config")
def _(tmp: Path) -> list:
    return _multi(tmp, loss="focal")


@example("ND407", "good", "diagnose-config")
def _(tmp: Path) -> list:
    return _multi(tmp, loss="cross_entropy")


@example("ND413", "bad", "diagnose-config")
def _(tmp: Path) -> list:
    return _multi(tmp, head=101)  # veg200's labels reach 199


@example("ND413", "good", "diagnose-config")
def _(tmp: Path) -> list:
    return _multi(tmp, head=301)  # disjoint label spaces: the sum


# --- ND408 / ND409 / ND410 / ND411: Ultralytics ---------------------------------------------------


@example("ND408", "bad", "diagnose-config")
def _(tmp: Path) -> list:
    return _args(tmp, hsv_h="0.05", mixup="0.5", copy_paste="0.5")


@example("ND408", "good", "diagnose-config")
def _(tmp: Path) -> list:
    return _args(tmp)


@example("ND409", "bad", "diagnose-config")
def _(tmp: Path) -> list:
    return _args(tmp, batch="1")


@example("ND409", "good", "diagnose-config")
def _(tmp: Path) -> list:
    return _args(tmp, batch="16")


@example("ND410", "bad", "diagnose-config")
def _(tmp: Path) -> list:
    return _args(tmp, save_period="-1")  # default.yaml's value: only last.pt and best.pt


@example("ND410", "good", "diagnose-config")
def _(tmp: Path) -> list:
    return _args(tmp, save_period="5")


@example("ND411", "bad", "diagnose-config")
def _(tmp: Path) -> list:
    return _args(tmp, optimizer="auto", lr0="0.003")


@example("ND411", "good", "diagnose-config")
def _(tmp: Path) -> list:
    return _args(tmp, optimizer="SGD", lr0="0.003")


# --- ND412 a number PyYAML reads as a string -------------------------------------------------------


@example("ND412", "bad", "diagnose-config")
def _(tmp: Path) -> list:
    return _hf(tmp, learning_rate="2e-5")


@example("ND412", "good", "diagnose-config")
def _(tmp: Path) -> list:
    return _hf(tmp, learning_rate="2.0e-05")


# --- ND414 nothing to diagnose ---------------------------------------------------------------------


@example("ND414", "bad", "diagnose-config")
def _(tmp: Path) -> list:
    (tmp / "data.yaml").write_text(
        "path: ../datasets/coco8\ntrain: images/train\nval: images/val\nnames:\n  0: person\n  1: bicycle\n"
    )
    return [tmp / "data.yaml"]


@example("ND414", "good", "diagnose-config")
def _(tmp: Path) -> list:
    return _args(tmp)


# --- ND415 a repaired config already exists (triage keeps it) --------------------------------------


@example("ND415", "bad", "triage")
def _(tmp: Path) -> list:
    run = tmp / "train"
    run.mkdir()
    _args(run, amp="true")
    (run / "args_fixed.yaml").write_text(_set(ARGS, "amp", "false"))  # from an earlier diagnosis
    return [run]


@example("ND415", "good", "triage")
def _(tmp: Path) -> list:
    run = tmp / "train"
    run.mkdir()
    _args(run, amp="true")
    return [run]


# --- ND416 anomaly detection after a NaN (Lightning) -----------------------------------------------


@example("ND416", "bad", "diagnose-config")
def _(tmp: Path) -> list:
    (tmp / "config.yaml").write_text(LIGHTNING)
    return [tmp / "config.yaml", "--log", _metrics_csv(tmp / "metrics.csv", nan_epoch=3)]


@example("ND416", "good", "diagnose-config")
def _(tmp: Path) -> list:
    (tmp / "config.yaml").write_text(LIGHTNING)
    return [tmp / "config.yaml", "--log", _metrics_csv(tmp / "metrics.csv", nan_epoch=None)]


# --- ND417 repair values from the run's own log (a record, raised whenever a log is used) -----------


@example("ND417", "bad", "diagnose-config")
def _(tmp: Path) -> list:
    _args(tmp, amp="true")
    _results_csv(tmp / "results.csv", nan_epoch=4)  # found beside args.yaml, as `yolo train` leaves it
    return [tmp / "args.yaml"]


@example("ND417", "good", "diagnose-config")
def _(tmp: Path) -> list:
    _args(tmp, amp="true")
    _results_csv(tmp / "results.csv", nan_epoch=4)
    return [tmp / "args.yaml", "--no-log"]


# --- ND418 a key this framework version refuses ------------------------------------------------------


@example("ND418", "bad", "diagnose-config")
def _(tmp: Path) -> list:
    (tmp / "training_args.yaml").write_text(HF.replace("warmup_steps: 0.1", "warmup_ratio: 0.1"))
    return [tmp / "training_args.yaml", "--no-log"]


@example("ND418", "good", "diagnose-config")
def _(tmp: Path) -> list:
    (tmp / "training_args.yaml").write_text(HF)
    return [tmp / "training_args.yaml", "--no-log"]


# --- ND419 a non-finite number -------------------------------------------------------------------------


@example("ND419", "bad", "diagnose-config")
def _(tmp: Path) -> list:
    return _args(tmp, lr0=".nan")


@example("ND419", "good", "diagnose-config")
def _(tmp: Path) -> list:
    return _args(tmp, lr0="0.01")
