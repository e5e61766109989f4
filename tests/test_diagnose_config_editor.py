"""diagnose-config's byte-splicing editor on the YAML shapes real configs use: a flow-mapping document,
anchors and aliases, merge keys, lists, CRLF and CR line endings, a BOM, and value types. Each test
compares the repaired file byte for byte: untouched bytes stay, the changed value loads as intended."""

from __future__ import annotations

from pathlib import Path

import yaml

from nandoctor.config.engine import diagnose_config

FP32 = "fp32 until stable (bf16 if your GPU is Ampere or newer)"


def repair(tmp_path: Path, raw: bytes, name: str = "cfg.yaml") -> tuple[bytes, object]:
    src = tmp_path / name
    src.write_bytes(raw)
    out = tmp_path / f"fixed_{name}"
    report = diagnose_config(src, output=out, find_log=False)
    assert src.read_bytes() == raw  # the input is never touched
    return out.read_bytes(), report


def test_flow_mapping_document_is_yaml_and_gets_a_pair_inserted(tmp_path):
    raw = b"{training: {lr: 1.0e-5, mixed_precision: fp16}, loss: ce}\n"
    got, report = repair(tmp_path, raw)
    assert report.summary["framework"] == "generic"
    assert got == (
        b'{training: {lr: 1.0e-5, max_grad_norm: 1.0, mixed_precision: "no"}, loss: ce}'
        b"  # nandoctor: fp16 -> no, " + FP32.encode() + b"  # nandoctor: added 1.0, add gradient clipping\n"
    )
    assert yaml.safe_load(got)["training"] == {"lr": 1e-5, "max_grad_norm": 1.0, "mixed_precision": "no"}


def test_flow_document_string_number_is_read_as_pyyaml_does(tmp_path):
    got, report = repair(tmp_path, b"{training: {lr: 1e-6, max_grad_norm: 1.0}}\n")
    assert "ND412" in {
        f.code for f in report.findings
    }  # json would read 1e-6 as a float; the script's PyYAML reads a string
    assert yaml.safe_load(got)["training"]["lr"] == 1e-6


def test_anchor_is_kept_and_the_shared_value_edited_once(tmp_path):
    raw = b"base: &lr 1.0e-4\nopt:\n  lr: *lr\n  fp16: true\n"
    got, report = repair(tmp_path, raw)
    assert got.startswith(
        b"base: &lr 5.0e-05  # nandoctor: 0.0001 -> 5e-05, lower LR until stable\n"
        b"opt:\n  lr: *lr\n  fp16: false  # nandoctor: true -> false, " + FP32.encode() + b"\n"
    )
    assert got.count(b"5.0e-05") == 1
    fixed = yaml.safe_load(got)
    assert fixed["opt"]["lr"] == fixed["base"] == 5e-05 and fixed["opt"]["max_grad_norm"] == 1.0


def test_merge_keys_edit_the_base_once_for_every_inheriting_mapping(tmp_path):
    raw = b"a: &base\n  lr: 1.0e-5\n  fp16: true\nb:\n  <<: *base\nc:\n  <<: *base\n"
    got, _ = repair(tmp_path, raw)
    assert got == (
        b"a: &base\n  lr: 1.0e-5\n  max_grad_norm: 1.0  # nandoctor: added 1.0, add gradient clipping\n"
        b"  fp16: false  # nandoctor: true -> false, " + FP32.encode() + b"\n"
        b"b:\n  <<: *base\nc:\n  <<: *base\n"
    )
    fixed = yaml.safe_load(got)
    assert fixed["b"]["fp16"] is False and fixed["c"]["fp16"] is False


def test_a_key_added_next_to_a_merge_is_written_in_the_mapping_itself(tmp_path):
    raw = b"defaults: &d\n  mixed_precision: bf16\nrun:\n  <<: *d\n  lr: 1.0e-5\n"
    got, _ = repair(tmp_path, raw)
    assert got == (
        b"defaults: &d\n  mixed_precision: bf16\nrun:\n  <<: *d\n  lr: 1.0e-5\n"
        b"  max_grad_norm: 1.0  # nandoctor: added 1.0, add gradient clipping\n"
    )


def test_changes_under_a_list_are_written_and_read_back(tmp_path):
    raw = b"stages:\n  - name: warm\n    lr: 1.0e-5\n    mixed_precision: fp16\n"
    got, report = repair(tmp_path, raw)
    assert got == (
        b"stages:\n  - name: warm\n    lr: 1.0e-5\n"
        b"    max_grad_norm: 1.0  # nandoctor: added 1.0, add gradient clipping\n"
        b'    mixed_precision: "no"  # nandoctor: fp16 -> no, ' + FP32.encode() + b"\n"
    )
    assert {c["key"] for c in report.summary["changes"]} == {"stages.0.max_grad_norm", "stages.0.mixed_precision"}


def test_crlf_file_gets_crlf_in_inserted_lines(tmp_path):
    raw = b"learning_rate: 2.0e-5\r\nlr_scheduler_type: cosine\r\nbf16: true\r\n"
    got, _ = repair(tmp_path, raw)
    assert got == (
        b"learning_rate: 2.0e-5\r\nlr_scheduler_type: cosine\r\n"
        b"warmup_steps: 0.05  # nandoctor: added 0.05, warm up over 0.05 of the run's steps "
        b"(a ratio in transformers >= 5; 4.x: warmup_ratio)\r\nbf16: true\r\n"
    )


def test_cr_only_file_keeps_cr(tmp_path):
    raw = b"lr0: 0.01\rimgsz: 640\rsave_period: -1\roptimizer: SGD\r"
    got, _ = repair(tmp_path, raw)
    assert got == (
        b"lr0: 0.01\rimgsz: 640\rsave_period: 5  # nandoctor: -1 -> 5, keep a clean checkpoint every "
        b"5 epochs\roptimizer: SGD\r"
    )


def test_crlf_json_insert(tmp_path):
    raw = b'{\r\n  "training": {\r\n    "lr": 1e-05\r\n  }\r\n}\r\n'
    got, _ = repair(tmp_path, raw, "train.json")
    assert got == b'{\r\n  "training": {\r\n    "lr": 1e-05,\r\n    "max_grad_norm": 1.0\r\n  }\r\n}\r\n'


def test_bom_is_kept(tmp_path):
    raw = b"\xef\xbb\xbfmixed_precision: fp16\ndistributed_type: MULTI_GPU\nnum_processes: 2\n"
    got, report = repair(tmp_path, raw)
    assert report.summary["framework"] == "accelerate"
    expected_new = b"bf16" if report.summary["changes"][0]["new"] == "bf16" else b'"no"'
    assert got.startswith(b"\xef\xbb\xbfmixed_precision: " + expected_new + b"  # nandoctor: fp16 -> ")
    assert got.endswith(b"\ndistributed_type: MULTI_GPU\nnum_processes: 2\n")
    assert "-mixed_precision: fp16" in report.summary["diff"] and "\ufeff" not in report.summary["diff"]


def test_int_precision_stays_an_int(tmp_path):
    got, _ = repair(tmp_path, b"training:\n  precision: 16\n  lr: 1.0e-5\n  max_grad_norm: 1.0\n")
    assert (
        got == b"training:\n  precision: 32  # nandoctor: 16 -> 32, " + FP32.encode() + b"\n  lr: 1.0e-5\n"
        b"  max_grad_norm: 1.0\n"
    )
    assert yaml.safe_load(got)["training"]["precision"] == 32  # the int 32, not the string "32"


def test_lightning_int_precision_stays_an_int(tmp_path):
    got, _ = repair(tmp_path, b"trainer:\n  precision: 16\n  max_epochs: 3\n")
    fixed = yaml.safe_load(got)["trainer"]
    assert fixed["precision"] in (32, "bf16") and fixed["gradient_clip_val"] == 1.0
