"""A hand-written training config (the field notes' multi-dataset classifier: training.lr,
max_grad_norm, mixed_precision, loss.type, datasets.enable_logits_masking, dataset_configs.*).

Keys are matched by name at any depth; a clipping key is added next to the learning rate, where
such scripts read their optimisation settings.
"""

from __future__ import annotations

from nandoctor.config.issues import (
    FP16_MIN_SUBNORMAL,
    KEEP,
    Context,
    Issue,
    clip_reason,
    clip_value,
    lower_lr,
    number,
    string_numbers,
    truthy,
)
from nandoctor.config.load import Path_
from nandoctor.config.precision import IF_AMPERE

LR_KEYS = {"lr", "learning_rate", "base_lr", "max_lr", "init_lr"}
CLIP_KEYS = {
    "max_grad_norm",
    "clip_grad_norm",
    "grad_clip",
    "gradient_clipping",
    "clip_grad",
    "max_norm",
    "gradient_clip_val",
}
EPS_KEYS = {"eps", "adam_epsilon", "adam_eps", "epsilon"}
STABLE_LOSSES = {
    "cross_entropy",
    "crossentropy",
    "ce",
    "cross_entropy_loss",
    "crossentropyloss",
    "nll",
    "bce",
    "bce_with_logits",
    "binary_cross_entropy",
    "mse",
    "l1",
    "smooth_l1",
    "huber",
}
LOSS_NAMING = {"type", "name", "_target_", "class_path"}
EXOTIC_LOSSES = (
    "focal",
    "asl",
    "asymmetric",
    "ldam",
    "poly",
    "arcface",
    "cosface",
    "sphereface",
    "circle",
    "class_balanced",
    "cb_",
    "dice",
    "lovasz",
    "tversky",
    "seesaw",
    "eqlv2",
    "balanced_softmax",
)
PRECISION_KEYS = {"mixed_precision", "precision", "amp_dtype", "dtype"}
FP16_VALUES = {"fp16", "16", "16-mixed", "float16"}
FP32_FOR = {"16": "32", "16-mixed": "32", "float16": "float32"}
HEAD_KEYS = {"num_classes", "num_labels", "nc", "n_classes"}


def constructor_block(doc, path: tuple) -> bool:
    """A mapping that is passed as **kwargs to a class: Hydra `_target_`, LightningCLI `class_path`/`init_args`."""
    for i in range(len(path), -1, -1):
        sub = path[:i]
        keys = set(doc.keys(sub))
        if {"_target_", "class_path"} & keys or (sub and str(sub[-1]) == "init_args"):
            return True
    return False


def learning_rates(ctx: Context) -> list[Issue]:
    """ND402 for every LR key, unless the optimizer is plain SGD (where 0.01-0.1 is normal)."""
    doc, out = ctx.doc, []
    sgd = any(
        str(e.value).lower() == "sgd" for p, e in doc.leaves() if str(p[-1]) in {"optimizer", "type", "name", "optim"}
    )
    keys = [(p, e) for p, e in doc.leaves() if str(p[-1]).lower() in LR_KEYS and "scheduler" not in str(p)]
    for p, e in keys:
        lr = number(e.value)
        if lr is None or lr <= 0:
            continue
        if constructor_block(doc, p[:-1]) and not ctx.nan_seen:
            continue  # an optimizer's own lr (Hydra/LightningCLI): any model's, so judged only after a NaN
        if (lr >= 1e-4 and not sgd) or (ctx.nan_seen and lr > 1e-6):
            new, why = lower_lr(ctx, lr, 5e-5 if lr <= 2e-4 else lr / 2, use_ran=len(keys) == 1)
            if new < lr:
                out.append(
                    Issue(
                        "ND402",
                        ctx.risk(),
                        p,
                        f"{'.'.join(map(str, p))} {lr:g} is high for Adam-family "
                        "training of transformer/diffusion models (1e-4 -> 5e-5)",
                        reason=why,
                        new=new,
                    )
                )
    return out


def check(ctx: Context) -> list[Issue]:
    doc = ctx.doc
    out = string_numbers(doc) + learning_rates(ctx)
    leaves = list(doc.leaves())
    name = lambda p: str(p[-1]).lower()  # noqa: E731

    batchnorm = "batchnorm" in doc.text.lower().replace("_", "")
    pure_fp16 = False  # weights and optimizer state in fp16 (`half: true`, dtype float16), not autocast
    for p, e in leaves:
        v = str(e.value).lower()
        if name(p) in PRECISION_KEYS and v in FP16_VALUES:
            pure_fp16 = pure_fp16 or name(p) == "dtype" or v == "16-true"
            new: int | str
            if isinstance(e.value, int) and not isinstance(e.value, bool):
                new = 32  # keep the type: an int 16 becomes the int 32, never the string "32"
            else:
                new = "no" if name(p) == "mixed_precision" else FP32_FOR.get(v, "fp32")
            out.append(
                Issue(
                    "ND401",
                    "error" if ctx.log and ctx.log.abrupt else ctx.risk(),
                    p,
                    f"{name(p)}: {e.value} trains in fp16 (max 65504)",
                    reason=f"fp32 until stable ({IF_AMPERE})",
                    new=new,
                )
            )
        elif name(p) in {"fp16", "amp", "use_amp", "half"} and e.value is True:
            pure_fp16 = pure_fp16 or name(p) == "half"
            out.append(
                Issue(
                    "ND401",
                    "error" if ctx.log and ctx.log.abrupt else ctx.risk(),
                    p,
                    f"{name(p)}: true trains in fp16 (max 65504)",
                    reason=f"fp32 until stable ({IF_AMPERE})",
                    new=False,
                )
            )

    for p, e in leaves:  # under autocast the optimizer runs in fp32, where eps 1e-8 is fine
        eps = number(e.value)
        if pure_fp16 and name(p) in EPS_KEYS and eps is not None and 0 <= eps < FP16_MIN_SUBNORMAL:
            out.append(
                Issue(
                    "ND403",
                    "warning",
                    p,
                    f"eps {eps:g} is 0 in fp16, and with fp16 weights the optimizer state is fp16 too",
                    reason="eps representable in fp16",
                    new=1e-6,
                )
            )

    clips = [(p, e) for p, e in leaves if name(p) in CLIP_KEYS]
    for p, e in clips:
        n = number(e.value)
        if e.value is None or (n is not None and n <= 0):
            out.append(
                Issue(
                    "ND404",
                    ctx.risk(),
                    p,
                    f"{name(p)} {e.value}: gradient clipping is off",
                    reason=clip_reason(ctx),
                    new=clip_value(ctx),
                )
            )
    lr_paths = [p for p, e in leaves if name(p) in LR_KEYS and "scheduler" not in str(p)]
    if not clips and lr_paths:
        p = lr_paths[0]
        if constructor_block(doc, p[:-1]):  # a Hydra `_target_` / LightningCLI `init_args` keyword list
            out.append(
                Issue(
                    "ND404",
                    ctx.risk(),
                    (*p[:-1], "max_grad_norm"),
                    "no gradient clipping setting; "
                    f"{'.'.join(map(str, p[:-1]))} is a constructor's keyword list, where an added key "
                    "fails (unexpected keyword argument): clip where your training loop reads it",
                )
            )
        else:
            out.append(
                Issue(
                    "ND404",
                    ctx.risk(),
                    (*p[:-1], "max_grad_norm"),
                    "no gradient clipping setting: one outlier batch can blow the weights up",
                    reason="add gradient clipping",
                    new=clip_value(ctx),
                    after=str(p[-1]),
                )
            )

    for p, e in leaves:
        if name(p) in {"warmup_epochs", "warmup_ratio", "warmup_steps", "warmup_iters"} and number(e.value) == 0:
            warm = {"warmup_epochs": 5, "warmup_ratio": 0.05}.get(name(p))
            out.append(
                Issue(
                    "ND405",
                    "warning",
                    p,
                    f"{name(p)} 0: no LR warmup",
                    reason="linear warmup",
                    new=KEEP if warm is None else warm,
                )
            )
        if "logits_masking" in name(p) and truthy(e.value):
            out.append(
                Issue(
                    "ND406",
                    ctx.risk(),
                    p,
                    "logits masking fills invalid classes with -inf; a row that is "
                    "all -inf gives softmax NaN and an inf loss",
                    reason="masking wrote -inf (mask with -1e9 if needed)",
                    new=False,
                )
            )
        # `loss: {type|name: focal}`, Hydra `_target_: losses.FocalLoss`, LightningCLI `class_path: ...FocalLoss`
        if (name(p) in LOSS_NAMING and len(p) > 1 and str(p[-2]).lower() in {"loss", "criterion", "loss_fn"}) or name(
            p
        ) in {"loss", "loss_type", "criterion", "loss_fn"}:
            v = str(e.value).lower()
            if v not in STABLE_LOSSES and any(x in v for x in EXOTIC_LOSSES):
                # a constructor (_target_/class_path) keeps its own arguments (gamma): swapping only the class
                # would not instantiate, so it is reported, not rewritten
                ctor = name(p) in {"_target_", "class_path"}
                out.append(
                    Issue(
                        "ND407",
                        "warning",
                        p,
                        f"loss {e.value!r} adds terms (powers, margins, logs of "
                        "small probabilities) that overflow where cross entropy stays finite"
                        + ("; swap it for torch.nn.CrossEntropyLoss by hand" if ctor else ""),
                        reason="most stable loss",
                        new=KEEP if ctor else "cross_entropy",
                    )
                )
        if name(p) in {"batch_size", "batch", "per_device_train_batch_size"} and number(e.value) == 1:
            if batchnorm:
                out.append(Issue("ND409", "warning", p, "batch size 1 with BatchNorm: per-batch variance is ~0"))
        period = number(e.value)
        if (
            name(p) in {"save_period", "save_every", "checkpoint_interval", "save_every_n_epochs"}
            and period is not None
            and period <= 0
        ):
            out.append(
                Issue(
                    "ND410",
                    "info",
                    p,
                    f"{name(p)} {e.value}: no periodic checkpoint to resume from",
                    reason="periodic checkpoints",
                    new=5,
                )
            )
    out += _heads(ctx)
    return out


def _heads(ctx: Context) -> list[Issue]:
    """ND413: per-dataset num_classes against a unified head's num_classes."""
    doc = ctx.doc
    out: list[Issue] = []
    per: dict[Path_, float] = {}
    for p, e in doc.leaves():
        v = number(e.value)
        if v is not None and str(p[-1]) in HEAD_KEYS and len(p) >= 3 and str(p[-3]) in {"dataset_configs", "datasets"}:
            per[p] = v
    heads: dict[Path_, float] = {}
    for p, e in doc.leaves():
        v = number(e.value)
        if v is not None and str(p[-1]) in HEAD_KEYS and p not in per:
            heads[p] = v
    if not per or not heads:
        return out
    biggest, total = max(per.values()), sum(per.values())
    for p, head in heads.items():
        if head < biggest:
            big = max(per, key=lambda k: per[k])
            out.append(
                Issue(
                    "ND413",
                    "error",
                    p,
                    f"{'.'.join(map(str, p))} {head:g} is smaller than "
                    f"{'.'.join(map(str, big))} {biggest:g}: labels >= {head:g} index past the head "
                    "(inf loss)",
                    data={"per_dataset": {".".join(map(str, k)): v for k, v in per.items()}},
                )
            )
        elif head not in (biggest, total):
            out.append(
                Issue(
                    "ND413",
                    "warning",
                    p,
                    f"{'.'.join(map(str, p))} {head:g} is neither the largest "
                    f"dataset ({biggest:g}) nor the sum ({total:g}) of per-dataset num_classes",
                )
            )
    return out
