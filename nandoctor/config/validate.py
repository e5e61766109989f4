"""Load the repaired file the way its framework does, before it is written.

Only when the framework is importable here (nandoctor never depends on one): Ultralytics get_cfg
(check_dict_alignment + check_cfg), HfArgumentParser(TrainingArguments), accelerate's
load_config_from_file, DeepSpeedConfig, Lightning's Trainer signature and precision parser, and a
signature check of each touched Hydra `_target_`. Loaders also judge the machine (bf16 on a CPU,
a world size, "auto" values the HF integration fills in), so a refusal counts against the repair
only when the original file loads and the repaired one does not.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import sys
import tempfile
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Callable

from nandoctor.config.versions import hf_has_warmup_ratio, version_of
from nandoctor.config.write import read_back

HYDRA_KEYS = {"_target_", "_partial_", "_recursive_", "_convert_", "_args_"}
NEEDS = {
    "ultralytics": "ultralytics",
    "hf-trainer": "transformers",
    "accelerate": "accelerate",
    "deepspeed": "deepspeed",
    "lightning": "lightning",
}


@dataclass
class Verdict:
    status: str  # "accepted", "rejected", "not checked"
    message: str


def _installed(module: str) -> bool:
    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def validate(framework: str, original: Any, repaired: Any, text: str, suffix: str, touched: list[tuple]) -> Verdict:
    if framework == "axolotl":  # its own loader is not called (it reads the base model's config); key sets instead
        return _key_sets(framework, "axolotl", original, repaired, touched)
    module = NEEDS.get(framework)
    if module is None:
        return Verdict("not checked", f"no loader for {framework} configs")
    if not _installed(module):
        return _key_sets(framework, module, original, repaired, touched)
    named, here = version_of(module, _Data(original)), version_of(module)
    if named.source == "named in the file" and named.tuple[:1] != here.tuple[:1]:
        verdict = _key_sets(framework, module, original, repaired, touched)
        verdict.message += f" (the installed {here.version} is not the release this file is written for)"
        return verdict
    check = CHECKS[framework]
    with _quiet():
        try:
            check(repaired, text, suffix, touched)
        except Exception as exc:  # the framework's own refusal, whatever its type
            reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"[:300]
            try:
                check(original, None, suffix, touched)
            except Exception:
                return Verdict(
                    "accepted",
                    f"{module} refuses the original file on this machine too ({reason}); not caused by the repair",
                )
            return Verdict("rejected", f"{module} {version_of(module).version} refuses the repaired file: {reason}")
    return Verdict("accepted", f"loaded by {module} {version_of(module).version}")


@contextlib.contextmanager
def _quiet():
    """Frameworks log to the process's stdout/stderr (Ultralytics' handler holds the original stream), which
    would break `--format json`: silence file descriptors 1 and 2 while they load the file."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = []
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        for fd in (1, 2):
            saved.append((fd, os.dup(fd)))
            os.dup2(null, fd)
        os.close(null)
    except OSError:  # no real descriptors (an embedding host): fall back to Python-level redirection
        saved = []
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            yield
        finally:
            for fd, old in saved:
                try:
                    os.dup2(old, fd)
                finally:
                    os.close(old)


# Keys a repair may add, per framework, from the documented current releases (versions.DOCUMENTED):
# what the framework's loader accepts there. Used only when the framework is not installed.
ADDABLE = {
    "hf-trainer": {"bf16", "max_grad_norm", "warmup_steps"},  # TrainingArguments, transformers 5.x
    "deepspeed": {"gradient_clipping", "bf16"},  # DeepSpeedConfig top-level keys
    "lightning": {"gradient_clip_val"},  # Trainer.__init__ arguments
    "axolotl": {"bf16", "warmup_ratio"},  # AxolotlInputConfig fields
    "accelerate": set(),
    "ultralytics": set(),
}  # only existing keys are changed


class _Data:
    """Doc.get over plain loaded data (what versions.version_of and trainer_path read)."""

    def __init__(self, data: Any):
        self.data = data

    def get(self, path: tuple, default: Any = None) -> Any:
        v: Any = self.data
        for p in path:
            v = v.get(p) if isinstance(v, dict) else None
        return default if v is None else v


def _key_sets(framework: str, module: str, original: Any, repaired: Any, touched) -> Verdict:
    v = version_of(module, _Data(original))
    added = [p for p in touched if not read_back(original, p)[0]]
    allowed = set(ADDABLE.get(framework, set()))
    if framework == "hf-trainer" and hf_has_warmup_ratio(v):
        allowed.add("warmup_ratio")  # transformers 4.x
    bad = [".".join(map(str, p)) for p in added if str(p[-1]) not in allowed]
    if bad:
        return Verdict("rejected", f"against the key sets of {v}, {', '.join(bad)} is not a key it accepts")
    return Verdict("not checked", f"added keys checked against the key sets of {v}")


def _ultralytics(data: dict, text, suffix, touched) -> None:
    from ultralytics.cfg import DEFAULT_CFG_DICT, get_cfg

    get_cfg(DEFAULT_CFG_DICT, overrides=dict(data))  # what the trainer does: aligned against default.yaml


def _hf(data: dict, text, suffix, touched) -> None:
    """Keys that are TrainingArguments fields, plus every key the repair wrote (an unknown one must fail)."""
    import dataclasses

    from transformers import HfArgumentParser, TrainingArguments

    fields = {f.name for f in dataclasses.fields(TrainingArguments)}
    wrote = {p[0] for p in touched if len(p) == 1}
    d = {k: v for k, v in data.items() if k in fields or k in wrote}
    d.setdefault("output_dir", tempfile.gettempdir())
    if isinstance(d.get("deepspeed"), str) and not Path(d["deepspeed"]).is_file():
        d.pop("deepspeed")  # a path in the project that trains (LLaMA-Factory's examples/), not on this machine
    if not _cuda():
        d["use_cpu"] = True  # judge the config, not this machine's lack of a GPU
    HfArgumentParser(TrainingArguments).parse_dict(d, allow_extra_keys=False)


def _cuda() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:
        return False


def _accelerate(data: dict, text, suffix, touched) -> None:
    import yaml
    from accelerate.commands.config.config_args import load_config_from_file

    fd, tmp = tempfile.mkstemp(suffix=suffix if suffix in {".json", ".yaml", ".yml"} else ".yaml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(
                yaml.safe_dump(data)
                if text is None or suffix not in {".json", ".yaml", ".yml"}
                else (text[1:] if text.startswith("\ufeff") else text)
            )
        load_config_from_file(tmp)
    finally:
        os.unlink(tmp)


def _deepspeed(data: dict, text, suffix, touched) -> None:
    """ "auto" values are the HF integration's to fill, and train_batch_size depends on the world size of
    the machine that trains: both are left to DeepSpeed's own defaults here."""
    from deepspeed.runtime.config import DeepSpeedConfig

    def strip(v):
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if x != "auto"}
        return v

    d = strip(data)
    if {"train_micro_batch_size_per_gpu", "gradient_accumulation_steps"} <= set(d):
        d.pop("train_batch_size", None)
    DeepSpeedConfig(d)


def _lightning(data: dict, text, suffix, touched) -> None:
    from lightning.fabric.connector import _convert_precision_to_unified_args
    from lightning.pytorch import Trainer

    from nandoctor.config.frameworks.lightning import trainer_path

    t = trainer_path(_Data(data))
    section = data if t == () else data.get("trainer") or {}
    params = inspect.signature(Trainer.__init__).parameters
    unknown = [k for k in section if k not in params and k not in HYDRA_KEYS]
    if unknown:
        raise TypeError(f"Trainer.__init__() got unexpected keyword argument(s) {', '.join(map(str, unknown))}")
    if section.get("precision") is not None:
        _convert_precision_to_unified_args(section["precision"])
    if _installed("jsonargparse"):  # LightningCLI's parser: each value against Trainer's type hints
        from jsonargparse import ArgumentParser

        parser = ArgumentParser(exit_on_error=False)
        parser.add_class_arguments(Trainer, "trainer", fail_untyped=False)
        parser.parse_object({"trainer": {k: v for k, v in section.items() if k not in HYDRA_KEYS}})
    _hydra_targets(data, touched)


def _hydra_targets(data: dict, touched) -> None:
    """Each `_target_` block holding a touched key: its keys must bind to the target's signature."""
    if not _installed("hydra"):
        return
    from hydra.utils import get_object

    for path in touched:
        for i in range(len(path) - 1, -1, -1):
            block: Any = data
            for p in path[:i]:
                block = block.get(p) if isinstance(block, dict) else None
            if isinstance(block, dict) and "_target_" in block:
                try:
                    target = get_object(str(block["_target_"]))
                except Exception:
                    break  # the user's own class, not importable here: nothing to check against
                kwargs = {k: v for k, v in block.items() if k not in HYDRA_KEYS}
                sig = inspect.signature(target)
                sig.bind_partial(**kwargs)
                break


CHECKS: dict[str, Callable] = {
    "ultralytics": _ultralytics,
    "hf-trainer": _hf,
    "accelerate": _accelerate,
    "deepspeed": _deepspeed,
    "lightning": _lightning,
}
