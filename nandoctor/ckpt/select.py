"""Order checkpoints by training progress and pick the one to resume from.

Progress = stored epoch (Ultralytics' stripped files say -1: use the length of their train_results),
then step, then a name preference on ties (epochN.pt over last.pt over best.pt: an epoch file is
exactly where training stood, best.pt is a copy chosen by fitness), then mtime.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

EPOCH_FILE = re.compile(r"epoch[_-]?(\d+)", re.IGNORECASE)


def progress_key(entry: dict[str, Any]) -> tuple:
    epoch = entry.get("order_epoch")
    step = entry.get("step")
    name = Path(entry["path"]).name
    pref = 2 if EPOCH_FILE.search(name) else 1 if name.startswith("last") else 0
    return (epoch if epoch is not None else -1, step if step is not None else -1, pref, entry.get("mtime", 0.0))


def order_epoch(epoch: Any, top: dict, filename: str) -> int | None:
    """The epoch to order by: stored epoch when >= 0, else from train_results, else from epochN in the name."""
    if isinstance(epoch, int) and not isinstance(epoch, bool) and epoch >= 0:
        return epoch
    results = top.get("train_results") if isinstance(top, dict) else None
    if isinstance(results, dict) and isinstance(results.get("epoch"), list) and results["epoch"]:
        return len(results["epoch"]) - 1  # 0-based like Ultralytics' own epoch
    m = EPOCH_FILE.search(filename)
    return int(m.group(1)) if m else None


def recommend(entries: list[dict[str, Any]]) -> tuple[dict | None, str]:
    """(entry, why): newest clean resumable, else newest clean (saying it has no optimizer state).
    Only model checkpoints qualify: rng_state.pth or a lone optimizer.pt holds nothing to resume."""
    clean = sorted((e for e in entries if e["status"] == "clean" and e["tensors"] and e.get("role") == "model"
                    and e.get("pickle") != "unknown"),
                   key=progress_key, reverse=True)
    resumable = [e for e in clean if e["resumable"]]
    if resumable:
        return resumable[0], "newest clean checkpoint with optimizer state"
    if clean:
        return clean[0], "newest clean checkpoint, but it carries no optimizer state: fine-tune from its weights"
    return None, "no clean checkpoint"
