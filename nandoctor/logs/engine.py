"""analyze-log: read a training log, name the loss curve's shape, date the break, say what it implies.

`analyze_log` is also called by `diagnose-config --log` and `triage`, which read these summary keys:
pattern, metric, first_nonfinite, last_healthy, onset, spikes, spike_score, rows, format, index_name,
epochs_to_nonfinite, clip_threshold, suggested_lr, suggested_lr_reason, lr_ran, lr_column (the LR that ran),
nonfinite_columns. Dated events have the shape
{"index": <epoch or step as written in the log>, "row": <0-based data row>} or null.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from nandoctor.findings import NandoctorError, Report
from nandoctor.logs import advice, evidence, series, signals
from nandoctor.logs.classify import classify, fmt_value
from nandoctor.logs.columns import grad_column
from nandoctor.logs.table import LogTable

PATTERN_CODES = {
    "nonfinite_from_start": "ND303",
    "sudden_spike": "ND304",
    "exponential_growth": "ND305",
    "oscillating_divergence": "ND306",
    "abrupt_nonfinite": "ND307",
}
CURVE_POINTS = 64


class LogReport(Report):
    """analyze-log's Report, also carrying the judged series for the text view's sparkline, --plot and
    --watch. Plain class attributes, not dataclass fields, so they stay out of the JSON."""

    curve: list[float] | None = None  # at most CURVE_POINTS values
    series: tuple[str, Any, Any] = ("", None, None)  # (name, values, table rows)


def analyze_log(path: Path, *, metric: str | None = None, plot: Path | None = None, force: bool = False) -> LogReport:
    """Analyze one log file (or a run folder holding one). `plot` also writes a PNG of the curve."""
    from nandoctor.logs.readers import read_log
    from nandoctor.progress import progress

    path = Path(path)
    if str(path) == "-":
        return _analyze_stdin(metric=metric, plot=plot, force=force)
    if not path.exists():
        raise NandoctorError(f"{path}: no such file or directory")
    if plot is not None:
        from nandoctor.logs.plot import check_target

        check_target(Path(plot), force)
    with warnings.catch_warnings():  # numpy's "all-NaN slice" chatter must not reach the user's stderr
        warnings.simplefilter("ignore", RuntimeWarning)
        with progress(f"Reading {path.name}", None):  # a pulsing bar on a terminal; big logs take seconds
            table = read_log(path, metric)
        report = analyze_table(table, metric=metric)
    if plot is not None:
        from nandoctor.logs.plot import write_plot

        write_plot(Path(plot), table, report, force=force)
        report.summary["plot"] = str(plot)
    return report


def primary_series(table: LogTable, metric: str | None):
    """(name, values, table rows) of the metric to classify: --metric, else the default loss."""
    import numpy as np

    cols = list(table.frame.columns)
    if metric is not None:
        wanted = metric.strip().lower()
        match = [c for c in cols if c.lower() == wanted]
        if not match:
            raise NandoctorError(f"{table.path}: no column {metric!r}; columns are: {', '.join(cols)}")
        picked = match
    else:
        picked = [c for c in table.loss_cols if c in cols]
        if not picked:
            picked, _ = series.choose([c for c in cols if c not in (table.index_col, table.epoch_col)])
        if not picked:
            raise NandoctorError(
                f"could not find a loss series in {table.path} ({coverage(table)}; columns: {', '.join(cols[:12])})"
            )
    present = np.logical_and.reduce([table.present(c) for c in picked])
    rows = np.flatnonzero(present)
    if len(rows) == 0:
        raise NandoctorError(f"{table.path}: column {picked[0]!r} holds no values")
    values = sum(table.frame[c].to_numpy(dtype=float)[rows] for c in picked)
    for c in picked:  # a written NaN reads as NaN in the sum, an Inf as Inf
        if c in table.written_nan:
            values[table.written_nan[c][rows]] = np.nan
    name = picked[0] if len(picked) == 1 else "+".join(picked)
    return name, values, rows


def analyze_table(table: LogTable, metric: str | None = None) -> LogReport:
    """Classify the primary metric, date the break, gather the evidence, and fill the Report."""
    report = LogReport(command="analyze-log")
    missing = evidence.missing_cells(table) if metric is None else None
    name, values, rows = primary_series(table, metric)
    nonfinite_cols = evidence.nonfinite_columns(table)
    _refuse_thin_verdict(table, name, values, nonfinite_cols, metric)
    break_at, witness = _witness_break(table, rows, name) if metric is None else (None, None)
    shape = classify(values, break_at=break_at)
    if shape.pattern == "nonfinite_from_start" and _starts_mid_run(table, rows):
        shape.pattern = "nonfinite_throughout"
        shape.detail = (
            f"every value shown is non-finite from the first one ({table.where(int(rows[0]))}); the "
            "log starts mid-run, so when it broke is not in it"
        )
    first_row = int(rows[shape.first_bad]) if shape.first_bad is not None else None
    shape.spike_score = _sampled_spike_score(table, name, first_row, shape.spike_score)
    first, last = table.point(first_row), table.point(_last_healthy_row(table, rows, shape.first_bad))

    grad_col = grad_column(table.frame.columns)
    surges = signals.grad_surges(*evidence.healthy_grad(table, grad_col, first_row)) if grad_col else []
    onset_row = _onset_row(shape, rows, nonfinite_cols, surges, first_row)
    clip = None
    if grad_col is not None:  # clip at what the healthy stretch, before any onset, looked like
        limit = onset_row if onset_row is not None else first_row
        clip = evidence.clip_threshold(evidence.healthy_grad(table, grad_col, limit)[1])
    epochs = _epochs_elapsed(table, first_row)
    ran, ran_col = advice.lr_ran(table, first_row)
    lr = advice.suggested_lr(table.format, epochs, ran, ran_col) if first_row is not None else None
    resume = advice.resume_hint(table.format, table.index_name, last, _first_epoch(table) == 0)

    report.summary.update(
        {
            "pattern": shape.pattern,
            "metric": name,
            "first_nonfinite": first,
            "last_healthy": last,
            "onset": table.point(onset_row),
            "spikes": [{**table.point(int(rows[p])), "value": v, "sigma": round(z, 1)} for p, v, z in shape.spikes],
            "spike_score": round(shape.spike_score, 6),
            "rows": table.total_rows,
            "format": table.format,
            "reader": table.format,
            "index_name": table.index_name,
            "epochs_to_nonfinite": epochs,
            "clip_threshold": clip,
            "suggested_lr": lr.value if lr else None,
            "suggested_lr_reason": lr.reason if lr else None,
            "lr_ran": ran,
            "lr_column": ran_col,
            "nonfinite_columns": [c for c, _ in nonfinite_cols],
            "path": str(table.path),
            "points": int(len(values)),
            "lines": _lines(table)[0],
            "lines_read": _lines(table)[1],
            "detail": shape.detail,
            "resume": resume,
            "notes": list(table.notes),
            "sampled": None
            if table.sample is None
            else {"kept_rows": int(len(table.frame)), "every": table.sample.stride},
        }
    )
    report.curve = _curve(values)  # for the text view's sparkline (not in JSON)
    report.series = (name, values, rows)  # for --plot and --watch

    loc = _locator(table, str(table.path), name)
    _loss_findings(report, table, shape, name, values, rows, onset_row, witness, loc)
    if metric is None:
        _other_loss_findings(report, table, nonfinite_cols, name, first_row)
    if missing:
        _missing_findings(report, table, name, missing)
    if (
        metric is None
        and not any(series.is_loss_like(c) for c in name.split("+"))
        and name != "total"
        and not set(name.split("+")) <= series.YOLO_PARTS
    ):
        report.add(
            "ND316", "info", f"no training loss in this log: judged {name} instead", path=str(table.path), where=name
        )
    _validation_findings(report, table, nonfinite_cols, first_row, loc, name)
    if grad_col is not None:
        _grad_findings(report, table, grad_col, surges, clip, loc)
    _run_findings(report, table, shape, name, values, loc)
    _cut_row_finding(report, table)
    report.next_steps = _next_steps(table, shape.pattern, first, grad_col, clip, lr, resume)
    return report


MIN_POINTS = 3


def _cut_row_finding(report, table: LogTable) -> None:
    """ND317: the CSV log ends inside a row, so the run stopped while writing it; the verdict covers
    only the rows before it."""
    if table.path.suffix.lower() != ".csv" or not table.path.is_file():
        return
    from nandoctor.logs.readers._csv import cut_last_row

    try:
        cut = cut_last_row(table.path)
    except OSError:
        return
    if cut is None:
        return
    line = int(table.lines[-1]) if table.lines is not None and table.sample is None else None
    report.add(
        "ND317",
        "warning",
        f"the log ends inside a row ({cut[0]} of {cut[1]} fields, no line end): the run stopped while "
        "writing it, so what happened last is not in the log",
        path=str(table.path),
        line=line,
        data={"fields": cut[0], "expected": cut[1]},
    )


def coverage(table: LogTable) -> str:
    total, read = _lines(table)
    return f"read {read:,} of {total:,} lines"


def _lines(table: LogTable) -> tuple[int, int]:
    """(lines in the log, lines a reader understood); a CSV counts its header line."""
    if table.lines_total is not None:
        return int(table.lines_total), int(table.lines_read or 0)
    n = table.total_rows + (1 if table.lines is not None else 0)
    return n, n


def _refuse_thin_verdict(table: LogTable, name: str, values, nonfinite_cols, metric) -> None:
    """Exit 2 rather than a verdict from too little: under MIN_POINTS points with nothing non-finite,
    or a console no known format matched where few lines were understood."""
    import numpy as np

    if metric is not None or nonfinite_cols or not np.all(np.isfinite(values)):
        return
    total, read = _lines(table)
    if len(values) < MIN_POINTS:
        raise NandoctorError(
            f"{table.path}: only {len(values)} point(s) of {name} ({coverage(table)}): too few to judge the curve"
        )
    if table.format == "text-log" and read < max(3, 0.05 * total):
        raise NandoctorError(
            f"could not find a loss series in {table.path} ({coverage(table)}; no known console format matched)"
        )
    if not (series.is_loss_like(name) or series.is_grad_like(name) or "+" in name or name == "total"):
        raise NandoctorError(
            f"could not find a loss series in {table.path} ({coverage(table)}; the columns are "
            f"{', '.join(list(table.frame.columns)[:12])})"
        )


def _sampled_spike_score(table: LogTable, name: str, first_row: int | None, score: float) -> float:
    """A sampled log's spike score as on every row (the sampler counted it while reading), when the
    sampler watched this series and stopped at the same break; else the sample's own estimate."""
    counts = table.sample.spikes.get(name) if table.sample is not None else None
    if not counts or not counts[1]:
        return score
    hits, points, broke = counts
    return hits / points if broke == (None if first_row is None else table.row_id(first_row)) else score


def _starts_mid_run(table: LogTable, rows) -> bool:
    """The log's first counter is past the start of training (an excerpt pasted from the middle)."""
    import numpy as np

    if table.index_col is None:
        return False
    idx = table.frame[table.index_col].to_numpy(dtype=float)[rows]
    idx = idx[np.isfinite(idx)]
    if not len(idx):
        return False
    first = float(idx[0])
    stride = float(np.min(np.diff(idx)[np.diff(idx) > 0])) if len(idx) > 1 and (np.diff(idx) > 0).any() else 0.0
    if table.batch_col is not None:
        b = table.frame[table.batch_col].to_numpy(dtype=float)[rows][0]
        if b == b and b > 1 and ("batches" not in table.frame or b < 0.99 * table.frame["batches"].iat[rows[0]]):
            return True
    if table.index_name == "epoch" and not float(first).is_integer():  # HF's fractional epochs
        return first > 2 * stride if stride else first > 0.05
    if table.index_name == "epoch":
        return first > 1
    return first > max(1.0, stride)


def _analyze_stdin(metric, plot, force) -> LogReport:
    """`kubectl logs pod | nandoctor analyze-log -`: the stream is read once, line by line."""
    import io
    import sys

    from nandoctor.logs.readers.text import read_text

    stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline="\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        table = read_text(Path("<stdin>"), source=stream)
        report = analyze_table(table, metric=metric)
    if plot is not None:
        from nandoctor.logs.plot import check_target, write_plot

        check_target(Path(plot), force)
        write_plot(Path(plot), table, report, force=force)
        report.summary["plot"] = str(plot)
    return report


def _other_loss_findings(report, table, nonfinite_cols, name, first_row) -> None:
    """Any non-finite training loss or grad norm is an error, whichever series was chosen."""
    picked = set(name.split("+"))
    if first_row is not None:
        return  # the chosen series broke: ND301 already says so, the rest is in nonfinite_columns
    for col, row in nonfinite_cols:
        if col in picked or series.is_eval(col) or col in table.witness_cols:
            continue
        if series.is_loss_like(col) or series.is_grad_like(col):
            report.add(
                "ND301",
                "error",
                f"{col} became non-finite at {table.where(row)} (row {table.row_id(row)}) while {name} stays finite",
                **_locator(table, str(table.path), col)(row),
                data={"first_nonfinite": table.point(row)},
            )
            return
    for tag, values in table.other_axis.items():
        bad = sorted(k for k, v in values.items() if v != v or v in (float("inf"), float("-inf")))
        if bad and (series.is_loss_like(tag) or series.is_grad_like(tag)):
            sev = "error" if not series.is_eval(tag) or bad[-1] == max(values) else "warning"
            code = "ND308" if series.is_eval(tag) else "ND301"
            report.add(
                code,
                sev,
                f"{tag} (logged once per epoch) is non-finite at epoch {bad[0]} while {name} stays finite",
                path=str(table.path),
                where=f"{tag} @ epoch {bad[0]}",
            )


def _missing_findings(report, table, name, missing) -> None:
    rows, broke = missing
    where = table.where(rows[0])
    if broke:
        return  # the empty cells were taken as the break (ND301 names them)
    report.add(
        "ND315",
        "warning",
        f"{name} is missing (an empty cell) at {where}"
        + (f" and {len(rows) - 1} more row(s)" if len(rows) > 1 else "")
        + " while the other columns were logged: pandas writes NaN as an empty cell",
        **_locator(table, str(table.path), name)(rows[0]),
        data=table.point(rows[0]),
    )


def _witness_break(table: LogTable, rows, name: str = ""):
    """(position in the loss series, (column, row)) of the first non-finite witness value, e.g. HF's
    grad_norm while logging_nan_inf_filter kept the logged loss finite; (None, None) without one."""
    import numpy as np

    best, witness = None, None
    for col in table.witness_cols:
        if col in name.split("+"):
            continue
        mask = table.nonfinite(col)
        if mask.any():
            wrow = int(np.argmax(mask))
            pos = int(np.searchsorted(rows, wrow))
            if col == "nan_recovery":  # printed after the epoch it is about: date it to that epoch's last row
                pos = max(0, int(np.searchsorted(rows, wrow, side="right")) - 1)
            if pos < len(rows) and (best is None or pos < best):
                best, witness = pos, (col, wrow)
    return best, witness


def _onset_row(shape, rows, nonfinite_cols, surges, first_row):
    """The earliest sign of trouble: the divergence's start, a column that went non-finite first,
    or a grad-norm surge before the NaN."""
    onset = int(rows[shape.onset]) if shape.onset is not None else None
    candidates = [nonfinite_cols[0][1]] if nonfinite_cols else []
    if surges and first_row is not None:
        candidates.append(surges[0][0])
    for row in candidates:
        if onset is None or row < onset:
            onset = row
    return onset


def _loss_findings(report, table, shape, name, values, rows, onset_row, witness, loc):
    """ND301 (the break); the pattern's own code, named by classify.py: ND303 nonfinite_from_start,
    ND304 sudden_spike, ND305 exponential_growth, ND306 oscillating_divergence, ND307 abrupt_nonfinite;
    recovered spikes (ND302, signals.py's test); ND310 (a witness broke while the loss looked finite)."""
    s, idx = report.summary, table.index_name
    first, last = s["first_nonfinite"], s["last_healthy"]
    first_row = int(rows[shape.first_bad]) if shape.first_bad is not None else None  # in the frame
    import numpy as np

    if witness is not None and shape.first_bad is not None and not np.isfinite(values[shape.first_bad]):
        if witness[0] == "nan_recovery":
            report.summary["notes"].append(
                f"the trainer itself detected the NaN/Inf loss at "
                f"{table.where(witness[1])} and reloaded last.pt to recover"
            )
        witness = None  # the chosen series shows the break itself
    if first is not None:
        what = "non-finite" if witness else fmt_value(values[shape.first_bad])
        via = f" (seen in {witness[0]}; the logged {name} stayed finite)" if witness else ""
        healthy = f"; last healthy {idx} {last['index']}" if last else ""
        report.add(
            "ND301",
            "error",
            f"{name} became {what} at {table.where(first_row)} (row {first['row']}){via}"
            f"{healthy}; pattern {shape.pattern}",
            **loc(first_row),
            data={"first_nonfinite": first, "last_healthy": last},
        )
    if shape.pattern in PATTERN_CODES:
        code = PATTERN_CODES[shape.pattern]
        row = onset_row if onset_row is not None else first_row
        tail = "" if first is not None else " and is still diverging at the end of the log"
        fix = advice.FIXES[shape.pattern]
        report.add(
            code,
            "error",
            f"{name}: {shape.detail}{tail}; likely {advice.CAUSES[shape.pattern]}",
            **loc(row),
            data={"onset": table.point(row)},
            fix=f"{fix[0].upper()}{fix[1:]}. See `nandoctor explain {code}`.",
        )
    for p, v, z in shape.spikes[:5]:
        point = table.point(int(rows[p]))
        report.add(
            "ND302",
            "warning",
            f"{name} spiked to {fmt_value(v)} ({z:.0f} sigma above its rolling mean) at "
            f"{idx} {point['index']} and came back down (spike score {shape.spike_score:.2%})",
            **loc(int(rows[p])),
            data=point,
        )
    if witness is not None:
        wp, wrow = table.point(witness[1]), witness[1]
        logged = table.frame[name].to_numpy(dtype=float)[wrow] if name in table.frame.columns else float("nan")
        if witness[0] == "nan_recovery":
            msg = (
                f"Ultralytics detected a NaN/Inf loss at {table.where(wrow)} and reloaded last.pt to recover "
                f"(its console says so; the {name} printed there may still look finite)"
            )
        elif logged == 0.0:
            msg = (
                f"{witness[0]} is non-finite at {table.where(wrow)} while the logged {name} is exactly 0.0: the NaN "
                "loss was filtered out of the log (Hugging Face's logging_nan_inf_filter)"
            )
        else:
            msg = (
                f"{witness[0]} is non-finite at {table.where(wrow)} while the logged {name} stays finite: the "
                "loss was filtered or averaged (Hugging Face's logging_nan_inf_filter does this)"
            )
        report.add("ND310", "error", msg, **_locator(table, str(table.path), witness[0])(wrow), data=wp)


def _run_findings(report, table, shape, name, values, loc):
    """A run that does not learn (ND313) and a time column that reset on resume (ND314)."""
    if shape.pattern == "healthy":
        stuck = evidence.not_learning(values)
        zeros = evidence.metrics_all_zero(table)
        if stuck and zeros:
            report.add(
                "ND313",
                "info",
                f"{name} went from {fmt_value(stuck[0])} to {fmt_value(stuck[1])} (median of the "
                f"first and last quarter) and {', '.join(zeros)} stayed 0: the run is not learning",
                path=str(table.path),
                where=name,
            )
    for row in evidence.time_resets(table)[:3]:
        point = table.point(row)
        report.add(
            "ND314",
            "info",
            f"the time column went backwards at {table.index_name} {point['index']}: the run was resumed there",
            **loc(row),
            data=point,
        )


def _locator(table: LogTable, path: str, col: str):
    def loc(row):
        if row is None:
            return {"path": path, "where": col}
        return {"path": path, "line": table.line_at(row), "where": f"{col} @ {table.index_name} {table.index_at(row)}"}

    return loc


def _last_healthy_row(table: LogTable, rows, first_bad):
    """The row before the break; with several rows per epoch (console logs), the last row of the
    last epoch that completed healthy, since resuming happens at epoch boundaries."""

    if first_bad is None or first_bad == 0:
        return None
    row = int(rows[first_bad - 1])
    if table.index_name == "epoch" and table.index_col is not None:
        idx = table.frame[table.index_col].to_numpy(dtype=float)
        bad_epoch = idx[rows[first_bad]]
        earlier = rows[:first_bad][idx[rows[:first_bad]] < bad_epoch]
        if len(earlier) and idx[row] == bad_epoch:
            row = int(earlier[-1])
    return row


def _epochs_elapsed(table: LogTable, row):
    """Epochs elapsed when the value went non-finite: 1-based epochs as written, 0-based plus one,
    fractional (HF) as is."""
    import numpy as np

    if row is None or table.epoch_col is None:
        return None
    col = table.frame[table.epoch_col].to_numpy(dtype=float)
    e = col[row]
    if not np.isfinite(e):
        before = col[:row][np.isfinite(col[:row])]
        if not len(before):
            return None
        e = before[-1]
    if float(e).is_integer():
        return int(e) + (1 if _first_epoch(table) == 0 else 0)
    return round(float(e), 3)


def _first_epoch(table: LogTable) -> float | None:
    """The smallest epoch written (0 for 0-based logs such as YOLOv5 and Lightning)."""
    import numpy as np

    if table.epoch_col is None:
        return None
    col = table.frame[table.epoch_col].to_numpy(dtype=float)
    col = col[np.isfinite(col)]
    return float(col.min()) if len(col) else None


def _validation_findings(report, table, nonfinite_cols, first_row, loc, name):
    """ND308: validation non-finite before the loss broke, or at the end of the log, is an error; a
    transient one that recovered while training stayed finite is a warning that says when."""
    evals = set(evidence.eval_columns(table.frame.columns))
    val_bad = [(c, r) for c, r in nonfinite_cols if c in evals and c not in table.witness_cols]
    if val_bad:
        col, row = val_bad[0]
        point = table.point(row)
        sev, msg = "error", None
        if first_row is None:
            recovered = _recovered_at(table, col)
            if recovered is None:
                msg = f"{col} is non-finite at {table.where(row)} and still at the end of the log, while {name} stays finite"
            else:
                sev = "warning"
                import numpy as np

                bad = np.flatnonzero(table.nonfinite(col))
                at = ", ".join(str(table.index_at(int(r))) for r in bad[:5]) + (", ..." if len(bad) > 5 else "")
                msg = (
                    f"{col} was non-finite at {table.index_name} {at} ({len(bad)} row(s)) and recovered from "
                    f"{table.where(recovered)} while {name} stayed finite; half-precision validation is the "
                    "usual cause"
                )
        elif row < first_row:
            msg = (
                f"{col} went non-finite at {table.where(row)}, before {name} "
                f"({table.where(first_row)}): validation first is itself evidence"
            )
        if msg:
            report.add(
                "ND308",
                sev,
                msg,
                **loc(row) | {"where": f"{col} @ {table.index_name} {point['index']}"},
                data={"columns": [c for c, _ in val_bad]},
            )
    starts = [r for _, r in nonfinite_cols]
    if starts:
        row = min(starts)
        snapped = evidence.snapped_metrics(table, row)
        if snapped:
            point = table.point(row)
            parts = ", ".join(f"{c} {b:g} -> {a:g}" for c, b, a in snapped)
            report.add(
                "ND309",
                "warning",
                f"at {table.where(row)}, when values turned non-finite, {parts}: not success, a symptom of NaN outputs",
                **loc(row) | {"where": f"{snapped[0][0]} @ {table.index_name} {point['index']}"},
                data={"metrics": [c for c, _, _ in snapped]},
            )


def _recovered_at(table: LogTable, col: str) -> int | None:
    """The first row after the last non-finite value of `col` where it is finite again, else None."""
    import numpy as np

    bad = table.nonfinite(col)
    last_bad = int(np.flatnonzero(bad)[-1])
    v = table.frame[col].to_numpy(dtype=float)
    later = np.flatnonzero(np.isfinite(v[last_bad + 1 :]))
    return int(last_bad + 1 + later[0]) if len(later) else None


def _grad_findings(report, table, col, surges, clip, loc):
    import numpy as np

    if surges:
        row, value, factor = surges[0]
        point = table.point(row)
        report.add(
            "ND311",
            "warning",
            f"{col} jumped to {fmt_value(value)} ({factor:.1f}x the mean of the "
            f"up to {signals.SURGE_WINDOW} points before) at {table.index_name} {point['index']}"
            + (f"; {len(surges)} such jumps" if len(surges) > 1 else ""),
            **loc(row) | {"where": f"{col} @ {table.index_name} {point['index']}"},
            data=point,
        )
    v = table.frame[col].to_numpy(dtype=float)
    big = np.flatnonzero(np.isfinite(v) & (v > 1000))
    if len(big) and not surges:
        point = table.point(int(big[0]))
        report.add(
            "ND311",
            "warning",
            f"{col} reached {fmt_value(v[big[0]])} at {table.index_name} {point['index']} "
            "(above the 1000 alarm threshold)",
            **loc(int(big[0])),
            data=point,
        )
    if clip is not None:
        report.add(
            "ND312",
            "info",
            f"clip gradients at about {clip:g}: 2.5x the 99th percentile of the healthy {col}",
            path=str(table.path),
            where=col,
            data={"clip_threshold": clip},
        )


def _next_steps(table, pattern, first, grad_col, clip, lr, resume) -> list[str]:
    steps = [resume] if resume else []
    steps += advice.triage_steps(
        pattern,
        table.index_name,
        first["index"] if first else None,
        grad_col is not None,
        clip if pattern != "healthy" else None,
        lr,
        table.format,
    )
    if pattern != "healthy":
        steps.append(
            "check the data and the config: `nandoctor check-data DATASET`, `nandoctor diagnose-config "
            "CONFIG --log " + str(table.path) + "`"
        )
    return steps


def _curve(values):
    """At most CURVE_POINTS values (block maxima keep spikes visible); NaN marks non-finite blocks."""
    import numpy as np

    v = np.asarray(values, dtype=float)
    n = len(v)
    if n <= CURVE_POINTS:
        return v.tolist()
    edges = np.linspace(0, n, CURVE_POINTS + 1).astype(int)
    out = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        block = v[a : max(b, a + 1)]
        fin = block[np.isfinite(block)]
        out.append(float("nan") if len(fin) < len(block) else float(fin.max()))
    return out
