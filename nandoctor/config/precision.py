"""Whether a repair may choose bf16: only when it is known to run natively.

`TrainingArguments(bf16=True)` raises without a bf16 GPU, and pre-Ampere GPUs only emulate it, so
bf16 is chosen when torch reports native bf16 on this machine or the config itself shows it runs
on bf16 hardware (it already enables bf16 elsewhere, or names an Ampere-or-newer GPU). Otherwise
the repair is fp32 and its comment names the condition under which bf16 is the better choice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nandoctor.config.load import Doc

IF_AMPERE = "bf16 if your GPU is Ampere or newer"
# Ampere (sm_80+) and newer data-centre and consumer parts; matched in config values such as
# `ec2_instance_type: p4d.24xlarge` or a comment-free `gpu: A100`.
BF16_GPU = re.compile(
    r"\b(A100|A10G?|A30|A40|A6000|H100|H200|H800|GH200|B100|B200|GB200|L4|L40S?|"
    r"RTX ?(30|40|50)\d0|p4d|p4de|p5|g5|g6)\b",
    re.I,
)
# Training settings that already run bf16 (a bf16 dtype for loading weights says nothing about the GPU).
BF16_KEYS = {"bf16", "mixed_precision", "precision", "amp"}


@dataclass
class Choice:
    bf16: bool
    why: str  # why bf16 is known to work, or the condition for it


def bf16_choice(doc: Doc) -> Choice:
    for p, e in doc.leaves():
        v = str(e.value).lower()
        key = str(p[-1]).lower()
        if (
            key in BF16_KEYS
            and v in {"bf16", "bf16-mixed", "bf16-true"}
            or (key == "enabled" and len(p) > 1 and str(p[-2]) == "bf16" and e.value is True)
            or (key == "bf16" and e.value is True)
        ):
            return Choice(True, f"the config already uses bf16 ({'.'.join(map(str, p))})")
        if isinstance(e.value, str) and BF16_GPU.search(e.value):
            return Choice(True, f"the config names a bf16 GPU ({e.value})")
    from nandoctor.environment import detect

    env = detect()
    if env.bf16:
        return Choice(True, f"torch reports native bf16 on {', '.join(env.devices) or 'this GPU'}")
    return Choice(False, IF_AMPERE)
