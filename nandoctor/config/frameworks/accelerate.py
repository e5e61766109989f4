"""accelerate `config.yaml` (ClusterConfig): from_yaml_file rejects unknown keys, so only its own
keys are changed. Its inline `deepspeed_config` takes accelerate's DeepSpeed plugin keys."""

from __future__ import annotations

from nandoctor.config.issues import Context, Issue, clip_reason, clip_value, number, string_numbers
from nandoctor.config.precision import bf16_choice

PLUGIN_CLIP_DEFAULT = 1.0  # DeepSpeed's own default (current releases); never write a looser clip


def check(ctx: Context) -> list[Issue]:
    doc = ctx.doc
    out = string_numbers(doc)
    mp = str(doc.get(("mixed_precision",), "")).lower()
    if mp == "fp16":
        sev = "error" if ctx.log and ctx.log.abrupt else ctx.risk()
        choice = bf16_choice(doc)
        out.append(
            Issue(
                "ND401",
                sev,
                ("mixed_precision",),
                "mixed_precision: fp16 autocasts to fp16 (max 65504)",
                reason=f"{'bf16' if choice.bf16 else 'fp32'} ({choice.why})",
                new="bf16" if choice.bf16 else "no",
            )
        )
    ds = ("deepspeed_config", "gradient_clipping")
    if doc.has(ds):
        clip = number(doc.get(ds))
        if clip is not None and clip <= 0:
            out.append(
                Issue(
                    "ND404",
                    ctx.risk(),
                    ds,
                    "deepspeed_config.gradient_clipping 0 turns clipping off",
                    reason=clip_reason(ctx, PLUGIN_CLIP_DEFAULT),
                    new=clip_value(ctx, cap=PLUGIN_CLIP_DEFAULT),
                )
            )
    return out
