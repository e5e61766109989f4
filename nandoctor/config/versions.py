"""Facts about a framework that change between its versions, and which version a repair follows.

Each fact says the versions it holds for. The version is, in order: the one named in the config
(accelerate writes `transformers_version`), the installed one (package metadata, no import), or
the current release these rules were checked against (DOCUMENTED), and the finding says which.
Installed sources are read as text, never imported, where a default is needed (DeepSpeed's
clipping default).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nandoctor.environment import package_version, version_tuple

# The releases these rules were checked against (source read in that wheel).
DOCUMENTED = {
    "transformers": "5.24.0",
    "deepspeed": "0.19.8",
    "ultralytics": "8.4.190",
    "lightning": "2.6.6",
    "accelerate": "1.16.0",
    "axolotl": "0.21.0",
}  # axolotl: its pydantic schema (utils/schemas)
# Key in a config that names the version of a package it was written for.
NAMED_BY = {
    "transformers": ("transformers_version",),
    "lightning": ("lightning_version", "pl_version"),
    "deepspeed": ("deepspeed_version",),
    "ultralytics": ("ultralytics_version",),
}

# transformers 5.0 removed TrainingArguments.warmup_ratio; from 5.0 a warmup_steps below 1 is a ratio
# of the run's steps (TrainingArguments.get_warmup_steps). 4.x: warmup_ratio (float) and warmup_steps (int).
HF_WARMUP_RATIO_REMOVED = (5,)
# DeepSpeed's GRADIENT_CLIPPING_DEFAULT (runtime/constants.py) became 1.0 in mid-2026 (0.19.8 checked);
# releases before that change default to 0.0, no clipping.
DEEPSPEED_CLIP_DEFAULT_CURRENT = 1.0
DEEPSPEED_CLIP_DEFAULT_OLD = 0.0
# Ultralytics `amp: bf16` (cfg check accepts True/False/'fp16'/'bf16'/'fp32'): added in 2026, present in
# 8.4.190; older 8.x releases check amp as a bool and reject the string.
ULTRALYTICS_BF16_CHECKED = (8, 4, 190)
# Lightning 2.0 renamed precision values: 16 -> '16-mixed', 'bf16' -> 'bf16-mixed', 32 -> '32-true'
# (the old values still load in 2.x with a warning); 1.x knows only 16/32/64/'bf16'.
LIGHTNING_NEW_PRECISION = (2,)


@dataclass
class Version:
    package: str
    version: str
    source: str  # "named in the file", "installed", "assumed: the current release (checked)"

    @property
    def tuple(self) -> tuple[int, ...]:
        return version_tuple(self.version) or ()

    def __str__(self) -> str:
        return f"{self.package} {self.version} ({self.source})"


def version_of(package: str, doc=None) -> Version:
    if doc is not None:
        for key in NAMED_BY.get(package, ()):
            named = doc.get((key,))
            if version_tuple(str(named) if named is not None else None):
                return Version(package, str(named), "named in the file")
    installed = package_version(package) or (package_version("pytorch-lightning") if package == "lightning" else None)
    if installed:
        return Version(package, installed, "installed")
    return Version(package, DOCUMENTED[package], "assumed: the current release, not installed here")


def hf_has_warmup_ratio(v: Version) -> bool:
    return bool(v.tuple) and v.tuple < HF_WARMUP_RATIO_REMOVED


def _installed_source(package: str, relpath: str) -> str | None:
    """Text of one file of an installed package, found without importing the package."""
    from importlib.util import find_spec

    try:
        spec = find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    from pathlib import Path

    for root in spec.submodule_search_locations:
        f = Path(root) / relpath
        try:
            return f.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
    return None


def deepspeed_clip_default() -> tuple[float, str]:
    """(default gradient_clipping, which DeepSpeed it is from)."""
    v = version_of("deepspeed")
    if v.source == "installed":
        text = _installed_source("deepspeed", "runtime/constants.py") or ""
        m = re.search(r"^GRADIENT_CLIPPING_DEFAULT\s*=\s*([0-9.eE+-]+)", text, re.M)
        if m:
            return float(m.group(1)), f"DeepSpeed {v.version} (installed)"
    return DEEPSPEED_CLIP_DEFAULT_CURRENT, (
        f"DeepSpeed {DOCUMENTED['deepspeed']} (assumed: the current release; "
        "releases before mid-2026 default to 0.0, no clipping)"
    )


def ultralytics_accepts_bf16() -> tuple[bool, str]:
    v = version_of("ultralytics")
    if v.source == "installed":
        text = _installed_source("ultralytics", "cfg/__init__.py") or ""
        return ('"bf16"' in text or "'bf16'" in text), f"Ultralytics {v.version} (installed)"
    return False, (
        f"Ultralytics is not installed here; amp: bf16 needs a release that accepts it "
        f"({'.'.join(map(str, ULTRALYTICS_BF16_CHECKED))} does, older 8.x reject it)"
    )
