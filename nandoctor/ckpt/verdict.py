"""inspect-ckpt's answer as typed values, for the commands that build on it (triage).

`CheckpointScan.of(report)` is the one place outside ckpt/engine.py that reads inspect-ckpt's
summary keys; a caller gets a status, the stored epoch/step and whether the file resumes training.
"""

from __future__ import annotations

from dataclasses import dataclass

from nandoctor.findings import Report

STATUSES = ("clean", "suspect", "unknown", "poisoned", "unsafe", "unreadable", "no-weights")


def _number(value: object) -> int | float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class CheckpointVerdict:
    """One checkpoint file (or sharded unit) as inspect-ckpt judged it."""

    path: str
    status: str  # one of STATUSES
    epoch: int | float | None  # as stored in the file (Ultralytics: 0-based, -1 once stripped)
    step: int | float | None
    resumable: bool  # holds the optimizer state that resuming needs
    recommended: bool = False  # the one inspect-ckpt itself would resume from


@dataclass(frozen=True)
class CheckpointScan:
    """Every checkpoint inspect-ckpt judged under one path, and the files it read beside them."""

    checkpoints: tuple[CheckpointVerdict, ...]
    optimizers: tuple[str, ...] = ()  # optimizer-only files listed beside the weights, not as checkpoints
    recommended: str | None = None

    @classmethod
    def of(cls, report: Report) -> CheckpointScan:
        s = report.summary
        recommended = s.get("recommended") if isinstance(s.get("recommended"), str) else None
        checkpoints = []
        for e in s.get("checkpoints") or ():
            if not isinstance(e, dict) or not e.get("path"):
                continue
            checkpoints.append(
                CheckpointVerdict(
                    path=str(e["path"]),
                    status=str(e.get("status", "unreadable")),
                    epoch=_number(e.get("epoch")),
                    step=_number(e.get("step")),
                    resumable=bool(e.get("resumable", True)),
                    recommended=str(e["path"]) == recommended,
                )
            )
        optimizers = tuple(
            str(o["path"])
            for o in s.get("other_files") or ()
            if isinstance(o, dict) and o.get("role") == "optimizer" and o.get("path")
        )
        return cls(tuple(checkpoints), optimizers, recommended)
