"""Name the shape of a loss curve: exactly one pattern per series (field notes §2).

Patterns (checked in this order; each holds on the playbook's short sequences and on noisy
per-step logs of thousands of points, because long series are judged on block envelopes, not on
single points):

- `nonfinite_from_start`: the very first logged value is NaN/Inf. Nothing ever trained: labels out
  of range, `-inf` logit masking, a broken loss (field notes §1C).
- `sudden_spike`: the curve is flat/healthy, then its last finite value jumps at least 3x above
  the preceding window's maximum and more than 7 robust sigma above its median, with the points just
  before the jump not yet elevated (or the jump itself 10x) (2.1, 2.0, 1.9, 8734.5, NaN). One bad sample, overflow, log(0),
  division by zero.
- `exponential_growth`: after its calmest point the curve rises steadily (most block medians
  increase) until even its lower envelope sits at 2.5x the calm level (2.1, 2.3, 2.8, 4.5, 12.3,
  89.7, NaN). Learning rate too high, accumulated gradients not divided, bad momentum.
  A curve that jumped 10x and stayed up to its end (no NaN yet) is named the same: it diverged.
- `oscillating_divergence`: after its calmest point the swings grow (upper envelope at 2x the calm
  upper envelope, swing amplitude 3x the calm one, at least three direction changes; on long logs
  the last block's swing is also 4x the run's median swing, the one before 2x) while the lower envelope stays down (2.1, 1.8, 2.5, 1.6, 3.2, 1.4, 5.8, NaN). Corrupted optimizer state (Adam's
  second moment), batch-to-batch distribution shift, a misconfigured scheduler.
- `abrupt_nonfinite`: finite and healthy right up to the first NaN/Inf, none of the shapes above
  (fp16/AMP overflow after a long healthy run, field notes §1B).
- `healthy`: finite throughout and not diverging at its end. Spikes that came back down are
  reported separately as recovered spikes (OLMo-style spike score), not as a pattern.

A divergence must also be large against the run's own starting scale (a quarter of the early
loss), so a loss converging to 1e-4 whose noise doubles is not called an explosion.

The spike tests (the recovered spikes, the sudden spike's final jump) live in signals.py, shared with
the evidence and the sampler of huge logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nandoctor.logs.signals import final_jump, recovered_spikes

PATTERNS = (
    "healthy",
    "sudden_spike",
    "exponential_growth",
    "oscillating_divergence",
    "abrupt_nonfinite",
    "nonfinite_from_start",
)


@dataclass
class Shape:
    pattern: str
    first_bad: int | None = None  # position of the first non-finite value
    onset: int | None = None  # position where the anomaly began
    spikes: list[tuple[int, float, float]] = field(default_factory=list)  # (position, value, sigma)
    spike_score: float = 0.0  # share of finite points > 7 sigma above the rolling mean
    detail: str = ""  # one line of numbers behind the verdict


def classify(values, break_at: int | None = None) -> Shape:
    """Classify a series (positions are indices into `values`).

    `break_at` marks a break seen by a witness (HF's grad_norm while the logged loss was filtered).
    """
    import numpy as np

    y = np.asarray(values, dtype=float)
    if y.size == 0:
        raise ValueError("empty series")
    bad = ~np.isfinite(y)
    first_bad = int(np.argmax(bad)) if bad.any() else None
    if break_at is not None and (first_bad is None or break_at < first_bad):
        first_bad = int(break_at)
    if first_bad == 0:
        return Shape(
            "nonfinite_from_start", first_bad=0, onset=0, detail=f"the first logged value is already {fmt_value(y[0])}"
        )
    finite = y[:first_bad] if first_bad is not None else y
    spikes, score = recovered_spikes(finite)
    verdict = _divergence(finite)
    if verdict is not None:
        pattern, onset, detail = verdict
        return Shape(pattern, first_bad, onset, [s for s in spikes if s[0] < onset], score, detail)
    if first_bad is not None:
        return Shape(
            "abrupt_nonfinite",
            first_bad,
            first_bad,
            spikes,
            score,
            f"finite and steady up to {fmt_value(finite[-1])}, then {fmt_value(y[first_bad])}",
        )
    return Shape("healthy", None, None, spikes, score, "")


def _envelopes(g):
    """(starts, lo, med, hi) per block: 2-point windows for short series, blocks of ~1% beyond."""
    import numpy as np

    n = len(g)
    if n < 12:
        lo = np.minimum(g[:-1], g[1:])
        hi = np.maximum(g[:-1], g[1:])
        return np.arange(1, n), lo, g[1:].copy(), hi
    b = max(3, n // 100)
    start = n % b
    blocks = g[start:].reshape(-1, b)
    lo, med, hi = np.percentile(blocks, [10, 50, 90], axis=1)
    return start + np.arange(len(blocks)) * b, lo, med, hi


def _divergence(f):
    """(pattern, onset position, detail) for a finite series that diverges at its end, else None."""
    import numpy as np

    n = len(f)
    if n < 3:
        return None
    g = np.asarray(f, dtype=float)
    if g.min() <= 0:  # ratios need a positive curve: lift it, keeping its shape
        g = g - g.min() + max(1e-12, 0.01 * (g.max() - g.min()) or 1.0)
    scale = float(np.median(g[: max(1, n // 10)]))

    if final_jump(g, scale):  # one point far above the window before it, that window not yet elevated
        return "sudden_spike", n - 1, f"jumped from {fmt_value(f[-2])} to {fmt_value(f[-1])} in one step"

    if n < 4:
        return None
    starts, lo, med, hi = _envelopes(g)
    k = int(np.argmin(hi))
    verdict = _from_calm(f, g, scale, starts, lo, med, hi, k)
    if verdict is None and n >= 12:
        # a lone block of lows inside per-step swings (three low steps in a row) can pass for the
        # calmest point; judge each block with its neighbours and look again from there
        near = np.maximum(hi, np.maximum(np.r_[hi[1:], hi[-1]], np.r_[hi[0], hi[:-1]]))
        if int(np.argmin(near)) != k:
            verdict = _from_calm(f, g, scale, starts, lo, med, hi, int(np.argmin(near)))
    return verdict if verdict is not None else _levelled_off(np.asarray(f, dtype=float), scale)


def _from_calm(f, g, scale: float, starts, lo, med, hi, k: int):
    """exponential_growth or oscillating_divergence after block k, the calm reference, else None."""
    import numpy as np

    n = len(g)
    after = len(hi) - 1 - k
    if after < 2:
        return None
    ref_lo, ref_med, ref_hi = lo[k], med[k], hi[k]
    big = hi[-1] - ref_hi >= 0.25 * scale
    onset = int(starts[k + 1]) if k + 1 < len(starts) else n - 1
    first, last = fmt_value(f[onset - 1] if onset > 0 else f[0]), fmt_value(f[-1])
    calm_until = k + int(np.flatnonzero(med[k:] <= 1.5 * ref_med)[-1])  # the rise starts after it
    rises = np.diff(med[calm_until:]) > 0
    raw = g[int(starts[k]) :]
    raw_low = float(np.percentile(raw[-max(4, len(raw) // 5) :], 10)) if n >= 12 else lo[-1]
    if (
        big
        and lo[-1] >= 2.5 * ref_med
        and raw_low >= 2.5 * ref_med
        and hi[-1] >= 4 * ref_med
        and len(rises) >= 2
        and rises.mean() >= 0.6
    ):  # raw_low: the lows rose too, whatever the blocks
        onset = int(starts[calm_until + 1]) if calm_until + 1 < len(starts) else n - 1
        first = fmt_value(f[onset - 1] if onset > 0 else f[0])
        return (
            "exponential_growth",
            onset,
            f"rose from {first} to {last} (x{g[-1] / g[max(onset - 1, 0)]:.3g}) over {n - onset} points",
        )
    tail = np.diff(g[max(int(starts[k]) - 1, 0) :])
    turns = int((np.sign(tail[1:]) * np.sign(tail[:-1]) < 0).sum())
    amp = hi - lo
    typical = None
    if n >= 12:  # long logs: the last swings must dwarf the run's typical noise,
        # not just the calmest block's (a chance-calm block would make ordinary noise look like growth)
        typical = max(float(np.median(amp)), 1e-12)
        sustained = bool(amp[-1] >= 4 * typical and amp[-2] >= 2 * typical)
    else:
        sustained = True
    if (
        big
        and sustained
        and hi[-1] >= 2 * ref_hi
        and lo[-1] <= 1.5 * ref_med
        and amp[-1] >= 3 * max(ref_hi - ref_lo, 1e-12)
        and turns >= 3
    ) or _swinging_tail(g, int(starts[k]), ref_lo, ref_med, ref_hi, scale, typical if n >= 12 else None):
        return (
            "oscillating_divergence",
            onset,
            f"swings grew from {fmt_value(ref_hi - ref_lo)} to {fmt_value(hi[-1] - lo[-1])} wide "
            f"over {n - onset} points while the lows stayed near {fmt_value(lo[-1])}",
        )
    return None


def _swinging_tail(g, calm_start: int, ref_lo, ref_med, ref_hi, scale: float, typical) -> bool:
    """Per-step swings judged on the raw points after the calmest block, so the verdict does not
    hang on where block edges fall: in the last third of them (4 points at least) the highs reach 2x
    the calm upper envelope on a quarter of the points (and 4x its median), the lows stay near the
    calm median, the swing is 3x the calm one, twice the swing of the first third (and, on long logs,
    4x the run's typical block swing), with at least 3 direction changes."""
    import numpy as np

    tail = g[calm_start:]
    third = max(4, len(tail) // 3)
    w, early = tail[-third:], tail[:third]
    if len(tail) < 6 or len(w) < 4:
        return False
    swing = float(w.max() - w.min())
    turns = int((np.sign(np.diff(w)[1:]) * np.sign(np.diff(w)[:-1]) < 0).sum())
    grew = swing >= 2 * float(early.max() - early.min())  # stationary noise, however wild, does not grow
    return bool(
        grew
        and float((w >= 2 * ref_hi).mean()) >= 0.25
        and w.max() >= 4 * ref_med
        and w.min() <= 1.5 * ref_med
        and w.max() - ref_hi >= 0.25 * scale
        and swing >= 3 * max(ref_hi - ref_lo, 1e-12)
        and (typical is None or swing >= 4 * typical)
        and turns >= 3
    )


def _levelled_off(f, scale: float):
    """A finite divergence that stopped rising: the curve's last fifth sits 10x above the level it
    had before and never comes back within 5x of it (transformers Trainer at learning_rate 10:
    0.69, then 189, then 19-70 to the end). Named exponential_growth: it rose, then stayed up."""
    import numpy as np

    n = len(f)
    m = max(2, n // 5)
    if n < 6 or f.min() < 0:
        return None
    head, tail = f[:-m], f[-m:]
    # the level before: the head's median, or the first logged value when the jump came at once
    before = min(float(np.median(head)), float(f[0]))
    if before <= 0:
        return None
    threshold = 5 * before
    if not (
        np.percentile(tail, 10) >= threshold
        and np.median(tail) >= 10 * before
        and np.median(tail) - before >= 0.25 * scale
    ):
        return None
    onset = int(np.argmax(f >= threshold))
    if onset == 0:
        return None
    return (
        "exponential_growth",
        onset,
        f"rose from {fmt_value(f[onset - 1])} to {fmt_value(f[onset:].max())} and stayed up "
        f"(x{np.median(tail) / before:.3g} over its earlier level for the last {m} points)",
    )


def fmt_value(x) -> str:
    x = float(x)
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "Inf" if x > 0 else "-Inf"
    return f"{x:.4g}"
