"""Place checkpoints on the log's timeline and decide which to trust: the rules triage is for.

Pure functions over the engines' typed verdicts (logs.verdict, ckpt.verdict), so every off-by-one
here is tested directly: Ultralytics epochN.pt counts from 0 while results.csv counts from 1, HF checkpoint-N is
step N, Lightning's metrics.csv logs global_step - 1 but both count epochs from 0.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nandoctor.ckpt.names import EPOCH_IN_NAME as _EPOCH_IN_NAME
from nandoctor.ckpt.select import progress
from nandoctor.ckpt.verdict import CheckpointVerdict
from nandoctor.findings import Report
from nandoctor.logs.verdict import LogVerdict, Point
from nandoctor.triage.discover import RunLayout

BAD = {"poisoned", "unsafe", "unreadable"}
DIVERGING = {"exponential_growth", "oscillating_divergence", "sudden_spike"}  # analyze-log patterns with an onset
_RANK = {"clean": 0, "suspect": 1, "unknown": 1, "poisoned": 2, "unsafe": 3, "unreadable": 4}
_STEP_IN_NAME = re.compile(r"(?:step[=_-]?|checkpoint-)(\d+)", re.I)


@dataclass
class Checkpoint:
    """One resumable unit (a file, or an HF checkpoint-N folder) placed on the log's axis."""

    path: str
    status: str
    epoch: int | None  # as stored (Ultralytics: 0-based)
    step: int | None
    resumable: bool
    log_index: int | None  # the log epoch/step whose end state it holds, in the log's own numbering
    verdict: str = ""  # recommended | trusted | after-nonfinite | poisoned | undated | ...


@dataclass
class Timeline:
    """The log's answer on the axis checkpoints are placed on. `whole` is analyze-log's verdict on the
    file (what the report shows); `judged` the one checkpoints are judged on: the latest segment of a
    resumed Ultralytics log, else `whole`. Mutable: Lightning's links are re-dated on epochs."""

    whole: LogVerdict | None = None
    judged: LogVerdict | None = None
    segment_end: int | None = None  # last epoch of the latest segment, when the log was split
    superseded_nan: int | None = None  # the non-finite epoch in the segment the resume replaced
    nan_at: int | None = None  # first non-finite index on `axis`
    healthy_to: int | None = None
    diverged_at: int | None = None  # onset of a named divergence
    axis: str | None = None  # "epoch" or "step"; None without a log
    index_name: str | None = None
    rows: int | None = None
    base: int = 1  # the epoch results.csv counts from


def index_of(value: Point | int | float | None) -> int | None:
    """A point's epoch/step as an int; None when it is missing or not finite."""
    if isinstance(value, Point):
        value = value.index
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
            rows = csv.reader(fh)  # stops after two records; a quoted newline stays inside its cell
            header, first = next(rows), next(rows)
        column = [h.strip() for h in header].index("epoch")
        return int(float(first[column]))
    except (OSError, StopIteration, ValueError, OverflowError, IndexError, csv.Error):
        return None


def lightning_epochs(timeline: Timeline, log: Path) -> None:
    """Link Lightning on epochs: metrics.csv's `step` is global_step - 1 on epoch-end rows while the
    checkpoint stores global_step, but both count epochs from 0 and every row carries its epoch."""

    def epoch(step: int | None) -> int | None:
        return step if timeline.index_name == "epoch" or step is None else epoch_at_step(log, step)

    nan_epoch, onset_epoch = epoch(timeline.nan_at), epoch(timeline.diverged_at)
    if nan_epoch is not None or onset_epoch is not None:
        timeline.axis, timeline.nan_at, timeline.diverged_at = "epoch", nan_epoch, onset_epoch
        timeline.healthy_to = None if nan_epoch is None else nan_epoch - 1


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


def _as_int(value: int | float | None) -> int | None:
    """A stored epoch/step as an int; None for -1, fractional HF epochs (0.25) and junk."""
    if value is None or isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        return None
    try:
        n = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return n if n >= 0 else None  # Ultralytics writes epoch -1 into stripped final weights


# files beside a model that are not one: HF's RNG, scheduler and arguments, a lone optimizer
NOT_A_MODEL = re.compile(r"(rng_state(_\d+)?\.pth|scheduler\.pt|training_args\.bin|optimizer\.pt|scaler\.pt)$")
_NOT_JUDGED = re.compile(r"(rng_state(_\d+)?\.pth|scheduler\.pt|training_args\.bin)$")  # bookkeeping


def _unit_of(path: Path, roots: tuple[Path, ...] = ()) -> Path:
    """An HF checkpoint-N folder is resumed as a whole; any other checkpoint file stands alone."""
    for parent in path.parents:
        if parent in roots or re.fullmatch(r"checkpoint-\d+", parent.name):
            return parent
    return path


def group_units(
    entries: Sequence[CheckpointVerdict], roots: Sequence[Path] = (), optimizers: Sequence[Path] = ()
) -> list[Checkpoint]:
    """`optimizers`: optimizer files inspect-ckpt listed beside the weights rather than as checkpoints
    (an HF folder without trainer_state.json); they make their unit resumable."""
    groups: dict[Path, list[CheckpointVerdict]] = {}
    for e in entries:
        groups.setdefault(_unit_of(Path(e.path), tuple(roots)), []).append(e)
    units = []
    for path, members in groups.items():
        names = [Path(m.path).name for m in members]
        if all(NOT_A_MODEL.fullmatch(n) for n in names):  # rng_state.pth, scheduler.pt, a lone optimizer.pt
            units.append(Checkpoint(str(path), "not-a-model", None, None, False, None))
            continue
        # RNG, scheduler and arguments are bookkeeping, not state: they cannot make a folder poisoned
        judged = [m for m, n in zip(members, names, strict=True) if not _NOT_JUDGED.fullmatch(n)] or members
        status = max((m.status for m in judged), key=lambda s: _RANK.get(s, 4))
        epoch = next((_as_int(m.epoch) for m in members if _as_int(m.epoch) is not None), None)
        step = next((_as_int(m.step) for m in members if _as_int(m.step) is not None), None)
        name = path.name
        if epoch is None and (m := _EPOCH_IN_NAME.search(name)):
            epoch = int(m.group(1))
        if step is None and (m := _STEP_IN_NAME.search(name)):
            step = int(m.group(1))
        # an HF folder resumes with its optimizer.pt; a file stands alone as inspect-ckpt judged it
        resumable = (
            any(m.resumable for m in members)
            or (len(members) > 1 and "optimizer.pt" in names)
            or any(_unit_of(o, tuple(roots)) == path for o in optimizers)
        )
        units.append(Checkpoint(str(path), status, epoch, step, resumable, None))
    return units


def place(c: Checkpoint, layout: RunLayout, timeline: Timeline) -> int | None:
    if timeline.axis == "step":
        return c.step
    if c.epoch is None:
        return None
    if layout.framework == "ultralytics":
        # epochN.pt stores N 0-based and holds the state after results.csv's row N+1 (current
        # writer, epochs from 1); YOLOv5 / YOLOv8.0 logs count from 0 like the checkpoint
        return c.epoch + timeline.base
    return c.epoch  # Lightning counts both from 0; a generic script is assumed to count both alike


def ultralytics_ending(report: Report, layout: RunLayout, timeline: Timeline, units: list[Checkpoint]) -> bool | None:
    """Did the Ultralytics run finish? Its final step strips the optimizer from last.pt (epoch -1);
    a last.pt that still holds one, with fewer results.csv rows than `epochs`, ended early. With
    no non-finite value logged, 8.4's NaN recovery is the likely end: it keeps the NaN epoch out of
    results.csv, reloads last.pt up to 3 times and then stops with "NaN persisted"."""
    last = next((c for c in units if Path(c.path).name == "last.pt"), None)
    rows, asked = timeline.rows, layout.args.get("epochs")
    if last is None:
        return None
    if not last.resumable:
        return True
    if not (isinstance(rows, int) and isinstance(asked, int) and not isinstance(asked, bool) and rows < asked):
        return None
    if timeline.nan_at is None:
        report.add(
            "ND507",
            "warning",
            f"the run stopped after epoch {rows} of {asked} and last.pt still holds "
            "its optimizer, yet results.csv has no non-finite value: Ultralytics (8.4 and later) keeps a "
            "NaN epoch out of results.csv, reloads last.pt up to 3 times and then stops with 'NaN "
            f"persisted', so epoch {rows + 1} probably went non-finite (a crash or a kill ends the same "
            "way; the console says which)",
            path=str(layout.log) if layout.log else last.path,
            where=f"epoch {rows + 1}",
            data={"rows": rows, "epochs": asked},
        )
    return False


def choose(report: Report, units: list[Checkpoint], timeline: Timeline) -> dict[str, str]:
    nan_at, healthy_to = timeline.nan_at, timeline.healthy_to
    axis = timeline.axis or "epoch"
    onset = timeline.diverged_at
    pattern = timeline.judged.pattern if timeline.judged else None
    if nan_at is not None and healthy_to is None:
        healthy_to = nan_at - 1
    if onset is not None and (nan_at is None or onset < nan_at):
        # a named divergence: weights saved after its onset come from diverging training, finite or not
        healthy_to = min(onset - 1, healthy_to) if healthy_to is not None else onset - 1
    broke = nan_at is not None or onset is not None

    def before(c: Checkpoint) -> bool:
        return not broke or (c.log_index is not None and healthy_to is not None and c.log_index <= healthy_to)

    segment_end = timeline.segment_end
    for c in units:
        if segment_end is not None and c.log_index is not None and c.log_index > segment_end:
            # the resumed segment has not reached this epoch: the file is the superseded segment's
            c.verdict = "after-nonfinite"
            report.add(
                "ND501",
                "error",
                f"{Path(c.path).name} holds {axis} {c.log_index}, which only the segment "
                f"before the resume reached (non-finite from {axis} {timeline.superseded_nan}); the "
                f"resumed run has logged up to {axis} {segment_end}",
                path=c.path,
                where=f"{axis} {c.log_index}",
                data={"log_index": c.log_index},
            )
            continue
        if c.status == "not-a-model":
            c.verdict = c.status  # never recommended, never counted as a checkpoint
            continue
        if c.status in BAD:
            c.verdict = c.status
        elif (
            onset is not None
            and c.log_index is not None
            and c.log_index >= onset
            and (nan_at is None or c.log_index < nan_at)
        ):
            c.verdict = "after-divergence"
            report.add(
                "ND501",
                "error",
                f"{Path(c.path).name} looks {c.status} but holds {axis} {c.log_index}; "
                f"the loss began to diverge at {axis} {onset} ({pattern}), so its weights "
                "come from diverging training even where they are finite",
                path=c.path,
                where=f"{axis} {c.log_index}",
                data={"log_index": c.log_index, "diverged_at": onset},
            )
        elif nan_at is not None and c.log_index is not None and c.log_index >= nan_at:
            c.verdict = "after-nonfinite"
            stored = ", ".join(f"{k} {v}" for k, v in (("epoch", c.epoch), ("step", c.step)) if v is not None)
            report.add(
                "ND501",
                "error",
                f"{Path(c.path).name} looks {c.status} but holds {axis} {c.log_index} "
                f"(stored {stored}); the loss was already non-finite at {axis} {nan_at}, so its weights "
                "come from broken training",
                path=c.path,
                where=f"{axis} {c.log_index}",
                data={"log_index": c.log_index, "first_nonfinite": nan_at},
            )
        elif broke and c.log_index is None:
            c.verdict = "undated"
            report.add(
                "ND505",
                "info",
                f"{Path(c.path).name} stores no {axis} and its name gives none, so "
                f"it cannot be placed before or after {axis} {(healthy_to or 0) + 1}; not recommended",
                path=c.path,
            )
        elif c.status != "clean":
            c.verdict = c.status
        elif broke and not before(c):
            c.verdict = "after-last-healthy"
        else:
            c.verdict = "trusted"

    def newest(pool: list[Checkpoint]) -> Checkpoint | None:
        return max(pool, key=lambda c: progress((c.log_index,), c.path), default=None)

    trusted = [c for c in units if c.verdict == "trusted"]
    units = [c for c in units if c.verdict != "not-a-model"]
    chosen: dict[str, str] = {}
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
        report.add(
            "ND502",
            "warning" if weights_only is None else "info",
            f"none of the {len(units)} checkpoint(s) is clean, resumable and saved{where}"
            + (
                f"; {Path(weights_only.path).name} holds clean weights to start a new run from"
                if weights_only
                else "; restart with the repaired config"
            ),
            data={"checkpoints": [c.path for c in units]},
        )
    return chosen
