"""Hugging Face TrainingArguments as YAML (TRL/alignment-handbook recipes, LLaMA-Factory), and axolotl
configs, which axolotl turns into TrainingArguments itself.

HfArgumentParser rejects keys no dataclass declares, so only TrainingArguments fields are added.
Defaults that matter: max_grad_norm 1.0 (clipping on), warmup 0, fp16/bf16 off, adam_epsilon 1e-8.
Version-dependent: transformers >= 5.0 has no `warmup_ratio` (a `warmup_steps` below 1 is the
ratio); 4.x has `warmup_ratio` and an integer `warmup_steps`. axolotl's own schema keeps
`warmup_ratio` and converts it, so it is never flagged there.
"""

from __future__ import annotations

from nandoctor.config.issues import Context, Issue, clip_reason, clip_value, lower_lr, number, string_numbers, truthy
from nandoctor.config.precision import bf16_choice
from nandoctor.config.versions import hf_has_warmup_ratio, version_of

LR_HIGH = 1e-4  # transformer full fine-tuning (1e-4 -> 5e-5)
LR_HIGH_LORA = 5e-4  # LoRA adapters are trained at 1e-4..2e-4 routinely
HF_CLIP_DEFAULT = 1.0  # TrainingArguments.max_grad_norm
WARMUP_RATIO = 0.05  # of the run's optimizer steps, so warmup scales with the run's length


def check(ctx: Context, axolotl: bool = False) -> list[Issue]:
    doc = ctx.doc
    out = string_numbers(doc)
    get = lambda k: doc.get((k,))  # noqa: E731
    tv = version_of("transformers", doc)
    ratio_key = axolotl or hf_has_warmup_ratio(tv)

    if truthy(get("fp16")):
        sev = "error" if ctx.log and ctx.log.abrupt else ctx.risk()
        choice = bf16_choice(doc)
        reason = f"fp16 overflow; bf16 ({choice.why})" if choice.bf16 else f"fp16 overflow; fp32 ({choice.why})"
        out.append(
            Issue(
                "ND401",
                sev,
                ("fp16",),
                "fp16: true trains in fp16 autocast (max 65504); bf16 has "
                "fp32's range"
                + (
                    ""
                    if choice.bf16
                    else " but needs an Ampere or newer GPU, which nothing here shows, so the repair is fp32"
                ),
                reason=reason,
                new=False,
            )
        )
        if choice.bf16 and not truthy(get("bf16")):
            out.append(
                Issue(
                    "ND401",
                    "info",
                    ("bf16",),
                    f"bf16 replaces fp16 ({choice.why})",
                    reason="bf16 instead of fp16",
                    new=True,
                    after=None if doc.has(("bf16",)) else "fp16",
                )
            )

    if doc.has(("max_grad_norm",)):
        mgn = number(get("max_grad_norm"))
        if get("max_grad_norm") is None or (mgn is not None and mgn <= 0):
            out.append(
                Issue(
                    "ND404",
                    ctx.risk(),
                    ("max_grad_norm",),
                    f"max_grad_norm {get('max_grad_norm')} turns "
                    f"gradient clipping off (the default is {HF_CLIP_DEFAULT:g})",
                    reason=clip_reason(ctx, HF_CLIP_DEFAULT),
                    new=clip_value(ctx, cap=HF_CLIP_DEFAULT),
                )
            )

    lr = number(get("learning_rate"))
    lora = (
        str(get("finetuning_type")).lower() == "lora"
        or str(get("adapter")).lower() in {"lora", "qlora"}
        or any(str(k).startswith("lora_") for k in doc.keys())
    )
    limit = LR_HIGH_LORA if lora else LR_HIGH
    if lr is not None and (lr >= limit or (ctx.nan_seen and lr > 1e-5)):
        new, why = lower_lr(ctx, lr, 5e-5 if not lora else 1e-4)
        if new < lr:
            out.append(
                Issue(
                    "ND402",
                    ctx.risk(),
                    ("learning_rate",),
                    f"learning_rate {lr:g} is high for {'LoRA' if lora else 'transformer'} training",
                    reason=why,
                    new=new,
                )
            )

    out += _warmup(ctx, tv, ratio_key)
    if str(get("save_strategy")).lower() == "no":
        out.append(
            Issue(
                "ND410", "info", ("save_strategy",), "save_strategy: no keeps no checkpoint to resume from after a NaN"
            )
        )
    return out


def _warmup(ctx: Context, tv, ratio_key: bool) -> list[Issue]:
    doc, out = ctx.doc, []
    ratio, steps = number(doc.get(("warmup_ratio",))), number(doc.get(("warmup_steps",)))
    has_ratio, has_steps = doc.has(("warmup_ratio",)), doc.has(("warmup_steps",))
    if has_ratio and not ratio_key:
        # 5.x: HfArgumentParser raises "Some keys are not used" on warmup_ratio.
        sev = "warning" if tv.source.startswith("assumed") else "error"  # error only when the version is known
        msg = (
            f"warmup_ratio does not exist in {tv} (removed in transformers 5.0): HfArgumentParser refuses "
            "the file; a warmup_steps below 1 is the ratio there"
        )
        if has_steps:
            out.append(
                Issue("ND418", sev, ("warmup_ratio",), msg + "; delete warmup_ratio (warmup_steps is already set)")
            )
        else:
            value = ratio if ratio and 0 < ratio < 1 else WARMUP_RATIO
            out.append(
                Issue(
                    "ND418",
                    sev,
                    ("warmup_ratio",),
                    msg,
                    new=value,
                    rename="warmup_steps",
                    reason=f"warmup_ratio is warmup_steps < 1 in transformers >= 5 ({tv.version})",
                )
            )
        return out
    if (ratio or 0) > 0 or (steps or 0) > 0:
        return out
    if ratio_key:  # 4.x / axolotl: the ratio key; warmup_steps 0 defers to it
        key, after = "warmup_ratio", None if has_ratio else ("warmup_steps" if has_steps else _anchor(doc))
        why = f"warm up over {WARMUP_RATIO:g} of the run's steps"
    else:  # 5.x: warmup_steps below 1 is a ratio of the run's steps
        key, after = "warmup_steps", None if has_steps else _anchor(doc)
        why = f"warm up over {WARMUP_RATIO:g} of the run's steps (a ratio in transformers >= 5; 4.x: warmup_ratio)"
    out.append(
        Issue(
            "ND405",
            "warning",
            (key,),
            f"no LR warmup: the first steps hit full LR with uncalibrated Adam statistics ({tv})",
            reason=why,
            new=WARMUP_RATIO,
            after=after,
        )
    )
    return out


def _anchor(doc) -> str | None:
    for k in ("lr_scheduler_type", "learning_rate", "num_train_epochs"):
        if doc.has((k,)) and not isinstance(doc.get((k,)), (dict, list)):
            return k
    return None
