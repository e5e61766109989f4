"""inspect-ckpt rules (ND2xx): anti-pattern and best-practice inputs, written with torch.save/safetensors."""

from __future__ import annotations

from pathlib import Path

from tests.catalogue import example


@example("ND201", "bad", "inspect-ckpt")
def _(tmp: Path) -> list:
    import torch

    weights = torch.randn(8, 4)
    weights[2, 1] = float("nan")
    torch.save({"model": {"fc.weight": weights, "fc.bias": torch.zeros(8)}}, tmp / "last.pt")
    return [tmp / "last.pt"]


@example("ND201", "good", "inspect-ckpt")
def _(tmp: Path) -> list:
    import torch

    torch.save({"model": {"fc.weight": torch.randn(8, 4), "fc.bias": torch.zeros(8)}}, tmp / "last.pt")
    return [tmp / "last.pt"]
