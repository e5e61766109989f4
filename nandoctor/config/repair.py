"""diagnose-config's answer as a typed value, for the commands that build on it (triage).

`ConfigRepair.of(report)` is the one place outside config/engine.py that reads diagnose-config's
summary keys: which settings changed, and the repaired file written (or an earlier one kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nandoctor.findings import Report


@dataclass(frozen=True)
class Change:
    key: str  # dotted key path, e.g. "lr0" or "optimizer.params.lr"
    old: Any
    new: Any
    code: str  # the finding that asked for it


@dataclass(frozen=True)
class ConfigRepair:
    """What diagnose-config changed, where the repaired file is, and the LR the run's log showed."""

    changes: tuple[Change, ...]
    written: str | None = None  # the repaired file this run wrote
    kept: str | None = None  # a repaired file that already existed and was kept (no --force)
    lr_ran: float | None = None  # the peak finite LR logged before the break, when a log was read

    @classmethod
    def of(cls, report: Report) -> ConfigRepair:
        s = report.summary
        changes = tuple(
            Change(str(c.get("key")), c.get("old"), c.get("new"), str(c.get("code")))
            for c in s.get("changes") or ()
            if isinstance(c, dict)
        )
        log = s.get("log")
        lr = log.get("lr_ran") if isinstance(log, dict) else None
        return cls(
            changes,
            written=str(s["output"]) if s.get("output") else None,
            kept=str(s["existing_output"]) if s.get("existing_output") else None,
            lr_ran=float(lr) if isinstance(lr, (int, float)) and not isinstance(lr, bool) else None,
        )

    @property
    def path(self) -> str | None:
        """The repaired file to train with: an earlier one kept wins, as nothing new was written."""
        return self.kept or self.written

    @property
    def status(self) -> str | None:
        return "kept" if self.kept else "written" if self.written else None
