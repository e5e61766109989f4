"""triage on the demo run against what it replaces: the four engine commands run one after another
(four processes), in the same run. Usage: python benchmarks/triage.py [--repeat 5]"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from _util import measure, python


def four_commands(run: Path) -> tuple[float, float]:
    """Wall time and the largest peak RSS of check-data, inspect-ckpt, analyze-log, diagnose-config."""
    cmds = [
        ("check-data", run / "dataset" / "data.yaml"),
        ("inspect-ckpt", run / "weights"),
        ("analyze-log", run / "results.csv"),
        ("diagnose-config", run / "args.yaml", "--log", run / "results.csv", "--dry-run"),
    ]
    total, peak = 0.0, 0.0
    for cmd in cmds:
        t, rss = measure(python("-m", "nandoctor", *map(str, cmd), "--format", "json"))
        total, peak = total + t, max(peak, rss)
    return total, peak


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nd-triage-"))
    try:
        run = work / "run"
        subprocess.run(python("-m", "nandoctor", "demo", str(run)), check=True, capture_output=True)
        best_ours, best_base, peak_ours, peak_base = float("inf"), float("inf"), 0.0, 0.0
        for _ in range(args.repeat):
            t, rss = measure(python("-m", "nandoctor", "triage", str(run), "--format", "json"))
            (run / "args_fixed.yaml").unlink(missing_ok=True)
            base = four_commands(run)
            best_ours, peak_ours = min(best_ours, t), max(peak_ours, rss)
            best_base, peak_base = min(best_base, base[0]), max(peak_base, base[1])
        print(
            f"triage demo run: nandoctor {best_ours:.2f} s (peak {peak_ours:.0f} MiB) | "
            f"four engine commands {best_base:.2f} s (peak {peak_base:.0f} MiB) | ratio {best_ours / best_base:.2f}x"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
