"""The spike and surge tests, written once: the classifier, the side evidence and the sampler of
huge logs all ask these functions, so a point that is a spike in a short log is a spike in a
sampled ten-million-row log too.

Plain functions over a numeric series (a 1-D float array, position = order in the log). The
thresholds, and why:

- A **spike** is a point more than SPIKE_SIGMA (7) standard deviations above the mean of the
  SPIKE_WINDOW (50) values before it: OLMo's spike-score definition, which separates the loss spikes
  that precede divergence from ordinary per-batch noise. The statistics need SPIKE_MIN_HISTORY (2)
  earlier values, so a spike in a log's first rows is judged too. Two guards keep noise out: the
  standard deviation is floored at SD_FLOOR (0.1 %) of the mean (a flat stretch has sd 0, where any
  wiggle would be "infinite sigma"), and the point must also sit SPIKE_MIN_RISE (half) the mean above
  it (on a nearly noiseless curve 7 sigma can be a 1 % bump).
- A spike **recovered** when one of the RECOVERY_POINTS (5) values after it is back under the spike
  limit; one at the very end of the series is judged by `final_jump` instead.
- A **surge** is a point at SURGE_FACTOR (5) times the mean of the SURGE_WINDOW (10) values before it:
  the playbook's early warning on the gradient norm (growing 5x within a short window). Like a spike it
  is judged from SURGE_MIN_HISTORY (2) earlier values on, so a short log's early surge counts
  (`1.1, 1.3, 1.2, 9.8, 48.0`); the caller leaves out the first, random-init steps.
- A **final jump** (the sudden_spike pattern) is the last finite value at JUMP_FACTOR (3) times the
  maximum of the window before it and JUMP_SIGMA (7) robust sigma (MAD) above its median, that window
  not yet elevated; a JUMP_STEP (10) step is sudden even after a small rise. Robust statistics here,
  because the window may hold the first signs of the trouble; and the jump must be a quarter of the
  run's starting scale (JUMP_MIN_SCALE), so a loss near 1e-4 whose noise doubles is no explosion.

Each point's statistics are computed from its own window (two passes), and only for the points that
could pass. Hand-written rather than pandas' rolling mean and std, which give the same numbers
(tests check it): a running-sum window's answer depends on where the array starts, so a block reader
and the whole series could disagree at a threshold, and measuring every point cost twice the time on
million-row logs. A block reader passes the window's worth of earlier values in front of each block
(`history`) and gets exactly the answers of the whole series.
"""

from __future__ import annotations

from typing import Any

SPIKE_SIGMA = 7.0  # OLMo: > 7 sigma above the rolling mean
SPIKE_WINDOW = 50  # values in that rolling mean
SPIKE_MIN_HISTORY = 2  # earlier values needed before a point can be judged
SPIKE_MIN_RISE = 0.5  # also at least half the mean above it
SD_FLOOR = 1e-3  # the sd is at least this share of the mean
RECOVERY_POINTS = 5  # a spike recovered when one of the next 5 values is back under its limit
MAX_SPIKES = 50  # recovered spikes listed (the score counts them all)
SURGE_FACTOR = 5.0  # playbook: grad norm growing 5x ...
SURGE_WINDOW = 10  # ... over the mean of the 10 values before
SURGE_MIN_HISTORY = 2  # earlier values needed before a point can be judged
MAX_SURGES = 20  # surges listed
JUMP_FACTOR = 3.0  # final jump: 3x the window's maximum ...
JUMP_SIGMA = 7.0  # ... and 7 robust sigma above its median
JUMP_STEP = 10.0  # a 10x step is sudden even after a small rise
JUMP_MIN_SCALE = 0.25  # and at least a quarter of the run's starting level

Array = Any  # numpy.ndarray; numpy is imported inside the functions (start-up time)


def _window_stats(x: Array, pos: Array, window: int, min_periods: int) -> tuple[Array, Array]:
    """(mean, sample sd) of the `window` values before each position in `pos` (fewer at the start;
    NaN with under `min_periods`). Two passes over each window's own values, so a point's answer
    depends on its window alone, wherever the array starts: a block reader's carry gives exactly
    the answers the whole series gives."""
    import numpy as np

    mean, sd = np.full(len(pos), np.nan), np.full(len(pos), np.nan)
    offsets = np.arange(-window, 0)
    for a in range(0, len(pos), 8192):  # chunks bound the gathered windows' memory
        p = pos[a : a + 8192]
        idx = p[:, None] + offsets[None, :]
        if len(p) and p[0] >= window:  # positions ascend: every window is full
            vals = x[idx]
            m = vals.mean(axis=1)
            dev = vals - m[:, None]
            mean[a : a + 8192], sd[a : a + 8192] = m, np.sqrt((dev * dev).sum(axis=1) / (window - 1))
            continue
        valid = idx >= 0
        vals = np.where(valid, x[np.maximum(idx, 0)], 0.0)
        count = valid.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            m = vals.sum(axis=1) / count
            dev = np.where(valid, vals - m[:, None], 0.0)
            v = (dev * dev).sum(axis=1) / (count - 1)
        enough = count >= min_periods
        mean[a : a + 8192] = np.where(enough, m, np.nan)
        sd[a : a + 8192] = np.where(enough, np.sqrt(v), np.nan)
    return mean, sd


def _previous(x: Array, k: int, fn: Any, empty: float) -> Array:
    """fn (np.maximum or np.minimum) of the k values before each point (fewer at the start; `empty`
    before the first), by doubling spans: log2(k) passes instead of k."""
    import numpy as np

    span, r = 1, np.array(x, dtype=float)  # r[i]: fn of the `span` values ending at i
    while span * 2 <= k:
        nxt = r.copy()
        fn(nxt[span:], r[:-span], out=nxt[span:])
        r, span = nxt, span * 2
    if k > span:  # two overlapping spans cover k values
        full = r.copy()
        fn(full[k - span :], r[: -(k - span)], out=full[k - span :])
        r = full
    out = np.full(len(x), empty)
    out[1:] = r[:-1]
    return out


def spikes_at(x: Array) -> tuple[Array, Array, Array]:
    """(positions, trailing mean, sigma used) of the spikes of the finite series `x`.

    Only points above every value of their window are measured: a spike must be, since no value of
    a window of m <= 50 lies more than (m-1)/sqrt(m) < 7 sample sd above its mean (Samuelson's
    inequality). That leaves about one point in 50 of a noisy series to gather windows for.
    """
    import numpy as np

    x = np.asarray(x, dtype=float)
    cand = np.flatnonzero(x > _previous(x, SPIKE_WINDOW, np.maximum, -np.inf))
    cand = cand[cand >= SPIKE_MIN_HISTORY]
    mean, sd = _window_stats(x, cand, SPIKE_WINDOW, SPIKE_MIN_HISTORY)
    sigma = np.maximum(sd, SD_FLOOR * np.abs(mean) + 1e-12)
    excess = x[cand] - mean
    hit = (excess > SPIKE_SIGMA * sigma) & (excess > SPIKE_MIN_RISE * np.abs(mean)) & ~np.isnan(mean)
    return cand[hit], mean[hit], sigma[hit]


def spike_mask(x: Array, history: int = 0) -> Array:
    """Which points of `x[history:]` are spikes; `x[:history]` are earlier values (a block
    reader's carry) that only feed the rolling window."""
    import numpy as np

    mask = np.zeros(len(x), dtype=bool)
    mask[spikes_at(x)[0]] = True
    return mask[history:]


def recovered_spikes(f: Array) -> tuple[list[tuple[int, float, float]], float]:
    """((position, value, sigma) of the spikes that came back down, spike score) of a finite series.

    The score is the share of points that are spikes (OLMo's spike score); the list keeps the first
    MAX_SPIKES that recovered, since one at the very end is a sudden spike, not a recovery.
    """
    import numpy as np

    f = np.asarray(f, dtype=float)
    n = len(f)
    if n < SPIKE_MIN_HISTORY + 1:
        return [], 0.0
    rows, mean, sigma = spikes_at(f)
    spikes = []
    for r, m, sg in zip(rows, mean, sigma, strict=True):
        after = f[r + 1 : r + 1 + RECOVERY_POINTS]
        if len(after) and (after <= m + SPIKE_SIGMA * sg).any():
            spikes.append((int(r), float(f[r]), float((f[r] - m) / sg)))
            if len(spikes) >= MAX_SPIKES:
                break
    return spikes, float(len(rows) / n)


def surge_factors(x: Array) -> Array:
    """Each point over the mean of the SURGE_WINDOW values before it (NaN before SURGE_MIN_HISTORY
    values, or where that mean is not positive). Only points at SURGE_FACTOR times the smallest of
    the values before them are measured (a surge must be: a mean is never below its minimum)."""
    import numpy as np

    x = np.asarray(x, dtype=float)
    factor = np.full(len(x), np.nan)
    low = _previous(x, SURGE_WINDOW, np.minimum, np.inf)
    cand = np.flatnonzero(x >= SURGE_FACTOR * np.where(low > 0, low, 0.0))
    cand = cand[cand >= SURGE_MIN_HISTORY]
    base = _window_stats(x, cand, SURGE_WINDOW, SURGE_MIN_HISTORY)[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        factor[cand] = np.where(base > 0, x[cand] / base, np.nan)
    return factor


def surge_mask(x: Array, history: int = 0) -> Array:
    """Which points of `x[history:]` are surges (see `spike_mask` for `history`)."""
    return (surge_factors(x) >= SURGE_FACTOR)[history:]


def grad_surges(rows: Array, values: Array) -> list[tuple[int, float, float]]:
    """(row, value, factor) of the first MAX_SURGES surges of `values`, logged at `rows`."""
    import numpy as np

    values = np.asarray(values, dtype=float)
    if len(values) <= SURGE_MIN_HISTORY:
        return []
    factor = surge_factors(values)
    hits = np.flatnonzero(factor >= SURGE_FACTOR)
    return [(int(rows[i]), float(values[i]), float(factor[i])) for i in hits[:MAX_SURGES]]


def final_jump(g: Array, scale: float) -> bool:
    """Whether the last value of the positive series `g` jumps out of a calm window in one step
    (the sudden_spike pattern); `scale` is the run's starting level."""
    import numpy as np

    n = len(g)
    if n < 3:
        return False
    w = max(2, min(100, n // 50))
    pre = g[-1 - w : -1]
    med_pre = float(np.median(pre))
    sd_pre = max(1.4826 * float(np.median(np.abs(pre - med_pre))), SD_FLOOR * abs(med_pre), 1e-12)
    earlier = g[max(0, n - 4 - 2 * w) : n - 4]
    calm = float(np.median(earlier)) if len(earlier) else med_pre
    # a 10x step is sudden even after a small rise, but not when the point before it is already up:
    # x1e5 per epoch on a short epoch log is geometric growth, not one bad step
    not_rising = g[-4:-1].max() <= 2 * calm or (g[-1] >= JUMP_STEP * g[-4:-1].max() and g[-2] <= 2 * calm)
    rise = g[-1] - med_pre
    return bool(
        g[-1] >= JUMP_FACTOR * pre.max()
        and rise > JUMP_SIGMA * sd_pre
        and not_rising
        and rise >= JUMP_MIN_SCALE * scale
    )
