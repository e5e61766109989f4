"""diagnose-config: the issue's done-when checks, one rule per test name (`pytest -k ND404`), and the
real files under shared/formats."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from nandoctor.config.engine import diagnose_config
from nandoctor.config.versions import deepspeed_clip_default, version_of
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
    return [line[line.index("#") :].strip() for line in text.splitlines() if "#" in line]


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
    assert {c["key"] for c in s["changes"]} == {
        "training.lr",
        "training.max_grad_norm",
        "datasets.enable_logits_masking",
        "loss.type",
    }


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


@pytest.mark.parametrize(
    "name",
    [
        "ultralytics/args_detect.yaml",
        "ultralytics/args_pose.yaml",
        "ultralytics/args_classify.yaml",
        "ultralytics/default.yaml",
        "ultralytics/yolov5_hyp.yaml",
        "hf/training_args_llamafactory_qwen3_lora_sft.yaml",
        "hf/training_args_alignment_handbook_zephyr_sft_full.yaml",
        "accelerate/alignment_handbook_zero3.yaml",
        "accelerate/default_config.yaml",
        "accelerate/default_config_multinode_mp_no.yaml",
        "accelerate/default_config_sd3_deepspeed_inline_bf16.yaml",
        "accelerate/llamafactory_fsdp_config.yaml",
        "deepspeed/ds_config.json",
        "deepspeed/ds_config_bf16_zero3.json",
        "deepspeed/ds_z3_config_auto.json",
    ],
)
def test_done_real_healthy_configs_have_no_error(shared_formats, name, tmp_path):
    path = shared_formats / name
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    report = diagnose_config(path, output=tmp_path / "out", dry_run=True)
    assert report.summary["framework"] is not None
    # transformers >= 5 installed here refuses warmup_ratio (ND418): a real error for this machine's version
    assert [
        f
        for f in report.findings
        if f.severity.value == "error" and not (f.code == "ND418" and "(installed)" in f.message)
    ] == []
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
    for a, b in zip(old, new, strict=True):
        if a != b:
            key = a.split(":")[0]
            assert key in changed and b.startswith(f"{key}: ") and "# nandoctor: " in b
            assert a[a.index("#") :] in b  # the original comment stays
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
    if version_of("deepspeed").source == "installed":  # its source says whether it clips by default
        assert fixed.get("gradient_clipping", deepspeed_clip_default()[0]) == 1.0
    else:
        assert fixed["gradient_clipping"] == 1.0
    assert fixed["optimizer"]["params"]["eps"] == 1e-8
    assert '"allgather_bucket_size": 5e8' in out.read_text()


@pytest.mark.parametrize(
    "name,framework",
    [
        ("ultralytics_args_1280.yaml", "ultralytics"),
        ("hf_training_args_fp16.yaml", "hf-trainer"),
        ("accelerate_fp16.yaml", "accelerate"),
        ("deepspeed_fp16.json", "deepspeed"),
        ("lightning_config.yaml", "lightning"),
        ("multi_dataset.yaml", "generic"),
    ],
)
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
    lo = diagnose_config(write(tmp_path, "lr0: 0.01\nimgsz: 640\namp: false\noptimizer: SGD\n", "b.yaml"), dry_run=True)
    assert "lr0" in codes(hi)["ND402"] and "ND402" not in codes(lo)


def test_ND403_adam_eps_only_where_the_optimizer_state_is_fp16(tmp_path):
    pure = diagnose_config(
        write(
            tmp_path,
            "trainer:\n  precision: 16-true\n  gradient_clip_val: 1.0\n"
            "optimizer:\n  class_path: torch.optim.AdamW\n  init_args:\n"
            "    lr: 1.0e-05\n    eps: 1.0e-08\n",
        )
    )
    assert "optimizer.init_args.eps" in codes(pure)["ND403"]
    assert fixed_of(pure)["optimizer"]["init_args"]["eps"] == 1e-6
    amp = diagnose_config(
        write(tmp_path, "learning_rate: 2.0e-05\nfp16: true\nadam_epsilon: 1.0e-08\nwarmup_steps: 0.1\n", "amp.yaml"),
        dry_run=True,
    )
    assert "ND403" not in codes(amp)  # AMP: the optimizer runs in fp32


def test_ND404_deepspeed_gradient_clipping_zero(tmp_path):
    r = diagnose_config(
        write(tmp_path, '{"train_batch_size": 8, "bf16": {"enabled": true}, "gradient_clipping": 0}', "ds.json")
    )
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
    r = diagnose_config(
        write(tmp_path, "training:\n  lr: 1.0e-05\n  max_grad_norm: 1.0\nenable_logits_masking: true\n")
    )
    assert fixed_of(r)["enable_logits_masking"] is False


def test_ND407_focal_loss(tmp_path):
    r = diagnose_config(write(tmp_path, "optimizer:\n  lr: 1.0e-05\nloss: focal_loss\nmax_grad_norm: 1.0\n"))
    assert fixed_of(r)["loss"] == "cross_entropy" and "loss" in codes(r)["ND407"]


@pytest.mark.parametrize(
    "block,where",
    [
        ("loss:\n  name: asymmetric\n", "loss.name"),
        ("loss:\n  _target_: losses.FocalLoss\n  gamma: 2.0\n", "loss._target_"),
        ("criterion:\n  class_path: mylosses.FocalLoss\n", "criterion.class_path"),
    ],
)
def test_ND407_loss_named_by_name_target_or_class_path(tmp_path, block, where):
    r = diagnose_config(write(tmp_path, "optimizer:\n  lr: 1.0e-05\nmax_grad_norm: 1.0\n" + block), dry_run=True)
    assert where in codes(r)["ND407"]
    changed = {c["key"] for c in r.summary["changes"]}
    assert (where in changed) is where.endswith(".name")  # a constructor's class is reported, never swapped alone
    ce = diagnose_config(
        write(
            tmp_path,
            "optimizer:\n  lr: 1.0e-05\nmax_grad_norm: 1.0\nloss:\n  _target_: torch.nn.CrossEntropyLoss\n",
            "ce.yaml",
        ),
        dry_run=True,
    )
    assert "ND407" not in codes(ce)


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
    r = diagnose_config(
        write(tmp_path, "training:\n  lr: 1.0e-05\n  max_grad_norm: 1.0\n  mixed_precision: fp16\n", "train.yml")
    )
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


# --- issue 15: evidence, versions, constructor blocks, detection ------------------------------


def nan_trainer_state(path: Path, grad: float = 8.0) -> Path:
    from tests.analyze_log_fixtures import write_trainer_state

    losses = [2.0 - 0.01 * i for i in range(40)] + [float("nan")] * 5
    return write_trainer_state(path, losses, grad_norms=[grad] * 40 + [float("nan")] * 5)


def test_hf_config_beside_its_trainer_state_uses_it_as_evidence(tmp_path, cli):
    pytest.importorskip("nandoctor.logs.engine")
    cfg = write(
        tmp_path,
        "learning_rate: 1.0e-05\nlr_scheduler_type: cosine\nwarmup_steps: 0.1\nmax_grad_norm: 1.0\nfp16: true\n",
        "training_args.yaml",
    )
    (tmp_path / "checkpoint-400").mkdir()
    nan_trainer_state(tmp_path / "checkpoint-400" / "trainer_state.json")
    r = cli("diagnose-config", cfg, "--dry-run", "--format", "json")
    assert r.code == 1 and r.json["summary"]["log"]["path"].endswith("checkpoint-400/trainer_state.json")
    note = next(f for f in r.json["findings"] if f["code"] == "ND417")
    assert "beside the config" in note["message"] and "--no-log" in note["message"]
    assert cli("diagnose-config", cfg, "--dry-run", "--no-log").code == 0


def test_unreadable_log_beside_the_config_is_an_info_not_a_failure(tmp_path):
    pytest.importorskip("nandoctor.logs.engine")
    cfg = write(tmp_path, "lr0: 0.01\nimgsz: 640\noptimizer: SGD\namp: false\n", "args.yaml")
    (tmp_path / "results.csv").write_bytes(b"\x00\x01garbage")
    report = diagnose_config(cfg, dry_run=True)
    assert any(f.code == "ND417" and "could not be read" in f.message for f in report.findings)


def test_ND404_deepspeed_clip_from_the_log_is_never_looser_than_the_default(tmp_path):
    pytest.importorskip("nandoctor.logs.engine")
    log = nan_trainer_state(tmp_path / "trainer_state.json", grad=10.0)
    cfg = write(
        tmp_path, '{"train_micro_batch_size_per_gpu": 4, "bf16": {"enabled": true}, "gradient_clipping": 0}', "ds.json"
    )
    r = diagnose_config(cfg, log=log, output=tmp_path / "out.json")
    assert r.summary["log"]["clip_threshold"] > 1.0  # the log alone would say clip at 2-3x a norm of 10
    assert fixed_of(r)["gradient_clipping"] == 1.0  # DeepSpeed's current default; never looser
    light = diagnose_config(sample(tmp_path, "lightning_config.yaml"), log=log, output=tmp_path / "l.yaml")
    assert fixed_of(light)["trainer"]["gradient_clip_val"] == r.summary["log"]["clip_threshold"]  # default: off


def test_ND404_deepspeed_absent_clipping_names_the_version_it_assumes(tmp_path):
    r = diagnose_config(
        write(tmp_path, '{"train_micro_batch_size_per_gpu": 4, "bf16": {"enabled": true}}', "ds.json"), dry_run=True
    )
    f = next(f for f in r.findings if f.code == "ND404")
    assert (
        f.severity.value == "info" and "DeepSpeed" in f.message and ("0.19.8" in f.message or "installed" in f.message)
    )


def test_ND402_ultralytics_auto_uses_the_logs_lr_not_lr0(tmp_path):
    pytest.importorskip("nandoctor.logs.engine")
    from tests.triage_runs import results_rows, write_results_csv

    rows = results_rows(6, nan_epoch=5)
    rows["lr/pg0"] = [0.0004, 0.0008, 0.0012, 0.0012, 0.0012, 0.0012]
    write_results_csv(tmp_path / "results.csv", rows)
    cfg = write(tmp_path, "lr0: 0.01\nimgsz: 640\noptimizer: auto\namp: false\nwarmup_epochs: 3.0\n", "args.yaml")
    r = diagnose_config(cfg, output=tmp_path / "fixed.yaml")
    f = next(f for f in r.findings if f.code == "ND402")
    assert "0.0012" in f.message and "ignored lr0" in f.message
    fixed = fixed_of(r)
    assert fixed["optimizer"] == "AdamW" and fixed["lr0"] < 0.0012
    assert "large images" not in " ".join(f.message + str(f.data) for f in r.findings)


def test_no_large_image_advice_at_640(tmp_path):
    r = diagnose_config(
        write(tmp_path, "lr0: 0.01\nimgsz: 640\noptimizer: SGD\namp: false\n"), dry_run=True, find_log=False
    )
    assert "ND402" not in codes(r)


@pytest.mark.parametrize(
    "text,framework",
    [
        ("_target_: lightning.pytorch.trainer.Trainer\nmax_epochs: 10\nprecision: 16\n", "lightning"),
        ("trainer:\n  _target_: pytorch_lightning.Trainer\n  max_epochs: 3\n", "lightning"),
        ("compute_environment: LOCAL_MACHINE\ndistributed_type: 'NO'\nmixed_precision: fp16\n", "accelerate"),
        ("mixed_precision: fp16\nnum_processes: 2\n", "accelerate"),
        (
            "base_model: NousResearch/Llama-2-7b-hf\nadapter: lora\nsequence_len: 4096\nmicro_batch_size: 2\n"
            "learning_rate: 0.0002\nfp16: true\n",
            "axolotl",
        ),
    ],
)
def test_detection_of_hydra_trainers_short_accelerate_and_axolotl(tmp_path, text, framework):
    assert diagnose_config(write(tmp_path, text), dry_run=True, find_log=False).summary["framework"] == framework


def test_hydra_trainer_gets_gradient_clip_val_and_its_constructor_blocks_no_key(tmp_path):
    cfg = write(
        tmp_path,
        "trainer:\n  _target_: lightning.pytorch.trainer.Trainer\n  max_epochs: 10\n"
        "  precision: 16-mixed\nmodel:\n  _target_: src.models.Lit\n  optimizer:\n"
        "    _target_: torch.optim.Adam\n    _partial_: true\n    lr: 0.001\n",
    )
    r = diagnose_config(cfg, find_log=False)
    fixed = fixed_of(r)
    assert fixed["trainer"]["gradient_clip_val"] == 1.0
    assert set(fixed["model"]["optimizer"]) == {"_target_", "_partial_", "lr"}


def test_hydra_model_config_alone_is_told_where_to_clip_not_edited(tmp_path):
    cfg = write(
        tmp_path,
        "_target_: src.models.mnist_module.MNISTLitModule\noptimizer:\n  _target_: torch.optim.Adam\n"
        "  _partial_: true\n  lr: 0.001\ncompile: false\n",
    )
    r = diagnose_config(cfg, find_log=False)
    f = next(f for f in r.findings if f.code == "ND404")
    assert "constructor" in f.message and r.summary["output"] is None


def test_lightningcli_class_path_blocks_get_no_key(tmp_path):
    r = diagnose_config(sample(tmp_path, "lightning_config.yaml"), find_log=False)
    fixed, before = fixed_of(r), yaml.safe_load((SAMPLES / "lightning_config.yaml").read_text())
    for section in ("model", "optimizer", "data"):
        assert set(fixed[section]["init_args"]) == set(before[section]["init_args"])


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "1e400", "1.0e+400"])
def test_ND419_non_finite_values_are_reported_and_never_proposed(tmp_path, value):
    r = diagnose_config(
        write(tmp_path, f"lr0: {value}\nimgsz: 640\noptimizer: SGD\namp: false\n"),
        output=tmp_path / "out.yaml",
        find_log=False,
    )
    f = next(f for f in r.findings if f.code == "ND419")
    assert f.where == "lr0" and f.severity.value == "error" and f.line == 1
    assert all(c["key"] != "lr0" for c in r.summary["changes"])
    out = tmp_path / "out.yaml"
    assert not out.exists() or "inf" not in out.read_text().lower().replace(value.lower(), "")


def test_output_onto_a_character_device_is_refused_even_with_force(tmp_path, cli):
    dev = Path("/dev/null")
    before = dev.stat()
    r = cli("diagnose-config", sample(tmp_path, "accelerate_fp16.yaml"), "-o", dev, "--force")
    assert r.code == 2 and "not a regular file" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    after = dev.stat()
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_output_onto_a_directory_is_refused(tmp_path):
    (tmp_path / "out.yaml").mkdir()
    with pytest.raises(NandoctorError, match="not a regular file"):
        diagnose_config(sample(tmp_path, "accelerate_fp16.yaml"), output=tmp_path / "out.yaml", force=True)


def test_env_command_reports_versions_and_bf16(cli):
    import json

    r = cli("env", "--format", "json")
    assert r.code == 0
    env = json.loads(r.stdout)
    assert env["packages"]["torch"]  # the main interpreter has torch
    assert env["bf16"] in (True, False) and env["python"].count(".") == 2
    text = cli("env")
    assert "bf16:" in text.stdout and "transformers:" in text.stdout


@pytest.mark.parametrize(
    "name",
    sorted(
        p.relative_to(SAMPLES.parent / "tests" / "data" / "configs").as_posix()
        for p in (SAMPLES.parent / "tests" / "data" / "configs").rglob("*healthy*")
    ),
)
def test_healthy_corpus_configs_get_no_warning(name):
    path = SAMPLES.parent / "tests" / "data" / "configs" / name
    r = diagnose_config(path, dry_run=True, find_log=False)
    assert r.summary["framework"] is not None
    assert [f.code for f in r.findings if f.severity.value in ("error", "warning")] == []


def test_ND405_transformers_4_named_in_the_file_keeps_warmup_ratio(tmp_path):
    cfg = write(
        tmp_path,
        "transformers_version: 4.44.2\nlearning_rate: 2.0e-05\nlr_scheduler_type: cosine\n"
        "warmup_steps: 0\nbf16: true\n",
    )
    r = diagnose_config(cfg, find_log=False)
    fixed = fixed_of(r)
    assert fixed["warmup_ratio"] == 0.05 and fixed["warmup_steps"] == 0  # 4.x: the ratio key, steps 0 defers to it
    assert "ND418" not in codes(r)
    f = next(f for f in r.findings if f.code == "ND405")
    assert "4.44.2 (named in the file)" in f.message


def test_ND401_bf16_chosen_when_the_config_names_an_ampere_machine(tmp_path):
    cfg = write(
        tmp_path,
        "compute_environment: AMAZON_SAGEMAKER\ndistributed_type: MULTI_GPU\n"
        "ec2_instance_type: ml.p4d.24xlarge\nmixed_precision: fp16\nnum_processes: 8\n",
    )
    r = diagnose_config(cfg, find_log=False)
    assert fixed_of(r)["mixed_precision"] == "bf16"
    assert "p4d" in r.summary["changes"][0]["reason"]
    plain = diagnose_config(sample(tmp_path, "hf_training_args_fp16.yaml"), dry_run=True, find_log=False)
    reason = next(c["reason"] for c in plain.summary["changes"] if c["key"] == "fp16")
    assert BF16_HERE or "bf16 if your GPU is Ampere or newer" in reason
