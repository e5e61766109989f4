"""check-data on YOLO datasets: every defect at its file and line, a superset of Ultralytics' checks."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from nandoctor.data import engine, yolo
from tests.check_data_fixtures import (
    NC,
    label_cases,
    rule_rows,
    tree_hash,
    ultralytics_rejects,
    write_cases,
    write_dataset,
)

CLEAN = "0 0.500000 0.500000 0.200000 0.300000\n1 0.250000 0.300000 0.100000 0.120000\n"

# defect row -> the code it must produce (nc = 3, detect)
DEFECTS = {
    "5 0.5 0.5 0.1 0.1": "ND101",  # class >= nc
    "-1 0.5 0.5 0.1 0.1": "ND101",  # negative class
    "1.5 0.5 0.5 0.1 0.1": "ND102",  # not an integer (Ultralytics drops the image)
    "0 0.5 0.5 0.1": "ND103",  # 4 columns
    "0 0.5 0.5 0.1 0.1 0.3": "ND103",  # 6 columns
    "0 0.5 abc 0.1 0.1": "ND104",  # not a number
    "0 0.5,0.5 0.1 0.1": "ND104",  # stray comma
    "0 nan 0.5 0.1 0.1": "ND105",
    "0 0.5 0.5 inf 0.1": "ND105",
    "0 0.5 1.2 0.1 0.1": "ND106",  # cy > 1
    "0 320 240 64 48": "ND106",  # pixels
    "0 0.5 -0.2 0.1 0.1": "ND106",
    "0 0.5 1.005 0.005 0.005": "ND107",  # within Ultralytics' tolerance
    "0 0.5 0.5 0 0.1": "ND108",  # zero width
    "0 0.5 0.5 0.1 -0.2": "ND108",  # negative height
    "0 0.95 0.5 0.2 0.1": "ND109",  # x2 = 1.05
    "2 0.05 0.05 0.2 0.2": "ND109",  # x1 < 0
}


def _codes_at(result) -> set[tuple[str, int | None, str]]:
    return {(Path(f["path"]).name if f["path"] else "", f["line"], f["code"]) for f in result.json["findings"]}


def test_demo_dataset_reports_each_planted_defect_at_file_and_line(cli, demo_run):
    r = cli("check-data", demo_run / "dataset", "--format", "json")
    assert r.code == 1
    got = _codes_at(r)
    assert ("img_002.txt", 2, "ND101") in got  # class 5 >= nc 3
    assert ("img_003.txt", 1, "ND106") in got  # cy 1.2
    assert ("img_004.txt", 1, "ND105") in got  # nan token
    assert ("img_006.txt", 2, "ND108") in got  # zero width
    assert ("img_006.txt", 1, "ND109") in got  # past the edge
    assert ("img_008.jpg", None, "ND114") in got  # image without label
    assert ("img_009.txt", None, "ND115") in got  # label without image
    empty = [f for f in r.json["findings"] if f["code"] == "ND113"]
    assert [Path(f["path"]).name for f in empty] == ["img_005.txt"] and empty[0]["severity"] == "info"
    s = r.json["summary"]
    assert s["files_scanned"] == 9 and s["rows"] == 11 and s["num_classes"] == 3
    assert s["class_histogram"] == {"0": 4, "1": 4, "2": 2}  # every row with a valid class id
    assert s["by_code"]["ND101"] == 1 and s["images"]["without_label"] == 1
    # clean files get nothing
    assert not {n for n, _, _ in got} & {"img_000.txt", "img_001.txt", "img_007.txt"}


@pytest.fixture(scope="module")
def injected(tmp_path_factory):
    """A dataset with dozens of each defect at random lines among clean rows, plus clean files."""
    rnd = random.Random(3)
    labels, expected = {}, set()
    for kind, (row, code) in enumerate(DEFECTS.items()):
        for copy in range(24):
            rows = CLEAN.strip().splitlines() * rnd.randint(0, 3)
            at = rnd.randint(0, len(rows))
            rows.insert(at, row)
            stem = f"d{kind:02d}_{copy:02d}"
            labels[stem] = "\n".join(rows) + "\n"
            expected.add((f"{stem}.txt", at + 1, code))
    for i in range(40):
        labels[f"clean_{i:02d}"] = CLEAN
    root = write_dataset(tmp_path_factory.mktemp("ds") / "ds", labels, ["a", "b", "c"])
    return root, labels, expected


def test_injected_defects_each_reported_at_its_line(cli, injected):
    root, labels, expected = injected
    r = cli("check-data", root, "--format", "json")
    got = _codes_at(r)
    missing = expected - got
    assert not missing, sorted(missing)[:10]
    assert not [f for f in r.json["findings"] if Path(f["path"]).name.startswith("clean_")]
    assert r.json["summary"]["files_scanned"] == len(labels)


def test_every_file_ultralytics_rejects_gets_an_error(cli, injected):
    root, labels, _ = injected
    r = cli("check-data", root, "--format", "json")
    errored = {Path(f["path"]).stem for f in r.json["findings"] if f["severity"] == "error"}
    rejected = {stem for stem, text in labels.items() if ultralytics_rejects(text, 3)}
    assert rejected and rejected <= errored


def _rejects(data: bytes, pose: bool) -> bool:
    return ultralytics_rejects(data, NC, keypoint=pose, nkpt=1 if pose else 0, ndim=3 if pose else 0)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Every rule's bad example in several files (detect/segment and pose datasets), checked by the CLI:
    case name -> {line: severities} of its findings."""
    from typer.testing import CliRunner

    from nandoctor.cli import app

    cases = label_cases()
    found: dict[str, dict] = {c["name"]: {} for c in cases}
    for pose in (False, True):
        root = write_cases(tmp_path_factory.mktemp("gen") / "ds", cases, pose)
        r = CliRunner().invoke(app, ["check-data", str(root), "--format", "json"], catch_exceptions=False)
        import json

        for f in json.loads(r.stdout)["findings"]:
            if f["path"] and f["path"].endswith(".txt"):
                found[Path(f["path"]).stem].setdefault(f["line"], set()).add((f["code"], f["severity"]))
    return cases, found


def test_every_rule_bad_example_ultralytics_rejects_is_an_error_at_its_line(generated):
    cases, found = generated
    rejected = [c for c in cases if _rejects(c["data"], c["pose"])]
    assert len(rejected) > 40  # every row rule's example, alone and in context, plus the file-level cases
    for c in rejected:
        errors = {line for line, hits in found[c["name"]].items() if any(sev == "error" for _, sev in hits)}
        assert errors, (c["name"], c["data"], found[c["name"]])
        row = c["data"].decode("utf-8", "replace").splitlines()[(c["line"] or 1) - 1]
        if c["line"] and _rejects(row.encode() + b"\n", c["pose"]):  # this row alone sinks the file
            assert c["line"] in errors, (c["name"], found[c["name"]])


def test_ND102_non_integer_class_is_an_error_like_ultralytics(generated):
    _, found = generated
    hits = found["ND102_0_alone"][1]
    assert ("ND102", "error") in hits and _rejects(b"1.7 0.5 0.5 0.2 0.2\n", False)


def test_what_ultralytics_84_accepts_is_no_longer_an_error(generated):
    _, found = generated
    assert found["file_bom"] == {1: {("ND104", "warning")}} and not _rejects(b"\xef\xbb\xbf0 0.5 0.5 0.2 0.3\n", False)
    assert found["file_whitespace_line"] == {2: {("ND103", "warning")}}
    assert found["file_crlf"] == {}


def test_every_rule_good_example_is_accepted_and_gets_no_error(tmp_path):
    good = {f"{code}_{n}": row for code, rows in rule_rows("good").items() for n, row in enumerate(rows)}
    assert len(good) >= 10
    for pose in (False, True):  # 8-column rows are the pose examples (kpt_shape [1, 3])
        rows = {k: row + "\n" for k, row in good.items() if (len(row.split()) == 8) == pose}
        root = write_dataset(
            tmp_path / f"ds{pose}", rows, ["a", "b", "c"], extra_yaml={"kpt_shape": [1, 3]} if pose else None
        )
        rep = engine.check_data(root)
        assert rows and not [f for f in rep.findings if f.severity.value == "error"]
        assert not [k for k, row in rows.items() if _rejects(row.encode(), pose)]


def test_parallel_scan_equals_serial_scan(injected, monkeypatch):
    root, _, _ = injected
    serial = engine.check_data(root)
    monkeypatch.setattr(engine, "PARALLEL_FROM", 10)
    monkeypatch.setattr(engine, "CHUNK", 37)
    parallel = engine.check_data(root)
    key = lambda rep: sorted((f.code, f.path, f.line) for f in rep.findings)  # noqa: E731
    assert key(parallel) == key(serial) and parallel.summary == serial.summary


def test_large_file_read_in_blocks_keeps_line_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(yolo, "BLOCK", 256)
    monkeypatch.setattr(yolo, "BATCH", 512)
    f = tmp_path / "big.txt"
    rows = [f"0 {0.1 + i * 0.001:.4f} 0.5 0.02 0.03" for i in range(500)]
    rows[417] = "0 0.5 0.5 nan 0.3"
    f.write_text("\n".join(rows) + "\n")
    rep = engine.check_data(f, num_classes=3)
    assert [(x.code, x.line) for x in rep.findings] == [("ND105", 418)]
    assert rep.summary["rows"] == 500


def test_ND103_whitespace_line_between_rows(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("  \n" + CLEAN.splitlines()[0] + "\n \t\n\n" + CLEAN.splitlines()[1] + "\n   \n")
    rep = engine.check_data(f, num_classes=3)
    assert [(x.code, x.line) for x in rep.findings] == [("ND103", 3)]


def test_ND112_duplicate_rows_point_to_the_first(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text(CLEAN + CLEAN.splitlines()[1] + "\n")
    rep = engine.check_data(f, num_classes=3)
    dup = [x for x in rep.findings if x.code == "ND112"]
    assert [(d.line, d.data["first_line"]) for d in dup] == [(3, 2)]


def test_ND110_ND103_polygons(tmp_path):
    f = tmp_path / "seg.txt"
    f.write_text("0 0.1 0.1 0.2 0.1 0.2 0.2\n1 0.1 0.1 0.2 0.2\n0 0.1 0.1 0.2 0.1 0.2\n")
    rep = engine.check_data(f, num_classes=2, task="segment")
    assert {(x.code, x.line) for x in rep.findings if x.severity.value != "info"} == {("ND110", 2), ("ND103", 3)}


def test_ND110_ND103_box_only_label_under_segment_or_obb_task(tmp_path):
    """A file of 5-column boxes has no polygon row, yet --task segment/obb makes each a 2-point polygon or
    a short OBB row: Ultralytics 8.4 refuses such a dataset (once passed unseen)."""
    f = tmp_path / "boxes.txt"
    f.write_text("0 0.1 0.1 0.2 0.2\n0 0.5 0.5 0.2 0.2\n")
    seg = engine.check_data(f, num_classes=1, task="segment")
    obb = engine.check_data(f, num_classes=1, task="obb")
    det = engine.check_data(f, num_classes=1, task="detect")
    assert [(x.code, x.line) for x in seg.findings] == [("ND110", 1), ("ND110", 2)]
    assert [(x.code, x.line, x.data["columns"]) for x in obb.findings] == [("ND103", 1, 5), ("ND103", 2, 5)]
    assert det.findings == []


def test_ND106_polygon_far_outside_but_ND107_for_obb_corners(tmp_path):
    f = tmp_path / "obb.txt"
    f.write_text("0 -0.02 0.1 0.05 0.1 0.05 0.2 -0.02 0.2\n0 0.5 0.5 1.9 0.5 1.9 0.6 0.5 0.6\n")
    rep = engine.check_data(f, num_classes=1, task="obb")
    assert {(x.code, x.line) for x in rep.findings if x.code in ("ND106", "ND107")} == {("ND107", 1), ("ND106", 2)}


def test_ND107_not_ND106_when_the_float32_box_is_at_the_tolerance(tmp_path):
    """Ultralytics builds the polygon's box in float32: a corner at -0.07 centres it at exactly -0.01,
    which it accepts; in float64 the centre is a hair below and was called an error."""
    row = "0 -0.07 0.1 0.05 0.1 0.05 0.2 -0.02 0.2\n"
    assert not ultralytics_rejects(row, 1)
    f = tmp_path / "obb.txt"
    f.write_text(row)
    rep = engine.check_data(f, num_classes=1, task="obb")
    assert [(x.code, x.line) for x in rep.findings] == [("ND107", 1)]


@pytest.mark.parametrize("brk", [b"\r", b"\x0c", b"\x1c"])
def test_ND103_whole_rows_split_by_an_odd_line_break_are_a_warning_not_an_error(tmp_path, brk):
    """Old Mac line ends (a lone \\r) between whole rows: Ultralytics splits there and keeps the image, so
    the line is a warning; a row cut in two by the same break is still an error at its line."""
    whole = b"0 0.5 0.5 0.2 0.3" + brk + b"1 0.4 0.4 0.2 0.2\n"
    cut = b"0 0.5 0.5 0.2 0.3\n1 0.5" + brk + b"0.5 0.2 0.3\n"
    assert not ultralytics_rejects(whole, 3) and ultralytics_rejects(cut, 3)
    (tmp_path / "whole.txt").write_bytes(whole)
    (tmp_path / "cut.txt").write_bytes(cut)
    rep = engine.check_data(tmp_path / "whole.txt", num_classes=3)
    assert [(x.code, x.severity.value, x.line) for x in rep.findings] == [("ND103", "warning", 1)]
    assert rep.summary["class_histogram"] == {0: 1, 1: 1}
    rep = engine.check_data(tmp_path / "cut.txt", num_classes=3)
    got = {(x.code, x.severity.value, x.line) for x in rep.findings}
    assert {("ND103", "warning", 2), ("ND103", "error", 2)} <= got and {line for *_, line in got} == {2}


def test_ND111_pose_visibility(tmp_path):
    root = write_dataset(
        tmp_path / "ds", {"p": "0 0.5 0.5 0.2 0.2 0.4 0.4 2 0.6 0.6 5\n"}, ["person"], extra_yaml={"kpt_shape": [2, 3]}
    )
    rep = engine.check_data(root)
    assert [(x.code, x.line, x.data["keypoint"]) for x in rep.findings if x.code == "ND111"] == [("ND111", 1, 2)]
    assert rep.summary["task"] == "pose"


def test_ND119_nc_and_names_disagree(tmp_path):
    root = write_dataset(tmp_path / "ds", {"a": CLEAN}, ["fire", "smoke"], extra_yaml={"nc": 6})
    rep = engine.check_data(root / "data.yaml")
    assert [x.code for x in rep.findings if x.severity.value == "error"] == ["ND119"]


def test_ND118_bare_labels_folder_skips_pairing_once(tmp_path):
    root = write_dataset(tmp_path / "ds", {f"x{i}": CLEAN for i in range(5)}, ["a", "b"], images=False)
    rep = engine.check_data(root / "labels" / "train")
    assert [x.code for x in rep.findings] == ["ND118"]
    assert rep.summary["num_classes"] == 2  # data.yaml found two levels up


def test_ND120_no_class_count_is_one_info(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("7 0.5 0.5 0.2 0.2\n")
    rep = engine.check_data(f)
    assert [x.code for x in rep.findings] == ["ND120"] and rep.summary["class_histogram"] == {7: 1}


def test_ND116_ND117_images_by_header_and_never_rewritten(tmp_path):
    root = write_dataset(tmp_path / "ds", {"ok": CLEAN, "tiny": CLEAN, "junk": CLEAN, "cut": CLEAN}, ["a", "b"])
    img = root / "images" / "train"
    Image.new("RGB", (5, 40)).save(img / "tiny.jpg")
    (img / "junk.jpg").write_bytes(b"<html>not an image</html>")
    Image.effect_noise((128, 128), 60).convert("RGB").save(img / "cut.jpg", quality=90)
    (img / "cut.jpg").write_bytes((img / "cut.jpg").read_bytes()[:-100])
    before = tree_hash(root)
    rep = engine.check_data(root)
    got = {(Path(x.path).name, x.code, x.severity.value) for x in rep.findings}
    assert got == {("tiny.jpg", "ND116", "error"), ("junk.jpg", "ND116", "error"), ("cut.jpg", "ND117", "warning")}
    assert tree_hash(root) == before
    assert rep.summary["images"]["unreadable"] == 3


def test_no_images_flag_skips_pairing(cli, demo_run):
    r = cli("check-data", demo_run / "dataset", "--no-images", "--format", "json")
    assert "ND114" not in r.codes() and "ND115" not in r.codes() and "ND101" in r.codes()


@pytest.mark.parametrize(
    "name,task",
    [
        ("detect_coco8_000000000009.txt", None),
        ("detect_roboflow_fire_multi_noeol.txt", None),
        ("detect_roboflow_fire_empty.txt", None),
        ("segment_coco8seg_000000000009.txt", "segment"),
        ("segment_landslide_valid220.txt", None),
        ("pose_coco8pose_000000000049.txt", "pose"),
        ("pose_coco8pose_000000000049.txt", None),
        ("obb_dota8_P0861__1024__0___1648.txt", "obb"),
    ],
)
def test_shared_real_labels_yield_no_error(cli, shared_formats, name, task):
    f = shared_formats / "ultralytics" / "labels" / name
    args = ["check-data", f, "--num-classes", "80", "--format", "json"] + (["--task", task] if task else [])
    r = cli(*args)
    assert r.code == 0, r.stdout
    assert not [x for x in r.json["findings"] if x["severity"] != "info"]
    if name.startswith("obb"):  # 25 corners just past the edge: accepted, one info
        near = [x for x in r.json["findings"] if x["code"] == "ND107"]
        assert len(near) == 1 and near[0]["data"]["count"] == 25


def test_shared_roboflow_noeol_counts_every_row(cli, shared_formats):
    f = shared_formats / "ultralytics" / "labels" / "detect_roboflow_fire_multi_noeol.txt"
    r = cli("check-data", f, "--num-classes", "2", "--format", "json")
    assert r.json["summary"]["rows"] == len(f.read_text().split("\n"))


_TOKENS = st.one_of(
    st.integers(-2, 5).map(str),
    st.floats(-0.1, 1.3, allow_nan=False).map(lambda x: f"{x:.4f}"),
    st.sampled_from(
        [
            "nan",
            "inf",
            "-inf",
            "0",
            "1",
            "1.01",
            "1.0100001",
            "-0.01",
            "-0.011",
            "abc",
            "2.9999999999",
            "1e39",
            "0.5,",
            "1.5",
            "2.0000001",
            "-0.005",
        ]
    ),
)
_LINES = st.lists(
    st.one_of(st.lists(_TOKENS, min_size=1, max_size=11).map(" ".join), st.sampled_from(["", " ", "\t", " \r"])),
    min_size=0,
    max_size=6,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=_LINES, pose=st.booleans())
def test_superset_of_ultralytics_on_arbitrary_rows(tmp_path, lines, pose):
    f = tmp_path / "lbl.txt"
    text = "\n".join(lines)
    f.write_text(text)
    spec = yolo.Spec(task="pose" if pose else None, nc=3, kpt=(1, 3) if pose else None)
    scan = yolo.scan_files([str(f)], spec)
    errors = [h for h in scan.hits if h[1] == "error"]
    if _rejects(text.encode(), pose):
        assert errors and all(h[4] for h in errors), text  # each error at its 1-based line


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet="0123456789.-+e nainf\t\r\n\x0b\x0c\x1c\x85\u2028\xa0\ufeff", max_size=120))
def test_superset_of_ultralytics_on_odd_whitespace(tmp_path, text):
    f = tmp_path / "lbl.txt"
    f.write_bytes(text.encode("utf-8"))
    scan = yolo.scan_files([str(f)], yolo.Spec(nc=3))
    if ultralytics_rejects(text, 3):
        assert [h for h in scan.hits if h[1] == "error"], repr(text)


def test_data_yaml_with_image_list_txt(tmp_path):
    root = write_dataset(tmp_path / "ds", {"0": CLEAN, "1": CLEAN, "2": "0 0.5 0.5 0 0.1\n"}, ["a", "b"])
    (root / "train.txt").write_text("./images/train/0.jpg\n./images/train/2.jpg\n./images/train/7.jpg\n")
    import yaml

    (root / "data.yaml").write_text(yaml.safe_dump({"path": str(root), "train": "train.txt", "names": ["a", "b"]}))
    rep = engine.check_data(root / "data.yaml")
    got = {(x.code, Path(x.path).name, x.line) for x in rep.findings}
    assert {("ND108", "2.txt", 1), ("ND114", "7.jpg", None), ("ND116", "7.jpg", None), ("ND115", "1.txt", None)} <= got


def test_every_rule_bad_example_raises_its_own_code(generated):
    _, found = generated
    missing = []
    for code, rows in rule_rows("bad").items():
        stems = [f"{code}_{n}_" for n in range(len(rows))]
        got = {
            c
            for name, lines in found.items()
            if name.startswith(tuple(stems))
            for hits in lines.values()
            for c, _ in hits
        }
        if code not in got:
            missing.append((code, sorted(got)))
    assert not missing
