"""Lightning: a LightningCLI `config.yaml` (trainer / model / data / optimizer sections, each a
`class_path` + `init_args` constructor) or a Hydra trainer config (`_target_: lightning.pytorch.Trainer`,
alone as configs/trainer/*.yaml or as the `trainer` group of a composed config).

Trainer defaults: precision 32, gradient_clip_val None (off), detect_anomaly False. Clipping is a
Trainer argument, so it is added to the trainer section only, never to a model/optimizer block (a
constructor's keyword list). Precision names: Lightning >= 2.0 '16-mixed'/'bf16-mixed'/'32-true'
(the 1.x values 16/'bf16'/32 still load with a warning); 1.x only 16/32/64/'bf16'.
"""

from __future__ import annotations

import re

from nandoctor.config.frameworks.generic import learning_rates
from nandoctor.config.issues import FP16_MIN_SUBNORMAL, Context, Issue, clip_reason, clip_value, number, string_numbers
from nandoctor.config.precision import bf16_choice

TRAINER_TARGET = re.compile(r"^(lightning\.pytorch|pytorch_lightning|lightning)(\.trainer)?(\.trainer)?\.Trainer$")
FP16 = {"16", "16-mixed", "fp16", "16-true", "half"}
EPS_KEYS = {"eps", "adam_epsilon", "epsilon"}


def trainer_path(doc) -> tuple | None:
    """Where the Trainer's arguments live: () for a Hydra trainer file, ('trainer',) otherwise."""
    if TRAINER_TARGET.match(str(doc.get(("_target_",)) or "")):
        return ()
    if isinstance(doc.get(("trainer",)), dict):
        return ("trainer",)
    return None


def _repair_precision(old, bf16: bool):
    """Same type and naming generation as the old value: int 16 -> int 32, '16-mixed' -> '32-true'."""
    if bf16:
        return "bf16-mixed" if "-" in str(old) else "bf16"
    if isinstance(old, int) and not isinstance(old, bool):
        return 32
    s = str(old)
    return "32-true" if "-" in s else "32"


def check(ctx: Context) -> list[Issue]:
    doc = ctx.doc
    out = string_numbers(doc)
    t = trainer_path(doc)
    if t is None:
        return out + learning_rates(ctx)
    prec = (*t, "precision")
    old = doc.get(prec)
    if str(old).lower() in FP16:
        sev = "error" if ctx.log and ctx.log.abrupt else ctx.risk()
        choice = bf16_choice(doc)
        new = _repair_precision(old, choice.bf16)
        out.append(
            Issue(
                "ND401",
                sev,
                prec,
                f"precision {old} trains in fp16 (max 65504)",
                reason=f"{'bf16' if choice.bf16 else 'fp32'} ({choice.why})",
                new=new,
            )
        )
        if str(old).lower() == "16-true":
            out += _eps(ctx)
    clip = (*t, "gradient_clip_val")
    value = doc.get(clip)
    clip_at = number(value)
    if not doc.has(clip) or value is None or (clip_at is not None and clip_at <= 0):
        anchor = "precision" if doc.has(prec) and not isinstance(old, (dict, list)) else _last_scalar(doc, t)
        out.append(
            Issue(
                "ND404",
                ctx.risk(),
                clip,
                "gradient_clip_val is unset: Lightning does not clip",
                reason=clip_reason(ctx),
                new=clip_value(ctx),
                after=None if doc.has(clip) else anchor,
            )
        )
    if ctx.nan_seen and doc.get((*t, "detect_anomaly")) is not True:
        flag = "--trainer.detect_anomaly=true" if t else "trainer.detect_anomaly=true"
        out.append(
            Issue(
                "ND416",
                "info",
                (*t, "detect_anomaly"),
                "the log went non-finite: for one debugging run, "
                f"pass {flag} on the command line to name the first operation that produced NaN (slow; "
                "not written into the config you train with)",
            )
        )
    out += learning_rates(ctx)
    return out


def _eps(ctx: Context) -> list[Issue]:
    """16-true puts the weights and the optimizer state in fp16: there eps below 6e-8 is 0."""
    out = []
    for p, e in ctx.doc.leaves():
        eps = number(e.value)
        if str(p[-1]).lower() in EPS_KEYS and eps is not None and 0 <= eps < FP16_MIN_SUBNORMAL:
            out.append(
                Issue(
                    "ND403",
                    "warning",
                    p,
                    f"eps {eps:g} is 0 in fp16, and with precision 16-true the optimizer state is fp16",
                    reason="eps representable in fp16",
                    new=1e-6,
                )
            )
    return out


def _last_scalar(doc, path) -> str | None:
    keys = [k for k in doc.keys(path) if not isinstance(doc.get((*path, k)), (dict, list))]
    return keys[-1] if keys else None
