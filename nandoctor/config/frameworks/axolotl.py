"""axolotl YAML (base_model, datasets, adapter, micro_batch_size, ...): axolotl validates it with its
own schema and builds TrainingArguments from it, so the HF rules apply with axolotl's keys
(`warmup_ratio` stays valid there, whatever the transformers version)."""

from __future__ import annotations

from nandoctor.config.frameworks import hf
from nandoctor.config.issues import Context, Issue


def check(ctx: Context) -> list[Issue]:
    return hf.check(ctx, axolotl=True)
