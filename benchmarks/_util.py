"""Shared benchmark helpers: wall time and peak RSS of a child process (so baseline and nandoctor
are measured the same way, in the same run)."""

from __future__ import annotations

import os
import subprocess
import sys
import time


def measure(cmd: list[str], repeat: int = 1, **kw) -> tuple[float, float]:
    """Best wall time in seconds and peak RSS in MiB of `cmd` (a fresh process per run)."""
    best, peak = float("inf"), 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        pid = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw).pid
        _, status, usage = os.wait4(pid, 0)
        best = min(best, time.perf_counter() - t0)
        peak = max(peak, usage.ru_maxrss / 1024)  # Linux reports KiB
    return best, peak


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def row(name: str, ours: tuple[float, float], base: tuple[float, float], base_name: str) -> None:
    print(
        f"{name}: nandoctor {ours[0]:.3f} s (peak {ours[1]:.0f} MiB) | {base_name} {base[0]:.3f} s "
        f"(peak {base[1]:.0f} MiB) | ratio {ours[0] / base[0]:.2f}x"
    )
