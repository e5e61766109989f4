"""`--plot out.png`: the curve with the break marked, via matplotlib (optional dependency).

Written through safe_write: atomically, never over the log itself, a device, a FIFO or a
directory, and over an existing file only with --force.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, cast

from nandoctor.findings import NandoctorError
from nandoctor.safe_write import check_target as _check_writable
from nandoctor.safe_write import write_atomic


def check_target(target: Path, force: bool, inputs=()) -> None:
    """Fail before any work when the plot cannot be written."""
    _check_writable(target, force, inputs, what="--plot PNG")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise NandoctorError('--plot needs matplotlib: pip install "nandoctor[plot]"') from None


def write_plot(target: Path, table, report, force: bool = False) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    name, values, rows = report.series
    x = table.frame[table.index_col].to_numpy(dtype=float)[rows] if table.index_col else rows.astype(float)
    fin = np.isfinite(values)
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    ax.plot(x[fin], values[fin], lw=1, color="#1f77b4", label=name)
    if fin.any() and np.all(values[fin] > 0) and values[fin].max() / values[fin].min() > 100:
        ax.set_yscale("log")
    s = report.summary

    def at(point):  # summary rows are the log's own; the frame may hold a sample of them
        return min(int(np.searchsorted(rows, table.frame_row(point["row"]))), len(x) - 1)

    if s["first_nonfinite"]:
        bx = x[at(s["first_nonfinite"])]
        ax.axvline(
            bx, color="red", ls="--", label=f"first non-finite ({table.index_name} {s['first_nonfinite']['index']})"
        )
    if s["onset"] and s["onset"] != s["first_nonfinite"]:
        ax.axvline(x[at(s["onset"])], color="orange", ls=":", label=f"onset ({table.index_name} {s['onset']['index']})")
    for spike in s["spikes"][:20]:
        ax.plot([x[at(spike)]], [spike["value"]], "o", color="orange", ms=4)
    ax.set_xlabel(table.index_name)
    ax.set_ylabel(name if len(name) < 40 else "loss")
    ax.set_title(f"{Path(table.path).name}: {s['pattern']}")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    try:

        def save(fh: object) -> None:  # write_atomic hands over the open binary temp file
            fig.savefig(cast("BinaryIO", fh), format="png")

        return write_atomic(target, save, force=force, inputs=[table.path], what="--plot PNG")
    finally:
        plt.close(fig)
