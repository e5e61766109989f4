"""Column names: which column is the step or epoch counter, the gradient norm, the elapsed time.

Readers and the sampler of huge logs need these before any judging happens, so this module imports
nothing from the rest of `nandoctor.logs` (a reader must never reach into the judging layer).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_TIME = re.compile(r"^(\w+/)?(time|elapsed|elapsed_time|wall_time|walltime)$", re.I)  # not *_runtime
_INDEX_NAMES = ("epoch", "step", "global_step", "iteration", "iter")
_GRAD_NAMES = ("grad_norm", "gradient_norm", "grad/norm", "train/grad_norm")


def index_column(columns: Iterable[str]) -> tuple[str | None, str]:
    """(the counter column, "epoch" or "step"): the first of epoch, step, global_step, iteration, iter."""
    lower = {c.lower(): c for c in columns}
    for name in _INDEX_NAMES:
        if name in lower:
            return lower[name], "epoch" if name == "epoch" else "step"
    return None, "step"


def grad_column(columns: Iterable[str]) -> str | None:
    """The gradient-norm column: an exact name first, else any name holding grad_norm/gradnorm."""
    cols = list(columns)
    for c in cols:
        if c.lower() in _GRAD_NAMES:
            return c
    return next((c for c in cols if "grad_norm" in c.lower() or "gradnorm" in c.lower()), None)


def is_time_column(col: str) -> bool:
    """An elapsed-time column (`time`, `train/elapsed`), not a rate (`*_per_second`) or `*_runtime`."""
    return bool(_TIME.search(col)) and not col.lower().endswith("per_second")
