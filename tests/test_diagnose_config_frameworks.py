"""Every repaired config loads in the framework it is for, with that framework's own loader.

Runs only where the framework is importable (CI has none of them: each case skips); locally:
`PYTHONPATH=$PWD /work/fwvenv/bin/python -m pytest tests/test_diagnose_config_frameworks.py`.
A case whose *original* file the loader refuses on this machine too (a YOLOv5 hyp file, a world size,
bf16 on a CPU) is not the repair's fault and is skipped with the loader's reason.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from nandoctor.config import validate
from nandoctor.config.engine import diagnose_config

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "configs"
SHARED = ROOT.parent / "shared" / "formats"
NEEDS = {**validate.NEEDS, "axolotl": "axolotl"}  # the framework each detected config needs


def configs() -> list[Path]:
    files = sorted(p for p in CORPUS.rglob("*") if p.suffix in {".yaml", ".json"})
    files += sorted((ROOT / "sample_configs").iterdir())
    if SHARED.is_dir():
        files += sorted(
            p
            for sub in ("ultralytics", "hf", "accelerate", "deepspeed")
            for p in (SHARED / sub).iterdir()
            if p.suffix in {".yaml", ".json"} and not p.name.startswith(("data_", "trainer_state"))
        )
    return files


def read(path: Path):
    text = path.read_text(encoding="utf-8-sig")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def load_ultralytics(path: Path, original: dict) -> None:
    from ultralytics.cfg import DEFAULT_CFG_DICT, get_cfg

    get_cfg(DEFAULT_CFG_DICT, overrides=read(path))  # as BaseTrainer does: unknown keys raise SyntaxError


def load_hf(path: Path, original: dict) -> None:
    """TrainingArguments fields, plus every key the repair added (which must be a field)."""
    import torch
    from transformers import HfArgumentParser, TrainingArguments

    fields = {f.name for f in dataclasses.fields(TrainingArguments)}
    data = read(path)
    d = {k: v for k, v in data.items() if k in fields or k not in original}
    d.setdefault("output_dir", "/tmp/nandoctor-hf-check")
    if isinstance(d.get("deepspeed"), str) and not Path(d["deepspeed"]).is_file():
        d.pop("deepspeed")  # a path inside the project that trains (LLaMA-Factory's examples/), not here
    if not torch.cuda.is_available():
        d["use_cpu"] = True  # judge the config, not this machine's lack of a GPU
    HfArgumentParser(TrainingArguments).parse_dict(d, allow_extra_keys=False)


def load_accelerate(path: Path, original: dict) -> None:
    from accelerate.commands.config.config_args import load_config_from_file

    load_config_from_file(str(path))


def load_deepspeed(path: Path, original: dict) -> None:
    from deepspeed.runtime.config import DeepSpeedConfig

    def strip(v):  # "auto" is the HF integration's to fill
        return {k: strip(x) for k, x in v.items() if x != "auto"} if isinstance(v, dict) else v

    d = strip(read(path))
    if {"train_micro_batch_size_per_gpu", "gradient_accumulation_steps"} <= set(d):
        d.pop("train_batch_size", None)  # depends on the world size of the machine that trains
    DeepSpeedConfig(d)


def load_lightning(path: Path, original: dict) -> None:
    """The trainer section through jsonargparse with Trainer's signature (what LightningCLI does), and each
    Hydra optimizer block instantiated and called on a parameter."""
    import torch
    from jsonargparse import ArgumentParser
    from lightning.pytorch import Trainer

    data = read(path)
    section = data if "_target_" in data and "Trainer" in str(data["_target_"]) else data.get("trainer", {})
    section = {k: v for k, v in section.items() if not k.startswith("_")}
    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(Trainer, "trainer", fail_untyped=False)
    parser.parse_object({"trainer": section})
    block = (data.get("model") or {}).get("optimizer") if isinstance(data.get("model"), dict) else None
    block = block or data.get("optimizer")
    if isinstance(block, dict) and "_target_" in block:
        from hydra.utils import instantiate

        instantiate(block)([torch.nn.Parameter(torch.zeros(1))])


LOADERS = {
    "ultralytics": load_ultralytics,
    "hf-trainer": load_hf,
    "accelerate": load_accelerate,
    "deepspeed": load_deepspeed,
    "lightning": load_lightning,
}
# What each loader raises on a file it refuses (HfArgumentParser's unused keys, get_cfg's unknown argument,
# accelerate's config check, jsonargparse's unknown option).
REFUSES = {
    "hf-trainer": ValueError,
    "ultralytics": SyntaxError,
    "accelerate": ValueError,
    "lightning": argparse.ArgumentError,
}


@pytest.mark.parametrize("path", configs(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_repaired_file_loads_in_its_framework(path, tmp_path):
    out = tmp_path / f"fixed{path.suffix}"
    report = diagnose_config(path, output=out, find_log=False)
    framework = report.summary["framework"]
    if framework is None or framework not in LOADERS:
        pytest.skip(f"{framework}: no loader to check against")
    pytest.importorskip(NEEDS[framework])
    assert (report.summary["validation"] or {}).get("status") != "rejected", report.summary["validation"]
    original = read(path)
    if not out.exists():
        assert [f for f in report.findings if f.severity.value == "error"] == [] or any(
            f.code in {"ND413", "ND418", "ND419"} for f in report.findings
        )
        try:
            LOADERS[framework](path, original)  # a config left as it is still loads
        except Exception as orig:
            pytest.skip(f"unchanged, and the loader refuses it here: {type(orig).__name__}: {str(orig)[:120]}")
        return
    try:
        LOADERS[framework](out, original)
    except Exception as exc:
        try:
            LOADERS[framework](path, original)
        except Exception as orig:
            pytest.skip(f"the loader refuses the original too: {type(orig).__name__}: {str(orig)[:120]}")
        raise AssertionError(f"{framework} refuses the repaired {path.name}: {exc}") from exc


@pytest.mark.parametrize(
    "framework,text,name",
    [
        ("hf-trainer", "learning_rate: 2.0e-05\nwarmup_ratio: 0.05\n", "hf.yaml"),  # transformers 5: no such key
        ("ultralytics", "lr0: 0.01\nmax_grad_norm: 1.0\n", "u.yaml"),  # not a YOLO argument
        ("accelerate", "compute_environment: LOCAL_MACHINE\nmixed_precision: fp16\nmax_grad_norm: 1.0\n", "a.yaml"),
        ("lightning", "trainer:\n  precision: 16-mixed\n  detect_anomalies: true\n", "l.yaml"),  # misspelt argument
        (
            "lightning",
            "_target_: lightning.pytorch.trainer.Trainer\nmodel:\n  optimizer:\n    _target_: torch.optim.Adam\n"
            "    _partial_: true\n    lr: 0.001\n    max_grad_norm: 1.0\n",
            "h.yaml",
        ),  # the old generic repair
    ],
)
def test_the_loaders_refuse_what_old_repairs_wrote(framework, text, name, tmp_path):
    """The checks above can fail: each loader refuses a file of the kind the old repairs produced."""
    pytest.importorskip(NEEDS[framework])
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(REFUSES[framework]):
        LOADERS[framework](p, {"learning_rate": 1})


def test_a_repair_the_framework_refuses_is_not_written(tmp_path, monkeypatch):
    """With transformers installed its parser refuses the key; without it, the key sets of transformers 5 do."""
    from nandoctor.config import engine
    from nandoctor.config.issues import Issue

    cfg = tmp_path / "args.yaml"
    cfg.write_text("learning_rate: 2.0e-05\nlr_scheduler_type: cosine\nwarmup_steps: 0.1\n")
    bad = Issue(
        "ND405", "warning", ("warmup_ratio",), "a 4.x key", reason="old repair", new=0.05, after="lr_scheduler_type"
    )
    monkeypatch.setattr(engine, "check", lambda framework, ctx: [bad])
    report = engine.diagnose_config(cfg, find_log=False)
    f = next(f for f in report.findings if f.code == "ND420")
    assert f.severity.value == "error" and "warmup_ratio" in f.message
    assert report.summary["output"] is None and sorted(p.name for p in tmp_path.iterdir()) == ["args.yaml"]
