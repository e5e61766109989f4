"""Which column is the loss: one ranking for every reader.

An exact loss (`loss`, `train_loss`, `total_loss`, `lm_loss`, YOLO's `total`) ranks above its
components; a loss *scale*, a time, a learning rate or a count is never the loss, whatever its name
contains. With no loss in the log the witnesses are judged instead: the gradient norm, then the
evaluation loss.
"""

from __future__ import annotations

import re

_EVAL = re.compile(r"(^|[/_ .-])(val|valid|validation|eval|test|dev)([/_ .-]|$)", re.I)
_NOT_A_LOSS = re.compile(
    r"scale|scaler|time|runtime|second|(^|[/_])lr($|[/_])|learning_rate|rate$|count|"
    r"(^|[/_])num_|number|samples|tokens|images|flos|batch_size|seqlen|mem(ory)?($|[/_])|v_num|"
    r"iterations?$|skipped|weight$",
    re.I,
)
# The loss's own names, most preferred first; Lightning adds `_step`/`_epoch` to a name logged both ways.
LOSS_NAMES = (
    "loss",
    "train_loss",
    "train/loss",
    "loss/train",
    "training_loss",
    "total_loss",
    "train/total_loss",
    "lm_loss",
    "train/lm_loss",
    "loss/total",
    "avg_loss",
)
_EXACT = {name + suffix for name in LOSS_NAMES for suffix in ("", "_step", "_epoch")}
_GRAD = re.compile(r"grad(ient)?[_ /]?norm|gradnorm", re.I)
YOLO_PARTS = {"box", "obj", "cls", "dfl", "seg", "pose", "kobj", "giou", "l1", "rle"}


def is_eval(col: str) -> bool:
    return bool(_EVAL.search(col))


def is_loss_like(col: str) -> bool:
    """A loss or a loss component (train or eval), never a scale, time, rate or count."""
    return "loss" in col.lower() and not _NOT_A_LOSS.search(col)


def is_grad_like(col: str) -> bool:
    return bool(_GRAD.search(col)) and not _NOT_A_LOSS.search(col.replace("norm", ""))


def witnesses(columns) -> list[str]:
    """Training-side columns whose non-finite values also mark the break (the gradient norm)."""
    return [c for c in columns if is_grad_like(c) and not is_eval(c)]


def yolo_losses(columns) -> list[str]:
    """YOLO consoles: `total` is the loss when printed; else the parts it is the sum of."""
    cols = list(columns)
    if "total" in cols:
        return ["total"]
    named = [c for c in cols if c.endswith("_loss") and not is_eval(c)]  # Ultralytics 8: box_loss, cls_loss...
    return named or [c for c in cols if c in YOLO_PARTS]


def choose(columns, prefer_suffix: str = "") -> tuple[list[str], str]:
    """(columns to sum, kind): kind is "loss", "component", "grad_norm", "eval_loss" or "" (nothing)."""
    cols = [c for c in columns if c.lower() not in ("epoch", "step", "batch", "batches", "global_step")]
    train = [c for c in cols if is_loss_like(c) and not is_eval(c)]
    exact = [c for c in train if c.lower() in _EXACT or c.lower().replace(" ", "_") in _EXACT]
    if exact:
        exact.sort(key=lambda c: (_exact_rank(c, prefer_suffix), cols.index(c)))
        return [exact[0]], "loss"
    if train:
        train.sort(key=lambda c: (not c.endswith(prefer_suffix) if prefer_suffix else False, cols.index(c)))
        return [train[0]], "component"
    grad = witnesses(cols)
    if grad:
        return [grad[0]], "grad_norm"
    evals = [c for c in cols if is_loss_like(c)]
    if evals:
        return [evals[0]], "eval_loss"
    return [], ""


def _exact_rank(col: str, prefer_suffix: str) -> int:
    c = col.lower()
    base = c[: -len(prefer_suffix)] if prefer_suffix and c.endswith(prefer_suffix) else c
    rank = LOSS_NAMES.index(base) if base in LOSS_NAMES else len(LOSS_NAMES)
    if prefer_suffix:
        rank = rank * 2 + (0 if c.endswith(prefer_suffix) else 1)
    elif c.endswith("_epoch"):
        rank += 100  # an epoch average is coarser than the per-step loss
    return rank
