"""One module per framework: `check(ctx) -> list[Issue]`, only ever writing keys that framework accepts."""

from __future__ import annotations

import importlib

MODULES = {
    "ultralytics": "ultralytics",
    "hf-trainer": "hf",
    "accelerate": "accelerate",
    "deepspeed": "deepspeed",
    "lightning": "lightning",
    "axolotl": "axolotl",
    "generic": "generic",
}


def check(framework: str, ctx) -> list:
    module = importlib.import_module(f"nandoctor.config.frameworks.{MODULES[framework]}")
    return module.check(ctx)
