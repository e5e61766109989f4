"""`analyze-log --watch`: follow a log that is still being written, like the field notes' monitor
script. Each poll re-reads the log (readers are fast; logs are small next to a training step),
reports the new points, and stops at the first non-finite loss, divergence or grad-norm early
warning. Polling is bounded by `timeout`; Ctrl-C reaches the CLI, which exits cleanly."""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Callable

from nandoctor.findings import NandoctorError, Report
from nandoctor.logs.classify import fmt_value

ALARMS = ("ND301", "ND303", "ND304", "ND305", "ND306", "ND307", "ND308", "ND310", "ND311")


def watch_log(path: Path, *, metric: str | None = None, interval: float = 2.0, timeout: float = 3600.0,
              emit: Callable[[str], None] = lambda line: None, clock=time.monotonic, sleep=time.sleep) -> Report:
    """Poll `path` until an alarm fires or `timeout` seconds pass; return the last analysis.

    `summary["watch"]["stopped"]` says why: "alarm" (the Report is marked `alarm`, so exit 1) or "timeout".
    """
    from nandoctor.logs.engine import analyze_table
    from nandoctor.logs.readers import read_log

    path = Path(path)
    deadline = clock() + timeout
    seen, last_size, latest, error = 0, -1, None, None
    while True:
        size = path.stat().st_size if path.is_file() else -1
        complete = size > 0 and (_ends_with_newline(path) or size == last_size)  # no half-written row
        if complete and size != last_size:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    table = read_log(path, metric)
                    latest = analyze_table(table, metric)
                error = None
            except NandoctorError as exc:  # half-written or not there yet: wait for more
                if metric is not None and "no column" in str(exc):
                    raise
                error = str(exc)
            else:
                name, values, rows = latest.series
                if seen == 0 and len(values) > 20:  # joining a long run: one line for what is already there
                    emit(f"{len(values)} points so far ({name})")
                    seen = len(values) - 1
                for i in range(seen, len(values)):
                    emit(f"{table.index_name} {table.index_at(int(rows[i]))}: {name} {fmt_value(values[i])}")
                seen = len(values)
                fired = [f.code for f in latest.findings if f.code in ALARMS]
                if fired:
                    latest.summary["watch"] = {"stopped": "alarm", "codes": fired}
                    latest.alarm = True
                    return latest
        last_size = size
        if clock() >= deadline:
            if latest is None:
                raise NandoctorError(error or f"{path}: no readable log appeared within {timeout:g} s")
            latest.summary["watch"] = {"stopped": "timeout", "codes": []}
            return latest
        sleep(max(0.0, min(interval, deadline - clock())))


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, 2)
        return fh.read(1) in (b"\n", b"\r")
