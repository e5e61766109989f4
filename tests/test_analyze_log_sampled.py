"""analyze-log on logs too long to hold: read in blocks and sampled (logs/sample.py).

The thresholds are lowered so that logs of tens of thousands of rows take the sampled path in
small blocks; each test compares with the full-table analysis of the same file, which is the
answer a user would get if memory were no object.
"""

from __future__ import annotations

import pytest

import nandoctor.logs.readers._csv as csv_reader
import nandoctor.logs.sample as sample
from nandoctor.logs.engine import analyze_log
from tests.analyze_log_fixtures import (
    noisy_curve,
    with_recovered_spike,
    write_csv,
    write_lightning_metrics,
    write_lightning_metrics_fast,
    write_training_history,
    write_ultralytics_results,
)
from tests.conftest import run_cli


@pytest.fixture
def sampled(monkeypatch):
    """Call it on a log: (full analysis, sampled analysis) of the same file."""

    def both(path, **kw):
        full = analyze_log(path, **kw)
        with monkeypatch.context() as m:
            m.setattr(csv_reader, "SAMPLE_ABOVE", 1_000)
            m.setattr(csv_reader, "SAMPLE_TARGET", 4_000)
            m.setattr(csv_reader, "BLOCK_BYTES", 64 << 10)
            m.setattr(sample, "CONTEXT", 256)
            part = analyze_log(path, **kw)
        assert full.summary["sampled"] is None
        assert part.summary["sampled"]["kept_rows"] < full.summary["rows"] / 2  # it really sampled
        return full, part

    return both


def verdict(report):
    s = report.summary
    findings = sorted(
        (f.code, f.line, f.where)
        for f in report.findings
        if f.code not in ("ND303", "ND304", "ND305", "ND306", "ND307")
    )
    return (
        s["pattern"],
        s["rows"],
        s["first_nonfinite"],
        s["last_healthy"],
        s["nonfinite_columns"],
        s["epochs_to_nonfinite"],
        s["spike_score"],
        findings,
    )


@pytest.mark.parametrize(
    "pattern",
    [
        "healthy",
        "abrupt_nonfinite",
        "sudden_spike",
        "exponential_growth",
        "oscillating_divergence",
        "nonfinite_from_start",
    ],
)
def test_sampled_verdict_matches_the_full_table(tmp_path, sampled, pattern):
    n = 40_000
    log = write_training_history(tmp_path / "training_history.csv", noisy_curve(pattern, n, seed=3))
    full, part = sampled(log)
    assert verdict(part) == verdict(full)
    assert part.summary["pattern"] == pattern
    onset_full, onset_part = full.summary["onset"], part.summary["onset"]
    assert (onset_full is None) == (onset_part is None)
    if onset_full is not None:  # the divergence's start is judged on blocks of ~1% of the series
        assert abs(onset_full["row"] - onset_part["row"]) <= 0.05 * n


def test_sampled_ultralytics_results_date_the_break_to_its_line(tmp_path, sampled):
    box = noisy_curve("abrupt_nonfinite", 30_000, seed=5)
    log = write_ultralytics_results(tmp_path / "results.csv", list(box))
    full, part = sampled(log)
    assert verdict(part) == verdict(full)
    nd301 = [f for f in part.findings if f.code == "ND301"][0]
    assert nd301.line == 25_502 and "epoch 25501" in nd301.where  # 0.85 * 30,000 rows + header
    assert part.summary["last_healthy"] == {"index": 25_500, "row": 25_499}


def test_sampled_recovered_spike_keeps_its_exact_row(tmp_path, sampled):
    y = with_recovered_spike(30_000, seed=2)
    log = write_training_history(tmp_path / "training_history.csv", y)
    full, part = sampled(log)
    spikes = part.summary["spikes"]
    assert [s["row"] for s in spikes] == [15_000] == [s["row"] for s in full.summary["spikes"]]
    assert [f.line for f in part.findings if f.code == "ND302"] == [15_002]


@pytest.mark.parametrize("broken", [False, True])
def test_sampled_heavy_tailed_loss_keeps_every_spike_its_sigma_and_the_spike_score(tmp_path, sampled, broken):
    """Student-t noise: dozens of 7-sigma points. The sample keeps the window around each listed one and
    counts the score on every row, so ND302 reads the same (it used to show ~4x the score)."""
    import numpy as np

    n = 40_000
    y = (0.6 + 1.8 * np.exp(-np.arange(n) / 8000)) * np.exp(np.random.default_rng(0).standard_t(3, n) * 0.1)
    if broken:
        y[30_000:] = np.nan
    log = write_training_history(tmp_path / "training_history.csv", y)
    full, part = sampled(log)
    assert len(full.summary["spikes"]) == 50 and full.summary["spike_score"] > 0.002
    assert part.summary["spikes"] == full.summary["spikes"]
    assert part.summary["spike_score"] == full.summary["spike_score"]
    nd302 = [(f.line, f.message) for f in full.findings if f.code == "ND302"]
    assert [(f.line, f.message) for f in part.findings if f.code == "ND302"] == nd302 and len(nd302) == 5


def test_sampled_grad_norm_surge_and_time_reset_are_exact(tmp_path, sampled):
    n = 30_000
    loss = noisy_curve("abrupt_nonfinite", n, seed=4)
    grad = 1.0 + 0.05 * noisy_curve("healthy", n, seed=9)
    grad[20_000] = 12.0  # a surge 5,500 steps before the NaN
    time = [0.5 * (i + 1) for i in range(n)]
    time[12_000:] = [0.5 * (i - 11_999) for i in range(12_000, n)]  # resumed: the clock restarts
    log = write_csv(
        tmp_path / "log.csv",
        {"step": list(range(n)), "time": time, "loss": [float(v) for v in loss], "grad_norm": [float(v) for v in grad]},
    )
    full, part = sampled(log)
    assert verdict(part) == verdict(full)
    where = {f.code: f.where for f in part.findings}
    assert where["ND311"] == "grad_norm @ step 20000" and where["ND314"] == "loss @ step 12000"
    assert part.summary["onset"]["row"] == 20_000


def test_sampled_lightning_sparse_rows_keep_empty_cells_apart_from_nan(tmp_path, sampled):
    y = noisy_curve("abrupt_nonfinite", 20_000, seed=8)
    log = write_lightning_metrics(tmp_path / "metrics.csv", [float(v) for v in y])
    full, part = sampled(log)
    assert verdict(part) == verdict(full)
    assert part.summary["metric"] == "train_loss_step" and part.summary["first_nonfinite"]["index"] == 17_000


def test_sampled_metric_option_watches_that_column(tmp_path, sampled):
    y = with_recovered_spike(30_000, seed=1)
    val = noisy_curve("healthy", 30_000, seed=6)
    log = write_training_history(tmp_path / "training_history.csv", val, val=y)
    full, part = sampled(log, metric="val_loss")
    assert part.summary["metric"] == "val_loss"
    assert [s["row"] for s in part.summary["spikes"]] == [15_000] == [s["row"] for s in full.summary["spikes"]]


def test_sampler_keeps_the_rows_before_a_break_at_a_block_start():
    import numpy as np
    import pandas as pd

    s = sample.Sampler(stride=1000, watch=lambda cols: [["loss"]])
    first = pd.DataFrame({"loss": np.linspace(2.0, 1.0, 5000)})
    second = pd.DataFrame({"loss": np.full(5000, np.nan)})
    s.add(first, {}, first_line=2)
    s.add(second, {"loss": np.ones(5000, bool)}, first_line=5002)
    frame, written, lines, kept = s.finish()
    ids = list(kept.row_ids)
    assert ids[ids.index(5000) - sample.CONTEXT : ids.index(5000) + 1] == list(range(5000 - sample.CONTEXT, 5001))
    assert lines[ids.index(5000)] == 5002 and written["loss"][ids.index(5000)]
    assert kept.total_rows == 10_000 and ids[-1] == 9_999


def test_sampled_log_with_a_bad_line_deep_inside_exits_2(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_reader, "SAMPLE_ABOVE", 1_000)
    monkeypatch.setattr(csv_reader, "BLOCK_BYTES", 64 << 10)
    log = write_training_history(tmp_path / "training_history.csv", noisy_curve("healthy", 20_000))
    lines = log.read_text().splitlines()
    lines[15_000] += ",1,2,3"
    log.write_text("\n".join(lines) + "\n")
    from nandoctor.findings import NandoctorError

    with pytest.raises(NandoctorError, match=r"not a readable CSV log \(.*in the block from line \d+\)"):
        analyze_log(log)


def test_huge_log_of_blank_lines_is_header_only(tmp_path):
    log = tmp_path / "results.csv"
    log.write_bytes(b"epoch,train/box_loss,metrics/mAP50(B)\n" + b"\n" * 3_000_000)
    r = run_cli("analyze-log", log)
    assert r.code == 2 and "header only" in r.stderr and "Traceback" not in r.stderr


def test_sampled_read_shows_progress_on_a_terminal(tmp_path, sampled, monkeypatch):
    """The block reader's bar nests inside analyze-log's own (Rich allows one live display)."""
    import io
    import sys

    from rich.console import Console

    import nandoctor.render as render

    err = io.StringIO()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(render, "stderr_console", lambda: Console(file=err, force_terminal=True, width=120))
    log = write_training_history(tmp_path / "training_history.csv", noisy_curve("healthy", 20_000))
    sampled(log)
    assert "Reading training_history.csv, MiB (sampling 1 row in" in err.getvalue()


def _spike_report(report):
    """What a user sees of the recovered spikes: the summary's spikes and the ND302 findings, with
    the spike score (a share of the whole log, which differs with its length) left out."""
    nd302 = [(f.line, f.where, f.message.split(" (spike score")[0]) for f in report.findings if f.code == "ND302"]
    return report.summary["spikes"], nd302


def test_the_fast_lightning_writer_writes_what_csvlogger_writes(tmp_path):
    """The million-step fixture below is written with pandas; byte for byte it is CSVLogger's
    csv.DictWriter file (sorted columns, empty cells, CRLF)."""
    y = [float(v) for v in noisy_curve("healthy", 2500, seed=11)]
    fast = write_lightning_metrics_fast(tmp_path / "fast.csv", y).read_bytes()
    assert fast == write_lightning_metrics(tmp_path / "dict.csv", y, steps_per_epoch=1000).read_bytes()
    assert fast.count(b"\r\n") == 2500 + 2 + 1  # step rows, two epoch rows, the header


def test_recovered_spike_in_the_first_rows_of_a_million_step_log_is_reported_as_in_a_short_log(tmp_path):
    """Real sampling (no lowered thresholds): a 1.05M-step Lightning metrics.csv, spike at step 3."""
    y = noisy_curve("healthy", 1_050_000, seed=11)
    y[3] *= 40
    (tmp_path / "big").mkdir()
    big = write_lightning_metrics_fast(tmp_path / "big" / "metrics.csv", y)
    short = write_lightning_metrics_fast(tmp_path / "metrics.csv", y[:3000])
    long_report, short_report = analyze_log(big), analyze_log(short)
    assert long_report.summary["sampled"] is not None and long_report.summary["rows"] == 1_051_050
    assert short_report.summary["sampled"] is None
    spikes, nd302 = _spike_report(short_report)
    assert spikes[0]["row"] == 3 and spikes[0]["index"] == 3 and nd302[0][:2] == (5, "train_loss_step @ step 3")
    assert _spike_report(long_report) == (spikes, nd302)
    assert long_report.summary["pattern"] == "healthy"


def test_spike_and_surge_tests_read_the_same_block_by_block_as_on_the_whole_series():
    """The sampler feeds signals.py block by block with the window's worth of earlier values in
    front; the spikes and surges it finds are those of the whole series, the first rows included."""
    import numpy as np

    from nandoctor.logs import signals

    y = with_recovered_spike(5000, seed=3)
    y[7] *= 30
    w = signals.SPIKE_WINDOW
    found = {}
    for test in (signals.spike_mask, signals.surge_mask):
        whole = test(y)
        blocks = [test(y[max(0, a - w) : a + 1000], history=min(a, w)) for a in range(0, 5000, 1000)]
        assert np.array_equal(np.concatenate(blocks), whole)
        found[test.__name__] = list(np.flatnonzero(whole))
    assert found == {"spike_mask": [7, 2500], "surge_mask": [7, 2500]}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spike_test_agrees_with_pandas_rolling_statistics(seed):
    """signals.py measures only the points that can pass (those above their whole window) and each
    from its own window; the spikes and sigmas are those of pandas' rolling mean and std."""
    import numpy as np
    import pandas as pd

    from nandoctor.logs import signals

    rng = np.random.default_rng(seed)
    n = 20_000
    y = (0.6 + 1.8 * np.exp(-np.arange(n) / 4000)) * np.exp(rng.standard_t(3, n) * 0.1)
    roll = pd.Series(y).shift(1).rolling(signals.SPIKE_WINDOW, min_periods=signals.SPIKE_MIN_HISTORY)
    mean, sd = roll.mean().to_numpy(), roll.std().to_numpy()
    sigma = np.maximum(sd, signals.SD_FLOOR * np.abs(mean) + 1e-12)
    expected = np.flatnonzero((y - mean > signals.SPIKE_SIGMA * sigma) & (y - mean > 0.5 * np.abs(mean)))
    pos, m, s = signals.spikes_at(y)
    assert len(expected) > 20 and list(pos) == list(expected)
    assert np.allclose(m, mean[pos], rtol=1e-9) and np.allclose(s, sigma[pos], rtol=1e-9)
