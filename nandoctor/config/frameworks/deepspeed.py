"""DeepSpeed config (JSON or YAML). "auto" values are filled by the HF integration.

Version-dependent: the default `gradient_clipping` (runtime/constants.py) is 1.0 in current DeepSpeed
(0.19.8 checked) and 0.0, off, before the mid-2026 change; the installed source is read when present.
A repair never writes a clip looser than that effective default. DeepSpeed's fp16 steps fp32 master
weights, so Adam's eps is not rounded by fp16 here.
"""

from __future__ import annotations

from nandoctor.config.issues import Context, Issue, clip_reason, clip_value, lower_lr, number, string_numbers
from nandoctor.config.precision import bf16_choice
from nandoctor.config.versions import deepspeed_clip_default


def check(ctx: Context) -> list[Issue]:
    doc = ctx.doc
    out = string_numbers(doc)
    if doc.get(("fp16", "enabled")) is True:
        sev = "error" if ctx.log and ctx.log.abrupt else ctx.risk()
        choice = bf16_choice(doc)
        out.append(
            Issue(
                "ND401",
                sev,
                ("fp16", "enabled"),
                "fp16.enabled: true trains in fp16 (max 65504) with loss scaling",
                reason=f"fp16 overflow; {'bf16' if choice.bf16 else 'fp32'} ({choice.why})",
                new=False,
            )
        )
        if choice.bf16:
            if doc.has(("bf16", "enabled")):
                if doc.get(("bf16", "enabled")) is not True:
                    out.append(
                        Issue(
                            "ND401",
                            "info",
                            ("bf16", "enabled"),
                            f"bf16 replaces fp16 ({choice.why})",
                            reason="bf16 instead of fp16",
                            new=True,
                        )
                    )
            elif not doc.has(("bf16",)):
                out.append(
                    Issue(
                        "ND401",
                        "info",
                        ("bf16",),
                        f"bf16 replaces fp16 ({choice.why})",
                        reason="bf16 instead of fp16",
                        new={"enabled": True},
                        after="fp16",
                    )
                )
        scale = number(doc.get(("fp16", "loss_scale")))
        if scale is not None and scale > 0:
            out.append(
                Issue(
                    "ND401",
                    "warning",
                    ("fp16", "loss_scale"),
                    f"static loss_scale {scale:g}: an overflow is never scaled back down",
                    reason="dynamic loss scaling",
                    new=0,
                )
            )
    out += _clipping(ctx)
    lr = number(doc.get(("optimizer", "params", "lr")))
    if lr is not None and (lr >= 1e-4 or ctx.nan_seen):
        new, why = lower_lr(ctx, lr, 5e-5)
        if new < lr:
            out.append(
                Issue(
                    "ND402",
                    ctx.risk(),
                    ("optimizer", "params", "lr"),
                    f"lr {lr:g} is high for transformer training",
                    reason=why,
                    new=new,
                )
            )
    return out


def _clipping(ctx: Context) -> list[Issue]:
    doc = ctx.doc
    clip = doc.get(("gradient_clipping",))
    if clip == "auto":
        return []
    default, version = deepspeed_clip_default()
    cap = default if default > 0 else None
    if not doc.has(("gradient_clipping",)):
        if default > 0 and "installed" in version:
            return [
                Issue(
                    "ND404",
                    "info",
                    ("gradient_clipping",),
                    f"gradient_clipping absent: {version} clips at "
                    f"{default:g} by default (releases before mid-2026 did not clip)",
                    data={"default": default, "version": version},
                )
            ]
        if default > 0:  # the DeepSpeed that trains is unknown: pin the current default, which older ones lack
            return [
                Issue(
                    "ND404",
                    "info",
                    ("gradient_clipping",),
                    f"gradient_clipping absent: {version}; pinning {default:g} keeps clipping on with any release",
                    reason="pin the current default (releases before mid-2026 do not clip)",
                    new=default,
                    after=_anchor(doc),
                )
            ]
        return [
            Issue(
                "ND404",
                ctx.risk(),
                ("gradient_clipping",),
                f"gradient_clipping absent: {version} defaults to 0.0, no clipping",
                reason=clip_reason(ctx),
                new=clip_value(ctx),
                after=_anchor(doc),
            )
        ]
    n = number(clip)
    if n is not None and n <= 0:
        return [
            Issue(
                "ND404",
                ctx.risk(),
                ("gradient_clipping",),
                f"gradient_clipping {clip} turns clipping off ({version} default: {default:g})",
                reason=clip_reason(ctx, cap),
                new=clip_value(ctx, cap=cap),
            )
        ]
    return []


def _anchor(doc) -> str | None:
    keys = [k for k in doc.keys() if not isinstance(doc.get((k,)), (dict, list))]
    return keys[-1] if keys else None
