"""Make triage's repaired config safe to paste: a new run folder, the recommended weights loaded.

diagnose-config repairs the training settings; a repaired file used as-is would still name the old
run's folder. An Ultralytics args.yaml keeps `save_dir`, which wins over `project`/`name`, so the
new run would write into the old folder (deleting results.csv, overwriting every epochN.pt, the
recommended one included); `pretrained: false` would discard the checkpoint's weights. An HF
TrainingArguments keeps `output_dir`, so the new run's checkpoint-N folders would overwrite the
old ones. Only triage knows the recommended checkpoint, so triage makes these edits, line by line
(the `# nandoctor:` comments diagnose-config wrote stay), and rewrites the file atomically.
"""

from __future__ import annotations

import re
from pathlib import Path

from nandoctor.safe_write import write_atomic
from nandoctor.triage.discover import RunLayout

_KEY = re.compile(r"^([A-Za-z_][\w.-]*):(.*)$")


def new_run_folder(layout: RunLayout) -> Path:
    """A sibling of the run folder that does not exist yet: RUN_nandoctor, RUN_nandoctor2, ..."""
    base = layout.root.parent / f"{layout.root.name}_nandoctor"
    candidate, i = base, 1
    while candidate.exists():
        i += 1
        candidate = base.with_name(f"{base.name}{i}")
    return candidate


def _yaml_scalar(value: object) -> str:
    import yaml

    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def _edit(text: str, set_keys: dict[str, object], drop: set[str]) -> str:
    """Top-level `key: value` lines replaced, dropped or appended; other lines kept as written."""
    out, seen = [], set()
    for line in text.splitlines():
        m = _KEY.match(line)
        if m is None:
            out.append(line)
            continue
        key = m.group(1)
        if key in drop:
            out.append(f"# nandoctor: {key} removed (it pointed at the old run's folder)")
            continue
        if key in set_keys:
            seen.add(key)
            old = m.group(2).split("#", 1)[0].strip()
            new = _yaml_scalar(set_keys[key])
            out.append(
                f"{key}: {new}"
                + (f"  # nandoctor: {old} -> {new}, a new run folder / the clean weights" if old != new else "")
            )
            continue
        out.append(line)
    out += [f"{k}: {_yaml_scalar(v)}  # nandoctor: added" for k, v in set_keys.items() if k not in seen]
    return "\n".join(out) + "\n"


def make_safe_to_paste(path: Path, layout: RunLayout, weights: str | None) -> None:
    """Edit triage's freshly written repaired config (never a user's file, never a kept one)."""
    if path.suffix not in (".yaml", ".yml") or not path.is_file():
        return
    target = new_run_folder(layout)
    if layout.framework == "ultralytics":
        keys: dict[str, object] = {
            "project": str(target.parent),
            "name": target.name,
            "exist_ok": False,
            "resume": False,
        }
        if weights:
            keys.update(model=str(weights), pretrained=str(weights))
        text = _edit(path.read_text(encoding="utf-8"), keys, drop={"save_dir"})
    elif layout.framework == "hf" and path.name == "training_args_fixed.yaml":
        import yaml

        text = path.read_text(encoding="utf-8")
        keys = {"output_dir": str(target), "resume_from_checkpoint": None}
        try:
            doc = yaml.safe_load(text) or {}
        except yaml.YAMLError:
            doc = {}
        steps, warm = doc.get("max_steps"), doc.get("warmup_steps")
        if (
            isinstance(steps, int) and isinstance(warm, int) and steps > 0 and warm >= 1 and warm >= steps // 2
        ):  # a warmup as long as the run never reaches the repaired LR
            keys["warmup_steps"] = max(1, round(0.05 * steps))
        text = _edit(text, keys, drop={"logging_dir"})
    else:
        return
    write_atomic(path, text, force=True, what="repaired config")  # the shared atomic writer


def safe_to_paste(path: Path, weights: str | None) -> bool:
    """Is a repaired Ultralytics config (perhaps one kept from an earlier triage) safe to train with:
    no `save_dir`, no resume, and the weights it loads are the recommended ones?"""
    from nandoctor.triage.discover import _read_args

    doc = _read_args(path)
    if not doc or "save_dir" in doc or doc.get("resume") not in (None, False) or doc.get("exist_ok") is not False:
        return False
    return weights is None or (doc.get("model") == str(weights) and doc.get("pretrained") == str(weights))
