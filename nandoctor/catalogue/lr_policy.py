"""The one learning-rate policy: analyze-log, diagnose-config and triage all ask `advise_lr`, so the LR
one command advises is the LR every other command advises for the same run.

What it knows, best first: the LR that actually ran (the log's lr/pg0, x/lr0, lr or learning_rate,
peak before the first non-finite row; with Ultralytics' `optimizer: auto` it differs from lr0), else
the LR the config sets, else nothing but the framework. How far to cut follows how soon the loss went
non-finite, the time-to-NaN table of the repairs this tool automates (a transformer at 1e-4: NaN within
1-3 epochs -> 1e-5, after 10-20 epochs -> 5e-5), read as a ratio so it also fits a YOLO lr0 of 0.01.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# (epochs to NaN at most, divisor): within 3 epochs 1e-4 -> 1e-5; between 3 and 10 the
# geometric middle of the table's rows (1e-4 -> 2e-5); after 10 epochs, or when no epoch count is
# known, the gentlest row (1e-4 -> 5e-5), since a late NaN points at overflow more than at the LR.
CUTS = ((3.0, 10.0), (10.0, 5.0))
GENTLE_CUT = 2.0
# The table's absolute rows, for a log that shows no LR and a caller that knows no configured one.
TABLE = ((3.0, 1e-5), (10.0, 2e-5))
TABLE_LATE = 5e-5
ULTRALYTICS_SAFE_LR0 = 0.003  # a YOLO restart at SGD lr0 0.01 -> 0.003 (0.005 to resume)
ADAM_FAMILY = frozenset({"adam", "adamw", "adamax", "nadam", "radam"})
ADAM_SAFE_RATIO = 0.1  # Adam-family lr0 sits an order below SGD's (default.yaml: SGD 0.01, Adam 1e-3)

# The policy in words, for the catalogue's fix texts (ND305, ND402), built from the numbers above.
CUT_TEXT = (
    f"1/{CUTS[0][1]:g} of the LR that ran when the NaN came within {CUTS[0][0]:g} epochs, "
    f"1/{CUTS[1][1]:g} within {CUTS[1][0]:g}, 1/{GENTLE_CUT:g} later (1e-4 -> "
    + " / ".join(f"{1e-4 / d:.0e}".replace("e-0", "e-") for d in (CUTS[0][1], CUTS[1][1], GENTLE_CUT))
    + ")"
)


@dataclass(frozen=True)
class LrAdvice:
    value: float  # the LR to train with next
    reason: str  # one line: what the value was derived from
    basis: str  # "ran" (the log's LR), "configured" (the config's), "framework" or "table"

    def text(self) -> str:
        return f"{self.value:g} ({self.reason})"


def round_lr(x: float) -> float:
    """Two significant digits, as a person writes an LR (0.000396 -> 0.0004)."""
    return float(f"{x:.2g}")


def _when(epochs: float | None) -> str:
    if epochs is None:
        return "the gentlest cut, as the log gives no epoch count"
    return f"since the NaN came after {epochs:g} epoch{'s' if epochs != 1 else ''}"


def _cut(epochs: float | None) -> float:
    for limit, divisor in CUTS:
        if epochs is not None and epochs <= limit:
            return divisor
    return GENTLE_CUT


def _finite_positive(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) and x > 0 else None


def advise_lr(
    *,
    ran: float | None = None,
    ran_column: str | None = None,
    configured: float | None = None,
    epochs_to_nonfinite: float | None = None,
    framework: str | None = None,
    optimizer: str | None = None,
) -> LrAdvice | None:
    """The LR to use after a run went non-finite, or None when nothing known supports a number.

    `ran`: peak LR the log shows before the NaN; `configured`: the LR the config sets (pass None when it
    did not apply, as with Ultralytics' `optimizer: auto`); `framework`: a diagnose-config framework name
    or an analyze-log format ("ultralytics", "ultralytics-results"...); `optimizer` as the config names it.
    The value is always finite and positive, and below the LR it was cut from where there is one."""
    epochs = epochs_to_nonfinite if epochs_to_nonfinite is not None and math.isfinite(epochs_to_nonfinite) else None
    divisor = _cut(epochs)
    share = f"1/{divisor:g} of"
    ran, configured = _finite_positive(ran), _finite_positive(configured)
    if ran is not None:
        where = f" in {ran_column}" if ran_column else ""
        return LrAdvice(
            round_lr(ran / divisor),
            f"{share} the peak LR that ran before the NaN, {ran:g}{where}, {_when(epochs)}",
            "ran",
        )
    if configured is not None:
        return LrAdvice(
            round_lr(configured / divisor), f"{share} the configured LR {configured:g}, {_when(epochs)}", "configured"
        )
    if str(framework or "").startswith("ultralytics"):
        adam = str(optimizer or "").strip().lower() in ADAM_FAMILY
        value = ULTRALYTICS_SAFE_LR0 * (ADAM_SAFE_RATIO if adam else 1.0)
        return LrAdvice(
            value,
            f"a safe Ultralytics restart lr0 for {'Adam' if adam else 'SGD'}, as no LR that ran is known",
            "framework",
        )
    if epochs is None:
        return None
    value = next((v for limit, v in TABLE if epochs <= limit), TABLE_LATE)
    return LrAdvice(value, f"the time-to-NaN table for transformer fine-tuning, {_when(epochs)}", "table")


def lr_step(advice: LrAdvice, framework: str | None) -> str:
    """The one "lower the learning rate" line of next steps (analyze-log's and triage's)."""
    if str(framework or "").startswith("ultralytics"):
        return (
            f"lower the learning rate: lr0 {advice.text()}, with an explicit optimizer (optimizer: auto "
            "ignores lr0), and warmup_epochs 3"
        )
    return f"lower the learning rate to {advice.text()}"


def advised_in(engines: dict[str, Any] | None) -> tuple[str | None, LrAdvice | None]:
    """(config key, advice) that triage's engines already computed with `advise_lr`: the repaired
    config's LR change (ND402) first, else analyze-log's suggestion; (None, None) when neither has one."""
    runs = engines or {}
    for run in reversed(runs.get("diagnose-config") or []):
        for change in (run.get("summary") or {}).get("changes") or []:
            if change.get("code") == "ND402" and isinstance(change.get("new"), (int, float)):
                return str(change.get("key")), LrAdvice(float(change["new"]), str(change.get("reason") or ""), "config")
    for run in reversed(runs.get("analyze-log") or []):
        s = run.get("summary") or {}
        if isinstance(s.get("suggested_lr"), (int, float)):
            return None, LrAdvice(float(s["suggested_lr"]), str(s.get("suggested_lr_reason") or ""), "log")
    return None, None


def triage_lr_step(engines: dict[str, Any] | None, framework: str | None, fixed: str | None) -> str | None:
    """Triage's learning-rate step: the same number analyze-log and diagnose-config print. `fixed`: the
    repaired config written in this run (None when none was, or an older one was kept)."""
    key, advice = advised_in(engines)
    if advice is None:
        return None
    if key is not None and fixed:
        return f"Learning rate: {fixed} sets {key} {advice.text()}"
    line = lr_step(advice, framework)
    return line[:1].upper() + line[1:]
