"""What a pattern implies: likely causes and concrete fixes from the field notes' playbook (§2, §3),
the learning-rate table by time-to-NaN, and the triage decision tree."""

from __future__ import annotations

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

FIXES = {
    "sudden_spike": "find the batch at the spike (bad labels, empty targets, extreme values), add eps to "
                    "log/division, clip gradients (max_norm 1.0)",
    "exponential_growth": "lower the learning rate (see the time-to-NaN table), divide the loss by the "
                          "accumulation steps, add warmup and gradient clipping",
    "oscillating_divergence": "reset the optimizer state or resume with a fresh optimizer, shuffle the data, "
                              "check the scheduler (warmup then cosine), lower the learning rate",
    "abrupt_nonfinite": "turn off fp16 (use bf16 or fp32), keep dynamic loss scaling, clip gradients, and "
                        "resume from the last healthy checkpoint",
    "nonfinite_from_start": "check label ranges against num_classes (`nandoctor check-data`), mask logits with "
                            "-1e9 instead of -inf, add eps inside log, lower the learning rate",
    "nonfinite_throughout": "analyze the whole log from the start of training to date the break, and resume from "
                            "a checkpoint saved before it",
}


def suggested_lr(epochs_to_nonfinite: float | None) -> float | None:
    """The field notes' table by time-to-NaN: within 1-3 epochs -> 1e-5 (5e-6 if it still breaks),
    after 10-20 epochs -> 5e-5. Between 3 and 10 epochs we use 2e-5, the geometric middle of the two
    rows; after 20 epochs we keep 5e-5, the table's gentlest cut, since a late NaN points at fp16
    overflow more than at the learning rate. No epoch count (step-only logs, no NaN): None."""
    if epochs_to_nonfinite is None:
        return None
    if epochs_to_nonfinite <= 3:
        return 1e-5
    if epochs_to_nonfinite < 10:
        return 2e-5
    return 5e-5


def resume_hint(fmt: str, index_name: str, last_healthy: dict | None, zero_based: bool) -> str | None:
    """Where to resume: the last healthy epoch; for Ultralytics the epoch checkpoint at or before it."""
    if last_healthy is None:
        return None
    idx = last_healthy["index"]
    if fmt in ("ultralytics-results", "ultralytics-console") and isinstance(idx, int):
        ckpt = idx if zero_based else idx - 1  # epochN.pt is 0-based, results.csv from 1
        if ckpt < 0:
            return None
        return (f"resume from weights/epoch{ckpt}.pt (results.csv epoch {idx}, the last healthy one) or the "
                f"newest epochN.pt with N <= {ckpt}; last.pt is poisoned. Verify with `nandoctor inspect-ckpt`")
    if fmt == "hf-trainer-state":
        return (f"resume from the newest checkpoint-N with N <= {idx} (the last healthy step); verify it with "
                "`nandoctor inspect-ckpt`")
    return f"resume from the checkpoint saved at or before {index_name} {idx}, the last healthy one"


def triage_steps(pattern: str, index_name: str, first_index, grad_col: bool, clip: float | None,
                 lr: float | None, fmt: str) -> list[str]:
    """The playbook's decision tree, filled in with what the log shows."""
    steps = []
    if pattern in FIXES:
        steps.append(f"{pattern.replace('_', ' ')}: likely {CAUSES[pattern]}; {FIXES[pattern]}")
    early = (index_name == "step" and isinstance(first_index, (int, float)) and first_index <= 1000) or (
        index_name == "epoch" and isinstance(first_index, (int, float)) and first_index <= 1)
    if pattern != "healthy" and early:
        steps.append("it broke within the first ~1000 steps: check weight initialisation and add LR warmup")
    if pattern in ("abrupt_nonfinite", "sudden_spike"):
        steps.append("if mixed precision is on: prefer bf16 or fp32, keep dynamic loss scaling, cast the loss to fp32")
    if clip is not None:
        steps.append(f"clip gradients at max_norm {clip:g} (2.5x the healthy 99th percentile of grad_norm)")
    elif pattern not in ("healthy",) and not grad_col:
        steps.append("log grad_norm: large gradients call for a lower LR and tighter clipping (max_norm 1.0)")
    if lr is not None:
        line = f"lower the learning rate to {lr:g} (chosen by how soon the loss went non-finite)"
        if fmt.startswith("ultralytics"):
            line += "; for Ultralytics lr0 0.005 to resume or 0.003 to restart, warmup_epochs 3-5"
        steps.append(line)
    return steps
