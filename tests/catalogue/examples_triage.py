"""triage rules (ND5xx): run folders as the trainers write them (results.csv, args.yaml, weights/epochN.pt
via torch.save, logs/training_history.csv), built by the writers in tests/triage_runs.py.

ND506 (an engine missing from the installation) has no runnable example: every checkout that can run
these tests has all four engines. tests/test_triage_linking.py::test_place_checkpoints_survives_a_missing_engine
removes one from triage's engine table instead.
"""

from __future__ import annotations

from pathlib import Path

from tests.catalogue import example
from tests.triage_runs import (
    generic_run,
    results_rows,
    save_ultralytics_checkpoint,
    ultralytics_run,
    write_results_csv,
)


def _set_epochs(run: Path, epochs: int) -> None:
    """args.yaml's `epochs:` as the user asked for it (the writer's default is 100)."""
    import yaml

    args = yaml.safe_load((run / "args.yaml").read_text())
    args["epochs"] = epochs
    (run / "args.yaml").write_text(yaml.safe_dump(args, sort_keys=False))


@example("ND501", "bad", "triage")
def _(tmp: Path) -> list:
    # NaN from results.csv epoch 4; epoch3.pt and epoch4.pt were saved after it
    return [ultralytics_run(tmp / "run", epochs=5, nan_epoch=4), "--no-data"]


@example("ND501", "good", "triage")
def _(tmp: Path) -> list:
    # the same run, its checkpoints all saved before the first non-finite epoch
    run = ultralytics_run(tmp / "run", epochs=5, nan_epoch=4)
    for n in (3, 4):
        (run / "weights" / f"epoch{n}.pt").unlink()
    return [run, "--no-data"]


@example("ND502", "bad", "triage")
def _(tmp: Path) -> list:
    # non-finite from the first epoch: every checkpoint holds broken training
    return [ultralytics_run(tmp / "run", epochs=3, nan_epoch=1, poisoned=(0,)), "--no-data"]


@example("ND502", "good", "triage")
def _(tmp: Path) -> list:
    # saved every epoch, so epoch2.pt (results.csv epoch 3) is still clean when epoch 4 breaks
    return [ultralytics_run(tmp / "run", epochs=5, nan_epoch=4), "--no-data"]


@example("ND503", "bad", "triage")
def _(tmp: Path) -> list:
    return [ultralytics_run(tmp / "run", epochs=4, nan_epoch=None, data="/mnt/old/coco.yaml")]


@example("ND503", "good", "triage")
def _(tmp: Path) -> list:
    # every piece present: log, checkpoints, config and the dataset args.yaml names
    import yaml
    from PIL import Image

    dataset = tmp / "dataset"
    (dataset / "images" / "train").mkdir(parents=True)
    (dataset / "labels" / "train").mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (64, 48), (40 * i, 90, 160)).save(dataset / "images" / "train" / f"img_{i}.jpg")
        (dataset / "labels" / "train" / f"img_{i}.txt").write_text("0 0.5 0.5 0.2 0.3\n")
    (dataset / "data.yaml").write_text(
        yaml.safe_dump({"path": str(dataset), "train": "images/train", "val": "images/train", "names": {0: "person"}})
    )
    return [ultralytics_run(tmp / "run", epochs=4, nan_epoch=None, data=str(dataset / "data.yaml"))]


@example("ND504", "bad", "triage")
def _(tmp: Path) -> list:
    # results.csv overwritten with binary junk; the weights and args.yaml are fine
    run = ultralytics_run(tmp / "run", epochs=4, nan_epoch=None)
    (run / "results.csv").write_bytes(bytes(range(256)) * 8)
    return [run, "--no-data"]


@example("ND504", "good", "triage")
def _(tmp: Path) -> list:
    return [ultralytics_run(tmp / "run", epochs=4, nan_epoch=None), "--no-data"]


@example("ND505", "bad", "triage")
def _(tmp: Path) -> list:
    # torch.save(model.state_dict(), 'model.pt') every epoch: no epoch inside, none in the name
    import torch

    run = generic_run(tmp / "run", epochs=4, nan_epoch=3)
    for p in run.glob("epoch_*.pt"):
        p.unlink()
    torch.save(torch.nn.Linear(4, 2).state_dict(), run / "model.pt")
    return [run]


@example("ND505", "good", "triage")
def _(tmp: Path) -> list:
    # torch.save({'epoch': epoch, 'model_state_dict': ..., 'optimizer_state_dict': ...}, f'epoch_{epoch}.pt')
    return [generic_run(tmp / "run", epochs=4, nan_epoch=3)]


@example("ND507", "bad", "triage")
def _(tmp: Path) -> list:
    # 3 of 5 epochs logged, all finite; last.pt still holds its optimizer (never stripped)
    run = ultralytics_run(tmp / "run", epochs=3, nan_epoch=None)
    _set_epochs(run, 5)
    save_ultralytics_checkpoint(run / "weights" / "last.pt", epoch=2, results=results_rows(3, None))
    return [run, "--no-data"]


@example("ND507", "good", "triage")
def _(tmp: Path) -> list:
    # 5 of 5 epochs logged and last.pt stripped (epoch -1, no optimizer): the run finished
    run = ultralytics_run(tmp / "run", epochs=5, nan_epoch=None)
    _set_epochs(run, 5)
    save_ultralytics_checkpoint(run / "weights" / "last.pt", epoch=4, results=results_rows(5, None), stripped=True)
    return [run, "--no-data"]


def _resumed(tmp: Path, old_nan: int | None) -> Path:
    """results.csv as a resume from epoch2.pt leaves it: the old segment's 6 rows, then the resumed
    run's rows from epoch 3, whose time column restarts."""
    run = ultralytics_run(tmp / "run", epochs=6, nan_epoch=None)
    old, new = results_rows(6, old_nan), results_rows(4, None, first=3)
    write_results_csv(run / "results.csv", {k: old[k] + new[k] for k in old})
    return run


@example("ND508", "bad", "triage")
def _(tmp: Path) -> list:
    # NaN at epoch 4 in the segment the resume replaced; the rewritten epoch3..5.pt are finite
    return [_resumed(tmp, old_nan=4), "--no-data"]


@example("ND508", "good", "triage")
def _(tmp: Path) -> list:
    # resumed after a crash with no NaN in the replaced rows: nothing superseded to explain
    return [_resumed(tmp, old_nan=None), "--no-data"]
