"""inspect-ckpt on a 1 GiB fp32 checkpoint (torch.save of a state_dict) against the field notes' script:
`torch.load` + `isnan().any()` + `isinf().any()` per tensor. Both run as fresh processes, same file,
same run, page cache warmed for both. Usage: python benchmarks/inspect_ckpt.py [--mib 1024]"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from pathlib import Path

from _util import measure, python, row

BASELINE = """
import sys, torch
sd = torch.load(sys.argv[1], map_location="cpu")
bad = [k for k, t in sd.items() if t.isnan().any() or t.isinf().any()]
print(bad)
"""


def build(path: Path, mib: int) -> None:
    import torch

    if mib == 0:  # issue 8's large-input bound: 10,000 tiny tensors
        torch.save({f"blocks.{i}.scale": torch.randn(16) for i in range(10_000)}, path)
        return

    per = 4 << 20  # 4 Mi floats = 16 MiB per tensor, like a large linear layer
    n = max(1, mib * (1 << 20) // (per * 4))
    g = torch.Generator().manual_seed(0)
    sd = {f"layers.{i}.weight": torch.randn(2048, per // 2048, generator=g) for i in range(n)}
    sd[f"layers.{n // 2}.weight"][7, 11] = float("nan")  # one poisoned value, so both must find it
    torch.save(sd, path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build:
        build(args.build, args.mib)
        return
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "big.pt"
        # Built in a child process: a fork of a parent holding torch + 1 GiB would inflate the
        # children's ru_maxrss (it counts the pre-exec copy of the parent).
        subprocess.run(python(__file__, "--build", str(ckpt), "--mib", str(args.mib)), check=True)
        size = ckpt.stat().st_size
        script = Path(tmp) / "baseline.py"
        script.write_text(BASELINE)
        with open(ckpt, "rb") as f:  # warm the page cache for both contenders
            while f.read(64 << 20):
                pass
        check = subprocess.run(
            python("-m", "nandoctor", "inspect-ckpt", str(ckpt), "--format", "json"), capture_output=True, text=True
        )
        assert check.returncode == 1 and '"ND201"' in check.stdout, check.stderr  # it found the NaN
        ours = measure(python("-m", "nandoctor", "inspect-ckpt", str(ckpt), "--format", "json"), repeat=3)
        base = measure(python(str(script), str(ckpt)), repeat=3)
        row(f"inspect-ckpt ({size / 2**30:.2f} GiB fp32)", ours, base, "torch.load + isnan/isinf")
        print(
            f"throughput: nandoctor {size / ours[0] / 1e9:.2f} GB/s | baseline {size / base[0] / 1e9:.2f} GB/s "
            f"| nandoctor is {base[0] / ours[0]:.1f}x faster | peak RSS {ours[1]:.0f} MiB"
        )
        os.remove(ckpt)
        tiny = Path(tmp) / "tiny.pt"
        subprocess.run(python(__file__, "--build", str(tiny), "--mib", "0"), check=True)
        ours = measure(python("-m", "nandoctor", "inspect-ckpt", str(tiny), "--format", "json"), repeat=3)
        base = measure(python(str(script), str(tiny)), repeat=3)
        row("inspect-ckpt (10,000 tiny tensors)", ours, base, "torch.load + isnan/isinf")


if __name__ == "__main__":
    main()
