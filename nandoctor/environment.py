"""What this machine can train with: framework versions and whether bf16 is native here.

Versions come from installed package metadata (importlib.metadata), so no framework is imported:
`import ultralytics` or `import deepspeed` takes seconds and may touch the GPU. Only bf16/CUDA
support needs torch itself, and torch is imported only when it is installed.
"""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass, field
from functools import lru_cache

# Distribution names whose version decides a repair (Lightning ships as `lightning` or the older
# `pytorch-lightning`; both are reported).
PACKAGES = (
    "torch",
    "ultralytics",
    "transformers",
    "lightning",
    "pytorch-lightning",
    "deepspeed",
    "accelerate",
    "hydra-core",
    "jsonargparse",
)


@dataclass
class Environment:
    python: str
    packages: dict[str, str | None] = field(default_factory=dict)  # name -> version, None when not installed
    cuda: bool | None = None  # None: torch is not installed, so nothing is known
    devices: list[str] = field(default_factory=list)
    bf16: bool | None = None  # native bf16 on this machine's GPU (None: unknown without torch)
    note: str = ""

    def version(self, name: str) -> str | None:
        return self.packages.get(name)

    def as_dict(self) -> dict:
        return asdict(self)


def package_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
    except Exception:  # a broken dist-info must not break a diagnosis
        return None


def version_tuple(v: str | None) -> tuple[int, ...] | None:
    """'5.24.0' -> (5, 24, 0); '2.6.0.dev1+cu121' -> (2, 6, 0); None for anything without a leading number."""
    if not v:
        return None
    import re

    m = re.match(r"\s*v?(\d+(?:\.\d+)*)", str(v))
    return tuple(int(p) for p in m.group(1).split(".")) if m else None


def gpu_driver_present() -> bool:
    """An NVIDIA or ROCm driver on this Linux machine. Without one torch cannot see a GPU, and importing
    torch (seconds, hundreds of MiB) just to hear "no CUDA" is skipped. Other systems are always probed."""
    import glob
    import os
    import sys

    if not sys.platform.startswith("linux"):
        return True
    return (
        os.path.exists("/proc/driver/nvidia/version")
        or os.path.exists("/dev/kfd")
        or bool(glob.glob("/dev/nvidia[0-9]*"))
    )


@lru_cache(maxsize=2)
def detect(probe: bool = False) -> Environment:
    """`probe`: ask torch even where no GPU driver is present (`nandoctor env`); repairs use the fast answer."""
    env = Environment(python=platform.python_version(), packages={p: package_version(p) for p in PACKAGES})
    if env.packages.get("torch") is None:
        env.note = "torch is not installed: CUDA and bf16 support unknown"
        return env
    if not probe and not gpu_driver_present():
        env.cuda, env.bf16 = False, False
        env.note = "no NVIDIA or ROCm driver on this machine: bf16 is not native here"
        return env
    try:
        import torch

        env.cuda = bool(torch.cuda.is_available())
        if env.cuda:
            env.devices = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            try:  # emulated bf16 (pre-Ampere) is slow and not what a repair should choose
                env.bf16 = bool(torch.cuda.is_bf16_supported(including_emulation=False))
            except TypeError:  # torch < 2.3 has no including_emulation
                major = torch.cuda.get_device_capability(0)[0]
                env.bf16 = major >= 8
        else:
            env.bf16 = False
            env.note = "torch sees no CUDA device: bf16 is not native on this machine"
    except Exception as exc:  # a broken CUDA install: say so rather than guess
        env.cuda, env.bf16 = None, None
        env.note = f"torch could not query CUDA ({type(exc).__name__})"
    return env


def describe(env: Environment) -> str:
    """Plain text for `nandoctor env`: one line per fact."""
    lines = [f"python: {env.python}"]
    lines += [f"{name}: {v or 'not installed'}" for name, v in env.packages.items()]
    cuda = "unknown" if env.cuda is None else "yes" if env.cuda else "no"
    lines.append(f"cuda: {cuda}" + (f" ({', '.join(env.devices)})" if env.devices else ""))
    bf16 = "unknown" if env.bf16 is None else "native" if env.bf16 else "not native"
    lines.append(f"bf16: {bf16}" + (f" ({env.note})" if env.note else ""))
    return "\n".join(lines)
