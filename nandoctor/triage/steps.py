"""The numbered "what to do now" of a triage report, with command lines for the run's framework.

Follows the emergency guide: save the scene, fix the data, then resume from the clean
checkpoint with the repaired settings, or restart with them when no clean checkpoint exists.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from nandoctor.catalogue.recipes import backup_command
from nandoctor.findings import Report, Severity
from nandoctor.triage.discover import RunLayout


def _q(path: str | Path) -> str:
    return shlex.quote(str(path))


def next_steps(report: Report, layout: RunLayout) -> list[str]:
    s = report.summary
    steps: list[str] = []
    rec, restart, fixed = s.get("recommended"), s.get("restart_weights"), s.get("fixed_config")
    axis = s.get("index_name") or "epoch"

    bad = [
        c["path"]
        for c in s.get("checkpoints", [])
        if c["verdict"] in ("poisoned", "after-nonfinite", "after-divergence")
    ]
    if bad:
        backup = layout.root / "nan_backup"
        why = " (last.pt is rewritten by the next run)" if layout.framework == "ultralytics" else ""
        steps.append(
            f"Keep a copy of the {len(bad)} poisoned or distrusted checkpoint(s) as evidence before "
            f"anything overwrites them{why}: "
            f"{backup_command(bad, backup)}"
        )

    data_errors = [f for f in report.findings if f.code.startswith("ND1") and f.severity is Severity.ERROR]
    if data_errors and layout.dataset is not None:
        steps.append(
            f"Fix the {len(data_errors)} data error(s) listed above (file and line) before training "
            f"again; recheck with: nandoctor check-data {_q(layout.dataset)}"
        )

    if fixed:
        kept = s.get("fixed_config_status") == "kept"
        runs = (s.get("engines") or {}).get("diagnose-config") or [{"path": "the config"}]
        source = Path(str(runs[-1]["path"])).name
        steps.append(
            f"Review the repaired config {fixed}"
            + (
                " (it already existed and was kept; rerun triage with --force to regenerate it)"
                if kept
                else f" (written from {source}"
                + ("; each change is commented `# nandoctor:`)" if fixed.endswith((".yaml", ".yml")) else ")")
            )
        )

    from nandoctor.catalogue.lr_policy import triage_lr_step  # the one LR policy's number, as the engines printed it

    written = fixed if s.get("fixed_config_status") != "kept" else None  # a kept file may hold another lr
    if (lr := triage_lr_step(s.get("engines"), layout.framework, written)) is not None:
        steps.append(lr)

    broke = bool(
        s.get("first_nonfinite")
        or s.get("diverged_at") is not None
        or s.get("finished") is False
        or any(c["verdict"] in ("poisoned", "after-nonfinite", "after-divergence") for c in s.get("checkpoints", []))
    )
    if not broke:
        if rec or restart:  # nothing to recover: name the checkpoint, print no command
            steps.append(f"No non-finite value or divergence found; the newest clean checkpoint is {rec or restart}.")
        return steps
    if rec:
        steps += _resume(layout, rec, fixed, s, axis)
    elif restart:
        steps += _restart(layout, fixed, restart)
    elif s.get("checkpoints") or s.get("first_nonfinite"):
        steps += _restart(layout, fixed, None)
    if (s.get("first_nonfinite") or s.get("diverged_at") is not None) and layout.log is not None:
        steps.append(f"Watch the new run's first {axis}s and re-run: nandoctor analyze-log {_q(layout.log)}")
    return steps


def _yolo_new_run(layout: RunLayout, fixed: str | None, weights: str | None) -> str:
    """A `yolo train` line that writes a new run folder and loads `weights`: the repaired config
    names them itself (fixed.py); without one, they are given on the command line."""
    from nandoctor.triage.fixed import new_run_folder, safe_to_paste

    if fixed and safe_to_paste(Path(fixed), weights):
        return f"yolo train cfg={_q(fixed)}"
    target = new_run_folder(layout)  # no repaired file, or a kept one that still names the old folder
    data = layout.args.get("data")
    model = f" model={_q(weights)} pretrained={_q(weights)}" if weights else " model=<model>.pt"
    return (
        f"yolo train{model} data={_q(data) if isinstance(data, str) else '<data.yaml>'} "
        f"project={_q(target.parent)} name={_q(target.name)} exist_ok=False"
    )


def _resume(layout: RunLayout, ckpt: str, fixed: str | None, s: dict[str, Any], axis: str) -> list[str]:
    framework = layout.framework
    where: dict[str, Any] = next((c for c in s.get("checkpoints", []) if c["path"] == ckpt), {})
    held = f"{axis} {where.get('log_index')}" if where.get("log_index") is not None else "its state"
    if framework == "ultralytics":
        # Ultralytics' own resume continues in the old folder with the arguments that led to NaN and
        # refuses a finished run, so the way on is a new run started from the clean weights
        return [
            f"Continue from {Path(ckpt).name} (the newest clean checkpoint; it holds {held}) with the repaired "
            f"settings, as a new run in a new folder started from its weights: {_yolo_new_run(layout, fixed, ckpt)}"
        ]
    name = Path(ckpt).name
    head = f"Continue from {name} (the newest clean checkpoint; it holds {held})"
    if framework == "hf":
        return [
            f"{head} with the repaired settings, as a new run from its weights: {_hf_new_run(fixed, ckpt)}",
            f"Or resume it exactly (optimizer.pt and scheduler.pt bring back the old learning rate): "
            f"trainer.train(resume_from_checkpoint={ckpt!r})",
        ]
    if framework == "lightning":
        return [
            f"{head} with the repaired settings, as a new run from its weights: {_lightning_new_run(layout, fixed, ckpt)}",
            f"Or resume it exactly with your Trainer (the saved optimizer state keeps the old learning rate): "
            f"trainer.fit(model, datamodule=dm, ckpt_path={ckpt!r})",
        ]
    lr = f" (new settings: {fixed})" if fixed else ""
    return [
        f"{head}: ckpt = torch.load({ckpt!r}, map_location='cpu', weights_only=True); "
        "model.load_state_dict(ckpt['model_state_dict']); optimizer.load_state_dict(ckpt['optimizer_state_dict']); "
        f"then set the lower learning rate, which the loaded state overrides: "
        f"for g in optimizer.param_groups: g['lr'] = <new lr>{lr}"
    ]


def _hf_new_run(fixed: str | None, weights: str) -> str:
    """from_pretrained needs the folder (config.json beside the weights), not the weights file."""
    folder = str(Path(weights).parent) if Path(weights).suffix in (".safetensors", ".bin") else weights
    args = (
        f"TrainingArguments(**yaml.safe_load(open({fixed!r})))"
        if fixed
        else "TrainingArguments(output_dir=<a new folder>, learning_rate=<lower>, max_grad_norm=1.0)"
    )
    return (
        f"model = <YourModelClass>.from_pretrained({folder!r}); "
        f"Trainer(model=model, args={args}, train_dataset=<your dataset>).train()"
    )


def _lightning_new_run(layout: RunLayout, fixed: str | None, weights: str) -> str:
    """load_from_checkpoint with the repaired hyper-parameters the module takes (those in the run's
    hparams.yaml); clipping goes to the Trainer, which owns it; a new default_root_dir."""
    from nandoctor.triage.discover import _read_args
    from nandoctor.triage.fixed import new_run_folder

    repaired = _read_args(Path(fixed)) if fixed else {}
    saved = _read_args(layout.config) if layout.config is not None else {}
    kwargs = "".join(f", {k}={v!r}" for k, v in repaired.items() if k in saved and v != saved[k])
    clip = repaired.get("gradient_clip_val", repaired.get("max_grad_norm"))
    trainer = [f"default_root_dir={str(new_run_folder(layout))!r}"]
    if isinstance(clip, (int, float)) and not isinstance(clip, bool):
        trainer.insert(0, f"gradient_clip_val={clip!r}")
    return (
        f"model = MyModule.load_from_checkpoint({weights!r}{kwargs}); "
        f"trainer = L.Trainer({', '.join(trainer)}); trainer.fit(model, datamodule=dm)"
    )


def _restart(layout: RunLayout, fixed: str | None, weights: str | None) -> list[str]:
    framework = layout.framework
    start = f" from the clean weights in {Path(weights).name}" if weights else ""
    if framework == "ultralytics":
        return [
            f"No clean checkpoint to resume from: restart{start} with the repaired settings, in a new "
            f"folder: {_yolo_new_run(layout, fixed, weights)}"
        ]
    if weights and framework == "hf":
        return [f"No clean checkpoint to resume from: start a new run{start}: {_hf_new_run(fixed, weights)}"]
    if weights and framework == "lightning":
        return [
            f"No clean checkpoint to resume from: start a new run{start}: {_lightning_new_run(layout, fixed, weights)}"
        ]
    what = f" using {fixed}" if fixed else " with a lower learning rate, gradient clipping and AMP off"
    return [f"No clean checkpoint to resume from: restart{start}{what}."]
