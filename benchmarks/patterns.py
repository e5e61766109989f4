"""Pattern-shape benchmark: does classify() name each loss-curve shape right?

A generator of our own makes every pattern at several lengths, noise levels and sampling rates
(a longer underlying curve read every k-th step, as loggers do), with and without the final NaN,
at two block alignments (the series shifted by one point). Prints a confusion matrix (rows: the
truth, columns: the verdict), the share right and the number of healthy curves called broken.

    python benchmarks/patterns.py            # target: >= 97 % right, 0 healthy curves called broken
"""

from __future__ import annotations

import itertools
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nandoctor.logs.classify import PATTERNS, classify  # noqa: E402

LENGTHS = (8, 30, 200, 3000)  # logged points
NOISES = (0.01, 0.05, 0.15)  # relative noise per point
RATES = (1, 5, 20)  # one logged point every k steps of the underlying curve
SEEDS = (0, 1)


def healthy_curve(rng, steps: int, noise: float):
    """A decaying loss with multiplicative noise, a plateau, sometimes a bump that recovers."""
    import numpy as np

    t = np.arange(steps) / max(steps - 1, 1)
    base = 0.3 + 2.0 * np.exp(-4 * t)
    y = base * (1 + noise * rng.standard_normal(steps))
    return np.abs(y)


def make(pattern: str, rng, n: int, noise: float, rate: int, *, end_nan: bool):
    """n logged points of `pattern`, read every `rate` steps; the anomaly sits in the last part."""
    import numpy as np

    steps = n * rate
    y = healthy_curve(rng, steps, noise)
    logged = y[::rate][:n].copy()
    if pattern == "healthy":
        variant = rng.integers(7)
        if variant == 1 and n >= 8:  # a spike that came back down, mid-run
            logged[n // 2] *= rng.uniform(5, 50)
        elif variant == 2:  # the end creeps up 20 %, as an overfitting validation loss does
            logged[-max(2, n // 5) :] *= 1.2
        elif variant == 3:  # warmup: the loss rises 1.5x over the first tenth, then decays
            m = max(2, n // 10)
            logged[:m] *= np.linspace(0.67, 1.0, m)
        elif variant == 4:  # heavy-tailed noise (Student t, 3 degrees of freedom)
            logged = logged / (1 + noise * 0) * np.exp(rng.standard_t(3, n) * max(noise, 0.1))
        elif variant == 5:  # additive noise as large as the final loss
            logged = logged + np.abs(rng.normal(0, 0.3, n))
        elif variant == 6:  # periodic: the loss swings with an epoch-long cycle of the data order
            logged = np.maximum(logged * (1 + 0.5 * np.sin(np.arange(n) / 5)), 1e-3)
        return logged
    if pattern == "nonfinite_from_start":
        logged[:] = np.nan
        return logged
    if pattern == "abrupt_nonfinite":
        return np.append(logged[:-1], np.nan)
    k = max(3, n // 5)  # the anomaly's length in logged points
    start = n - k
    level = float(np.median(logged[max(0, start - 5) : start]))
    if pattern == "sudden_spike":
        out = logged[:-1].copy()
        out[-1] = level * rng.uniform(50, 5000)
        return np.append(out, np.nan) if end_nan else out
    if pattern == "exponential_growth" and rng.random() < 0.3 and not end_nan:
        # finite divergence that levels off high: the loss jumps x30-x300 and wanders up there
        # (transformers Trainer at learning_rate 10: 0.69 -> 189, then 19-70)
        high = level * rng.uniform(30, 300) * np.exp(0.5 * rng.standard_normal(k))
        return np.concatenate([logged[:start], high])
    if pattern == "exponential_growth":
        growth = rng.choice([3.0, 10.0, 1e5]) if n < 12 else rng.uniform(1.05, 1.3) ** rate
        growth = min(max(growth, 10 ** (1 / k)), 1e300 ** (1 / k))  # at least x10 over the rise
        rise = level * growth ** np.arange(1, k + 1)
        out = np.concatenate([logged[:start], rise * (1 + noise * rng.standard_normal(k))])
        return np.append(out, np.nan) if end_nan else out
    if pattern == "oscillating_divergence":
        amp = level * np.linspace(0.5, 12, k)
        # strict alternation, or (on per-step logs, 40+ anomalous points) each step high or low at
        # random: too few random signs would not look like swings to anyone
        sign = (
            rng.choice([1.0, -1.0], size=k)
            if k >= 40 and rng.random() < 0.5
            else np.where(np.arange(k) % 2 == 0, 1.0, -1.0)
        )
        osc = np.maximum(level + sign * amp, level * 0.5) * (1 + noise * rng.standard_normal(k))
        out = np.concatenate([logged[:start], np.abs(osc)])
        return np.append(out, np.nan) if end_nan else out
    raise ValueError(pattern)


def cases():
    import numpy as np

    for pattern, n, noise, rate, seed, end_nan, shift in itertools.product(
        PATTERNS, LENGTHS, NOISES + (0.3,), RATES, SEEDS + (2, 3, 4, 5), (True, False), (0, 1)
    ):
        if (noise == 0.3 or seed > 1) and pattern != "healthy":
            continue  # more healthy curves (and noisier ones): none may be called broken
        if pattern in ("healthy", "abrupt_nonfinite", "nonfinite_from_start") and not end_nan:
            continue  # these have one form
        if pattern == "oscillating_divergence" and n < 12:
            continue  # too few points to see swings grow
        rng = np.random.default_rng(zlib.crc32(repr((pattern, n, noise, rate, seed, end_nan)).encode()))
        y = make(pattern, rng, n + shift, noise, rate, end_nan=end_nan)[shift:]
        yield pattern, y, dict(n=n, noise=noise, rate=rate, seed=seed, end_nan=end_nan, shift=shift)


def main() -> int:
    matrix = {t: dict.fromkeys(PATTERNS, 0) for t in PATTERNS}
    wrong = []
    t0 = time.perf_counter()
    total = 0
    for truth, y, meta in cases():
        got = classify(y).pattern
        matrix[truth][got] += 1
        total += 1
        if got != truth:
            wrong.append((truth, got, meta))
    elapsed = time.perf_counter() - t0
    right = sum(matrix[t][t] for t in PATTERNS)
    short = {
        "healthy": "healthy",
        "sudden_spike": "spike",
        "exponential_growth": "exp",
        "oscillating_divergence": "osc",
        "abrupt_nonfinite": "abrupt",
        "nonfinite_from_start": "start",
    }
    print("truth \\ verdict".ljust(24) + "".join(short[p].rjust(9) for p in PATTERNS))
    for t in PATTERNS:
        print(t.ljust(24) + "".join(str(matrix[t][p]).rjust(9) for p in PATTERNS))
    broken_healthy = total_h = sum(matrix["healthy"].values())
    broken_healthy = total_h - matrix["healthy"]["healthy"]
    print(
        f"\n{right}/{total} right ({100 * right / total:.1f} %); healthy called broken: {broken_healthy} of {total_h}; "
        f"{1e3 * elapsed / total:.2f} ms per curve"
    )
    for truth, got, meta in wrong[: int(sys.argv[1]) if len(sys.argv) > 1 else 12]:
        print("  wrong:", truth, "->", got, meta)
    return 0 if right / total >= 0.97 and broken_healthy == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
