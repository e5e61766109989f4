"""Pickle safety: the corpus of tests/pickle_corpus.py (malicious checkpoints, each payload touching a
canary; benign real ones) judged by nandoctor's inspect-ckpt and check-data and, where installed in
/work/fwvenv (or given with --fw-python), by picklescan and modelscan, in the same run.

Per tool: malicious flagged (nandoctor: unsafe or unknown; scanners: an issue raised), malicious called
clean (nandoctor: status clean; scanners: no issue and no error), benign flagged, wall time and peak
RSS for the whole corpus (one fresh process per tool). The canary must never appear.
--run-payloads also loads each malicious file the unsafe way, in a child process, to count which
payloads really run.
Usage: python benchmarks/pickle_safety.py [--fw-python /work/fwvenv/bin/python] [--run-payloads]"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

BUILD = """
import json, sys, warnings
warnings.simplefilter("ignore")
from pathlib import Path
from tests import pickle_corpus
root = Path(sys.argv[1])
mal = pickle_corpus.malicious(root / "malicious", root / "CANARY")
mal.update(pickle_corpus.unknown_only(root / "unknown"))  # only an unknown class: must be flagged too
ben = pickle_corpus.benign(root / "benign")
print(json.dumps({"malicious": {k: str(v) for k, v in mal.items()}, "benign": {k: str(v) for k, v in ben.items()}}))
"""

INSPECT_CKPT = """
import json, sys, warnings
warnings.simplefilter("ignore")
from pathlib import Path
from nandoctor.ckpt.engine import inspect_ckpt
out = {}
for path in map(Path, json.loads(sys.argv[1])):
    [c] = inspect_ckpt(path).summary["checkpoints"]
    flagged = c.get("pickle") in ("unsafe", "unknown") or c["status"] == "unsafe"
    out[str(path)] = "flagged" if flagged else "clean" if c["status"] == "clean" else "other"
print(json.dumps(out))
"""

CHECK_DATA = """
import json, sys, warnings
warnings.simplefilter("ignore")
from pathlib import Path
from nandoctor.data.engine import check_data
out = {}
for path in map(Path, json.loads(sys.argv[1])):
    if path.suffix in (".pt", ".pth", ".bin"):
        r = check_data(path)
        flagged = any(f.code == "ND128" for f in r.findings)
        out[str(path)] = "flagged" if flagged else "other" if any(f.severity.value == "error" for f in r.findings) else "clean"
print(json.dumps(out))
"""

PICKLESCAN = """
import json, sys
from picklescan.scanner import scan_file_path
out = {}
for p in json.loads(sys.argv[1]):
    try:
        r = scan_file_path(p)
        out[p] = "flagged" if r.issues_count else "other" if r.scan_err else "clean"
    except Exception:
        out[p] = "other"
print(json.dumps(out))
"""

MODELSCAN = """
import json, sys, logging
logging.disable(logging.CRITICAL)
from modelscan.modelscan import ModelScan
out = {}
for p in json.loads(sys.argv[1]):
    try:
        r = ModelScan().scan(p)
        issues = r.get("summary", {}).get("total_issues", 0)
        out[p] = "flagged" if issues else "other" if r.get("errors") else "clean"
    except Exception:
        out[p] = "other"
print(json.dumps(out))
"""


LOAD_UNSAFELY = """
import sys, warnings
warnings.simplefilter("ignore")
path = sys.argv[1]
if path.endswith(".npz"):
    import numpy as np
    archive = np.load(path, allow_pickle=True)
    [archive[k] for k in archive.files]
else:
    import torch
    torch.load(path, map_location="cpu", weights_only=False)  # what Ultralytics' resume does
"""


def payloads_that_run(mal: dict, canary: Path, cwd: str) -> list[str]:
    """Which malicious files create the canary when loaded the unsafe way (each in its own process)."""
    ran = []
    for name, path in mal.items():
        canary.unlink(missing_ok=True)
        try:
            subprocess.run(
                [sys.executable, "-c", LOAD_UNSAFELY, path],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=30,
                cwd=cwd,
            )
        except subprocess.TimeoutExpired:
            pass
        if canary.exists():
            ran.append(name)
    canary.unlink(missing_ok=True)
    return ran


def run(cmd: list[str], **kw) -> tuple[dict, float, float]:
    """(parsed stdout, wall s, peak RSS MiB) of a fresh process."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, **kw)
        _, _, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        out.seek(0)
        text = out.read().decode()
    try:
        return json.loads(text.strip().splitlines()[-1]), wall, usage.ru_maxrss / 1024
    except (json.JSONDecodeError, IndexError):
        return {}, wall, usage.ru_maxrss / 1024


def tally(verdicts: dict, malicious: list[str], benign: list[str]) -> str:
    mal = [verdicts.get(p) for p in malicious if verdicts.get(p) is not None]
    ben = [verdicts.get(p) for p in benign if verdicts.get(p) is not None]
    return f"{mal.count('flagged')}/{len(mal)} | {mal.count('clean')} | {ben.count('flagged')}/{len(ben)}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fw-python", default="/work/fwvenv/bin/python")
    ap.add_argument(
        "--run-payloads",
        action="store_true",
        help="also load each malicious file with torch.load(weights_only=False) in a child process and "
        "count the payloads that really create the canary (they only touch a file in a temp dir)",
    )
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # the corpus is built in a child, so this process stays small: a child's peak RSS counts the
    # parent's pages it was forked with
    with tempfile.TemporaryDirectory(prefix="nd-pickle-") as tmp:
        root = Path(tmp)
        canary = root / "CANARY"
        built, _, _ = run([sys.executable, "-c", BUILD, tmp], env=env, cwd=REPO)
        mal, ben = built["malicious"], built["benign"]
        malicious, benign = list(mal.values()), list(ben.values())
        files = json.dumps(malicious + benign)
        rows = []
        for name, script in (
            ("nandoctor inspect-ckpt", INSPECT_CKPT),
            ("nandoctor check-data (.pt/.pth/.bin)", CHECK_DATA),
        ):
            rows.append((name, *run([sys.executable, "-c", script, files], env=env, cwd=REPO)))
        fw = Path(args.fw_python)
        for name, script, module in (("picklescan", PICKLESCAN, "picklescan"), ("modelscan", MODELSCAN, "modelscan")):
            if (
                fw.is_file()
                and subprocess.run([str(fw), "-c", f"import {module}"], capture_output=True).returncode == 0
            ):
                rows.append((name, *run([str(fw), "-c", script, files], cwd=tmp)))
            else:
                print(f"({name} not installed: skipped)")
        print(
            f"{len(malicious)} malicious files ({len(malicious) - 2} payloads + 2 with only an unknown class), "
            f"{len(benign)} benign; time and peak RSS for the whole corpus, one fresh process per tool"
        )
        print("| tool | malicious flagged | malicious called clean | benign flagged | time (s) | peak RSS (MiB) |")
        print("|---|---|---|---|---|---|")
        for name, verdicts, w, p in rows:
            a, b, c = tally(verdicts, malicious, benign).split(" | ")
            print(f"| {name} | {a} | {b} | {c} | {w:.1f} | {p:.0f} |")
        base = next((r for r in rows if r[0] == "picklescan"), None)
        if base:
            print(
                f"time ratio vs picklescan: inspect-ckpt {rows[0][2] / base[2]:.2f}x, check-data "
                f"{rows[1][2] / base[2]:.2f}x (check-data also scans every tensor's values with torch)"
            )
        for name, verdicts, _, _ in rows:
            missed = [n for n, p in mal.items() if verdicts.get(p) not in (None, "flagged")]
            wrong = [n for n, p in ben.items() if verdicts.get(p) == "flagged"]
            if missed or wrong:
                print(f"{name}: missed {', '.join(missed) or '-'}; benign flagged {', '.join(wrong) or '-'}")
        print("canary created by any scan:", canary.exists())
        if args.run_payloads:
            ran = payloads_that_run(mal, canary, tmp)
            print(f"payloads that create the canary under torch.load(weights_only=False): {len(ran)}/{len(mal)}")
            print(
                "  did not (they call the callable with harmless or failing arguments, or only load it):",
                ", ".join(n for n in mal if n not in ran),
            )


if __name__ == "__main__":
    main()
