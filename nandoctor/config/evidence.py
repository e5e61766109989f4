"""The run's own log as evidence for a config: where it lies beside the config.

Whether the run went non-finite, how, and the LR that actually ran (Ultralytics `lr/pg0`, which
with `optimizer: auto` differs from lr0; HF `learning_rate`) are analyze-log's judgement: its
summary is used as is, so this module only finds the file.
"""

from __future__ import annotations

from pathlib import Path


def run_log(config: Path) -> Path | None:
    """results.csv beside an Ultralytics args.yaml; trainer_state.json beside an HF config or in the
    newest checkpoint-N/ folder beside it."""
    folder = Path(config).resolve().parent
    for name in ("results.csv", "trainer_state.json"):
        f = folder / name
        if f.is_file():
            return f
    checkpoints = []
    try:
        for d in folder.glob("checkpoint-*"):
            step = d.name.rpartition("-")[2]
            if step.isdigit() and (d / "trainer_state.json").is_file():
                checkpoints.append((int(step), d / "trainer_state.json"))
    except OSError:
        return None
    return max(checkpoints)[1] if checkpoints else None
