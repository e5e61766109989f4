"""Place checkpoints on the log's timeline and decide which to trust: the rules triage is for.

Pure functions over the engines' summaries (their contract), so every off-by-one here is tested
directly: Ultralytics epochN.pt counts from 0 while results.csv counts from 1, HF checkpoint-N is
step N, Lightning's metrics.csv logs global_step - 1 but both count epochs from 0.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nandoctor.findings import Report
from nandoctor.triage_discover import RunLayout

BAD = {"poisoned", "unsafe", "unreadable"}
_RANK = {"clean": 0, "suspect": 1, "unknown": 1, "poisoned": 2, "unsafe": 3, "unreadable": 4}
_EPOCH_IN_NAME = re.compile(r"epoch[=_-]?(\d+)", re.I)
_STEP_IN_NAME = re.compile(r"(?:step[=_-]?|checkpoint-)(\d+)", re.I)


@dataclass
class Checkpoint:
    """One resumable unit (a file, or an HF checkpoint-N folder) placed on the log's axis."""

    path: str
    status: str
    epoch: int | None      # as stored (Ultralytics: 0-based)
    step: int | None
    resumable: bool
    log_index: int | None  # the log epoch/step whose end state it holds, in the log's own numbering
    verdict: str = ""      # recommended | trusted | after-nonfinite | poisoned | undated | ...


def index_of(value: Any) -> int | None:
    """An index from the logs engine's summary (a dict with `index`, or the number itself)."""
    if isinstance(value, dict):
        value = value.get("index")
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an epoch written as inf or 1e400
        return None


def first_logged_epoch(path: Path) -> int | None:
    """The epoch value of results.csv's first row: 1 for current Ultralytics, 0 for YOLOv5/8.0."""
    try:
        with path.open(newline="", encoding="utf-8", errors="replace") as fh:
            rows = csv.reader(line for _, line in zip(range(2), fh))
            header, first = next(rows), next(rows)
        column = [h.strip() for h in header].index("epoch")
        return int(float(first[column]))
    except (OSError, StopIteration, ValueError, OverflowError, IndexError, csv.Error):
        return None


def lightning_epochs(timeline: dict[str, Any], log: Path) -> None:
    """Link Lightning on epochs: metrics.csv's `step` is global_step - 1 on epoch-end rows while the
    checkpoint stores global_step, but both count epochs from 0 and every row carries its epoch."""
    epoch = timeline["nan_at"] if timeline.get("index_name") == "epoch" else epoch_at_step(log, timeline["nan_at"])
    if epoch is not None:
        timeline.update(axis="epoch", nan_at=epoch, healthy_to=epoch - 1)


def epoch_at_step(path: Path, step: int | None) -> int | None:
    """The `epoch` cell of the first metrics.csv row logged at `step` (streamed; stops there)."""
    if step is None:
        return None
    try:
        with path.open(newline="", encoding="utf-8", errors="replace") as fh:
            for row in csv.DictReader(fh):
                try:
                    if int(float(row.get("step") or "nan")) == step and row.get("epoch"):
                        return int(float(row["epoch"]))
                except (TypeError, ValueError, OverflowError):
                    continue
    except (OSError, csv.Error):
        return None
    return None


def _as_int(value: Any) -> int | None:
    """A stored epoch/step as an int; None for -1, fractional HF epochs (0.25) and junk."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        return None
    try:
        n = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return n if n >= 0 else None  # Ultralytics writes epoch -1 into stripped final weights


def _unit_of(path: Path) -> Path:
    """An HF checkpoint-N folder is resumed as a whole; any other checkpoint file stands alone."""
    for parent in path.parents:
        if re.fullmatch(r"checkpoint-\d+", parent.name):
            return parent
    return path


def group_units(entries: list[dict[str, Any]]) -> list[Checkpoint]:
    groups: dict[Path, list[dict[str, Any]]] = {}
    for e in entries:
        if isinstance(e, dict) and e.get("path"):
            groups.setdefault(_unit_of(Path(str(e["path"]))), []).append(e)
    units = []
    for path, members in groups.items():
        # training_args.bin is configuration, not state: it cannot make a checkpoint folder poisoned
        judged = [m for m in members if Path(str(m["path"])).name != "training_args.bin"] or members
        status = max((str(m.get("status", "unreadable")) for m in judged), key=lambda s: _RANK.get(s, 4))
        epoch = next((_as_int(m.get("epoch")) for m in members if _as_int(m.get("epoch")) is not None), None)
        step = next((_as_int(m.get("step")) for m in members if _as_int(m.get("step")) is not None), None)
        name = path.name
        if epoch is None and (m := _EPOCH_IN_NAME.search(name)):
            epoch = int(m.group(1))
        if step is None and (m := _STEP_IN_NAME.search(name)):
            step = int(m.group(1))
        resumable = any(bool(m.get("resumable", True)) for m in members)
        units.append(Checkpoint(str(path), status, epoch, step, resumable, None))
    return units


def place(c: Checkpoint, layout: RunLayout, timeline: dict[str, Any]) -> int | None:
    if timeline.get("axis") == "step":
        return c.step
    if c.epoch is None:
        return None
    if layout.framework == "ultralytics":
        # epochN.pt stores N 0-based and holds the state after results.csv's row N+1 (current
        # writer, epochs from 1); YOLOv5 / YOLOv8.0 logs count from 0 like the checkpoint
        return c.epoch + timeline.get("base", 1)
    return c.epoch  # Lightning counts both from 0; a generic script is assumed to count both alike


def choose(report: Report, units: list[Checkpoint], timeline: dict[str, Any]) -> dict[str, Any]:
    nan_at, healthy_to = timeline.get("nan_at"), timeline.get("healthy_to")
    axis = timeline.get("axis") or "epoch"
    broke = nan_at is not None
    if broke and healthy_to is None:
        healthy_to = nan_at - 1

    def before(c: Checkpoint) -> bool:
        return not broke or (c.log_index is not None and c.log_index <= healthy_to)

    for c in units:
        if c.status in BAD:
            c.verdict = c.status
        elif broke and c.log_index is not None and c.log_index >= nan_at:
            c.verdict = "after-nonfinite"
            stored = ", ".join(f"{k} {v}" for k, v in (("epoch", c.epoch), ("step", c.step)) if v is not None)
            report.add("ND501", "error", f"{Path(c.path).name} looks {c.status} but holds {axis} {c.log_index} "
                       f"(stored {stored}); the loss was already non-finite at {axis} {nan_at}, so its weights "
                       "come from broken training", path=c.path, where=f"{axis} {c.log_index}",
                       data={"log_index": c.log_index, "first_nonfinite": nan_at})
        elif broke and c.log_index is None:
            c.verdict = "undated"
            report.add("ND505", "info", f"{Path(c.path).name} stores no {axis} and its name gives none, so "
                       f"it cannot be placed before or after {axis} {nan_at}; not recommended", path=c.path)
        elif c.status != "clean":
            c.verdict = c.status
        elif broke and not before(c):
            c.verdict = "after-last-healthy"
        else:
            c.verdict = "trusted"

    def newest(pool: list[Checkpoint]) -> Checkpoint | None:
        # epochN files beat last.pt/best.pt at the same position: their name says what they hold and
        # resuming training never overwrites them
        key = lambda c: (c.log_index if c.log_index is not None else -1,  # noqa: E731
                         Path(c.path).stem not in ("last", "best"), c.path)
        return max(pool, key=key, default=None)

    trusted = [c for c in units if c.verdict == "trusted"]
    chosen: dict[str, Any] = {}
    best = newest([c for c in trusted if c.resumable])
    if best is not None:
        best.verdict = "recommended"
        chosen["recommended"] = best.path
        return chosen
    weights_only = newest(trusted)
    if weights_only is not None:
        chosen["restart_weights"] = weights_only.path
    if units and (broke or weights_only is None):
        where = f" at or before {axis} {healthy_to}" if broke else ""
        report.add("ND502", "warning" if weights_only is None else "info",
                   f"none of the {len(units)} checkpoint(s) is clean, resumable and saved{where}"
                   + (f"; {Path(weights_only.path).name} holds clean weights to start a new run from"
                      if weights_only else "; restart with the repaired config"),
                   data={"checkpoints": [c.path for c in units]})
    return chosen
