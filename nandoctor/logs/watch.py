"""`analyze-log --watch`: a monitor for a log that is still being written.

Started next to `yolo train`, the log usually does not exist yet: the watch waits for it (a
status line), says it is watching (a heartbeat at start and every `heartbeat` polls), reports each
new point, and stops at the first non-finite loss, divergence or grad-norm early warning (exit 1)
or at `timeout` (exit 3), saying why. A log truncated in place, deleted, rotated or re-created is
read again from its start. Each poll re-reads the log (readers are fast; logs are small next to a
training step). Ctrl-C reaches the CLI, which exits 130.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Callable

from nandoctor.findings import NandoctorError, Report
from nandoctor.logs.classify import fmt_value

ALARMS = ("ND301", "ND303", "ND304", "ND305", "ND306", "ND307", "ND308", "ND310", "ND311")


def _identity(path: Path) -> tuple[int, int, int] | None:
    """(inode, device, size) of the log, or None while there is no regular file there."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    import stat

    if not stat.S_ISREG(st.st_mode):
        return None
    return st.st_ino, st.st_dev, st.st_size


def _ends_with_newline(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            if fh.tell() == 0:
                return False
            fh.seek(-1, 2)
            return fh.read(1) in (b"\n", b"\r")
    except OSError:  # gone or cut between stat and read: try again next poll
        return False


def watch_log(
    path: Path,
    *,
    metric: str | None = None,
    interval: float = 2.0,
    timeout: float = 3600.0,
    emit: Callable[[str], None] = lambda line: None,
    plot: Path | None = None,
    force: bool = False,
    heartbeat: int = 30,
    clock=time.monotonic,
    sleep=time.sleep,
) -> Report:
    """Poll `path` until an alarm fires or `timeout` seconds pass; return the last analysis.

    `summary["watch"]` says why it stopped: {"stopped": "alarm", "codes": [...]} (the Report is
    marked `alarm`, so exit 1) or {"stopped": "timeout", "codes": []} (exit 3).
    """
    from nandoctor.logs.engine import analyze_table
    from nandoctor.logs.readers import read_log

    path = Path(path)
    start = clock()
    deadline = start + timeout
    seen, last, latest, error, polls, restarts = 0, None, None, None, 0, 0
    last_point, known, plotted, gone = "", None, False, False  # known: the last file seen there (inode, device, size)
    waiting_said = False
    emit(
        f"watching {path} every {interval:g} s (stops at the first non-finite loss or early warning, "
        f"or after {timeout:g} s)"
    )
    while True:
        polls += 1
        ident = _identity(path)
        if ident is None:
            gone = known is not None
            if not waiting_said:
                emit(f"waiting for {path} to appear ..." if latest is None else f"{path} is gone; waiting for it")
                waiting_said = True
        else:
            waiting_said = False
            recreated = gone or (known is not None and ident[:2] != known[:2])  # inode numbers get reused
            if known is not None and (recreated or ident[2] < known[2]):
                restarts += 1
                emit(f"{path} was {'re-created' if recreated else 'truncated'}; reading it from the start")
                seen, last = 0, None
            known, gone = ident, False
            complete = ident[2] > 0 and (_ends_with_newline(path) or (last is not None and ident == last))
            if complete and ident != last:
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
                except OSError as exc:  # vanished or cut while being read
                    error = f"{path}: {exc.strerror or exc}"
                else:
                    name, values, rows = latest.series
                    if len(values) < seen:  # rewritten shorter under the same inode and size pattern
                        seen = 0
                    if seen == 0 and len(values) > 20:  # joining a long run: one line for what is already there
                        emit(f"{len(values)} points so far ({name})")
                        seen = len(values) - 1
                    for i in range(seen, len(values)):
                        last_point = f"{table.index_name} {table.index_at(int(rows[i]))}: {name} {fmt_value(values[i])}"
                        emit(last_point)
                    seen = len(values)
                    if plot is not None:
                        from nandoctor.logs.plot import write_plot

                        write_plot(Path(plot), table, latest, force=force or plotted)
                        if not plotted:
                            emit(f"wrote the plot to {plot} (redrawn with each new point)")
                        plotted = True
                        latest.summary["plot"] = str(plot)
                    fired = [f.code for f in latest.findings if f.code in ALARMS]
                    if fired:
                        latest.summary["watch"] = {"stopped": "alarm", "codes": fired}
                        latest.alarm = True
                        why = next(f for f in latest.findings if f.code in ALARMS)
                        emit(f"stopped: {why.code} {why.title} ({why.message})")
                        return latest
        last = ident
        if clock() >= deadline:
            if latest is None:
                raise NandoctorError(error or f"{path}: no readable log appeared within {timeout:g} s")
            latest.summary["watch"] = {"stopped": "timeout", "codes": []}
            emit(f"stopped: --timeout {timeout:g} s reached with no alarm ({seen} points; exit 3)")
            return latest
        if polls % heartbeat == 0:
            emit(
                f"still watching after {clock() - start:.0f} s: {seen} points"
                + (f", last {last_point}" if last_point else "")
                + (f" ({error})" if error and not seen else "")
            )
        sleep(max(0.0, min(interval, deadline - clock())))
