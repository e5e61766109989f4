"""What a framework's rules return: one Issue per fragile setting, optionally with the value to write."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from nandoctor.config.load import NUMBER_LIKE, Doc, Path_

FP16_MIN_SUBNORMAL = 5.96e-8   # an Adam eps below this rounds to 0 in fp16
KEEP = object()                # Issue.new default: report only, write nothing


@dataclass
class Issue:
    code: str
    severity: str
    path: Path_
    message: str
    reason: str = ""            # short, for the `# nandoctor:` comment and summary.changes
    new: Any = KEEP
    after: str | None = None    # for a key that does not exist yet: the sibling to add it after
    data: dict = field(default_factory=dict)


@dataclass
class LogEvidence:
    """The parts of analyze-log's summary that choose repair values."""

    nonfinite: bool = False
    abrupt: bool = False
    pattern: str | None = None
    epochs_to_nonfinite: float | None = None
    clip_threshold: float | None = None
    suggested_lr: float | None = None
    where: str | None = None

    def lr_from_table(self, current: float) -> float:
        """Field notes §3 time-to-NaN table: NaN in 1-3 epochs -> 1e-5; later -> 5e-5."""
        if self.suggested_lr and 0 < self.suggested_lr < current:
            return float(self.suggested_lr)
        e = self.epochs_to_nonfinite
        table = 1e-5 if e is not None and e <= 3 else 5e-5
        return min(table, current / 2)


@dataclass
class Context:
    doc: Doc
    log: LogEvidence | None = None

    @property
    def nan_seen(self) -> bool:
        return bool(self.log and self.log.nonfinite)

    def risk(self) -> str:
        """A common risky default is a warning; with a log that went non-finite it is the cause: an error."""
        return "error" if self.nan_seen else "warning"


def number(value: Any) -> float | None:
    """A config value as the float the user meant: 1e-6 written plainly is a str under PyYAML."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, str) and NUMBER_LIKE.match(value.strip()):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in {"true", "fp16", "yes", "on"})


def is_string_number(doc: Doc, path: Path_) -> bool:
    e = doc.entries.get(tuple(path))
    return bool(e and not doc.is_json and isinstance(e.value, str) and e.plain and NUMBER_LIKE.match(e.value)
                and ("e" in e.value.lower()))


def string_numbers(doc: Doc) -> list[Issue]:
    """ND412: plain `1e-6` that PyYAML hands the script as the string '1e-6'."""
    out = []
    for p, e in doc.leaves():
        if is_string_number(doc, p):
            out.append(Issue("ND412", "warning", p,
                             f"{e.value} is read by PyYAML (YAML 1.1) as the string {e.value!r}, not a number; "
                             "a script comparing or multiplying it fails or silently misbehaves",
                             reason="PyYAML reads it as a string", new=float(e.value)))
    return out


def lower_lr(ctx: Context, current: float, default_new: float) -> tuple[float, str]:
    if ctx.log and ctx.log.nonfinite:
        new = ctx.log.lr_from_table(current)
        return new, f"time-to-NaN table ({ctx.log.epochs_to_nonfinite} epochs to non-finite)"
    return default_new, "lower LR until stable"


def clip_value(ctx: Context, default: float = 1.0) -> float:
    c = ctx.log.clip_threshold if ctx.log else None
    return float(c) if c and number(c) and c > 0 else default


def clip_reason(ctx: Context) -> str:
    if ctx.log and ctx.log.clip_threshold:
        return "clip at 2-3x the log's healthy grad norm"
    return "clip gradients (max_norm 1.0)"
