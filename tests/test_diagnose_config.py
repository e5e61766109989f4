"""diagnose-config: the issue's done-when checks, one rule per test name (`pytest -k ND404`), and the
real files under shared/formats."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from nandoctor.config.engine import diagnose_config
from nandoctor.environment import detect as detect_env
from nandoctor.findings import NandoctorError

SAMPLES = Path(__file__).resolve().parents[1] / "sample_configs"
BF16_HERE = bool(detect_env().bf16)  # repairs choose bf16 only where torch reports it native


def sample(tmp_path: Path, name: str) -> Path:
    dst = tmp_path / name
    shutil.copy(SAMPLES / name, dst)
    return dst


def fixed_of(report) -> dict:
    return yaml.safe_load(Path(report.summary["output"]).read_text())


def codes(report) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in report.findings:
        out.setdefault(f.code, set()).add(f.where)
    return out


def comments(text: str) -> list[str]:
    return [line[line.index("#"):].strip() for line in text.splitlines() if "#" in line]


# --- done when ---------------------------------------------------------------------------------

def test_done_multi_dataset_config_lower_float_lr_clipping_masking_off_cross_entropy_comments_intact(tmp_path, cli):
    cfg = sample(tmp_path, "multi_dataset.yaml")
    r = cli("diagnose-config", cfg, "--format", "json")
    assert r.code == 1  # ND413: the unified head (100) is smaller than food101 (101)
    s = r.json["summary"]
    assert s["framework"] == "generic" and s["output"] == str(tmp_path / "multi_dataset_fixed.yaml")
    text = Path(s["output"]).read_text()
    fixed = yaml.safe_load(text)
    assert isinstance(fixed["training"]["lr"], float) and fixed["training"]["lr"] < 1e-4
    assert fixed["training"]["max_grad_norm"] == 1.0
    assert fixed["datasets"]["enable_logits_masking"] is False
    assert fixed["loss"]["type"] == "cross_entropy"
    original_comments = comments(cfg.read_text())
    kept = " ".join(comments(text))
    assert all(c in kept for c in original_comments)
    assert {c["key"] for c in s["changes"]} == {"training.lr", "training.max_grad_norm",
                                                "datasets.enable_logits_masking", "loss.type"}


def test_done_yolo_1280_args_repaired_with_exactly_the_original_keys(tmp_path):
    cfg = sample(tmp_path, "ultralytics_args_1280.yaml")
    report = diagnose_config(cfg)
    assert report.summary["framework"] == "ultralytics"
    before, after = yaml.safe_load(cfg.read_text()), fixed_of(report)
    assert list(after) == list(before)  # no key Ultralytics would reject, same order
    assert after["amp"] is False or (after["amp"] == "bf16" and BF16_HERE)
    # optimizer: auto ignored lr0, and no log says what ran: lr0 is not blamed, nothing switches to SGD
    assert before["optimizer"] == "auto" and after["lr0"] == before["lr0"] and after["optimizer"] == "auto"
    assert "lr0" not in codes(report).get("ND402", set())
    assert after["warmup_epochs"] >= 3 and after["save_period"] == 5
    assert after["mixup"] == 0.0 and after["copy_paste"] == 0.0
    assert (after["hsv_h"], after["hsv_s"], after["hsv_v"]) == (0.015, 0.7, 0.4)
    untouched = {k for k in before if k not in {c["key"] for c in report.summary["changes"]}}
    assert all(after[k] == before[k] for k in untouched)


def test_done_hf_fp16_eps_clipping_off_repaired(tmp_path):
    report = diagnose_config(sample(tmp_path, "hf_training_args_fp16.yaml"))
    assert report.summary["framework"] == "hf-trainer"
    fixed = fixed_of(report)
    assert fixed["fp16"] is False and fixed.get("bf16", False) is BF16_HERE  # bf16 only where it runs natively
    # under AMP the optimizer runs in fp32: eps 1e-8 is fine, only its string form (ND412) is repaired
    assert fixed["adam_epsilon"] == 1e-8 and isinstance(fixed["adam_epsilon"], float)
    assert fixed["max_grad_norm"] == 1.0
    assert fixed["learning_rate"] < 1e-4 and 0 < fixed["warmup_steps"] < 1 and "warmup_ratio" not in fixed
    assert "bf16 if your GPU is Ampere or newer" in Path(report.summary["output"]).read_text() or BF16_HERE


def test_done_accelerate_fp16_repaired_with_only_accelerate_keys(tmp_path):
    cfg = sample(tmp_path, "accelerate_fp16.yaml")
    report = diagnose_config(cfg)
    assert report.summary["framework"] == "accelerate"
    fixed = fixed_of(report)
    assert fixed["mixed_precision"] == ("bf16" if BF16_HERE else "no")
    assert list(fixed) == list(yaml.safe_load(cfg.read_text()))
    assert fixed["downcast_bf16"] == "no"  # the quoted 'no' stays a string


@pytest.mark.parametrize("name", ["ultralytics/args_detect.yaml", "ultralytics/args_pose.yaml",
                                  "ultralytics/args_classify.yaml", "ultralytics/default.yaml",
                                  "ultralytics/yolov5_hyp.yaml",
                                  "hf/training_args_llamafactory_qwen3_lora_sft.yaml",
                                  "hf/training_args_alignment_handbook_zephyr_sft_full.yaml",
                                  "accelerate/alignment_handbook_zero3.yaml", "accelerate/default_config.yaml",
                                  "accelerate/default_config_multinode_mp_no.yaml",
                                  "accelerate/default_config_sd3_deepspeed_inline_bf16.yaml",
                                  "accelerate/llamafactory_fsdp_config.yaml", "deepspeed/ds_config.json",
                                  "deepspeed/ds_config_bf16_zero3.json", "deepspeed/ds_z3_config_auto.json"])
def test_done_real_healthy_configs_have_no_error(shared_formats, name, tmp_path):
    path = shared_formats / name
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    report = diagnose_config(path, output=tmp_path / "out", dry_run=True)
    assert report.summary["framework"] is not None
    assert [f for f in report.findings if f.severity.value == "error"] == []
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_done_second_run_refuses_to_overwrite_without_force(tmp_path, cli):
    cfg = sample(tmp_path, "accelerate_fp16.yaml")
    assert cli("diagnose-config", cfg).code == 0
    out = tmp_path / "accelerate_fp16_fixed.yaml"
    out.write_text("# my edits\n")
    again = cli("diagnose-config", cfg)
    assert again.code == 2 and "--force" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    assert out.read_text() == "# my edits\n"
    assert cli("diagnose-config", cfg, "--force").code == 0
    assert yaml.safe_load(out.read_text())["mixed_precision"] == ("bf16" if BF16_HERE else "no")


def test_ND415_keep_existing_reports_instead_of_failing(tmp_path):
    cfg = sample(tmp_path, "accelerate_fp16.yaml")
    out = tmp_path / "accelerate_fp16_fixed.yaml"
    out.write_text("kept\n")
    report = diagnose_config(cfg, keep_existing=True)
    assert report.summary["existing_output"] == str(out) and report.summary["output"] is None
    assert "ND415" in codes(report) and out.read_text() == "kept\n"
    assert report.summary["changes"][0]["key"] == "mixed_precision"  # the diagnosis is still there
    with pytest.raises(NandoctorError, match="already exists"):
        diagnose_config(cfg)


# --- the repaired file -----------------------------------------------------------------------

def test_untouched_lines_of_a_real_args_yaml_are_byte_identical(shared_formats, tmp_path):
    src = shared_formats / "ultralytics" / "default.yaml"
    report = diagnose_config(src, output=tmp_path / "default_fixed.yaml")
    old, new = src.read_text().splitlines(), (tmp_path / "default_fixed.yaml").read_text().splitlines()
    changed = {c["key"] for c in report.summary["changes"]}
    assert len(old) == len(new)
    for a, b in zip(old, new):
        if a != b:
            key = a.split(":")[0]
            assert key in changed and b.startswith(f"{key}: ") and "# nandoctor: " in b
            assert a[a.index("#"):] in b  # the original comment stays
    assert "amp: False # (bool | str)" in (tmp_path / "default_fixed.yaml").read_text()  # style kept


def test_dry_run_writes_nothing_and_shows_the_diff(tmp_path, cli):
    cfg = sample(tmp_path, "hf_training_args_fp16.yaml")
    r = cli("diagnose-config", cfg, "--dry-run", "--format", "json")
    assert r.json["summary"]["output"] is None and "+fp16: false" in r.json["summary"]["diff"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf_training_args_fp16.yaml"]


def test_text_view_shows_diff_and_written_path(tmp_path, cli):
    cfg = sample(tmp_path, "accelerate_fp16.yaml")
    r = cli("diagnose-config", cfg)
    assert "-mixed_precision: fp16" in r.stdout and "+mixed_precision: " in r.stdout
    assert "framework: accelerate" in r.stdout and "wrote" in r.stdout
    assert (tmp_path / "accelerate_fp16_fixed.yaml").is_file()


def test_output_option_and_input_never_modified(tmp_path):
    cfg = sample(tmp_path, "lightning_config.yaml")
    before = cfg.read_bytes()
    report = diagnose_config(cfg, output=tmp_path / "elsewhere.yaml")
    assert report.summary["output"] == str(tmp_path / "elsewhere.yaml") and cfg.read_bytes() == before
    with pytest.raises(NandoctorError, match="input"):
        diagnose_config(cfg, output=cfg, force=True)


def test_deepspeed_json_repaired_as_json_keeping_untouched_text(tmp_path):
    import json

    cfg = sample(tmp_path, "deepspeed_fp16.json")
    report = diagnose_config(cfg)
    out = Path(report.summary["output"])
    assert out.name == "deepspeed_fp16_fixed.json"
    fixed = json.loads(out.read_text())
    assert fixed["fp16"]["enabled"] is False and ("bf16" in fixed) is BF16_HERE
    # DeepSpeed steps fp32 master weights: eps stays; absent clipping was added at the strictest default
    assert fixed["gradient_clipping"] == 1.0 and fixed["optimizer"]["params"]["eps"] == 1e-8
    assert '"allgather_bucket_size": 5e8' in out.read_text()


@pytest.mark.parametrize("name,framework", [("ultralytics_args_1280.yaml", "ultralytics"),
                                            ("hf_training_args_fp16.yaml", "hf-trainer"),
                                            ("accelerate_fp16.yaml", "accelerate"),
                                            ("deepspeed_fp16.json", "deepspeed"),
                                            ("lightning_config.yaml", "lightning"),
                                            ("multi_dataset.yaml", "generic")])
def test_framework_detection_of_every_sample(name, framework, tmp_path):
    assert diagnose_config(SAMPLES / name, dry_run=True).summary["framework"] == framework


def test_demo_args_yaml_is_repaired_from_the_runs_own_log(demo_run, tmp_path, cli):
    pytest.importorskip("nandoctor.logs.engine")
    r = cli("diagnose-config", demo_run / "args.yaml", "-o", tmp_path / "args_fixed.yaml", "--format", "json")
    assert r.code == 1  # the run beside it went NaN: the risky settings are its cause
    log = r.json["summary"]["log"]
    assert log["found_beside_config"] and log["path"] == str(demo_run / "results.csv")
    ran = log["lr_ran"]  # optimizer: auto ignored lr0 0.01; lr/pg0 shows what ran
    assert ran is not None and ran < 0.01
    fixed = yaml.safe_load((tmp_path / "args_fixed.yaml").read_text())
    assert fixed["amp"] is False or (fixed["amp"] == "bf16" and BF16_HERE)
    assert fixed["optimizer"] == "AdamW" and fixed["lr0"] < ran  # below what ran, not 11x above it
    assert set(fixed) == set(yaml.safe_load((demo_run / "args.yaml").read_text()))
    assert {"ND401", "ND402", "ND405", "ND408", "ND411", "ND417"} <= set(r.codes())
    quiet = cli("diagnose-config", demo_run / "args.yaml", "--no-log", "--dry-run", "--format", "json")
    assert quiet.code == 0 and quiet.json["summary"]["log"] is None


# --- one test per rule -----------------------------------------------------------------------

def write(tmp_path: Path, text: str, name: str = "cfg.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_ND401_lightning_precision_16_mixed(tmp_path):
    report = diagnose_config(sample(tmp_path, "lightning_config.yaml"))
    fixed = fixed_of(report)
    assert fixed["trainer"]["precision"] == ("bf16-mixed" if BF16_HERE else "32-true")
    assert fixed["trainer"]["gradient_clip_val"] == 1.0
    f = next(f for f in report.findings if f.code == "ND401")
    assert f.where == "trainer.precision" and f.line == 7 and f.severity.value == "warning"


def test_ND402_ultralytics_lr0_at_1280_not_at_640(tmp_path):
    hi = diagnose_config(write(tmp_path, "lr0: 0.01\nimgsz: 1280\namp: false\noptimizer: SGD\n"), dry_run=True)
    lo = diagnose_config(write(tmp_path, "lr0: 0.01\nimgsz: 640\namp: false\noptimizer: SGD\n", "b.yaml"),
                         dry_run=True)
    assert "lr0" in codes(hi)["ND402"] and "ND402" not in codes(lo)


def test_ND403_adam_eps_only_where_the_optimizer_state_is_fp16(tmp_path):
    pure = diagnose_config(write(tmp_path, "trainer:\n  precision: 16-true\n  gradient_clip_val: 1.0\n"
                                           "optimizer:\n  class_path: torch.optim.AdamW\n  init_args:\n"
                                           "    lr: 1.0e-05\n    eps: 1.0e-08\n"))
    assert "optimizer.init_args.eps" in codes(pure)["ND403"]
    assert fixed_of(pure)["optimizer"]["init_args"]["eps"] == 1e-6
    amp = diagnose_config(write(tmp_path, "learning_rate: 2.0e-05\nfp16: true\nadam_epsilon: 1.0e-08\n"
                                          "warmup_steps: 0.1\n", "amp.yaml"), dry_run=True)
    assert "ND403" not in codes(amp)  # AMP: the optimizer runs in fp32


def test_ND404_deepspeed_gradient_clipping_zero(tmp_path):
    r = diagnose_config(write(tmp_path, '{"train_batch_size": 8, "bf16": {"enabled": true}, '
                                        '"gradient_clipping": 0}', "ds.json"))
    assert "gradient_clipping" in codes(r)["ND404"] and fixed_of(r)["gradient_clipping"] == 1.0


def test_ND405_hf_no_warmup_adds_a_ratio_as_warmup_steps_for_transformers_5(tmp_path):
    r = diagnose_config(write(tmp_path, "learning_rate: 2.0e-05\nlr_scheduler_type: linear\nbf16: true\n"))
    assert fixed_of(r)["warmup_steps"] == 0.05 and "warmup_steps" in codes(r)["ND405"]
    zero = diagnose_config(write(tmp_path, "learning_rate: 2.0e-05\nwarmup_steps: 0\nbf16: true\n", "z.yaml"))
    assert fixed_of(zero)["warmup_steps"] == 0.05  # a ratio of the run, never an absolute 500


def test_ND418_warmup_ratio_under_transformers_5_becomes_warmup_steps(tmp_path):
    cfg = write(tmp_path, "learning_rate: 2.0e-05\nwarmup_ratio: 0.1  # warm\nbf16: true\n")
    r = diagnose_config(cfg)
    f = next(f for f in r.findings if f.code == "ND418")
    assert f.where == "warmup_ratio" and f.line == 2
    text = Path(r.summary["output"]).read_text()
    assert yaml.safe_load(text) == {"learning_rate": 2e-05, "warmup_steps": 0.1, "bf16": True}
    assert "warmup_steps: 0.1  # warm" in text


def test_ND406_logits_masking(tmp_path):
    r = diagnose_config(write(tmp_path, "training:\n  lr: 1.0e-05\n  max_grad_norm: 1.0\n"
                                        "enable_logits_masking: true\n"))
    assert fixed_of(r)["enable_logits_masking"] is False


def test_ND407_focal_loss(tmp_path):
    r = diagnose_config(write(tmp_path, "optimizer:\n  lr: 1.0e-05\nloss: focal_loss\nmax_grad_norm: 1.0\n"))
    assert fixed_of(r)["loss"] == "cross_entropy" and "loss" in codes(r)["ND407"]


def test_ND408_heavy_augmentation(tmp_path):
    r = diagnose_config(write(tmp_path, "lr0: 0.01\nimgsz: 640\nmixup: 0.5\nhsv_h: 0.05\namp: false\n"))
    assert {"mixup", "hsv_h"} <= codes(r)["ND408"]


def test_ND409_batch_1_with_batchnorm(tmp_path):
    r = diagnose_config(write(tmp_path, "lr0: 0.01\nimgsz: 640\nbatch: 1\namp: false\n"), dry_run=True)
    assert codes(r)["ND409"] == {"batch"}


def test_ND410_no_periodic_checkpoints(tmp_path):
    r = diagnose_config(write(tmp_path, "lr0: 0.01\nimgsz: 640\nsave_period: -1\namp: false\n"))
    assert fixed_of(r)["save_period"] == 5


def test_ND411_optimizer_auto_ignores_lr0(tmp_path):
    r = diagnose_config(write(tmp_path, "lr0: 0.001\nimgsz: 640\noptimizer: auto\namp: false\n"))
    assert fixed_of(r)["optimizer"] == "AdamW"  # the lr0 the user chose now applies


def test_ND412_pyyaml_string_number(tmp_path):
    r = diagnose_config(write(tmp_path, "training:\n  lr: 1e-6     # fine-tune\n  max_grad_norm: 1.0\n"))
    f = next(f for f in r.findings if f.code == "ND412")
    assert f.where == "training.lr" and f.line == 2
    text = Path(r.summary["output"]).read_text()
    assert yaml.safe_load(text)["training"]["lr"] == 1e-6 and "lr: 1.0e-06" in text and "# fine-tune" in text


def test_ND412_quoted_string_is_a_choice_not_flagged(tmp_path):
    r = diagnose_config(write(tmp_path, "training:\n  lr: '1e-6'\n  max_grad_norm: 1.0\n"), dry_run=True)
    assert "ND412" not in codes(r)


def test_ND413_head_smaller_than_a_dataset_is_an_error(tmp_path):
    r = diagnose_config(sample(tmp_path, "multi_dataset.yaml"), dry_run=True)
    f = next(f for f in r.findings if f.code == "ND413")
    assert f.severity.value == "error" and f.where == "model.num_classes" and f.line == 4


@pytest.mark.parametrize("text", ["", "# only a comment\n", "path: ../datasets\ntrain: images/train\nnc: 2\n"])
def test_ND414_nothing_to_diagnose_is_info_exit_0(tmp_path, cli, text):
    r = cli("diagnose-config", write(tmp_path, text), "--format", "json")
    assert r.code == 0 and r.codes() == ["ND414"] and r.json["summary"]["output"] is None


# --- --log (analyze-log's diagnosis) ----------------------------------------------------------

def test_ND417_log_drives_repair_values(demo_run, tmp_path):
    pytest.importorskip("nandoctor.logs.engine")
    report = diagnose_config(demo_run / "args.yaml", log=demo_run / "results.csv", output=tmp_path / "f.yaml")
    assert "ND417" in codes(report) and report.summary["log"]["first_nonfinite"] is not None
    amp = next(f for f in report.findings if f.code == "ND401")
    assert amp.severity.value == "error"  # the log shows the NaN the warning predicted
    assert yaml.safe_load((tmp_path / "f.yaml").read_text())["lr0"] <= 0.003


def test_ND416_lightning_with_nan_log_suggests_anomaly_detection_without_writing_it(demo_run, tmp_path):
    pytest.importorskip("nandoctor.logs.engine")
    r = diagnose_config(sample(tmp_path, "lightning_config.yaml"), log=demo_run / "results.csv")
    f = next(f for f in r.findings if f.code == "ND416")
    assert "--trainer.detect_anomaly=true" in f.message
    assert "detect_anomaly" not in fixed_of(r)["trainer"]  # slow: never in the config you train with


def test_log_option_missing_file_exits_2(tmp_path, cli):
    r = cli("diagnose-config", sample(tmp_path, "accelerate_fp16.yaml"), "--log", tmp_path / "nope.csv")
    assert r.code == 2 and "nope.csv" in r.stderr


def test_ND401_generic_mixed_precision_no_is_quoted_so_pyyaml_keeps_a_string(tmp_path):
    r = diagnose_config(write(tmp_path, "training:\n  lr: 1.0e-05\n  max_grad_norm: 1.0\n  mixed_precision: fp16\n",
                              "train.yml"))
    out = Path(r.summary["output"])
    assert out.name == "train_fixed.yml"
    assert yaml.safe_load(out.read_text())["training"]["mixed_precision"] == "no"  # not False (YAML 1.1)


def test_output_symlinked_to_the_input_is_refused(tmp_path):
    cfg = sample(tmp_path, "accelerate_fp16.yaml")
    link = tmp_path / "link.yaml"
    link.symlink_to(cfg)
    with pytest.raises(NandoctorError, match="input"):
        diagnose_config(cfg, output=link, force=True)
    assert "mixed_precision: fp16" in cfg.read_text()
