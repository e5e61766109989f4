"""check-data on classification labels (JSONL, CSV): out-of-range labels at their lines (field notes §1C)."""

from __future__ import annotations

import json

import pandas as pd
import yaml

FOOD = {
    "training": {"lr": 5e-6},
    "datasets": {
        "enable_logits_masking": True,
        "dataset_configs": {"food101": {"num_classes": 101, "eval_ratio": 0.01}, "fru92": {"num_classes": 92}},
    },
}


def _jsonl(path, labels):
    with open(path, "w") as f:
        for i, lab in enumerate(labels):
            f.write(json.dumps({"image": f"img_{i}.jpg", "label": lab}) + "\n")


def test_ND121_label_equal_to_num_classes_via_num_classes(cli, tmp_path):
    f = tmp_path / "train.jsonl"
    _jsonl(f, [0, 5, 101, 100, 101, 7])
    r = cli("check-data", f, "--num-classes", "101", "--format", "json")
    assert r.code == 1
    assert [(x["code"], x["line"]) for x in r.json["findings"]] == [("ND121", 3), ("ND121", 5)]
    s = r.json["summary"]
    assert (s["min_label"], s["max_label"], s["unique_labels"], s["rows"]) == (0, 101, 5, 6)
    assert s["classes_never_seen_count"] == 97 and 1 in s["classes_never_seen"]


def test_ND121_via_multi_dataset_config(cli, tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(FOOD))
    f = tmp_path / "food101.jsonl"
    _jsonl(f, [3, 101, 50])
    r = cli("check-data", f, "--config", cfg, "--dataset", "food101", "--format", "json")
    assert [(x["code"], x["line"]) for x in r.json["findings"]] == [("ND121", 2)]
    assert r.json["summary"]["num_classes"] == 101
    missing = cli("check-data", f, "--config", cfg, "--dataset", "food2k")
    assert missing.code == 2 and "food101" in missing.stderr


def test_ignore_index_and_negative_labels(cli, tmp_path):
    f = tmp_path / "t.jsonl"
    _jsonl(f, [1, -100, -1, 2])
    r = cli("check-data", f, "--num-classes", "3", "--ignore-index", "-100", "--format", "json")
    assert [(x["code"], x["line"], x["data"]["label"]) for x in r.json["findings"]] == [("ND121", 3, -1)]
    assert r.json["summary"]["ignored"] == 1


def test_ND122_ND100_bad_jsonl_lines(cli, tmp_path):
    f = tmp_path / "t.jsonl"
    f.write_text('{"label": 1}\n{"label": "2"}\nnot json\n{"lbl": 1}\n{"label": 1.0}\n{"label": true}\n')
    r = cli("check-data", f, "--num-classes", "3", "--format", "json")
    assert [(x["code"], x["line"]) for x in r.json["findings"]] == [
        ("ND122", 2),
        ("ND100", 3),
        ("ND122", 4),
        ("ND122", 6),
    ]


def test_label_key_and_csv(cli, tmp_path):
    f = tmp_path / "t.csv"
    pd.DataFrame({"path": ["a", "b", "c", "d"], "target": [0, 4, 2, "x"]}).to_csv(f, index=False)
    r = cli("check-data", f, "--num-classes", "4", "--label-key", "target", "--format", "json")
    assert [(x["code"], x["line"]) for x in r.json["findings"]] == [("ND122", 5), ("ND121", 3)]
    assert r.json["summary"]["class_histogram"] == {"0": 1, "2": 1, "4": 1}
    nokey = cli("check-data", f, "--num-classes", "4")
    assert nokey.code == 2 and "label" in nokey.stderr


def test_bad_options_exit_2_with_one_line(tmp_path):
    from tests.conftest import run_cli

    f = tmp_path / "t.jsonl"
    f.write_text('{"label": 1}\n')
    for args in (["--task", "classify"], ["--config", f], ["--num-classes", "0"]):
        r = run_cli("check-data", f, *args)
        assert r.code == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, (args, r.stderr)


def test_folder_of_tables_honours_label_key_and_ignore_index(cli, tmp_path):
    with open(tmp_path / "a.jsonl", "w") as f:
        for lab in (1, -100, 7, 2):
            f.write(json.dumps({"y": lab}) + "\n")
    pd.DataFrame({"y": [2, -100, -1]}).to_csv(tmp_path / "b.csv", index=False)
    pd.DataFrame({"label": [1]}).to_csv(tmp_path / "c.csv", index=False)  # no `y` column: one finding, not a stop
    r = cli(
        "check-data", tmp_path, "--label-key", "y", "--ignore-index", "-100", "--num-classes", "3", "--format", "json"
    )
    assert r.code == 1
    assert [(x["code"], x["path"].rsplit("/", 1)[-1], x["line"], x["message"]) for x in r.json["findings"]] == [
        ("ND121", "a.jsonl", 3, "label 7 >= num_classes 3 (valid 0..2)"),
        ("ND121", "b.csv", 4, "label -1 is negative (allow it with --ignore-index -1)"),
        ("ND100", "c.csv", None, "no 'y' column (use --label-key)"),
    ]
    tables = r.json["summary"]["tables"]
    assert tables[str(tmp_path / "a.jsonl")]["ignored"] == 1 and tables[str(tmp_path / "b.csv")]["ignored"] == 1


def test_ND100_utf16_csv_and_jsonl_are_read_not_called_binary(cli, tmp_path):
    """UTF-16 with a byte-order mark (PowerShell's `Export-Csv -Encoding Unicode` and `>`, pandas
    `to_csv(encoding="utf-16")`): decoded by its mark, its labels checked, the encoding named."""
    table = tmp_path / "train.csv"
    pd.DataFrame({"path": ["a.jpg", "b.jpg", "c.jpg"], "label": [3, 101, 7]}).to_csv(
        table, index=False, encoding="utf-16"
    )
    lines = tmp_path / "train.jsonl"
    with open(lines, "w", encoding="utf-16") as f:
        for lab in (101, 2, 5):
            f.write(json.dumps({"image": "x.jpg", "label": lab}) + "\n")
    for path, bad_line in ((table, 3), (lines, 1)):
        assert path.read_bytes()[:2] == b"\xff\xfe"
        r = cli("check-data", path, "--num-classes", "101", "--format", "json")
        assert r.code == 1, r.stderr
        got = [(x["code"], x["severity"], x["line"]) for x in r.json["findings"]]
        assert got == [("ND100", "warning", None), ("ND121", "error", bad_line)]
        assert (
            r.json["findings"][0]["message"].startswith("UTF-16 text") and "UTF-8" in r.json["findings"][0]["message"]
        )
        assert "binary" not in r.stdout
        assert r.json["summary"]["rows"] == 3


def test_ND100_utf16_yolo_label_names_its_encoding(cli, tmp_path):
    from tests.check_data_fixtures import write_dataset

    root = write_dataset(tmp_path / "ds", {"a": "0 0.5 0.5 0.2 0.2\n", "b": "0 0.5 0.5 0.2 0.2\n"}, ["x"])
    (root / "labels" / "train" / "b.txt").write_text("0 0.5 0.5 0.2 0.2\n", encoding="utf-16")
    r = cli("check-data", root / "data.yaml", "--format", "json")
    assert r.code == 1, r.stderr
    [f] = r.json["findings"]
    assert (f["code"], f["path"].endswith("b.txt")) == ("ND100", True)
    assert f["message"].startswith("UTF-16 text, not UTF-8") and "binary" not in f["message"]
