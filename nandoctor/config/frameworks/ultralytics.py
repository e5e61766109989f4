"""Ultralytics train arguments (args.yaml / a cfg passed as `cfg=`).

Ultralytics rejects unknown keys (cfg.check_dict_alignment), clips gradients itself at max_norm
10.0, and with `optimizer: auto` ignores lr0 and momentum, so: only existing keys are changed, no
clipping key is ever added, and lowering lr0 always comes with an explicit optimizer.
"""

from __future__ import annotations

from nandoctor.catalogue.lr_policy import ADAM_FAMILY, ADAM_SAFE_RATIO, ULTRALYTICS_SAFE_LR0, round_lr
from nandoctor.config.issues import Context, Issue, number, string_numbers
from nandoctor.config.precision import IF_AMPERE, bf16_choice
from nandoctor.config.versions import ULTRALYTICS_BF16_CHECKED, ultralytics_accepts_bf16

# Field notes §3 (the repaired YOLOv8-at-1280 run) and default.yaml.
AUG_LIMITS = {"hsv_h": 0.015, "hsv_s": 0.7, "hsv_v": 0.4}
MIX_LIMIT = 0.1  # mixup / copy_paste above this counts as heavy; the repair sets 0.0
SAVE_PERIOD = 5
ADAM_LR0_HIGH = 0.005  # Adam-family lr0 (default.yaml: Adam/AdamW=1e-3)


def _amp(ctx: Context) -> Issue:
    """amp: bf16 only where this Ultralytics accepts it and bf16 is known to run natively."""
    sev = "error" if ctx.log and ctx.log.abrupt else ctx.risk()
    choice = bf16_choice(ctx.doc)
    accepts, version = ultralytics_accepts_bf16()
    msg = "amp is on: Ultralytics trains in fp16 autocast, which overflows above 65504"
    if choice.bf16 and accepts:
        return Issue("ND401", sev, ("amp",), msg, reason=f"fp16 overflow; bf16 ({choice.why}; {version})", new="bf16")
    cond = f"amp: bf16 on Ultralytics {'.'.join(map(str, ULTRALYTICS_BF16_CHECKED))}+ {IF_AMPERE[5:]}"
    return Issue(
        "ND401",
        sev,
        ("amp",),
        msg,
        reason=f"fp16 overflow; fp32 ({cond})",
        new=False,
        data={"ultralytics": version, "bf16": choice.why},
    )


def _auto(ctx: Context, lr0: float | None) -> list[Issue]:
    """optimizer: auto ignores lr0 and picks AdamW at lr 0.002*5/(4+nc) (short runs) or SGD/MuSGD at 0.01
    (over 10k iterations) itself, so lr0 is never blamed; the LR that ran is the log's."""
    doc = ctx.doc
    out: list[Issue] = []
    has = doc.has(("optimizer",))
    log = ctx.log
    advice = log.lr_advice(None, "ultralytics") if log and ctx.nan_seen and log.lr_ran else None
    if log and advice and log.lr_ran:
        ran = log.lr_ran
        explicit = "AdamW" if ran <= 0.002 else "SGD"
        column = log.lr_column or "lr"
        if lr0 is None:  # no finite lr0 to replace: an explicit optimizer would then run at the default 0.01
            return out
        out.append(
            Issue(
                "ND402",
                ctx.risk(),
                ("lr0",),
                f"optimizer: auto ignored lr0 {lr0:g}; the LR that ran "
                f"peaked at {ran:g} ({column} in the log) and the run went non-finite",
                reason=f"{advice.reason}, with an explicit optimizer",
                new=advice.value,
                data={"lr_ran": ran},
            )
        )
        if has:
            out.append(
                Issue(
                    "ND411",
                    "warning",
                    ("optimizer",),
                    f"optimizer: auto picks its own LR, so a lowered "
                    f"lr0 would have no effect; {explicit} is what auto ran at {ran:g}",
                    reason=f"explicit optimizer so lr0 {advice.value:g} applies",
                    new=explicit,
                )
            )
        return out
    if not has:
        return out
    if lr0 is not None and abs(lr0 - 0.01) > 1e-12:
        explicit = "AdamW" if lr0 <= 0.002 else "SGD"
        out.append(
            Issue(
                "ND411",
                "warning",
                ("optimizer",),
                f"optimizer: auto ignores lr0={lr0:g} and picks its own optimizer and LR",
                reason=f"explicit optimizer so lr0 {lr0:g} applies",
                new=explicit,
            )
        )
    else:
        out.append(
            Issue(
                "ND411",
                "info",
                ("optimizer",),
                "optimizer: auto picks the optimizer and LR itself "
                "(lr0 and momentum are ignored; the LR that ran is in the log's lr/pg0)",
            )
        )
    return out


def _explicit_lr0(ctx: Context, lr0: float, optimizer: str, imgsz: float | None) -> list[Issue]:
    """After a NaN the one LR policy (from the LR that ran, else lr0); before one, only lr0 that is high
    for large images."""
    adam = optimizer.lower() in ADAM_FAMILY
    big = (imgsz or 0) >= 1280 and lr0 >= (ADAM_LR0_HIGH if adam else 0.01)
    size = f" for imgsz {int(imgsz)}" if big and imgsz else ""
    if ctx.log and ctx.nan_seen:
        advice = ctx.log.lr_advice(lr0, "ultralytics", optimizer)
        if advice is None or advice.value >= lr0:
            return []
        return [
            Issue(
                "ND402",
                ctx.risk(),
                ("lr0",),
                f"lr0 {lr0:g} with {optimizer} is high{size} and the log went non-finite",
                reason=advice.reason,
                new=advice.value,
            )
        ]
    if not big or not imgsz:
        return []
    safe = ULTRALYTICS_SAFE_LR0 * (ADAM_SAFE_RATIO if adam else 1.0)
    return [
        Issue(
            "ND402",
            ctx.risk(),
            ("lr0",),
            f"lr0 {lr0:g} with {optimizer} is high{size}",
            reason=f"lower LR for {int(imgsz)} px images (0.003-0.005)",
            new=round_lr(min(safe, lr0 / 2)),
        )
    ]


def check(ctx: Context) -> list[Issue]:
    doc = ctx.doc
    out = string_numbers(doc)
    get = lambda k: doc.get((k,))  # noqa: E731
    amp = get("amp")
    sizes = get("imgsz") if isinstance(get("imgsz"), list) else [get("imgsz")]  # int, or [h, w] for predict
    imgsz = max((n for n in map(number, sizes) if n is not None), default=None)
    lr0 = number(get("lr0"))
    optimizer = str(get("optimizer") or "").strip()
    auto = optimizer.lower() == "auto" or not doc.has(("optimizer",))  # default.yaml: optimizer: auto

    if doc.has(("amp",)) and (amp is True or str(amp).lower() == "fp16"):
        out.append(_amp(ctx))

    if auto:
        out += _auto(ctx, lr0)
    elif lr0 is not None:
        out += _explicit_lr0(ctx, lr0, optimizer, imgsz)

    warm = number(get("warmup_epochs"))
    if warm is not None and warm < 3:
        out.append(
            Issue(
                "ND405",
                "warning",
                ("warmup_epochs",),
                f"warmup_epochs {warm:g}: the first epochs run at full LR",
                reason="warm up at least 3 epochs",
                new=3.0,
            )
        )

    period = number(get("save_period"))
    if period is not None and period < 1:
        out.append(
            Issue(
                "ND410",
                "info",
                ("save_period",),
                f"save_period {period:g}: only last.pt and best.pt "
                "are kept, so after a NaN there may be no clean epoch checkpoint to resume from",
                reason="keep a clean checkpoint every 5 epochs",
                new=SAVE_PERIOD,
            )
        )

    for key, limit in AUG_LIMITS.items():
        v = number(get(key))
        if v is not None and v > limit:
            out.append(
                Issue(
                    "ND408",
                    "warning",
                    (key,),
                    f"{key} {v:g} is beyond the default {limit:g}",
                    reason="heavy augmentation back to default",
                    new=limit,
                )
            )
    for key in ("mixup", "copy_paste"):
        v = number(get(key))
        if v is not None and v > MIX_LIMIT:
            out.append(
                Issue(
                    "ND408",
                    "warning",
                    (key,),
                    f"{key} {v:g} makes heavily blended, off-distribution samples",
                    reason="heavy augmentation off",
                    new=0.0,
                )
            )

    batch = number(get("batch"))
    if batch == 1:
        out.append(
            Issue(
                "ND409",
                "warning",
                ("batch",),
                "batch 1: YOLO models use BatchNorm, whose statistics from one image are degenerate (variance near 0)",
            )
        )
    return out
