"""check-data on 50,000 YOLO label files against the field notes' hand loop and the floor of `cat`,
then on a 256 MiB tensor file (.npy, .npz) against numpy's own whole-array check.

The hand loop (field notes §4) checks two things per row: class in [0, nc) and coordinates in
[0, 1], and prints file:line. nandoctor does every check of issue 3 on the same files.
Usage: python benchmarks/check_data.py [N_FILES]
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from _util import measure, python, row

CHECK_LABELS = r"""
import glob, sys
nc = 80
for path in sorted(glob.glob(sys.argv[1] + "/labels/**/*.txt", recursive=True)):
    with open(path) as f:
        for i, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            try:
                cls = int(parts[0]); coords = [float(x) for x in parts[1:]]
            except ValueError:
                print(f"{path}:{i}: cannot parse"); continue
            if not 0 <= cls < nc or any(c < 0 or c > 1 for c in coords):
                print(f"{path}:{i}: {line.strip()}")
"""


NUMPY_CHECK = r"""
import sys, numpy as np
a = np.load(sys.argv[1], mmap_mode="r") if sys.argv[1].endswith(".npy") else np.load(sys.argv[1])["x"]
bad = np.isnan(a) | np.isinf(a)
print(int(np.isnan(a).sum()), int(np.isinf(a).sum()), float(a[~bad].min()), float(a[~bad].max()))
"""


def tensors(tmp: Path, env: dict) -> None:
    """A 256 MiB float32 tensor with one NaN: nandoctor streams it in blocks, numpy's check holds
    masks of the whole array."""
    # Written by a child: a child's peak RSS starts at its parent's (Linux), so this process stays small.
    subprocess.run(
        python(
            "-c",
            "import numpy as np, sys\n"
            "x = np.random.default_rng(0).normal(size=64 << 20).astype(np.float32)\n"
            "x[12_345_678] = np.nan\n"
            "np.save(sys.argv[1] + '/x.npy', x)\n"
            "np.savez(sys.argv[1] + '/x.npz', x=x)\n",
            str(tmp),
        ),
        check=True,
    )
    for name in ("x.npy", "x.npz"):
        cmd = python("-m", "nandoctor", "check-data", str(tmp / name), "--format", "json")
        found = json.loads(subprocess.run(cmd, capture_output=True, text=True, env=env, check=False).stdout)["findings"]
        assert [f["data"]["first_nan"] for f in found if f["code"] == "ND123"] == [[12_345_678]], found
        row(
            f"check-data vs numpy on a 256 MiB {name[2:]}",
            measure(cmd, repeat=3, env=env),
            measure(python("-c", NUMPY_CHECK, str(tmp / name)), repeat=3),
            "numpy isnan/isinf/min/max",
        )


def build(root: Path, n: int) -> None:
    rnd = random.Random(0)
    labels = root / "labels" / "train"
    labels.mkdir(parents=True)
    (root / "data.yaml").write_text(
        "path: .\ntrain: images/train\nval: images/train\nnc: 80\n"
        "names: [" + ", ".join(f"c{i}" for i in range(80)) + "]\n"
    )
    for i in range(n):
        rows = []
        for _ in range(rnd.randint(1, 8)):
            w, h = rnd.uniform(0.01, 0.3), rnd.uniform(0.01, 0.3)
            rows.append(
                f"{rnd.randrange(80)} {rnd.uniform(w / 2, 1 - w / 2):.6f} {rnd.uniform(h / 2, 1 - h / 2):.6f} "
                f"{w:.6f} {h:.6f}"
            )
        if i % 997 == 0:
            rows[0] = "80 0.5 1.2 nan 0.1"
        (labels / f"img_{i:06d}.txt").write_text("\n".join(rows) + "\n")


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ds"
        build(root, n)
        for _ in range(2):  # warm the page cache for everyone
            measure(["bash", "-c", f"find {root} -name '*.txt' -print0 | xargs -0 cat > /dev/null"])
        cmd = python("-m", "nandoctor", "check-data", str(root), "--format", "json")
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}  # this checkout's code
        check = subprocess.run(cmd, capture_output=True, text=True, env=env)
        summary = json.loads(check.stdout)["summary"]
        assert summary["files_scanned"] == n and summary["by_code"]["ND105"] == len(range(0, n, 997)), summary
        ours = measure(cmd, repeat=5, env=env)
        loop = measure(python("-c", CHECK_LABELS, str(root)), repeat=5)
        cat = measure(["bash", "-c", f"find {root} -name '*.txt' -print0 | xargs -0 cat > /dev/null"], repeat=5)
        print(f"{n} label files, {summary['rows']} rows, findings {summary['by_code']}")
        row("check-data vs hand loop", ours, loop, "check_labels loop")
        row("check-data vs cat floor", ours, cat, "find | xargs cat")
        tensors(Path(tmp), env)
