"""The linking rules on their own: where a checkpoint sits on the log's axis, which are distrusted,
which one is recommended. Inputs are the engines' typed verdicts (their contract), not file bytes."""

from __future__ import annotations

from pathlib import Path

from nandoctor.ckpt.verdict import CheckpointVerdict
from nandoctor.findings import Report
from nandoctor.triage.discover import RunLayout, discover
from nandoctor.triage.engine import _place_checkpoints
from nandoctor.triage.link import Timeline, choose, first_logged_epoch, group_units, place
from tests.triage_runs import results_rows, write_results_csv


def _entry(path: str, status: str = "clean", epoch=None, step=None, resumable=True) -> CheckpointVerdict:
    return CheckpointVerdict(path, status, epoch, step, resumable)


def _link(entries, framework="ultralytics", nan_at=4, healthy_to=3, axis="epoch", base=1):
    layout = RunLayout(root=Path("/run"), framework=framework)
    timeline = Timeline(axis=axis, index_name=axis, nan_at=nan_at, healthy_to=healthy_to, base=base)
    units = group_units(entries)
    for u in units:
        u.log_index = place(u, layout, timeline)
    report = Report(command="triage")
    chosen = choose(report, units, timeline)
    return {Path(u.path).name: u for u in units}, chosen, report


def test_ND501_ultralytics_epoch_n_holds_results_epoch_n_plus_1():
    units, chosen, report = _link([_entry(f"/run/weights/epoch{n}.pt", epoch=n) for n in range(5)])
    assert [units[f"epoch{n}.pt"].log_index for n in range(5)] == [1, 2, 3, 4, 5]
    assert chosen["recommended"] == "/run/weights/epoch2.pt"
    assert sorted(f.where for f in report.findings if f.code == "ND501") == ["epoch 4", "epoch 5"]


def test_ND501_zero_based_log_has_no_offset():
    units, chosen, _ = _link([_entry(f"/run/weights/epoch{n}.pt", epoch=n) for n in range(5)], base=0)
    assert units["epoch3.pt"].log_index == 3 and chosen["recommended"] == "/run/weights/epoch3.pt"


def test_ND501_poisoned_checkpoints_are_not_double_reported():
    entries = [
        _entry("/run/weights/epoch2.pt", epoch=2),
        _entry("/run/weights/epoch3.pt", "poisoned", epoch=3),
        _entry("/run/weights/last.pt", "suspect", epoch=4),
    ]
    units, chosen, report = _link(entries)
    assert units["epoch3.pt"].verdict == "poisoned" and units["last.pt"].verdict == "after-nonfinite"
    assert [Path(f.path).name for f in report.findings if f.code == "ND501"] == ["last.pt"]


def test_epoch_file_beats_best_pt_at_the_same_epoch():
    entries = [_entry("/run/weights/best.pt", epoch=2), _entry("/run/weights/epoch2.pt", epoch=2)]
    assert _link(entries)[1]["recommended"] == "/run/weights/epoch2.pt"


def test_ND505_stripped_final_weights_cannot_be_dated():
    units, chosen, report = _link([_entry("/run/weights/best.pt", epoch=-1, resumable=False)])
    assert units["best.pt"].verdict == "undated" and "ND505" in [f.code for f in report.findings]
    assert not chosen.get("recommended") and "ND502" in [f.code for f in report.findings]


def test_ND502_only_non_resumable_clean_weights_offered_for_restart():
    units, chosen, report = _link([_entry("/run/w/epoch1.pt", epoch=1, resumable=False)])
    assert chosen == {"restart_weights": "/run/w/epoch1.pt"}
    assert [f.severity.value for f in report.findings if f.code == "ND502"] == ["info"]


def test_hf_checkpoint_folder_is_one_unit_dated_by_its_name():
    entries = [
        _entry("/run/checkpoint-200/model.safetensors", resumable=False),
        _entry("/run/checkpoint-200/optimizer.pt"),
        _entry("/run/checkpoint-200/training_args.bin", "unsafe"),
        _entry("/run/checkpoint-300/model.safetensors", "poisoned"),
    ]
    units, chosen, _ = _link(entries, framework="hf", nan_at=250, healthy_to=240, axis="step")
    assert set(units) == {"checkpoint-200", "checkpoint-300"}
    assert units["checkpoint-200"].step == 200 and units["checkpoint-200"].status == "clean"
    assert chosen["recommended"] == "/run/checkpoint-200"


def test_no_log_means_newest_clean_resumable():
    entries = [_entry(f"/run/e{n}.pt", epoch=n) for n in range(3)] + [_entry("/run/e3.pt", "poisoned", epoch=3)]
    _, chosen, report = _link(entries, framework="generic", nan_at=None, healthy_to=None)
    assert chosen["recommended"] == "/run/e2.pt" and not report.findings


def test_first_logged_epoch_reads_padded_headers(tmp_path):
    p = tmp_path / "results.csv"
    write_results_csv(p, results_rows(3, None, first=0))
    assert first_logged_epoch(p) == 0
    p.write_text("               epoch,      train/box_loss\n                   1,      1.2\n")
    assert first_logged_epoch(p) == 1
    p.write_bytes(b"\xff\xfe\x00garbage")
    assert first_logged_epoch(p) is None


def test_discovery_ignores_fixed_outputs_and_finds_ultralytics_pieces(tmp_path):
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "epoch0.pt").write_bytes(b"x")
    (tmp_path / "args.yaml").write_text("data: dataset/data.yaml\ntask: detect\n")
    (tmp_path / "args_fixed.yaml").write_text("data: dataset/data.yaml\n")
    (tmp_path / "results.csv").write_text("epoch,x\n1,2\n")
    (tmp_path / "dataset").mkdir()
    (tmp_path / "dataset" / "data.yaml").write_text("nc: 1\n")
    layout = discover(tmp_path)
    assert layout.framework == "ultralytics" and layout.config == tmp_path / "args.yaml"
    assert layout.other_configs == [] and layout.checkpoints == [tmp_path / "weights"]
    assert layout.dataset == tmp_path / "dataset" / "data.yaml" and not layout.notes


def test_place_checkpoints_survives_a_missing_engine(tmp_path, monkeypatch):
    """Until every engine is installed, triage reports ND506 instead of crashing."""
    from nandoctor.triage import engine as t

    monkeypatch.setitem(t.ENGINES, "inspect-ckpt", ("nandoctor.no_such_engine", "inspect_ckpt"))
    report = Report(command="triage")
    layout = RunLayout(root=tmp_path, checkpoints=[tmp_path])
    assert _place_checkpoints(t._Engines(report, strict=False), layout, Timeline()) == []
    assert [f.code for f in report.findings] == ["ND506"]
