"""analyze-log on a 1,000,000-row per-step CSV against pandas.read_csv of the same file; on a
console log (Python logging lines mixed with warnings) against one regex pass over its lines; and on
a 600 MB console (the size bounded in the README) against the throw-away script a user writes
instead: a compiled regex over each line, keeping the first step whose loss is NaN; and on 600 MB
Ultralytics, HF Trainer and Lightning consoles under their progress bars (readers/runs.py) against
the scraper a user writes for each, which splits the `\r` pieces and keeps the first NaN.

The log is a noisy decaying loss with a grad_norm column whose loss turns NaN at 90 % (so the
NaN-versus-empty-cell pass runs too). Both sides are fresh processes, so interpreter and pandas
start-up count on both sides; peak RSS is each child's own.

Usage: python benchmarks/analyze_log.py [CSV_ROWS] [CONSOLE_MB]   (defaults 1000000 600; 0 MB skips)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _util import measure, python, row

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.analyze_log_fixtures import (  # noqa: E402 (the hostile tests' consoles)
    write_hf_console,
    write_lightning_console,
    write_logging_console,
    write_ultralytics_console,
)

ROOT = Path(__file__).resolve().parents[1]  # run this checkout's nandoctor, not an installed one


def build(path: Path, n: int) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    t = np.arange(n)
    loss = (0.6 + 1.8 * np.exp(-t / (n / 5))) * np.exp(rng.normal(0, 0.08, n))
    loss[int(n * 0.9) :] = np.nan
    grad = np.abs(rng.normal(1.0, 0.2, n))
    lr = np.full(n, 5e-5)
    with open(path, "w") as fh:
        fh.write("step,train_loss,grad_norm,learning_rate\n")
        chunk = 100_000
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            lines = [
                f"{s},{x:.6g},{g:.6g},{r:.6g}" for s, x, g, r in zip(t[a:b], loss[a:b], grad[a:b], lr[a:b], strict=True)
            ]
            fh.write("\n".join(lines) + "\n")  # f"{nan:.6g}" writes the `nan` literal


def build_console(path: Path, n: int) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    with open(path, "w") as fh:
        for s in range(1, n + 1):
            loss = "nan" if s > 0.9 * n else f"{(0.6 + 1.8 * np.exp(-s / (n / 5))) * np.exp(rng.normal(0, 0.08)):.4f}"
            fh.write(
                f"2024-05-01 12:00:00,000 - INFO - step {s} loss={loss} grad_norm={abs(rng.normal(1, 0.2)):.3f}"
                f" lr=5e-05\n"
            )
            if s % 50 == 0:
                fh.write("2024-05-01 12:00:00,000 - WARNING - gradient overflow, skipping step\n")


BASELINE_CONSOLE = (
    "import re, sys; p = re.compile(r'(\\w+)=([-+.\\w]+)'); rows = [p.findall(line) for line in open(sys.argv[1])]"
)

# the script a user writes to find where the loss went NaN in a console log
BASELINE_SCRAPER = """
import math, re, sys
pat = re.compile(r"step (\\d+) loss=(\\S+)")
first = None
with open(sys.argv[1]) as f:
    for line in f:
        m = pat.search(line)
        if m and first is None and math.isnan(float(m.group(2))):
            first = int(m.group(1))
print(first)
"""


# the script a user writes for a console under progress bars: each `\r` piece matched, the first NaN kept
BAR_SCRAPER = """
import re, sys
pat = re.compile(sys.argv[2])
first = None
with open(sys.argv[1], newline="") as f:
    for line in f:
        for piece in line.replace("\\x1b[K", "").split("\\r"):
            m = pat.match(piece)
            if m and first is None and m.group("loss") == "nan":
                first = " ".join(g for g in (m.group("at"), m.groupdict().get("batch")) if g)
print(first)
"""
# its pattern for each console: the epoch (or step), the batch counter where there is one, the loss
BAR_PATTERNS = {
    "ultralytics": r"^\s*(?P<at>\d+)/\d+\s+\S+\s+(?P<loss>\S+).*?[━─] (?P<batch>\d+/\d+)",
    "lightning": r"^Epoch (?P<at>\d+):.*?\| (?P<batch>\d+/\d+) \[.*train_loss=(?P<loss>[^,\]]+)",
    "hf": r"\{'loss': '(?P<loss>[^']+)'.*'epoch': '(?P<at>[^']+)'",
}


def _measure_output(cmd: list[str]) -> tuple[tuple[float, float], str, float]:
    """Wall time, peak RSS (MiB), stdout and CPU seconds of one fresh process (its stdout is checked
    too)."""
    import os
    import time

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read() if proc.stdout else b""
    _, _, usage = os.wait4(proc.pid, 0)
    return (time.perf_counter() - t0, usage.ru_maxrss / 1024), out.decode(), usage.ru_utime + usage.ru_stime


def _bar_console(path: Path, mb: int, kind: str) -> None:
    """A console under progress bars (readers/runs.py reads it), its NaN found by nandoctor and by
    the user's scraper alike."""
    if kind == "hf":
        last = write_hf_console(path, mb * 1_000_000, nan_step=int(mb * 11_000))
    else:
        write = write_ultralytics_console if kind == "ultralytics" else write_lightning_console
        last = write(path, mb * 1_000_000, nan_epoch=int(mb * 11))
    ours, out, cpu = _measure_output(python("-m", "nandoctor", "analyze-log", str(path), "--format", "json"))
    base, found, _ = _measure_output(python("-c", BAR_SCRAPER, str(path), BAR_PATTERNS[kind]))
    first = json.loads(out)["summary"]["first_nonfinite"]
    at, _, batch = found.strip().partition(" ")
    assert float(at) == first["index"] and (batch or None) == first.get("batch"), (first, found)
    size = path.stat().st_size / 1e6
    print(f"{kind} console: {last:,} {'steps' if kind == 'hf' else 'epochs'}  file: {size:.0f} MB  CPU {cpu:.1f} s")
    row(f"analyze-log ({size:.0f} MB {kind} console)", ours, base, "scraper of the `\\r` pieces")
    path.unlink()


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
        console.unlink()
        mb = int(sys.argv[2]) if len(sys.argv) > 2 else 600
        if mb:
            big = Path(d) / "big_train.log"
            last = write_logging_console(big, mb * 1_000_000, nan_at=int(mb * 11_000))  # NaN at about 90 %
            cmd = python("-m", "nandoctor", "analyze-log", str(big), "--format", "json")
            ours, out, cpu = _measure_output(cmd)
            report = json.loads(out)
            assert report["summary"]["first_nonfinite"]["index"] == int(mb * 11_000), report["summary"]
            base, found, _ = _measure_output(python("-c", BASELINE_SCRAPER, str(big)))
            assert found.strip() == str(int(mb * 11_000)), found
            print(f"big console: {last:,} steps  file: {big.stat().st_size / 1e6:.0f} MB  CPU {cpu:.1f} s")
            row(
                f"analyze-log ({big.stat().st_size / 1e6:.0f} MB console log)",
                ours,
                base,
                "re.search loss scraper per line",
            )
            big.unlink()
            _bar_console(Path(d) / "ultralytics.log", mb, "ultralytics")
            _bar_console(Path(d) / "hf.log", mb, "hf")
            _bar_console(Path(d) / "lightning.log", mb, "lightning")
