"""Find the pieces of a training run folder: log, checkpoints, config, dataset.

Discovery looks only where each framework writes (no recursive walk): a run folder often holds
the dataset itself (hundreds of thousands of files), symlink loops or unreadable folders, and
triage must answer in seconds on all of them. Missing pieces are recorded as notes, not errors.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nandoctor.ckpt.names import CHECKPOINT_SUFFIXES as CKPT_SUFFIXES

YAML_SUFFIXES = (".yaml", ".yml")
_NUM = re.compile(r"(\d+)")
_MAX_YAML_PEEK = 4 * 1024 * 1024  # args.yaml is a few KB; refuse to parse a huge file just to read `data:`


@dataclass
class RunLayout:
    root: Path
    framework: str = "generic"  # ultralytics | hf | lightning | generic
    log: Path | None = None  # the log the links are computed from
    other_logs: list[Path] = field(default_factory=list)
    checkpoints: list[Path] = field(default_factory=list)  # files or folders for inspect-ckpt
    config: Path | None = None  # the config to repair
    other_configs: list[Path] = field(default_factory=list)
    dataset: Path | None = None
    training_args: Path | None = None  # HF training_args.bin (a pickle, read restrictedly)
    units: list[Path] = field(default_factory=list)  # folders resumed as a whole (HF checkpoint-N)
    args: dict[str, Any] = field(default_factory=dict)  # Ultralytics args.yaml, when readable
    notes: list[tuple[str, Path | None]] = field(default_factory=list)  # what is missing, as info

    def is_empty(self) -> bool:
        return not (self.log or self.checkpoints or self.config or self.other_configs or self.training_args)

    def to_dict(self) -> dict[str, Any]:
        s = lambda p: str(p) if p else None  # noqa: E731
        return {
            "framework": self.framework,
            "log": s(self.log),
            "other_logs": [s(p) for p in self.other_logs],
            "checkpoints": [s(p) for p in self.checkpoints],
            "config": s(self.config),
            "other_configs": [s(p) for p in self.other_configs],
            "dataset": s(self.dataset),
            "training_args": s(self.training_args),
        }


def _entries(folder: Path) -> list[os.DirEntry]:
    """A folder's entries, sorted; [] when it is missing or unreadable (never follows a loop)."""
    try:
        with os.scandir(folder) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError:
        return []


def _is_file(e: os.DirEntry) -> bool:
    try:
        return e.is_file()  # follows a symlink to its target; a loop or dangling link is False
    except OSError:
        return False


def _is_dir(e: os.DirEntry) -> bool:
    try:
        return e.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return [Path(e.path) for e in _entries(folder) if _is_file(e) and e.name.lower().endswith(suffixes)]


def _number(name: str) -> int:
    m = _NUM.findall(name)
    return int(m[-1]) if m else -1


def _read_args(path: Path) -> dict[str, Any]:
    """args.yaml as Ultralytics reads it (PyYAML safe_load); {} when it cannot be read."""
    import yaml

    try:
        if path.stat().st_size > _MAX_YAML_PEEK:
            return {}
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _find_dataset(layout: RunLayout) -> None:
    """Resolve args.yaml's `data:` the way a user would expect: as written, then beside the run."""
    data = layout.args.get("data")
    if not isinstance(data, str) or not data.strip():
        return
    written = Path(data)
    candidates = (
        [written]
        if written.is_absolute()
        else [layout.root / written, layout.root.parent / written, Path.cwd() / written]
    )
    for c in candidates:
        try:
            if c.exists():
                layout.dataset = c
                return
        except OSError:
            continue
    layout.notes.append(
        (f"dataset {data!r} named by args.yaml `data:` does not exist here; the labels were not checked", layout.config)
    )


def discover(root: Path) -> RunLayout:
    layout = RunLayout(root=root)
    names = {e.name: e for e in _entries(root)}

    if "args.yaml" in names or "results.csv" in names or ("weights" in names and _is_dir(names["weights"])):
        _ultralytics(layout, names)
    elif any(n.startswith("checkpoint-") for n in names) or "trainer_state.json" in names or _hf_checkpoint(names):
        _hf(layout, names)
    elif "lightning_logs" in names or ("metrics.csv" in names and "hparams.yaml" in names):
        _lightning(layout, names)
    else:
        _generic(layout, names)

    if layout.log is None:
        layout.notes.append(
            (
                "no training log found (results.csv, trainer_state.json, metrics.csv, "
                "training_history.csv): the NaN could not be dated",
                None,
            )
        )
    if not layout.checkpoints:
        layout.notes.append(("no checkpoints found: nothing to resume from", None))
    if layout.config is None and layout.training_args is None:
        layout.notes.append(
            ("no training config found (args.yaml or a *.yaml beside the run): no repaired config written", None)
        )
    return layout


def _ultralytics(layout: RunLayout, names: dict[str, os.DirEntry]) -> None:
    layout.framework = "ultralytics"
    root = layout.root
    if "results.csv" in names and _is_file(names["results.csv"]):
        layout.log = root / "results.csv"
    weights = root / "weights"
    layout.checkpoints = [weights] if _files(weights, CKPT_SUFFIXES) else []
    layout.checkpoints += _files(root, CKPT_SUFFIXES)  # a best.pt copied or downloaded beside results.csv
    if "args.yaml" in names and _is_file(names["args.yaml"]):
        layout.config = root / "args.yaml"
        layout.args = _read_args(layout.config)
        _find_dataset(layout)


HF_MODEL_FILES = (
    "model.safetensors",
    "pytorch_model.bin",
    "adapter_model.safetensors",
    "adapter_model.bin",
    "model.safetensors.index.json",
    "pytorch_model.bin.index.json",
)
HF_STATE_FILES = ("optimizer.pt", "scheduler.pt", "rng_state.pth", "trainer_state.json")


def _hf_checkpoint(names: dict[str, os.DirEntry]) -> bool:
    """A checkpoint-N folder as Trainer writes it (perhaps renamed or copied): model + trainer state."""
    return any(n in names for n in HF_MODEL_FILES) and any(n in names for n in HF_STATE_FILES)


def _hf(layout: RunLayout, names: dict[str, os.DirEntry]) -> None:
    layout.framework = "hf"
    root = layout.root
    ckpts = sorted(
        (root / n for n, e in names.items() if n.startswith("checkpoint-") and _is_dir(e)),
        key=lambda p: _number(p.name),
    )
    if not ckpts and _hf_checkpoint(names):  # RUN_DIR is itself one checkpoint-N folder: one unit
        layout.checkpoints = layout.units = [root]
        layout.training_args = root / "training_args.bin" if "training_args.bin" in names else None
        if "trainer_state.json" in names:
            layout.log = root / "trainer_state.json"
        _configs(layout, root)
        return
    layout.checkpoints = list(ckpts)
    layout.units = list(ckpts)
    # the final model saved by trainer.save_model(); training_args.bin is configuration, read apart
    layout.checkpoints += [p for p in _files(root, (".safetensors", ".bin")) if p.name != "training_args.bin"]
    bins = [root / "training_args.bin"] + [c / "training_args.bin" for c in reversed(ckpts)]
    layout.training_args = next((b for b in bins if b.is_file()), None)
    states = [root / "trainer_state.json"] if "trainer_state.json" in names else []
    states += [c / "trainer_state.json" for c in reversed(ckpts) if (c / "trainer_state.json").is_file()]
    if states:
        layout.log, layout.other_logs = states[0], states[1:]
    _configs(layout, root)


def _lightning(layout: RunLayout, names: dict[str, os.DirEntry]) -> None:
    layout.framework = "lightning"
    root = layout.root
    versions = sorted(
        (Path(e.path) for e in _entries(root / "lightning_logs") if _is_dir(e) and e.name.startswith("version_")),
        key=lambda p: _number(p.name),
    )
    if not versions and "metrics.csv" in names:  # RUN_DIR is itself a version_N folder
        versions = [root]
    logs = [v / "metrics.csv" for v in reversed(versions) if (v / "metrics.csv").is_file()]
    if logs:
        layout.log, layout.other_logs = logs[0], logs[1:]
    for folder in [*(v / "checkpoints" for v in versions), root / "checkpoints"]:
        if _files(folder, CKPT_SUFFIXES):
            layout.checkpoints.append(folder)
    _configs(layout, root)
    if layout.config is None:
        hparams = [v / "hparams.yaml" for v in reversed(versions) if (v / "hparams.yaml").is_file()]
        if hparams:
            layout.config, layout.other_configs = hparams[0], hparams[1:]


def _generic(layout: RunLayout, names: dict[str, os.DirEntry]) -> None:
    root = layout.root
    logs = [root / d / "training_history.csv" for d in ("", "logs") if (root / d / "training_history.csv").is_file()]
    logs += [p for d in ("", "logs") for p in _files(root / d, (".log",))]
    if logs:
        layout.log, layout.other_logs = logs[0], logs[1:]
    layout.checkpoints = _files(root, CKPT_SUFFIXES)
    for sub in ("checkpoints", "weights", "ckpt"):
        if sub in names and _is_dir(names[sub]) and _files(root / sub, CKPT_SUFFIXES):
            layout.checkpoints.append(root / sub)
    _configs(layout, root)


def _configs(layout: RunLayout, root: Path) -> None:
    """Top-level YAML (and DeepSpeed JSON) configs; our own *_fixed outputs are never inputs."""
    found = [p for p in _files(root, YAML_SUFFIXES) if not p.stem.endswith("_fixed")]
    found += [p for p in _files(root, (".json",)) if p.name.startswith("ds_config")]
    preferred = sorted(found, key=lambda p: (not any(k in p.name.lower() for k in ("train", "config", "args")), p.name))
    if preferred and layout.config is None:
        layout.config, layout.other_configs = preferred[0], preferred[1:]
