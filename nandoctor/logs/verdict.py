"""analyze-log's answer as a typed value, for the commands that build on it (triage).

`LogVerdict.of(report)` is the one place outside logs/engine.py that reads analyze-log's summary
keys, so a renamed key breaks here, in one constructor, not in every caller's dict lookups.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nandoctor.findings import Report


@dataclass(frozen=True)
class Point:
    """A dated event: the epoch/step as written in the log, its 0-based data row, the batch if logged."""

    index: int | float
    row: int
    batch: str | int | None = None

    @classmethod
    def of(cls, value: object) -> Point | None:
        """The `{"index", "row"[, "batch"]}` shape of analyze-log's summary; None for anything else."""
        if not isinstance(value, dict):
            return None
        index, row, batch = value.get("index"), value.get("row"), value.get("batch")
        if not isinstance(index, (int, float)) or isinstance(index, bool):
            return None
        if not isinstance(row, int) or isinstance(row, bool):
            return None
        return cls(index, row, batch if isinstance(batch, (str, int)) and not isinstance(batch, bool) else None)

    def to_dict(self) -> dict[str, Any]:
        """The same shape back, for JSON output that must not change."""
        d: dict[str, Any] = {"index": self.index, "row": self.row}
        if self.batch is not None:
            d["batch"] = self.batch
        return d


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class LogVerdict:
    """What analyze-log concluded about one log: the curve's pattern and when it broke."""

    pattern: str | None
    index_name: str | None  # "epoch" or "step": the axis the points are dated on
    first_nonfinite: Point | None
    last_healthy: Point | None
    onset: Point | None  # where a named divergence began
    nonfinite_columns: tuple[str, ...]  # every column that went non-finite, the loss's or not
    rows: int | None
    epochs_to_nonfinite: float | None
    suggested_lr: float | None
    clip_threshold: float | None
    resumes: tuple[Point, ...] = ()  # rows where the time column restarted (ND314): a resumed run

    @classmethod
    def of(cls, report: Report) -> LogVerdict:
        s = report.summary
        rows = s.get("rows")
        return cls(
            pattern=str(s["pattern"]) if s.get("pattern") is not None else None,
            index_name=str(s["index_name"]) if s.get("index_name") is not None else None,
            first_nonfinite=Point.of(s.get("first_nonfinite")),
            last_healthy=Point.of(s.get("last_healthy")),
            onset=Point.of(s.get("onset")),
            nonfinite_columns=tuple(str(c) for c in s.get("nonfinite_columns") or ()),
            rows=rows if isinstance(rows, int) and not isinstance(rows, bool) else None,
            epochs_to_nonfinite=_float(s.get("epochs_to_nonfinite")),
            suggested_lr=_float(s.get("suggested_lr")),
            clip_threshold=_float(s.get("clip_threshold")),
            resumes=tuple(p for f in report.findings if f.code == "ND314" and (p := Point.of(f.data)) is not None),
        )
