"""Loss-curve shapes on the curves real runs draw (logs/classify.py), and the pattern benchmark's
generator as a gate: every pattern right at >= 97 %, no healthy curve called broken."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from nandoctor.logs.classify import classify

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


@pytest.mark.parametrize("end", [[], [float("nan")]])
def test_geometric_growth_of_1e5_per_epoch_on_a_short_epoch_log(end):
    y = [0.9, 0.7, 0.6, 0.55, 5.5e4, 5.5e9, 5.5e14, *end]
    shape = classify(y)
    assert shape.pattern == "exponential_growth" and shape.onset == 4


def test_one_step_jump_after_a_flat_run_stays_a_sudden_spike():
    assert classify([2.1, 2.0, 1.9, 2.0, 1.95, 8734.5, float("nan")]).pattern == "sudden_spike"


def test_finite_jump_that_stays_up_is_named():
    """transformers Trainer at learning_rate 10 (tests/data/runs/hf_lr10_diverge): no NaN anywhere."""
    import json

    state = json.loads((Path(__file__).parent / "data/runs/hf_lr10_diverge/out/trainer_state.json").read_text())
    loss = [h["loss"] for h in state["log_history"] if "loss" in h]
    shape = classify(loss)
    assert loss[0] < 1 and min(loss[-8:]) > 10
    assert shape.pattern == "exponential_growth" and shape.onset == 1 and shape.first_bad is None


@pytest.mark.parametrize("seed", range(3))
def test_per_step_oscillation_is_named_at_every_block_alignment(seed):
    """3000 per-step points, each anomalous step high or low at random with growing swings: the
    verdict must not depend on where the ~1% blocks begin."""
    rng = np.random.default_rng(seed)
    n, k = 3000, 600
    y = (0.3 + 2 * np.exp(-4 * np.arange(n) / n)) * (1 + 0.05 * rng.standard_normal(n))
    level = np.median(y[n - k - 20 : n - k])
    y[n - k :] = np.maximum(level + rng.choice([1.0, -1.0], size=k) * level * np.linspace(0.5, 12, k), 0.5 * level)
    assert [classify(y[s:]).pattern for s in range(0, 31, 3)] == ["oscillating_divergence"] * 11


def test_the_pattern_benchmark_meets_its_target():
    import patterns

    matrix: dict[str, dict[str, int]] = {}
    for truth, y, meta in patterns.cases():
        if meta["n"] > 200:
            continue  # the long curves are the benchmark's; this gate keeps to the short ones
        got = classify(y).pattern
        matrix.setdefault(truth, {}).setdefault(got, 0)
        matrix[truth][got] += 1
    total = sum(sum(row.values()) for row in matrix.values())
    right = sum(row.get(t, 0) for t, row in matrix.items())
    assert matrix["healthy"] == {"healthy": sum(matrix["healthy"].values())}
    assert right / total >= 0.97, matrix
