"""The numbered "what to do now" of a triage report, with command lines for the run's framework.

Follows the field notes' emergency guide: save the scene, fix the data, then resume from the clean
checkpoint with the repaired settings, or restart with them when no clean checkpoint exists.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from nandoctor.findings import Report, Severity
from nandoctor.rules.recipes import backup_command
from nandoctor.triage_discover import RunLayout


def _q(path: str | Path) -> str:
    return shlex.quote(str(path))


def next_steps(report: Report, layout: RunLayout) -> list[str]:
    s = report.summary
    steps: list[str] = []
    rec, restart, fixed = s.get("recommended"), s.get("restart_weights"), s.get("fixed_config")
    axis = s.get("index_name") or "epoch"

    bad = [c["path"] for c in s.get("checkpoints", []) if c["verdict"] in ("poisoned", "after-nonfinite")]
    if bad:
        backup = layout.root / "nan_backup"
        why = " (last.pt is rewritten by the next run)" if layout.framework == "ultralytics" else ""
        steps.append(f"Keep a copy of the {len(bad)} poisoned or distrusted checkpoint(s) as evidence before "
                     f"anything overwrites them{why}: "
                     f"{backup_command(bad, backup)}")

    data_errors = [f for f in report.findings if f.code.startswith("ND1") and f.severity is Severity.ERROR]
    if data_errors and layout.dataset is not None:
        steps.append(f"Fix the {len(data_errors)} data error(s) listed above (file and line) before training "
                     f"again; recheck with: nandoctor check-data {_q(layout.dataset)}")

    if fixed:
        kept = s.get("fixed_config_status") == "kept"
        runs = (s.get("engines") or {}).get("diagnose-config") or [{"path": "the config"}]
        source = Path(str(runs[-1]["path"])).name
        steps.append(f"Review the repaired config {fixed}"
                     + (" (it already existed and was kept; rerun triage with --force to regenerate it)"
                        if kept else f" (written from {source}"
                        + ("; each change is commented `# nandoctor:`)" if fixed.endswith((".yaml", ".yml")) else ")")))

    if rec:
        steps += _resume(layout.framework, rec, fixed, s, axis)
    elif restart:
        steps += _restart(layout.framework, fixed, restart)
    elif s.get("checkpoints") or s.get("first_nonfinite"):
        steps += _restart(layout.framework, fixed, None)
    if s.get("first_nonfinite") and layout.log is not None:
        steps.append(f"Watch the new run's first {axis}s and re-run: nandoctor analyze-log {_q(layout.log)}")
    return steps


def _resume(framework: str, ckpt: str, fixed: str | None, s: dict, axis: str) -> list[str]:
    where = next((c for c in s.get("checkpoints", []) if c["path"] == ckpt), {})
    held = f"{axis} {where.get('log_index')}" if where.get("log_index") is not None else "its state"
    if framework == "ultralytics":
        cfg = f" cfg={_q(fixed)}" if fixed else ""
        py_cfg = f"cfg={fixed!r}" if fixed else ""
        return [
            f"Continue from {Path(ckpt).name} (the newest clean checkpoint; it holds {held}) with the repaired "
            f"settings, as a new run started from its weights: yolo train{cfg} model={_q(ckpt)}  "
            f"(Python: from ultralytics import YOLO; YOLO({ckpt!r}).train({py_cfg}))",
            f"Or resume it exactly, optimizer state and old settings included (Ultralytics' resume restores "
            f"the arguments that led to NaN): yolo train resume model={_q(ckpt)}  "
            f"(Python: YOLO({ckpt!r}).train(resume=True))",
        ]
    name = Path(ckpt).name
    head = f"Continue from {name} (the newest clean checkpoint; it holds {held})"
    if framework == "hf":
        args = (f"TrainingArguments(**yaml.safe_load(open({fixed!r})))" if fixed
                else "TrainingArguments(..., learning_rate=<lower>, max_grad_norm=1.0)")
        return [
            f"{head} with the repaired settings, as a new run from its weights: "
            f"model = <YourModelClass>.from_pretrained({ckpt!r}); Trainer(model=model, args={args}, ...).train()",
            f"Or resume it exactly (optimizer.pt and scheduler.pt bring back the old learning rate): "
            f"trainer.train(resume_from_checkpoint={ckpt!r})",
        ]
    if framework == "lightning":
        cfg = f" with the settings from {fixed}" if fixed else " with a lower learning rate and gradient_clip_val=1.0"
        return [
            f"{head}{cfg}, as a new run from its weights: model = MyModule.load_from_checkpoint({ckpt!r}, "
            "lr=<new lr>); trainer.fit(model, datamodule=dm)",
            f"Or resume it exactly (the saved optimizer state keeps the old learning rate): "
            f"trainer.fit(model, datamodule=dm, ckpt_path={ckpt!r})",
        ]
    lr = f" (new settings: {fixed})" if fixed else ""
    return [f"{head}: ckpt = torch.load({ckpt!r}, map_location='cpu', weights_only=True); "
            "model.load_state_dict(ckpt['model_state_dict']); optimizer.load_state_dict(ckpt['optimizer_state_dict']); "
            f"then set the lower learning rate, which the loaded state overrides: "
            f"for g in optimizer.param_groups: g['lr'] = <new lr>{lr}"]


def _restart(framework: str, fixed: str | None, weights: str | None) -> list[str]:
    start = f" from the clean weights in {Path(weights).name}" if weights else ""
    if framework == "ultralytics":
        cfg = f" cfg={_q(fixed)}" if fixed else ""
        model = f" model={_q(weights)}" if weights else ""
        py = f"YOLO({weights!r})" if weights else "YOLO('<model>.pt')"
        py_cfg = f"cfg={fixed!r}" if fixed else ""
        return [f"No clean checkpoint to resume from: restart{start} with the repaired settings: "
                f"yolo train{cfg}{model}  (Python: from ultralytics import YOLO; {py}.train({py_cfg}))"]
    what = f" using {fixed}" if fixed else " with a lower learning rate, gradient clipping and AMP off"
    return [f"No clean checkpoint to resume from: restart{start}{what}."]
