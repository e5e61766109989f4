"""Ultralytics train arguments (args.yaml / a cfg passed as `cfg=`).

Ultralytics rejects unknown keys (cfg.check_dict_alignment), clips gradients itself at max_norm
10.0, and with `optimizer: auto` ignores lr0 and momentum, so: only existing keys are changed, no
clipping key is ever added, and lowering lr0 always comes with an explicit optimizer.
"""

from __future__ import annotations

from nandoctor.config.issues import Context, Issue, number, string_numbers

# Field notes §3 (the repaired YOLOv8-at-1280 run) and default.yaml.
AUG_LIMITS = {"hsv_h": 0.015, "hsv_s": 0.7, "hsv_v": 0.4}
MIX_LIMIT = 0.1          # mixup / copy_paste above this counts as heavy; the repair sets 0.0
SAFE_LR0 = 0.003         # restart value from the field notes (0.005 when resuming)
SAVE_PERIOD = 5


def check(ctx: Context) -> list[Issue]:
    doc = ctx.doc
    out = string_numbers(doc)
    get = lambda k: doc.get((k,))  # noqa: E731
    amp = get("amp")
    sizes = get("imgsz") if isinstance(get("imgsz"), list) else [get("imgsz")]  # int, or [h, w] for predict
    imgsz = max((n for n in map(number, sizes) if n is not None), default=None)
    lr0 = number(get("lr0"))
    optimizer = str(get("optimizer") or "").strip()

    if doc.has(("amp",)) and (amp is True or str(amp).lower() == "fp16"):
        sev = "error" if ctx.log and ctx.log.abrupt else ctx.risk()
        out.append(Issue("ND401", sev, ("amp",), "amp is on: Ultralytics trains in fp16 autocast, which overflows "
                         "above 65504 (large images make such overflows more likely)",
                         reason="fp16 overflow; re-enable once stable", new=False))

    lowering = False
    big = (imgsz or 0) >= 1280 and lr0 is not None and lr0 >= 0.01
    if lr0 is not None and (big or (ctx.nan_seen and lr0 > SAFE_LR0)):
        lowering = True
        new = min(SAFE_LR0, lr0 / 2)
        out.append(Issue("ND402", ctx.risk(), ("lr0",), f"lr0 {lr0:g} is high for imgsz {imgsz and int(imgsz)}"
                         + (" and the log went non-finite" if ctx.nan_seen else ""),
                         reason="lower LR for large images (0.003-0.005)", new=new))

    if optimizer.lower() == "auto" and doc.has(("optimizer",)):
        if lowering:
            out.append(Issue("ND411", "warning", ("optimizer",), "optimizer: auto ignores lr0 and momentum, so a "
                             "lowered lr0 would have no effect", reason="explicit optimizer so lr0 applies",
                             new="SGD"))
        elif lr0 is not None and abs(lr0 - 0.01) > 1e-12:
            explicit = "AdamW" if lr0 <= 0.002 else "SGD"
            out.append(Issue("ND411", "warning", ("optimizer",), f"optimizer: auto ignores lr0={lr0:g} and picks "
                             "its own optimizer and LR", reason=f"explicit optimizer so lr0 {lr0:g} applies",
                             new=explicit))
        else:
            out.append(Issue("ND411", "info", ("optimizer",), "optimizer: auto picks the optimizer and LR itself "
                             "(lr0 and momentum are ignored)"))

    warm = number(get("warmup_epochs"))
    if warm is not None and warm < 3:
        out.append(Issue("ND405", "warning", ("warmup_epochs",), f"warmup_epochs {warm:g}: the first epochs run at "
                         "full LR", reason="warm up at least 3 epochs", new=3.0))

    period = number(get("save_period"))
    if period is not None and period < 1:
        out.append(Issue("ND410", "info", ("save_period",), f"save_period {period:g}: only last.pt and best.pt "
                         "are kept, so after a NaN there may be no clean epoch checkpoint to resume from",
                         reason="keep a clean checkpoint every 5 epochs", new=SAVE_PERIOD))

    for key, limit in AUG_LIMITS.items():
        v = number(get(key))
        if v is not None and v > limit:
            out.append(Issue("ND408", "warning", (key,), f"{key} {v:g} is beyond the default {limit:g}",
                             reason="heavy augmentation back to default", new=limit))
    for key in ("mixup", "copy_paste"):
        v = number(get(key))
        if v is not None and v > MIX_LIMIT:
            out.append(Issue("ND408", "warning", (key,), f"{key} {v:g} makes heavily blended, off-distribution "
                             "samples", reason="heavy augmentation off", new=0.0))

    batch = number(get("batch"))
    if batch == 1:
        out.append(Issue("ND409", "warning", ("batch",), "batch 1: YOLO models use BatchNorm, whose statistics "
                         "from one image are degenerate (variance near 0)"))
    return out
