"""analyze-log on a 1,000,000-row per-step CSV against pandas.read_csv of the same file, and on a
console log (Python logging lines mixed with warnings) against one regex pass over its lines.

The log is a noisy decaying loss with a grad_norm column whose loss turns NaN at 90 % (so the
NaN-versus-empty-cell pass runs too). Both sides are fresh processes, so interpreter and pandas
start-up count on both sides.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from _util import measure, python, row

ROOT = Path(__file__).resolve().parents[1]  # run this checkout's nandoctor, not an installed one


def build(path: Path, n: int) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    t = np.arange(n)
    loss = (0.6 + 1.8 * np.exp(-t / (n / 5))) * np.exp(rng.normal(0, 0.08, n))
    loss[int(n * 0.9):] = np.nan
    grad = np.abs(rng.normal(1.0, 0.2, n))
    lr = np.full(n, 5e-5)
    with open(path, "w") as fh:
        fh.write("step,train_loss,grad_norm,learning_rate\n")
        chunk = 100_000
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            lines = [f"{s},{x:.6g},{g:.6g},{r:.6g}" for s, x, g, r in zip(t[a:b], loss[a:b], grad[a:b], lr[a:b], strict=True)]
            fh.write("\n".join(lines) + "\n")  # f"{nan:.6g}" writes the `nan` literal


def build_console(path: Path, n: int) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    with open(path, "w") as fh:
        for s in range(1, n + 1):
            loss = "nan" if s > 0.9 * n else f"{(0.6 + 1.8 * np.exp(-s / (n / 5))) * np.exp(rng.normal(0, 0.08)):.4f}"
            fh.write(f"2024-05-01 12:00:00,000 - INFO - step {s} loss={loss} grad_norm={abs(rng.normal(1, 0.2)):.3f}"
                     f" lr=5e-05\n")
            if s % 50 == 0:
                fh.write("2024-05-01 12:00:00,000 - WARNING - gradient overflow, skipping step\n")


BASELINE_CONSOLE = ("import re, sys; p = re.compile(r'(\\w+)=([-+.\\w]+)'); "
                    "rows = [p.findall(line) for line in open(sys.argv[1])]")


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as d:
        log = Path(d) / "train_log.csv"
        build(log, n)
        cmd = python("-m", "nandoctor", "analyze-log", str(log), "--format", "json")
        check = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        assert check.returncode == 1 and '"pattern": "abrupt_nonfinite"' in check.stdout, check.stderr
        ours = measure(cmd, repeat=3, cwd=ROOT)
        base = measure(python("-c", f"import pandas; pandas.read_csv({str(log)!r})"), repeat=3)
        print(f"rows: {n:,}  file: {log.stat().st_size / 2**20:.1f} MiB")
        row(f"analyze-log ({n:,}-row CSV)", ours, base, "pandas.read_csv")
        console = Path(d) / "train.log"
        m = max(1000, n // 5)
        build_console(console, m)
        cmd = python("-m", "nandoctor", "analyze-log", str(console), "--format", "json")
        check = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        assert check.returncode == 1 and '"reader": "text-log"' in check.stdout, check.stderr
        ours = measure(cmd, repeat=1, cwd=ROOT)
        base = measure(python("-c", BASELINE_CONSOLE, str(console)), repeat=1)
        print(f"console lines: {m:,} steps  file: {console.stat().st_size / 2**20:.1f} MiB")
        row(f"analyze-log ({m:,}-step console log)", ours, base, "one regex findall per line")
