"""analyze-log on every real log under ../shared/realworld and ../shared/runs, next to its truth.

One row per file: reader, series, pattern, first non-finite, last healthy, exit code, and what
disagrees with the truth in tests/analyze_log_fixtures.py (REAL_LOGS, read from the READMEs and the
runs' truth files); then the total. Files under those folders that hold a log but have no truth
entry are listed too, so a new sample cannot be skipped silently.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT / "tests"))

from analyze_log_fixtures import REAL_LOGS, check_real_log  # noqa: E402

LOG_NAMES = (".csv", ".json", ".txt", ".log", ".md")


def run(path: Path) -> tuple[int, dict | None, str]:
    out = subprocess.run(
        [sys.executable, "-m", "nandoctor", "analyze-log", str(path), "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        doc = json.loads(out.stdout)
    except json.JSONDecodeError:
        doc = None
    return out.returncode, doc, out.stderr.strip().splitlines()[-1] if out.stderr.strip() else ""


def _fmt(point) -> str:
    if not point:
        return "-"
    return f"{point['index']}" + (f" ({point['batch']})" if "batch" in point else "")


def main() -> int:
    if not SHARED.is_dir():
        print(f"{SHARED} not found: nothing to evaluate")
        return 0
    agree = 0
    t0 = time.perf_counter()
    print(f"{'file':62} {'reader':20} {'series':28} {'pattern':22} {'first':14} {'last':8} exit  verdict")
    for case in REAL_LOGS:
        rc, doc, err = run(SHARED / case["path"])
        bad = check_real_log(case, rc, doc)
        agree += not bad
        s = doc["summary"] if doc else {}
        print(
            f"{case['path'][:62]:62} {s.get('reader', '-'):20} {str(s.get('metric', '-'))[:28]:28} "
            f"{s.get('pattern', '-'):22} {_fmt(s.get('first_nonfinite')):14} {_fmt(s.get('last_healthy')):8} "
            f"{rc:4}  {'ok' if not bad else 'WRONG: ' + '; '.join(bad)}" + (f"  [{err[:90]}]" if rc == 2 else "")
        )
    known = {str((SHARED / c["path"]).resolve()) for c in REAL_LOGS}
    stray = [
        p
        for p in sorted(SHARED.glob("realworld/*/*")) + sorted(SHARED.glob("runs/**/*"))
        if p.is_file()
        and p.suffix in LOG_NAMES
        and "truth" not in p.name
        and "checkpoint-" not in str(p)
        and str(p.resolve()) not in known
        and not any(str(p.resolve()).startswith(k + "/") for k in known)
    ]
    for p in stray:
        print(f"{str(p.relative_to(SHARED)):62} (no truth entry)")
    print(
        f"\nagree with the truth: {agree} of {len(REAL_LOGS)} logs ({time.perf_counter() - t0:.1f} s)"
        + (f"; {len(stray)} log-like file(s) without a truth entry" if stray else "")
    )
    return 0 if agree == len(REAL_LOGS) else 1


if __name__ == "__main__":
    sys.exit(main())
