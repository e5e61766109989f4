"""Each console format is recognised by its content and dated by its own counters.

The samples are typed from each program's documented output (the print/format strings in its
source, named per case) with real values; mixed with the prose, warnings and tracebacks a real
console carries, which must be skipped and counted. CSV and JSON samples are written with the real
writers (pandas, json, csv.DictWriter as Lightning's CSVLogger uses it).
"""

from __future__ import annotations

import csv
import json
import math
import re
import subprocess
import sys

import pytest

from nandoctor.findings import NandoctorError
from nandoctor.logs.engine import analyze_log

TRACEBACK = (
    'Traceback (most recent call last):\n  File "train.py", line 88, in <module>\n'
    "RuntimeError: CUDA error: an illegal memory access was encountered\n"
)

CASES = {
    # transformers Trainer.log -> ProgressCallback.on_log prints the dict; 4.x floats (nan bare), tqdm `\r` bars
    "hf_console_4x": dict(
        text=(
            " 10%|█         | 10/100 [00:02<00:18,  4.9it/s]\r{'loss': 2.3012, 'grad_norm': 1.87, 'learning_rate': 5e-05, "
            "'epoch': 0.1}\n"
            " 20%|██        | 20/100 [00:04<00:16,  4.9it/s]\r{'loss': 2.1876, 'grad_norm': 2.01, 'learning_rate': 4.5e-05, "
            "'epoch': 0.2}\n"
            "{'eval_loss': 2.0511, 'eval_runtime': 1.2, 'eval_samples_per_second': 80.1, 'epoch': 0.2}\n"
            " 30%|███       | 30/100 [00:06<00:14,  4.9it/s]\r{'loss': 2.0702, 'grad_norm': 1.95, 'learning_rate': 4e-05, "
            "'epoch': 0.3}\n"
            " 40%|████      | 40/100 [00:08<00:12,  4.9it/s]\r{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 3.5e-05, "
            "'epoch': 0.4}\n"
            " 50%|█████     | 50/100 [00:10<00:10,  4.9it/s]\r{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 3e-05, "
            "'epoch': 0.5}\n"
            "{'train_runtime': 20.5, 'train_samples_per_second': 39.0, 'train_steps_per_second': 4.9, 'train_loss': 1.31, "
            "'epoch': 0.5}\n"
        ),
        reader="hf-console",
        index="epoch",
        metric="loss",
        first=0.4,
        last=0.3,
        codes={"ND301", "ND310"},
        exit=1,
    ),
    # Python logging, `%(asctime)s - %(levelname)s - %(message)s`
    "python_logging": dict(
        text=(
            "2024-05-01 12:00:00,123 - INFO - starting training with 4 GPUs\n"
            "2024-05-01 12:00:10,001 - INFO - step 500 loss=2.4512 lr=0.0003\n"
            "2024-05-01 12:00:20,001 - INFO - step 1000 loss=2.1034 lr=0.0003\n"
            "2024-05-01 12:00:25,554 - WARNING - gradient overflow, skipping step\n"
            "2024-05-01 12:00:30,001 - INFO - step 1500 loss=nan lr=0.0003\n"
        ),
        reader="text-log",
        index="step",
        metric="loss",
        first=1500,
        last=1000,
        codes={"ND301"},
        exit=1,
    ),
    "bracket_time": dict(
        text=(
            "[12:00:00] step 10: loss=2.30 acc=0.10\n[12:00:05] step 20: loss=2.10 acc=0.15\n"
            "[12:00:10] step 30: loss=1.95 acc=0.21\n[12:00:15] step 40: loss=inf acc=0.21\n"
        ),
        reader="text-log",
        index="step",
        metric="loss",
        first=40,
        last=30,
        codes={"ND301"},
        exit=1,
    ),
    # pytorch/examples word_language_model/main.py: `| epoch {:3d} | {:5d}/{:5d} batches | lr {:02.2f} | ...`
    "word_language_model": dict(
        text=(
            "Namespace(batch_size=20, bptt=35, clip=0.25, cuda=True, data='./data/wikitext-2', dropout=0.2, epochs=40, "
            "lr=20, model='LSTM', nhid=200, seed=1111)\n"
            "| epoch   1 |   200/ 2983 batches | lr 20.00 | ms/batch 14.90 | loss  7.63 | ppl  2050.85\n"
            "| epoch   1 |   400/ 2983 batches | lr 20.00 | ms/batch 14.42 | loss  6.86 | ppl   951.13\n"
            "| epoch   1 |   600/ 2983 batches | lr 20.00 | ms/batch 14.42 | loss  6.49 | ppl   658.48\n"
            "| epoch   1 |   800/ 2983 batches | lr 20.00 | ms/batch 14.45 | loss   nan | ppl      nan\n"
        ),
        reader="pipe-console",
        index="epoch",
        metric="loss",
        first=1,
        batch="800/2983",
        codes={"ND301"},
        exit=1,
    ),
    # Megatron-LM training.py training_log(): ` iteration {:8d}/{:8d} |` then `{key}: {value:.6E} |`
    "megatron_lm_loss": dict(
        text=(
            " iteration      100/  250000 | consumed samples:          800 | elapsed time per iteration (ms): 4301.2 | "
            "learning rate: 3.000E-05 | global batch size:     8 | lm loss: 8.123456E+00 | loss scale: 65536.0 | "
            "grad norm: 3.412 | number of skipped iterations:   0 | number of nan iterations:   0 |\n"
            " iteration      200/  250000 | consumed samples:         1600 | elapsed time per iteration (ms): 4250.0 | "
            "learning rate: 6.000E-05 | global batch size:     8 | lm loss: 7.456789E+00 | loss scale: 65536.0 | "
            "grad norm: 2.918 | number of skipped iterations:   0 | number of nan iterations:   0 |\n"
            " iteration      300/  250000 | consumed samples:         2400 | elapsed time per iteration (ms): 4249.1 | "
            "learning rate: 9.000E-05 | global batch size:     8 | lm loss: 7.012345E+00 | loss scale: 32768.0 | "
            "grad norm: 2.711 | number of skipped iterations:   1 | number of nan iterations:   0 |\n"
            " iteration      400/  250000 | consumed samples:         3200 | elapsed time per iteration (ms): 4249.9 | "
            "learning rate: 1.200E-04 | global batch size:     8 | lm loss: 6.812345E+00 | loss scale: 32768.0 | "
            "grad norm: nan | number of skipped iterations:   0 | number of nan iterations:   1 |\n"
        ),
        reader="megatron",
        index="step",
        metric="lm_loss",
        first=400,
        last=300,
        codes={"ND301", "ND310"},
        exit=1,
    ),
    # mmengine LoggerHook: `Epoch(train) [1][ 50/500]  lr: ...  eta: ...  time: ...  loss: ...`
    "mmengine": dict(
        text=(
            "12/03 10:00:00 - mmengine - INFO - Epoch(train) [1][ 50/500]  lr: 2.0000e-02  eta: 1:00:00  time: 0.5000  "
            "data_time: 0.0100  memory: 3162  loss: 1.2345  loss_cls: 0.8000  loss_bbox: 0.4345\n"
            "12/03 10:00:25 - mmengine - INFO - Epoch(train) [1][100/500]  lr: 2.0000e-02  eta: 0:59:00  time: 0.5000  "
            "data_time: 0.0100  memory: 3162  loss: 1.1002  loss_cls: 0.7000  loss_bbox: 0.4002\n"
            "12/03 10:00:50 - mmengine - INFO - Epoch(train) [1][150/500]  lr: 2.0000e-02  eta: 0:58:00  time: 0.5000  "
            "data_time: 0.0100  memory: 3162  loss: 1.0501  loss_cls: 0.6500  loss_bbox: 0.4001\n"
            "12/03 10:01:15 - mmengine - INFO - Epoch(train) [1][200/500]  lr: 2.0000e-02  eta: 0:57:00  time: 0.5000  "
            "data_time: 0.0100  memory: 3162  loss: nan  loss_cls: nan  loss_bbox: nan\n"
        ),
        reader="mmdet",
        index="epoch",
        metric="loss",
        first=1,
        batch="200/500",
        codes={"ND301"},
        exit=1,
    ),
    # detectron2 CommonMetricPrinter: ` eta: {eta}  iter: {iter}  {losses}  {time}{data_time}lr: {lr}  max_mem: {}M`
    "detectron2": dict(
        text=(
            "[04/19 00:18:20 d2.utils.events]:  eta: 0:13:49  iter: 159  total_loss: 1.532  loss_cls: 0.6912  "
            "loss_box_reg: 0.8408  time: 0.4125  data_time: 0.0121  lr: 0.00031968  max_mem: 2622M\n"
            "[04/19 00:18:30 d2.utils.events]:  eta: 0:13:39  iter: 179  total_loss: 1.401  loss_cls: 0.6012  "
            "loss_box_reg: 0.7998  time: 0.4126  data_time: 0.0120  lr: 0.00035964  max_mem: 2622M\n"
            "[04/19 00:18:40 d2.utils.events]:  eta: 0:13:29  iter: 199  total_loss: nan  loss_cls: nan  "
            "loss_box_reg: nan  time: 0.4127  data_time: 0.0122  lr: 0.00039960  max_mem: 2622M\n"
            "FloatingPointError: Loss became infinite or NaN at iteration=199!\n"
        ),
        reader="detectron2",
        index="step",
        metric="total_loss",
        first=199,
        last=179,
        codes={"ND301"},
        exit=1,
    ),
    # darknet detector.c: `%ld: %f, %f avg loss, %f rate, %lf seconds, %d images`
    "darknet": dict(
        text=(
            "Loaded: 0.000050 seconds\n"
            " 71: 3.412311, 3.601123 avg loss, 0.001000 rate, 2.950000 seconds, 4544 images\n"
            "Loaded: 0.000046 seconds\n"
            " 72: 3.311220, 3.572133 avg loss, 0.001000 rate, 2.940000 seconds, 4608 images\n"
            " 73: 3.298812, 3.544801 avg loss, 0.001000 rate, 2.960000 seconds, 4672 images\n"
            " 74: -nan, -nan avg loss, 0.001000 rate, 2.950000 seconds, 4736 images\n"
        ),
        reader="darknet",
        index="step",
        metric="loss",
        first=74,
        last=73,
        codes={"ND301"},
        exit=1,
    ),
    # Keras 2 ProgbarLogger, verbose=1 (`\r` updates) and the epoch summary
    "keras2": dict(
        text=(
            "Epoch 1/3\n"
            " 1/3 [=========>....................] - ETA: 1s - loss: 2.3020 - accuracy: 0.1000\r"
            " 2/3 [===================>..........] - ETA: 0s - loss: 2.2500 - accuracy: 0.1200\r"
            "3/3 [==============================] - 1s 10ms/step - loss: 2.2001 - accuracy: 0.1300\n"
            "Epoch 2/3\n"
            " 1/3 [=========>....................] - ETA: 0s - loss: 2.1000 - accuracy: 0.1500\r"
            "3/3 [==============================] - 0s 9ms/step - loss: 2.0502 - accuracy: 0.1600\n"
            "Epoch 3/3\n"
            " 1/3 [=========>....................] - ETA: 0s - loss: 2.0010 - accuracy: 0.1700\r"
            " 2/3 [===================>..........] - ETA: 0s - loss: nan - accuracy: 0.1000\r"
            "3/3 [==============================] - 0s 9ms/step - loss: nan - accuracy: 0.1000\n"
        ),
        reader="keras-console",
        index="epoch",
        metric="loss",
        first=3,
        batch="2/3",
        last=2,
        codes={"ND301"},
        exit=1,
    ),
    # Keras 3 progbar: `━` bar, `{k}/{n} ━━━━ {time} {ms}/step - name: value`
    "keras3": dict(
        text=(
            "Epoch 1/2\n"
            "\x1b[1m 1/31\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m1s\x1b[0m 44ms/step - loss: 0.6931 - mae: 0.5012\n"
            "\x1b[1m31/31\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m1s\x1b[0m 28ms/step - loss: 0.6012 - mae: 0.4411 - "
            "val_loss: 0.5903 - val_mae: 0.4302\n"
            "Epoch 2/2\n"
            "\x1b[1m 1/31\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 27ms/step - loss: 0.5801 - mae: 0.4312\n"
            "\x1b[1m 2/31\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 27ms/step - loss: 0.5702 - mae: 0.4201\n"
            "\x1b[1m 3/31\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 27ms/step - loss: nan - mae: nan\n"
        ),
        reader="keras-console",
        index="epoch",
        metric="loss",
        first=2,
        batch="3/31",
        last=1,
        codes={"ND301"},
        exit=1,
    ),
    # YOLOv5 train.py: `('%10s' * 2 + '%10.4g' * 5) % (f'{epoch}/{epochs - 1}', mem, *mloss, labels, imgsz)`
    "yolov5_console": dict(
        text=(
            "\n     Epoch   gpu_mem       box       obj       cls    labels  img_size\n"
            "      0/63     4.89G   0.06353     0.033         0        10      1280: 100%|██████████| 213/213 [06:28<00:00]\n"
            "               Class     Images     Labels          P          R     mAP@.5 mAP@.5:.95: 100%|█| 10/10\n"
            "                 all        300        412      0.512      0.401      0.388      0.152\n"
            "\n     Epoch   gpu_mem       box       obj       cls    labels  img_size\n"
            "      1/63     4.89G   0.04785   0.03452         0        12      1280: 100%|██████████| 213/213 [06:12<00:00]\n"
            "\n     Epoch   gpu_mem       box       obj       cls    labels  img_size\n"
            "      2/63     4.89G   0.04258   0.03107         0        11      1280: 100%|██████████| 213/213 [06:11<00:00]\n"
            "\n     Epoch   gpu_mem       box       obj       cls    labels  img_size\n"
            "      3/63     4.89G       nan       nan         0        11      1280: 100%|██████████| 213/213 [06:11<00:00]\n"
        ),
        reader="yolo-console",
        index="epoch",
        metric="box+obj+cls",
        first=3,
        last=2,
        codes={"ND301"},
        exit=1,
    ),
    # Ultralytics 8.4 trainer: `("%11s" * 2 + "%11.4g" * (2 + n)) % (f"{epoch + 1}/{epochs}", mem, *losses, inst, size)`
    # and `_handle_nan_recovery`'s LOGGER.warning(f"{reason} detected (attempt {n}/3), recovering from last.pt...")
    "ultralytics_84_recovery": dict(
        text=(
            "\n      Epoch    GPU_mem   box_loss   cls_loss   dfl_loss  Instances       Size\n"
            "       1/10      2.61G      1.212      2.301      1.402         24        640: 100%|██████████| 8/8\n"
            "       2/10      2.61G      1.151      2.012      1.371         31        640: 100%|██████████| 8/8\n"
            "       3/10      2.61G      1.102      1.811      1.333         27        640: 100%|██████████| 8/8\n"
            "WARNING ⚠️ Fitness NaN/Inf detected (attempt 1/3), recovering from last.pt...\n"
            "       4/10      2.61G      1.098      1.790      1.329         22        640: 100%|██████████| 8/8\n"
            "       5/10      2.61G      1.071      1.702      1.310         29        640: 100%|██████████| 8/8\n"
        ),
        reader="ultralytics-console",
        index="epoch",
        metric="box_loss+cls_loss+dfl_loss",
        first=3,
        last=2,
        codes={"ND301", "ND310"},
        exit=1,
    ),
    # Lightning TQDMProgressBar: `Epoch {n}: {pct}%|{bar}| {k}/{N} [{elapsed}<{remaining}, {rate}, {postfix}]`
    "lightning_tqdm": dict(
        text=(
            "GPU available: False, used: False\n"
            "Epoch 0: 100%|██████████| 50/50 [00:01<00:00, 30.00it/s, v_num=1, train_loss=0.912]\n"
            "Epoch 1: 100%|██████████| 50/50 [00:01<00:00, 30.00it/s, v_num=1, train_loss=0.701]\n"
            "Epoch 2: 100%|██████████| 50/50 [00:01<00:00, 30.00it/s, v_num=1, train_loss=0.655]\n"
            "Epoch 3:  42%|████▏     | 21/50 [00:00<00:00, 30.00it/s, v_num=1, train_loss=nan]\n"
        ),
        reader="lightning-console",
        index="epoch",
        metric="train_loss",
        first=3,
        batch="21/50",
        last=2,
        codes={"ND301"},
        exit=1,
    ),
}


def _write(tmp_path, case):
    f = tmp_path / "console.log"
    f.write_text(case["text"] + TRACEBACK, encoding="utf-8")
    return f


@pytest.mark.parametrize("name", list(CASES))
def test_console_format_read_and_dated_by_its_counters(tmp_path, name):
    case = CASES[name]
    report = analyze_log(_write(tmp_path, case))
    s = report.summary
    assert (s["reader"], s["index_name"], s["metric"]) == (case["reader"], case["index"], case["metric"])
    first = s["first_nonfinite"]
    assert first is not None and math.isclose(first["index"], case["first"]), first
    if "batch" in case:
        assert first["batch"] == case["batch"]
    if "last" in case:
        assert s["last_healthy"]["index"] == case["last"]
    codes = {f.code for f in report.findings if f.severity == "error"}
    assert case["codes"] <= codes, codes
    assert report.exit_code("error") == case["exit"]
    # the traceback (3 lines) is skipped and counted, never read as values
    assert s["lines_read"] <= s["lines"] - 3


def test_hf_filtered_nan_is_named(tmp_path):
    report = analyze_log(_write(tmp_path, CASES["hf_console_4x"]))
    nd310 = next(f for f in report.findings if f.code == "ND310")
    assert "exactly 0.0" in nd310.message and "logging_nan_inf_filter" in nd310.message
    assert "epoch 0.4" in nd310.message


def test_ND316_loss_scale_is_never_the_loss(tmp_path):
    """Megatron with no `lm loss` printed: the grad norm is judged, never `loss scale`."""
    f = tmp_path / "megatron.log"
    f.write_text(
        "".join(
            f" iteration {i:8d}/  250000 | learning rate: 2.999E-04 | global batch size:     8 | "
            f"loss scale: 1.0 | grad norm: {g} | number of nan iterations:   0 |\n"
            for i, g in ((5426, "1.2"), (5427, "1.3"), (5428, "nan"))
        )
    )
    report = analyze_log(f)
    assert report.summary["metric"] == "grad_norm" and report.summary["first_nonfinite"]["index"] == 5428
    assert report.exit_code("error") == 1
    assert [f.where for f in report.findings if f.code == "ND316"] == ["grad_norm"]


def test_keras_history_json_both_shapes(tmp_path):
    plain = tmp_path / "history.json"
    with open(plain, "w") as fh:  # json.dump(history.history): NaN written as NaN
        json.dump(
            {
                "loss": [0.9, 0.7, 0.6, float("nan")],
                "val_loss": [0.95, 0.8, 0.7, float("nan")],
                "accuracy": [0.5, 0.6, 0.7, 0.1],
            },
            fh,
        )
    s = analyze_log(plain).summary
    assert (s["reader"], s["metric"], s["first_nonfinite"]["index"], s["last_healthy"]["index"]) == (
        "keras-history",
        "loss",
        3,
        2,
    )
    nested = tmp_path / "history2.json"
    with open(nested, "w") as fh:
        json.dump({"epochs": [0, 1, 2, 3], "metrics": {"loss": [1.0, 0.8, float("inf"), float("inf")]}}, fh)
    s = analyze_log(nested).summary
    assert s["reader"] == "keras-history" and s["first_nonfinite"]["index"] == 2


def test_lightning_metrics_without_suffixes_by_its_sparse_rows(tmp_path):
    """CSVLogger writes one row per log call with empty cells (csv.DictWriter, as Lightning does)."""
    f = tmp_path / "metrics.csv"
    rows = []
    for epoch in range(4):
        for k in range(3):
            rows.append(
                {"epoch": epoch, "step": epoch * 3 + k, "train_loss": 1.0 / (1 + epoch * 3 + k), "train_mse": 0.5}
            )
        rows.append({"epoch": epoch, "step": epoch * 3 + 2, "val_loss": 0.9 / (1 + epoch)})
    with open(f, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["epoch", "lr-Adam", "step", "train_loss", "train_mse", "val_loss"])
        w.writeheader()
        w.writerows(rows)
    report = analyze_log(f)
    assert report.summary["reader"] == "lightning-metrics" and report.summary["metric"] == "train_loss"
    assert report.exit_code("error") == 0 and not [x for x in report.findings if x.code == "ND315"]


def _pandas_history(tmp_path, loss, acc):
    pd = pytest.importorskip("pandas")
    f = tmp_path / "training_history.csv"
    n = len(loss)
    pd.DataFrame({"epoch": range(1, n + 1), "train_loss": loss, "val_loss": [0.5] * n, "val_acc": acc}).to_csv(
        f, index=False
    )  # NaN -> empty cell
    assert ",," in f.read_text()
    return f


def test_pandas_empty_cell_that_never_comes_back_is_the_break(tmp_path):
    nan = float("nan")
    f = _pandas_history(tmp_path, [0.9, 0.8, 0.7, 0.65, nan, nan, nan], [0.5, 0.6, 0.7, 0.72, 0.7, 0.7, 0.7])
    report = analyze_log(f)
    assert report.summary["first_nonfinite"]["index"] == 5 and report.exit_code("error") == 1


def test_pandas_empty_cell_with_accuracy_snapping_to_1_is_the_break(tmp_path):
    nan = float("nan")
    f = _pandas_history(tmp_path, [0.9, 0.8, 0.7, nan, 0.6, 0.55], [0.5, 0.6, 0.7, 1.0, 0.72, 0.74])
    report = analyze_log(f)
    assert report.summary["first_nonfinite"]["index"] == 4 and report.exit_code("error") == 1


def test_ND315_pandas_empty_cell_that_comes_back_is_reported(tmp_path):
    nan = float("nan")
    f = _pandas_history(tmp_path, [0.9, 0.8, 0.7, nan, 0.6, 0.55], [0.5, 0.6, 0.7, 0.71, 0.72, 0.74])
    report = analyze_log(f)
    nd315 = [x for x in report.findings if x.code == "ND315"]
    assert nd315 and nd315[0].severity == "warning" and "epoch 4" in nd315[0].message


def test_stray_text_cell_keeps_written_nan_apart(tmp_path):
    """One `0.7x` makes pandas parse the column as text; the `nan` rows after it are still the break."""
    f = tmp_path / "log.csv"
    f.write_text("epoch,train_loss\n1,0.9\n2,0.7x\n3,0.6\n4,nan\n5,nan\n")
    report = analyze_log(f)
    assert report.summary["first_nonfinite"]["index"] == 4 and report.exit_code("error") == 1


def test_yaml_config_is_not_a_healthy_log(tmp_path):
    for name in ("args.yaml", "config.txt"):
        f = tmp_path / name
        f.write_text("task: detect\nmode: train\nepochs: 100\nlr0: 0.01\nlrf: 0.01\nmomentum: 0.937\nbox: 7.5\n")
        with pytest.raises(NandoctorError):
            analyze_log(f)


def test_prose_with_one_number_exits_2_saying_how_much_was_read(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("We trained the model overnight.\n" * 40 + "final loss: 0.31\n" + "It looked fine.\n" * 40)
    with pytest.raises(NandoctorError, match=r"read 1 of 81 lines"):
        analyze_log(f)


def test_stdin(tmp_path):
    text = CASES["darknet"]["text"]
    r = subprocess.run(
        [sys.executable, "-m", "nandoctor", "analyze-log", "-", "--format", "json"],
        input=text,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1, r.stderr
    s = json.loads(r.stdout)["summary"]
    assert s["reader"] == "darknet" and s["first_nonfinite"]["index"] == 74 and s["path"] == "<stdin>"


def test_text_view_says_how_much_was_read(cli, tmp_path):
    r = cli("analyze-log", str(_write(tmp_path, CASES["detectron2"])))
    assert "read 3 of 7 lines" in r.stdout


DATA = __import__("pathlib").Path(__file__).parent / "data" / "logs"


def test_real_transformers5_console(tmp_path):
    """Captured from a real transformers 5 Trainer (tests/data/logs/make_hf5_trainer_console.py): values
    printed as strings, tqdm bars, eval dicts, the train_runtime line; NaN weights after step 12 of 24
    (8 steps an epoch), so step 14, epoch 1.75, is the first non-finite log and the loss reads '0'."""
    report = analyze_log(DATA / "hf5_trainer_console_nan.log")
    s = report.summary
    assert (s["reader"], s["metric"], s["index_name"]) == ("hf-console", "loss", "epoch")
    assert s["first_nonfinite"]["index"] == 1.75 and s["last_healthy"]["index"] == 1.5
    assert s["points"] == 12 and s["lines_read"] < s["lines"]
    nd310 = next(f for f in report.findings if f.code == "ND310")
    assert "exactly 0.0" in nd310.message and report.exit_code("error") == 1


def test_long_console_log_is_thinned_in_bounded_memory_and_keeps_the_break(tmp_path, monkeypatch):
    """Past KEEP_ROWS rows a console log is thinned (the stride doubles), but a non-finite row is
    always kept, so the break is still dated by the log's own counter."""
    from nandoctor.logs.readers import text

    monkeypatch.setattr(text, "KEEP_ROWS", 500)
    f = tmp_path / "train.log"
    with open(f, "w") as fh:
        for step in range(1, 5001):
            loss = "nan" if step >= 4321 else f"{2.0 - step * 1e-4:.4f}"
            fh.write(f"2024-05-01 12:00:00,000 - INFO - step {step} loss={loss}\n")
    report = analyze_log(f)
    s = report.summary
    assert s["sampled"] and s["sampled"]["kept_rows"] <= 500 + 680 and s["rows"] == 5000
    assert s["first_nonfinite"]["index"] == 4321 and s["lines"] == 5000 and s["lines_read"] == 5000


def test_console_log_nan_from_early_on_is_thinned_too(tmp_path, monkeypatch):
    """A log whose loss is NaN from its 11th line holds at most KEEP_ROWS rows plus the first KEEP_BAD
    with a NaN (a long run gone NaN early is no memory bomb), and still dates the break."""
    from nandoctor.logs.readers import text

    monkeypatch.setattr(text, "KEEP_ROWS", 500)
    monkeypatch.setattr(text, "KEEP_BAD", 100)
    f = tmp_path / "train.log"
    with open(f, "w") as fh:
        for step in range(1, 20001):
            fh.write(f"2024-05-01 12:00:00,000 - INFO - step {step} loss={'nan' if step > 10 else 2.5}\n")
    report = analyze_log(f)
    s = report.summary
    assert s["sampled"] and s["sampled"]["kept_rows"] <= 500 + 100 and s["rows"] == 20000
    assert s["first_nonfinite"]["index"] == 11 and s["lines_read"] == 20000


def _ultralytics_results(path, val_bad: set[int], epochs: int = 8):
    """results.csv as Ultralytics 8.4's trainer writes it (`%.6g`, `nan` literal, epoch from 1)."""
    from tests.ultralytics_writers import RESULTS_COLUMNS

    keys = RESULTS_COLUMNS[2:]  # the metric keys, after "epoch" and "time"
    with open(path, "w") as f:
        f.write(("%s," * (len(keys) + 2) % ("epoch", "time", *keys)).rstrip(",") + "\n")
        for e in range(1, epochs + 1):
            v = [1.5 - e * 0.05, 2.0 - e * 0.1, 1.3 - e * 0.02, 0.5, 0.4, 0.45, 0.3]
            v += [float("nan")] * 3 if e in val_bad else [1.6 - e * 0.05, 2.1 - e * 0.1, 1.4 - e * 0.02]
            v += [0.001] * 3
            f.write(("%.6g," * (len(v) + 2) % (e, 30.0 * e, *v)).rstrip(",") + "\n")


def test_ND308_validation_nan_that_recovered_is_a_warning_saying_when(tmp_path):
    f = tmp_path / "results.csv"
    _ultralytics_results(f, {3, 5})
    report = analyze_log(f)
    nd308 = [x for x in report.findings if x.code == "ND308"]
    assert report.exit_code("error") == 0 and nd308 and nd308[0].severity == "warning"
    assert "epoch 3, 5" in nd308[0].message and "recovered from epoch 6" in nd308[0].message


def test_ND308_validation_nan_at_the_end_is_an_error(tmp_path):
    f = tmp_path / "results.csv"
    _ultralytics_results(f, {7, 8})
    report = analyze_log(f)
    nd308 = [x for x in report.findings if x.code == "ND308"]
    assert report.exit_code("error") == 1 and nd308[0].severity == "error" and "epoch 7" in nd308[0].message


def test_tensorboard_epoch_tags_are_not_put_on_the_step_axis(tmp_path):
    """pytorch-examples style: `Loss/train_step` every step, `Loss/train` and `Loss/val` once per epoch
    (step = epoch). Joining them on one axis would date epoch 9 at step 9; they are judged apart."""
    pytest.importorskip("tensorboard")
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path / "tb")) as w:
        for step in range(1, 81):
            w.add_scalar("Loss/train_step", 1.0 / step**0.5, step)
        for epoch in range(1, 11):
            w.add_scalar("Loss/train", 1.0 / epoch, epoch)
            w.add_scalar("Loss/val", float("nan") if epoch >= 9 else 1.1 / epoch, epoch)
    report = analyze_log(tmp_path / "tb")
    s = report.summary
    assert s["metric"] == "Loss/train_step" and s["rows"] == 80 and s["first_nonfinite"] is None
    nd308 = [f for f in report.findings if f.code == "ND308"]
    assert nd308 and nd308[0].severity == "error" and nd308[0].where == "Loss/val @ epoch 9"
    assert report.exit_code("error") == 1


def test_ultralytics_console_dated_by_epoch_and_batch(tmp_path):
    """Field notes 1B: batches 1-20 of epoch 134 fine, then NaN; tqdm rewrites the row with `\\r`."""
    f = tmp_path / "console.log"
    f.write_text(
        "      Epoch    GPU_mem   box_loss   cls_loss   dfl_loss  Instances       Size\n"
        "    133/200      24.6G       1.87       4.01      1.655        301       1280: 100%|##########| 40/40 "
        "[00:30<00:00]\n"
        "    134/200      24.6G       1.88       4.06      1.659        316       1280:  50%|#####     | 20/40 "
        "[00:15<00:15]\r"
        "    134/200      24.6G        nan        nan        nan        294       1280:  52%|#####     | 21/40 "
        "[00:16<00:14]\n"
    )
    s = analyze_log(f).summary
    assert s["first_nonfinite"]["index"] == 134 and s["first_nonfinite"]["batch"] == "21/40"
    assert s["last_healthy"]["index"] == 133


def test_real_lightning26_tqdm_console():
    """Captured from a real Lightning 2.6 run with TQDMProgressBar (tests/data/logs/make_lightning26_console.py):
    8 batches an epoch, NaN from global step 29, i.e. epoch 3, batch 6/8; tqdm prints NaN as `nan.0`."""
    report = analyze_log(DATA / "lightning26_tqdm_console_nan.log")
    s = report.summary
    assert (s["reader"], s["metric"], s["index_name"]) == ("lightning-console", "train_loss", "epoch")
    assert s["first_nonfinite"]["index"] == 3 and s["first_nonfinite"]["batch"] == "6/8"
    assert s["last_healthy"]["index"] == 2 and report.exit_code("error") == 1


def test_real_ultralytics84_console_with_nan_recovery():
    """Captured from a real Ultralytics 8.4 run (tests/data/logs/make_ultralytics84_console.py): NaN weights in
    epoch 3, the trainer's NaN recovery reloads last.pt and re-runs epoch 3; its own `━━━ 1/2` batch counter."""
    report = analyze_log(DATA / "ultralytics84_console_nan_recovery.log")
    s = report.summary
    assert (s["reader"], s["metric"]) == ("ultralytics-console", "box_loss+cls_loss+dfl_loss")
    assert s["first_nonfinite"]["index"] == 3 and s["first_nonfinite"]["batch"] == "1/2"
    assert s["last_healthy"]["index"] == 2 and report.exit_code("error") == 1
    assert any("reloaded last.pt" in n for n in s["notes"])
    assert s["lines_read"] < s["lines"]  # the model summary, args and warnings are skipped
    from nandoctor.logs.readers.text import read_text

    table = read_text(DATA / "ultralytics84_console_nan_recovery.log")  # `engine/trainer: lr0=0.01, batch=4, ...`
    assert "lr0" not in table.frame.columns and table.frame["batch"].dropna().max() <= 2  # is the config, no record


def test_pandas_rows_with_only_the_epoch_left_are_the_break(tmp_path):
    """Every metric NaN (empty) after epoch 3, only the epoch column written: never "healthy"."""
    nan = float("nan")
    pd = pytest.importorskip("pandas")
    f = tmp_path / "training_history.csv"
    pd.DataFrame(
        {"epoch": [1, 2, 3, 4, 5], "train_loss": [0.9, 0.8, 0.7, nan, nan], "val_loss": [1.0, 0.9, 0.8, nan, nan]}
    ).to_csv(f, index=False)
    report = analyze_log(f)
    assert report.summary["first_nonfinite"]["index"] == 4 and report.exit_code("error") == 1


def test_folder_holding_only_a_console_log(tmp_path):
    (tmp_path / "train.log").write_text(CASES["darknet"]["text"])
    assert analyze_log(tmp_path).summary["reader"] == "darknet"


def test_console_lines_alike_but_for_digits_keep_their_own_keys_and_values(tmp_path):
    """Lines that differ only in digits share one regex pass, yet each keeps its own keys (`top1` vs
    `top5`) and values, and `nan.0` (a value) is still told from `nan.5` (not one)."""
    from nandoctor.logs.readers.text import read_text

    f = tmp_path / "train.log"
    f.write_text(
        "step 1 top1=0.50 loss=1.5\nstep 2 top5=0.25 loss=1.25\nstep 3 top1=0.75 loss=nan.0\n"
        "step 4 top1=0.5 loss=nan.5\nstep 5 top1=0.5 loss=inf.0\n"
    )
    table = read_text(f)
    frame = table.frame
    assert list(frame["step"]) == [1, 2, 3, 4, 5]
    assert frame["top1"].tolist()[0] == 0.5 and math.isnan(frame["top1"].tolist()[1])
    assert frame["top5"].tolist()[1] == 0.25 and frame["top5"].isna().sum() == 4
    loss = frame["loss"].tolist()
    assert loss[:2] == [1.5, 1.25] and math.isnan(loss[2]) and math.isinf(loss[4])
    assert list(table.written_nan["loss"]) == [False, False, True, False, False]  # step 4 logged no loss
    assert (table.lines_total, table.lines_read) == (5, 5)


def _mixed_console(path):
    """A console mixing every shape the table reader takes: Python logging whose step gains digits,
    with NaN, inf, exponents, negatives, `nan.0` and values past 1e22; HF dicts after tqdm `\\r` bars;
    Ultralytics rows (`%11.4g`) with their batch counter; CRLF lines; warnings between."""
    with open(path, "w", newline="") as fh:
        for step in range(1, 3001):
            loss = {2500: "nan", 2600: "inf"}.get(step, f"{2.0 - step * 5e-4:.4f}")
            fh.write(
                f"2024-05-01 12:00:{step % 60:02d},123 - INFO - step {step} loss={loss} "
                f"grad_norm={1 + step % 7 * 1.5e-3:.3e} shift={-0.25 * (step % 3):.2f} big={step}e+2{step % 4}\n"
            )
            if step % 100 == 0:
                fh.write("2024-05-01 12:00:00,000 - WARNING - gradient overflow, skipping step\n")
        for s in range(1, 301):
            bars = "\r".join(
                f" {s % 100:2d}%|{'█' * (s % 10)}{' ' * (10 - s % 10)}| {s}/300 [00:{b:02d}<00:10,  4.9{b}it/s]"
                for b in range(5)
            )
            fh.write(
                bars
                + "\r{'loss': %s, 'grad_norm': %.4f, 'learning_rate': 5e-05, 'epoch': %.2f}\n"
                % ("nan" if s == 250 else "%.4f" % (1 + s / 1000), 1 + s % 5 / 10, s / 100)
            )
        fh.write("      Epoch    GPU_mem   box_loss   cls_loss   dfl_loss  Instances       Size\n")
        for e in range(1, 41):
            pieces = [
                "%11s%11s%11.4g%11.4g%11.4g%11.4g%11.4g: %3d%%|%s| %d/30 [00:%02d<00:10,  5.12it/s]"
                % (
                    f"{e}/40",
                    "2.61G",
                    1.2 + b / 300,
                    2.3,
                    float("nan") if e == 33 and b > 20 else 1.4,
                    20 + b % 13,
                    640,
                    b * 100 // 30,
                    "█" * (b // 3),
                    b,
                    b,
                )
                for b in range(1, 31)
            ]
            fh.write("\r".join(pieces) + "\n")
        _bar_consoles(fh)
        for step in range(3001, 3601):
            fh.write(f"step {step} loss={0.5 + step % 9 / 100:.2f}\r\n")
        for step in range(3601, 3701):
            fh.write(f"step {step} loss=nan.0 acc={step % 10}.0\n")


_VAL_HEADER = "%22s%11s%11s%11s%11s%11s%11s" % ("Class", "Images", "Instances", "Box(P", "R", "mAP50", "mAP50-95)")


def _bar_consoles(fh, epochs: int = 20, dicts: int = 200) -> None:
    """Ultralytics 8.4 rows (`ESC[K`, `%11.4g` numbers and a bar that change width), transformers 5
    dicts (quoted values) after tqdm bars and the blank that clears them, and Lightning's tqdm bars
    with their logged values, as their programs print them; a few pieces that only the parsers read (a postfix after the bar, an ESC in an eval line)."""
    fh.write("      Epoch    GPU_mem   box_loss   cls_loss   dfl_loss  Instances       Size\n")
    for e in range(1, epochs + 1):
        pieces = []
        for b in range(25):
            if b == 0:
                tail = f" 0/24  {b / 7:.1f}s"
            else:
                tail = f" {b}/24 {5 + b % 3 / 7:.1f}it/s {b / 7:.1f}s<{(24 - b) / 7:.1f}s"
            if e == 10 and b == 7:
                tail += ", loss=nan"  # no Run takes it: parsed
            losses = (
                float("nan") if e == 15 and b > 12 else 1.2 + b / 77,
                2.3 ** (b % 5),
                1e-5 * b if b % 2 else 1e3 + b,
            )
            row = "%11s%11s%11.4g%11.4g%11.4g%11.4g%11.4g" % (
                f"{e}/{epochs}",
                f"{b % 10 / 3:.3g}G",
                *losses,
                b % 13,
                640,
            )
            pieces.append(f"\x1b[K{row}: {b * 100 // 24}% {'━' * (b // 2)}{'─' * (12 - b // 2)}{tail}")
        fh.write("\r" + "\r".join(pieces) + "\n")
        if e % 5 == 0:
            fh.write(f"{_VAL_HEADER}: 100% ━━━━━━━━━━━━ 4/4 9.1it/s 0.4s\n")
            fh.write("%22s%11d%11d%11.3g%11.3g%11.3g%11.3g\n" % ("all", 128, 929, 0.641, 0.537, 0.605, 0.4 + e / 1000))
    for s in range(1, dicts + 1):
        bars = "\r".join(
            f"{s * 100 // dicts:3d}%|{'█' * (s * 10 // dicts)}{' ' * (10 - s * 10 // dicts)}| {s * 5 + b}/{dicts * 5} "
            f"[00:{b:02d}<{'?' if b == 0 else '00:10'}, {'?' if b == 0 else f'{4.9 + b * 9.7:.2f}'}it/s]"
            for b in range(4)
        )
        loss = {150: "nan", 160: "-inf"}.get(s, f"{1 + s / 1000:.4g}")
        fh.write(
            f"\r{bars}\r{' ' * 46}\r{{'loss': '{loss}', 'grad_norm': '{1 + s % 7 / 3:.4g}', "
            f"'learning_rate': '{5e-5 * (1 - s / dicts):.4g}', 'epoch': '{s / 100:.4g}'}}\n"
        )
        if s % 50 == 0:
            fh.write(
                f"\r\x1b[A{{'eval_loss': '{2 - s / 1000:.4g}', 'eval_runtime': '0.02', 'epoch': '{s / 100:.4g}'}}\n"
            )
    for e in range(epochs):  # Lightning 2.6's TQDMProgressBar: each batch twice, before and after its loss is logged
        val = "" if e == 0 else f", val_loss={2 - e / 100:.3f}"
        pieces = []
        for b in range(13):
            loss = "nan" if e == 12 and b > 5 else f"{1 + (e * 13 + b) % 17 / 10:.3f}"
            rate = "?" if b == 0 else f"{70 + b * 9.3:.2f}"
            stats = f"00:00<{'?' if b == 0 else '00:00'}, {rate}it/s"
            bar = f"{'█' * (b * 10 // 12)}{'▎' if b % 3 == 1 else ''}"
            pieces.append(
                f"Epoch {e}: {b * 100 // 12:3d}%|{bar:<10}| {b}/12 [{stats}, v_num=0, train_loss={loss}{val}]"
            )
        fh.write("\r" + "\r".join(pieces) + "\n")


def test_runs_of_alike_lines_read_as_one_table_give_what_parsing_each_line_gives(tmp_path, monkeypatch):
    """Runs of pieces of one shape are read as a fixed-width table (readers/shapes.py): every value,
    absent cell, line number, count and kept row (thinned past KEEP_ROWS) is what parsing each line
    one by one gives."""
    pd = pytest.importorskip("pandas")
    import numpy as np

    from nandoctor.logs.readers import text

    monkeypatch.setattr(text, "KEEP_ROWS", 700)  # thinning happens inside runs, and between them
    monkeypatch.setattr(text, "KEEP_BAD", 40)  # past the first 40 rows with a NaN, those are thinned too
    f = tmp_path / "train.log"
    _mixed_console(f)
    fast = text.read_text(f)
    monkeypatch.setattr(text, "template", lambda *a: None)  # no templates and no runs: every piece parsed
    monkeypatch.setattr(text, "run_for", lambda *a: None)
    slow = text.read_text(f)
    assert fast.format == slow.format == "text-log" and fast.index_col == slow.index_col == "step"
    assert slow.sample.total_rows > 5000 and {"box_loss", "loss", "grad_norm", "batch", "big"} <= set(
        slow.frame.columns
    )
    pd.testing.assert_frame_equal(fast.frame, slow.frame)
    assert np.array_equal(fast.lines, slow.lines)
    assert (fast.lines_total, fast.lines_read) == (slow.lines_total, slow.lines_read)
    assert fast.written_nan.keys() == slow.written_nan.keys()
    assert all(np.array_equal(fast.written_nan[k], slow.written_nan[k]) for k in slow.written_nan)
    assert np.array_equal(fast.sample.row_ids, slow.sample.row_ids) and fast.sample.stride == slow.sample.stride
    assert fast.sample.total_rows == slow.sample.total_rows


def test_table_reader_takes_most_of_a_long_console(tmp_path, monkeypatch):
    """The table path is what reads a long console (not the parsers line by line): counted here by
    the pieces its templates read."""
    from nandoctor.logs.readers import text

    f = tmp_path / "train.log"
    _mixed_console(f)
    taken = []
    original = text._Scanner._take

    def counting(self, tpl, block, pos, m, width, codes):
        taken.append(m)
        return original(self, tpl, block, pos, m, width, codes)

    monkeypatch.setattr(text._Scanner, "_take", counting)
    table = text.read_text(f)
    assert sum(taken) > 0.6 * table.lines_total


@pytest.mark.parametrize("seed", range(12))
def test_bar_consoles_with_stray_characters_read_by_runs_give_what_parsing_each_line_gives(tmp_path, monkeypatch, seed):
    """A run's pattern takes only pieces the parsers read to the same record: with one character
    replaced, dropped or doubled (digits, spaces, bar glyphs, `:`, `/`, `|`, `=`, quotes, letters of
    `nan`, `Epoch`, `all`), or a run of spaces taken out, in two pieces of five, reading with runs
    still gives what parsing each piece gives (a pattern one class looser fails it)."""
    import io
    import random

    pd = pytest.importorskip("pandas")
    import numpy as np

    from nandoctor.logs.readers import text

    rng = random.Random(seed)
    buf = io.StringIO(newline="")
    _bar_consoles(buf, epochs=8, dicts=120)
    pieces = re.split(r"(\r\n|\r|\n)", buf.getvalue())
    tricky = "0123456789 .:/|'{},━─█e+-naifxEpochl%[]<?=\x1b" + "|:/[]{},'=% " * 3  # structure, thrice as often
    for i in range(0, len(pieces), 2):
        p = pieces[i]
        if p and rng.random() < 0.4:
            at, c = rng.randrange(len(p)), rng.choice(tricky)
            gaps = [m.span() for m in re.finditer(" +", p)] or [(at, at)]
            gap = rng.choice(gaps)  # or a column's padding taken out: two fields run together
            edits = (p[:at] + c + p[at + 1 :], p[:at] + p[at + 1 :], p[:at] + p[at] + p[at:], p[: gap[0]] + p[gap[1] :])
            pieces[i] = rng.choice(edits)
    f = tmp_path / "train.log"
    f.write_text("".join(pieces), newline="")
    fast = text.read_text(f)
    monkeypatch.setattr(text, "template", lambda *a: None)
    monkeypatch.setattr(text, "run_for", lambda *a: None)
    slow = text.read_text(f)
    pd.testing.assert_frame_equal(fast.frame, slow.frame)
    assert np.array_equal(fast.lines, slow.lines) and fast.format == slow.format
    assert (fast.lines_total, fast.lines_read) == (slow.lines_total, slow.lines_read)
    assert all(np.array_equal(fast.written_nan[k], slow.written_nan[k]) for k in slow.written_nan)


def test_runs_read_most_of_the_consoles_whose_lines_change_width(tmp_path, monkeypatch):
    """Ultralytics rows, HF dicts and Lightning's bars are read by runs (readers/runs.py), not piece
    by piece: counted here by the records the runs read, of those the table holds."""
    from nandoctor.logs.readers import runs, text

    f = tmp_path / "train.log"
    with open(f, "w", newline="") as fh:
        _bar_consoles(fh)
    taken = []
    original = runs.Run.read

    def counting(self, block, pos):
        got = original(self, block, pos)
        taken.append(len(got[2]) if got else 0)
        return got

    monkeypatch.setattr(runs.Run, "read", counting)
    table = text.read_text(f)
    assert sum(taken) > 0.9 * len(table.frame) and len(table.frame) == 20 * 25 + 4 + 200 + 4 + 20 * 13


# a Lightning CLI config as a user writes it: two top-level keys, a block scalar, a URL, loss weights
_NESTED_CONFIG = """\
# lightning fit --config this.yaml
model:
  lr: 0.001
  loss_weight: 1.0
  aux_loss_weight: 0.4
  dice_loss_weight: 0.25
  notes: |
    second try, see http://wiki:8080/runs | lower lr
trainer:
  max_epochs: 10
  gradient_clip_val: 1.0
"""


def _yaml_configs(tmp_path):
    """Ultralytics' args.yaml as its yaml_save writes it (yaml.safe_dump, keys in order), and the
    nested config above, under the names users give them."""
    import yaml

    args = {
        "task": "detect",
        "mode": "train",
        "model": "yolov8n.pt",
        "epochs": 100,
        "batch": 16,
        "imgsz": 640,
        "lr0": 0.01,
        "lrf": 0.01,
        "momentum": 0.937,
        "box": 7.5,
        "cls": 0.5,
        "dfl": 1.5,
        "amp": True,
        "save_dir": "/runs/detect/train",
    }
    text = yaml.safe_dump(args, sort_keys=False, allow_unicode=True)
    out = {}
    for name, body in (
        ("args.yaml", text),
        ("args.txt", text),
        ("config.yaml", _NESTED_CONFIG),
        ("config", _NESTED_CONFIG),
    ):
        (tmp_path / name).write_text(body)
        out[name] = body
    return out


def test_yaml_configs_are_refused_by_name_content_and_on_stdin(tmp_path):
    """A config is never read as a console log (where a few `loss_weight: 0.4` lines could make a
    'healthy' curve): exit 2, one line naming what it is and the command for it, from a file of any
    name and from stdin."""
    for name, body in _yaml_configs(tmp_path).items():
        for arg, stdin in ((str(tmp_path / name), None), ("-", body)):
            r = subprocess.run(
                [sys.executable, "-m", "nandoctor", "analyze-log", arg],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert r.returncode == 2 and r.stdout.strip() == "", (name, r.stdout)
            assert r.stderr.count("\n") == 1 and "a YAML config, not a training log" in r.stderr, (name, r.stderr)
            assert "nandoctor diagnose-config" in r.stderr and "Traceback" not in r.stderr


def test_no_console_sample_is_taken_for_a_yaml_config():
    """The config test never refuses a console: none of the samples above (nor one repeating its
    `loss: x` lines, which YAML would take as a mapping) looks like a config."""
    from nandoctor.logs.readers import looks_like_yaml_config

    for name, case in CASES.items():
        assert not looks_like_yaml_config(case["text"]), name
    assert not looks_like_yaml_config("loss: 0.9\nloss: 0.8\nloss: 0.7\nloss: nan\n")
    assert not looks_like_yaml_config(TRACEBACK * 3)
