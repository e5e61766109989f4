"""Turn an unpickled checkpoint object into named tensors grouped by role (model / optimizer / scaler).

Names are the ones a user knows: state_dict names for models (`model.22.cv3.2.1.conv.weight`, built
from an nn.Module's pickled `_parameters`/`_buffers`/`_modules`), `optimizer.state.<i>.exp_avg_sq`
for optimizer state. The walk is iterative with a visited set and a node budget, so a recursion or
memo bomb ends in `PickleBomb` instead of a hang.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nandoctor.ckpt.tensors import TensorRef
from nandoctor.ckpt.unpickle import Stub, Unsupported, numpy_array

MODEL_KEYS = {
    "model",
    "ema",
    "state_dict",
    "model_state_dict",
    "module",
    "model_ema",
    "ema_state_dict",
    "net",
    "network",
    "params",
    "student",
    "teacher",
    "generator",
    "discriminator",
}
OPTIMIZER_KEYS = {"optimizer", "optimizer_state_dict", "optimizer_states", "optim", "opt", "optimizers"}
SCALER_KEYS = {
    "scaler",
    "grad_scaler",
    "scaler_state_dict",
    "native_amp_scaling_state",
    "MixedPrecision",
    "amp_scaler",
    "amp",
}
# Keys whose module/dict content is named by its own state_dict names (no prefix).
UNPREFIXED = {"model", "ema", "state_dict", "model_state_dict", "module"}
# Trainer bookkeeping, not weights: Lightning's callback/loop/scheduler state (ModelCheckpoint keeps its
# initial worst score `kth_value = tensor(inf)` there), HF rng_state.pth's generator states, scheduler
# state. Judged at most as info: a non-finite value here never poisons the weights.
BOOKKEEPING_KEYS = {
    "callbacks",
    "loops",
    "lr_schedulers",
    "lr_scheduler",
    "scheduler",
    "schedulers",
    "scheduler_state_dict",
    "rng_state",
    "rng_states",
    "python",
    "numpy",
    "cpu",
    "cuda",
    "mps",
    "xpu",
    "npu",
    "hpu",
    "hyper_parameters",
    "hparams",
    "datamodule_hyper_parameters",
    "metrics",
    "best_model_score",
    "current_score",
    "kth_value",
}
MAX_NODES = 2_000_000
MAX_NAME_PARTS = 64  # deeper names keep their last parts: a 1.9M-deep nesting must not cost O(depth^2)


class PickleBomb(Exception):
    pass


@dataclass
class Named:
    name: str
    section: str  # "model" | "optimizer" | "scaler" | "bookkeeping" | "other"
    ref: Any  # TensorRef or Unsupported


def section_of(key: str) -> str:
    if key in BOOKKEEPING_KEYS:
        return "bookkeeping"
    if key in MODEL_KEYS:
        return "model"
    if key in OPTIMIZER_KEYS or key.startswith("optimizer"):
        return "optimizer"
    if key in SCALER_KEYS or "scaler" in key.lower():
        return "scaler"
    return "other"


def is_module(obj: Any) -> bool:
    return isinstance(obj, Stub) and "_parameters" in obj.fields and "_modules" in obj.fields


def flatten(obj: Any) -> list[Named]:
    """All tensors in the checkpoint with their names and sections."""
    budget = [MAX_NODES]
    seen: set[int] = set()
    out: list[Named] = []
    if isinstance(obj, dict) and obj and all(isinstance(v, (TensorRef, Unsupported)) for v in obj.values()):
        for key, ref in obj.items():  # a plain state_dict, or DCP's flat `optim.state.<fqn>.exp_avg` names
            section = "optimizer" if section_of(str(key).split(".")[0]) == "optimizer" else "model"
            out.append(Named(str(key), section, ref))
        return out
    if is_module(obj):
        _walk(obj, "", "model", out, seen, budget)
        return out
    if isinstance(obj, dict) and "state" in obj and "param_groups" in obj:  # a bare optimizer.state_dict()
        _walk(obj, "", "optimizer", out, seen, budget)
        return out
    if isinstance(obj, dict):
        modules = [k for k, v in obj.items() if isinstance(k, str) and k in ("model", "ema") and is_module(v)]
        for key, value in obj.items():
            key_s = str(key)
            prefix = "" if key_s in UNPREFIXED and not (len(modules) > 1 and key_s == "ema") else key_s + "."
            section = section_of(key_s)
            if section == "other" and isinstance(value, TensorRef):  # a state_dict with a few extras
                section = "model"
            _walk(value, prefix, section, out, seen, budget)
        return out
    _walk(obj, "", "other", out, seen, budget)
    return out


_LEAVES = (str, bytes, int, float, bool, complex, type(None))


def _walk(root: Any, prefix: str, section: str, out: list[Named], seen: set[int], budget: list[int]) -> None:
    """Depth-first over containers. A node's name is a link to its parent's (parent, key), joined only
    for tensors, so deep nesting costs O(nodes), not O(nodes x depth). Plain lists, tuples and dicts
    take the fast path: one tuple per child, no per-child type tests beyond the leaf check."""
    stack: list[tuple[Any, Any, Any]] = [(root, None, None)]
    pop, push = stack.pop, stack.extend
    left = budget[0]
    try:
        while stack:
            obj, parent, key = pop()
            left -= 1
            if left < 0:
                raise PickleBomb(f"more than {MAX_NODES:,} objects in the pickle (a memo or recursion bomb?)")
            kind = type(obj)
            while (kind is list or kind is tuple) and len(obj) == 1:  # a one-element chain: descend in place
                path = _link(parent, key)
                parent, key, obj = path, 0, obj[0]
                kind = type(obj)
                left -= 1
                if left < 0:
                    raise PickleBomb(f"more than {MAX_NODES:,} objects in the pickle (a memo or recursion bomb?)")
            if kind is list or kind is tuple or kind is dict:
                if len(obj) > 1:  # a one-element chain cannot share; a cycle of them ends at MAX_NODES
                    if id(obj) in seen:
                        continue
                    seen.add(id(obj))
                path = _link(parent, key)
                items = obj.items() if kind is dict else enumerate(obj)
                push([(v, path, k) for k, v in reversed(list(items)) if not isinstance(v, _LEAVES)])
                continue
            path = _link(parent, key)
            if isinstance(obj, (TensorRef, Unsupported)):
                out.append(Named(_name(prefix, path), section, obj))
                continue
            if isinstance(obj, _LEAVES) or id(obj) in seen:
                continue
            seen.add(id(obj))
            children: list[tuple[Any, Any]] = []
            if isinstance(obj, (dict, list, tuple, set, frozenset)):  # subclasses (OrderedDict)
                children = list(obj.items()) if isinstance(obj, dict) else list(enumerate(obj))
            elif is_module(obj):
                f = obj.fields
                for field in ("_parameters", "_buffers", "_modules"):
                    if isinstance(f.get(field), dict):
                        children += list(f[field].items())
            elif isinstance(obj, Stub):
                arr = numpy_array(obj)
                if arr is not None:
                    out.append(Named(_name(prefix, path), section, TensorRef.from_array(arr)))
                    continue
                children = list(obj.fields.items())
                children += list(enumerate(obj._nd_args))
                children += list(enumerate(obj._nd_items))
                children += list(obj._nd_map.items())  # dict subclasses (defaultdict)
            push([(v, path, k) for k, v in reversed(children) if not isinstance(v, _LEAVES)])
    finally:
        budget[0] = left


def _link(parent: Any, key: Any) -> Any:
    """(parent, key, depth). Every MAX_NAME_PARTS levels the link to the ancestors is cut, so a
    1.9M-deep nesting keeps only the last few levels alive, not one tuple per level."""
    if parent is None:
        return None if key is None else (None, key, 1)
    depth = parent[2] + 1
    return (None if depth % MAX_NAME_PARTS == 0 else parent, key, depth)


def _name(prefix: str, path: Any) -> str:
    parts: list[str] = []
    depth = path[2] if path else 0
    while path is not None:
        parts.append(str(path[1]))
        path = path[0]
    if depth > len(parts):
        parts.append(f"...({depth - len(parts)} levels)")
        prefix = ""
    return (prefix + ".".join(reversed(parts))).rstrip(".")


def module_params(obj: Any) -> list[tuple[str, str]]:
    """(parameter name, owning module's class) in `model.parameters()` order, to name optimizer state."""
    params: list[tuple[str, str]] = []
    if not is_module(obj):
        return params
    stack = [(obj, "")]
    seen: set[int] = set()
    while stack:
        mod, prefix = stack.pop()
        if id(mod) in seen or len(seen) > 100_000:
            continue
        seen.add(id(mod))
        f = mod.fields
        for k, v in (f.get("_parameters") or {}).items():
            if v is not None and id(v) not in seen:
                seen.add(id(v))
                params.append((prefix + str(k), mod._nd_global))
        subs = [(m, f"{prefix}{k}.") for k, m in (f.get("_modules") or {}).items() if is_module(m)]
        stack.extend(reversed(subs))
    return params
