"""What a framework's rules return: one Issue per fragile setting, optionally with the value to write."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from nandoctor.catalogue.lr_policy import LrAdvice, advise_lr
from nandoctor.config.load import NUMBER_LIKE, Doc, Path_
from nandoctor.numbers import finite_number, parse_number

# fp16's smallest subnormal: an Adam eps below it rounds to 0, but only where the optimizer itself runs
# in fp16 (pure fp16 / `16-true` / `.half()` weights). Under AMP (HF fp16, accelerate, Lightning
# 16-mixed, Ultralytics amp) and DeepSpeed fp16 the optimizer steps fp32 master weights, where 1e-8 is fine.
FP16_MIN_SUBNORMAL = 5.96e-8
KEEP = object()  # Issue.new default: report only, write nothing


@dataclass
class Issue:
    code: str
    severity: str
    path: Path_
    message: str
    reason: str = ""  # short, for the `# nandoctor:` comment and summary.changes
    new: Any = KEEP
    after: str | None = None  # for a key that does not exist yet: the sibling to add it after
    data: dict = field(default_factory=dict)
    rename: str | None = None  # write the value under this key instead (a key the version renamed)


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
    lr_ran: float | None = None  # peak LR the run actually used (Ultralytics lr/pg0, HF learning_rate)
    lr_column: str | None = None

    def lr_advice(
        self, configured: float | None, framework: str, optimizer: str | None = None, use_ran: bool = True
    ) -> LrAdvice | None:
        """The one LR policy on what this log and config show; `use_ran=False` where the log's single
        LR column cannot stand for this key (a config with several LR keys)."""
        return advise_lr(
            ran=self.lr_ran if use_ran else None,
            ran_column=self.lr_column,
            configured=configured,
            epochs_to_nonfinite=self.epochs_to_nonfinite,
            framework=framework,
            optimizer=optimizer,
        )


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
    if isinstance(value, str) and not NUMBER_LIKE.match(value.strip()):
        return None
    return finite_number(value)  # `1e400` is inf: no number a rule may compare or write


def truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in {"true", "fp16", "yes", "on"})


def is_string_number(doc: Doc, path: Path_) -> bool:
    e = doc.entries.get(tuple(path))
    return bool(
        e
        and not doc.is_json
        and isinstance(e.value, str)
        and e.plain
        and NUMBER_LIKE.match(e.value)
        and ("e" in e.value.lower())
    )


def string_numbers(doc: Doc) -> list[Issue]:
    """ND412: plain `1e-6` that PyYAML hands the script as the string '1e-6'."""
    out = []
    for p, e in doc.leaves():
        if is_string_number(doc, p) and number(e.value) is not None:
            out.append(
                Issue(
                    "ND412",
                    "warning",
                    p,
                    f"{e.value} is read by PyYAML (YAML 1.1) as the string {e.value!r}, not a number; "
                    "a script comparing or multiplying it fails or silently misbehaves",
                    reason="PyYAML reads it as a string",
                    new=float(e.value),
                )
            )
    return out


def lower_lr(
    ctx: Context, current: float, default_new: float, framework: str = "generic", use_ran: bool = True
) -> tuple[float, str]:
    """After a NaN the one LR policy picks the value; without a log that went non-finite, `default_new`."""
    if ctx.log and ctx.log.nonfinite:
        advice = ctx.log.lr_advice(current, framework, use_ran=use_ran)
        if advice is not None:
            return advice.value, advice.reason
    return default_new, "lower LR until stable"


def clip_value(ctx: Context, default: float = 1.0, cap: float | None = None) -> float:
    """The log's 2-3x healthy grad norm, else `default`; never above `cap`, the framework's own effective
    clipping (HF max_grad_norm 1.0, current DeepSpeed 1.0), so a repair never loosens clipping."""
    c = ctx.log.clip_threshold if ctx.log else None
    value = float(c) if c and number(c) and c > 0 else default
    return min(value, cap) if cap else value


def clip_reason(ctx: Context, cap: float | None = None) -> str:
    if ctx.log and ctx.log.clip_threshold and not (cap and ctx.log.clip_threshold > cap):
        return "clip at 2-3x the log's healthy grad norm"
    if cap:
        return f"clip at {cap}, the framework's default (never looser)"
    return "clip gradients at max_norm 1.0"


def nonfinite_values(doc: Doc) -> list[Issue]:
    """ND419: `.nan`, `.inf` or a number too large for a float (1e400) in a setting: PyYAML and json hand
    the script nan or inf, and every value derived from it is non-finite."""
    out = []
    for p, e in doc.leaves():
        v = e.value
        bad = isinstance(v, float) and not math.isfinite(v)
        if not bad and isinstance(v, str) and NUMBER_LIKE.match(v.strip()):
            f = parse_number(v)
            bad = f is not None and not math.isfinite(f)
        if bad:
            out.append(
                Issue(
                    "ND419",
                    "error",
                    p,
                    f"{'.'.join(map(str, p))} is {v!r}, not a finite number: "
                    "everything computed from it is NaN or Inf; set a real value by hand",
                )
            )
    return out
