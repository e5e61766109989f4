"""What a pattern implies: its likely causes, its rule's fix, the LR the one LR policy advises, where
to resume, and the next steps of the triage decision tree."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nandoctor.catalogue import get_rule
from nandoctor.catalogue.lr_policy import LrAdvice, advise_lr, lr_step

if TYPE_CHECKING:
    from nandoctor.logs.table import LogTable

CAUSES = {
    "sudden_spike": "one abnormal sample or batch, a numeric overflow, log(0) or a division by zero",
    "exponential_growth": "a learning rate too high, gradient accumulation not divided by the number of steps, "
    "or bad momentum",
    "oscillating_divergence": "corrupted optimizer state (Adam's second moment), batch-to-batch distribution "
    "shift, or a misconfigured LR scheduler",
    "abrupt_nonfinite": "fp16/AMP overflow (fp16 tops out at 65504) or a gradient explosion after a change "
    "such as a larger image size",
    "nonfinite_from_start": "labels out of range (a label equal to num_classes), logits masked with -inf, "
    "log(0) in the loss, or a learning rate far too high",
    "nonfinite_throughout": "a break before the first line of this log; the full log (or the run's first "
    "non-finite step) tells which",
}

# Each pattern's fix is its rule's catalogue text (one home); nonfinite_throughout raises only ND301.
PATTERN_RULES = {
    "sudden_spike": "ND304",
    "exponential_growth": "ND305",
    "oscillating_divergence": "ND306",
    "abrupt_nonfinite": "ND307",
    "nonfinite_from_start": "ND303",
    "nonfinite_throughout": "ND301",
}
LR_COLUMNS = ("lr/pg0", "x/lr0", "lr", "learning_rate")  # Ultralytics v8, YOLOv5, plain logs, HF


def _as_step(fix: str) -> str:
    """A catalogue fix as the tail of a next-steps line: lower-case start, no final period."""
    fix = fix.strip().rstrip(".")
    return fix[:1].lower() + fix[1:]


FIXES = {pattern: _as_step(get_rule(code).fix) for pattern, code in PATTERN_RULES.items()}


def lr_ran(table: LogTable, before_row: int | None) -> tuple[float | None, str | None]:
    """(peak finite LR in the frame rows before `before_row`, its column), or (None, None): the LR that
    actually ran, which with Ultralytics' optimizer: auto is not lr0."""
    import numpy as np

    col = next((c for c in LR_COLUMNS if c in table.frame.columns), None)
    if col is None:
        return None, None
    v = table.frame[col].to_numpy(dtype=float)[:before_row]
    v = v[np.isfinite(v) & (v > 0)]
    return (float(v.max()), col) if len(v) else (None, None)


def suggested_lr(
    fmt: str, epochs_to_nonfinite: float | None, ran: float | None, ran_column: str | None
) -> LrAdvice | None:
    """The one LR policy, fed with what a log alone shows (no config: its LR is unknown here)."""
    return advise_lr(ran=ran, ran_column=ran_column, epochs_to_nonfinite=epochs_to_nonfinite, framework=fmt)


def resume_hint(fmt: str, index_name: str, last_healthy: dict[str, Any] | None, zero_based: bool) -> str | None:
    """Where to resume: the last healthy epoch; for Ultralytics the epoch checkpoint at or before it."""
    if last_healthy is None:
        return None
    idx = last_healthy["index"]
    if fmt in ("ultralytics-results", "ultralytics-console") and isinstance(idx, int):
        ckpt = idx if zero_based else idx - 1  # epochN.pt is 0-based, results.csv from 1
        if ckpt < 0:
            return None
        return (
            f"resume from weights/epoch{ckpt}.pt (results.csv epoch {idx}, the last healthy one) or the "
            f"newest epochN.pt with N <= {ckpt}; last.pt is poisoned. Verify with `nandoctor inspect-ckpt`"
        )
    if fmt == "hf-trainer-state":
        return (
            f"resume from the newest checkpoint-N with N <= {idx} (the last healthy step); verify it with "
            "`nandoctor inspect-ckpt`"
        )
    return f"resume from the checkpoint saved at or before {index_name} {idx}, the last healthy one"


def triage_steps(
    pattern: str, index_name: str, first_index: Any, grad_col: bool, clip: float | None, lr: LrAdvice | None, fmt: str
) -> list[str]:
    """The playbook's decision tree, filled in with what the log shows."""
    steps = []
    if pattern in FIXES:
        steps.append(f"{pattern.replace('_', ' ')}: likely {CAUSES[pattern]}; {FIXES[pattern]}")
    early = (index_name == "step" and isinstance(first_index, (int, float)) and first_index <= 1000) or (
        index_name == "epoch" and isinstance(first_index, (int, float)) and first_index <= 1
    )
    if pattern != "healthy" and early:
        steps.append("it broke within the first ~1000 steps: check weight initialisation and add LR warmup")
    if pattern in ("abrupt_nonfinite", "sudden_spike"):
        steps.append("if mixed precision is on: prefer bf16 or fp32, keep dynamic loss scaling, cast the loss to fp32")
    if clip is not None:
        steps.append(f"clip gradients at max_norm {clip:g} (2.5x the healthy 99th percentile of grad_norm)")
    elif pattern not in ("healthy",) and not grad_col:
        steps.append("log grad_norm: large gradients call for a lower LR and tighter clipping (max_norm 1.0)")
    if lr is not None:
        steps.append(lr_step(lr, fmt))
    return steps
