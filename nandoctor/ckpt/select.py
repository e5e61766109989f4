"""Order checkpoints by training progress and pick the one to resume from: the one checkpoint-choice
policy (inspect-ckpt's recommendation here, triage's choice among the checkpoints it trusts).

Progress = stored epoch (Ultralytics' stripped files say -1: use the length of their train_results),
then step, then the name preference on ties (names.name_rank: epochN.pt over last.pt over best.pt),
then mtime, then the path (so the choice never depends on listing order).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from nandoctor.ckpt.names import epoch_in_name, name_rank

T = TypeVar("T")


def progress(position: Sequence[int | None], path: str, mtime: float = 0.0) -> tuple:
    """Sort key: the point of training (unknown parts sort first), then the name preference."""
    return (*(p if p is not None else -1 for p in position), name_rank(Path(path).name), mtime, path)


def progress_key(entry: dict[str, Any]) -> tuple:
    """progress() of an inspect-ckpt summary entry."""
    return progress((entry.get("order_epoch"), entry.get("step")), entry["path"], entry.get("mtime", 0.0))


def order_epoch(epoch: Any, top: dict, filename: str) -> int | None:
    """The epoch to order by: stored epoch when >= 0, else from train_results, else from epochN in the name."""
    if isinstance(epoch, int) and not isinstance(epoch, bool) and epoch >= 0:
        return epoch
    results = top.get("train_results") if isinstance(top, dict) else None
    if isinstance(results, dict) and isinstance(results.get("epoch"), list) and results["epoch"]:
        return len(results["epoch"]) - 1  # 0-based like Ultralytics' own epoch
    return epoch_in_name(filename)


def choose(
    candidates: Iterable[T], key: Callable[[T], tuple], resumable: Callable[[T], bool]
) -> tuple[T | None, T | None]:
    """(newest resumable, newest of all) among checkpoints already judged trustworthy, by `key`
    (progress()). Resume from the first; without one, start a new run from the second's weights."""
    pool = sorted(candidates, key=key, reverse=True)
    return next((c for c in pool if resumable(c)), None), (pool[0] if pool else None)


def _resumable(entry: dict[str, Any]) -> bool:
    return bool(entry["resumable"])


def recommend(entries: list[dict[str, Any]]) -> tuple[dict | None, str]:
    """(entry, why): newest clean resumable, else newest clean (saying it has no optimizer state).
    Only model checkpoints qualify: rng_state.pth or a lone optimizer.pt holds nothing to resume."""
    clean = [
        e
        for e in entries
        if e["status"] == "clean" and e["tensors"] and e.get("role") == "model" and e.get("pickle") != "unknown"
    ]
    picked = choose(clean, progress_key, _resumable)  # unpacked apart: mypy would widen T to dict | None
    best, newest = picked
    if best is not None:
        return best, "newest clean checkpoint with optimizer state"
    if newest is not None:
        return newest, "newest clean checkpoint, but it carries no optimizer state: fine-tune from its weights"
    return None, "no clean checkpoint"
