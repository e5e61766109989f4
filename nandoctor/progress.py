"""Progress on stderr, so stdout stays clean for JSON. Shown only on a terminal.

A call made while a bar is already shown adds its line to that bar: Rich allows one live display
at a time, and an engine's inner loop (a huge log read in blocks) runs inside its caller's bar.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

_shown = None  # the rich.progress.Progress on screen, if any


class _NullBar:
    def advance(self, n: float = 1) -> None:
        pass


@contextmanager
def progress(description: str, total: int | None) -> Iterator[_NullBar | _Bar]:
    """Yield an object with `.advance(n)`; a Rich bar on a terminal stderr, a no-op elsewhere."""
    if not sys.stderr.isatty():
        yield _NullBar()
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from nandoctor.inert import inert
    from nandoctor.render import stderr_console

    description = inert(description)  # a file name: never markup, never an escape sequence
    global _shown
    if _shown is not None:
        outer = _shown
        task = outer.add_task(description, total=total)
        try:
            yield _Bar(outer, task)
        finally:
            outer.remove_task(task)
        return
    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr_console(),
        transient=True,
    ) as bar:
        _shown = bar
        try:
            yield _Bar(bar, bar.add_task(description, total=total))
        finally:
            _shown = None


class _Bar:
    def __init__(self, bar, task) -> None:
        self._bar, self._task = bar, task

    def advance(self, n: float = 1) -> None:
        self._bar.advance(self._task, n)
