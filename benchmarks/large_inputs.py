"""Issue 8.5 large-input bounds: each command on its largest realistic input, against the throw-away
script a user would write instead, in fresh processes in the same run: wall time and peak RSS.

  10M-line label file       check-data FILE       vs  pandas.read_csv(sep=" ") + range checks
  10M-row results.csv       analyze-log FILE      vs  pandas.read_csv + first NaN row
  10,000 tiny tensors       inspect-ckpt FILE     vs  torch.load + isnan/isinf per tensor
  200,000 label files       check-data FOLDER     vs  os.scandir + open/parse every file

Sizes scale with --scale or ND_BENCH_SCALE (default 1.0; 0.01 for a quick run on a shared machine).
Usage: python benchmarks/large_inputs.py [--scale 0.1] [--only labels,log,ckpt,folder]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from _util import python

LABEL_LINES, LOG_ROWS, TENSORS, LABEL_FILES = 10_000_000, 10_000_000, 10_000, 200_000

BASELINES = {
    "labels": """
import sys, pandas as pd
df = pd.read_csv(sys.argv[1], sep=" ", header=None)
bad = ((df[[1, 2, 3, 4]] < 0) | (df[[1, 2, 3, 4]] > 1)).any(axis=1) | (df[0] < 0)
print(int(bad.sum()))
""",
    "log": """
import sys, pandas as pd
df = pd.read_csv(sys.argv[1])
df.columns = [c.strip() for c in df.columns]
nan = df["train/box_loss"].isna()
print(int(df["epoch"][nan].iloc[0]) if nan.any() else None)
""",
    "ckpt": """
import sys, torch
sd = torch.load(sys.argv[1], map_location="cpu")
print([k for k, t in sd.items() if t.isnan().any() or t.isinf().any()])
""",
    "folder": """
import os, sys
bad = 0
for e in os.scandir(sys.argv[1]):
    with open(e.path) as f:
        for line in f:
            c, *xy = line.split()
            bad += int(c) < 0 or any(not 0 <= float(v) <= 1 for v in xy)
print(bad)
""",
}


def _label_line(i: int) -> str:
    """A fixed-width YOLO row (so a row can be poisoned in place)."""
    return f"{i % 10} {(i % 997) / 997:.6f} {(i % 991) / 991:.6f} {0.05 + (i % 89) / 1000:.6f} {0.05 + (i % 83) / 1000:.6f}\n"


def build_labels(path: Path, n: int) -> None:
    """One label file of n rows; row n//2 has cx = 1.5, so both tools must find something."""
    chunk = "".join(_label_line(i) for i in range(10_000))
    with open(path, "w") as f:
        for start in range(0, n, 10_000):
            f.write(chunk if start + 10_000 <= n else chunk[: len(_label_line(0)) * (n - start)])
    with open(path, "r+b") as f:  # poison one row in place, same length
        f.seek(len(_label_line(0)) * (n // 2) + 2)
        f.write(b"1.5")


def build_log(path: Path, n: int) -> None:
    """results.csv (current Ultralytics columns) of n epochs; NaN from the last 1% on."""
    from nandoctor.demo.ultralytics import RESULTS_COLUMNS

    nan_from = n - max(1, n // 100)
    with open(path, "w") as f:
        f.write(",".join(RESULTS_COLUMNS) + "\n")
        for e in range(1, n + 1):
            loss = "nan" if e >= nan_from else "%.6g" % (2.0 - e / (2 * n))
            f.write(f"{e},{e * 40},{loss},{loss},{loss},0.5,0.5,0.5,0.3,{loss},{loss},{loss},0.001,0.001,0.001\n")


def build_ckpt(path: Path, n: int) -> None:
    """In a child process: torch in this one would count in every later child's peak RSS (fork)."""
    import subprocess

    subprocess.run(
        python(
            "-c",
            f"""
import torch
sd = {{f"blocks.{{i}}.scale": torch.randn(16) for i in range({n})}}
sd["blocks.{n // 2}.scale"][3] = float("nan")
torch.save(sd, {str(path)!r})
""",
        ),
        check=True,
    )


def build_folder(folder: Path, n: int) -> None:
    folder.mkdir()
    for i in range(n):
        (folder / f"img_{i:07d}.txt").write_text(_label_line(i) + _label_line(i + 1))
    (folder / f"img_{n // 2:07d}.txt").write_text("0 1.5 0.5 0.1 0.1\n")  # one row out of range


def measure(cmd: list[str], ok: tuple[int, ...]) -> tuple[float, float]:
    """Wall time and peak RSS (MiB) of one fresh process, which must exit with a code in `ok`
    (_util.measure does not look at the exit status, and a crashed baseline looks fast)."""
    import subprocess
    import time

    t0 = time.perf_counter()
    pid = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).pid
    _, status, usage = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code not in ok:
        raise SystemExit(f"{' '.join(cmd[:4])}... exited {code}")
    return time.perf_counter() - t0, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=float(os.environ.get("ND_BENCH_SCALE", "1.0")))
    ap.add_argument("--only", default="labels,log,ckpt,folder")
    ap.add_argument("--dir", default=os.environ.get("ND_BENCH_DIR"), help="where to build the inputs")
    args = ap.parse_args()
    sizes = {
        "labels": int(LABEL_LINES * args.scale),
        "log": int(LOG_ROWS * args.scale),
        "ckpt": max(1, int(TENSORS * args.scale)),
        "folder": max(1, int(LABEL_FILES * args.scale)),
    }
    work = Path(tempfile.mkdtemp(prefix="nd-large-", dir=args.dir))
    try:
        for kind in args.only.split(","):
            n = sizes[kind]
            if kind == "labels":
                target, cmd, what = work / "big.txt", "check-data", f"{n:,}-line label file"
                build_labels(target, n)
            elif kind == "log":
                target, cmd, what = work / "results.csv", "analyze-log", f"{n:,}-row results.csv"
                build_log(target, n)
            elif kind == "ckpt":
                target, cmd, what = work / "tiny.pt", "inspect-ckpt", f"checkpoint of {n:,} tiny tensors"
                build_ckpt(target, n)
            else:
                target, cmd, what = work / "labels", "check-data", f"folder of {n:,} label files"
                build_folder(target, n)
            ours = measure(python("-m", "nandoctor", cmd, str(target), "--format", "json"), ok=(1,))
            base = measure(python("-c", BASELINES[kind], str(target)), ok=(0,))
            print(
                f"{what}: nandoctor {cmd} {ours[0]:.2f} s, peak {ours[1]:.0f} MiB | baseline script "
                f"{base[0]:.2f} s, peak {base[1]:.0f} MiB | ratio {ours[0] / base[0]:.2f}x",
                flush=True,
            )
            shutil.rmtree(target) if target.is_dir() else target.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
