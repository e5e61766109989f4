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

MODEL_KEYS = {"model", "ema", "state_dict", "model_state_dict", "module", "model_ema", "ema_state_dict",
              "net", "network", "params", "student", "teacher", "generator", "discriminator"}
OPTIMIZER_KEYS = {"optimizer", "optimizer_state_dict", "optimizer_states", "optim", "opt", "optimizers"}
SCALER_KEYS = {"scaler", "grad_scaler", "scaler_state_dict", "native_amp_scaling_state", "MixedPrecision",
               "amp_scaler", "amp"}
# Keys whose module/dict content is named by its own state_dict names (no prefix).
UNPREFIXED = {"model", "ema", "state_dict", "model_state_dict", "module"}
# Trainer bookkeeping, not weights: Lightning's callback/loop/scheduler state (ModelCheckpoint keeps its
# initial worst score `kth_value = tensor(inf)` there), HF rng_state.pth's generator states, scheduler
# state. Judged at most as info: a non-finite value here never poisons the weights.
BOOKKEEPING_KEYS = {"callbacks", "loops", "lr_schedulers", "lr_scheduler", "scheduler", "schedulers",
                    "scheduler_state_dict", "rng_state", "rng_states", "python", "numpy", "cpu", "cuda", "mps",
                    "xpu", "npu", "hpu", "hyper_parameters", "hparams", "datamodule_hyper_parameters", "metrics",
                    "best_model_score", "current_score", "kth_value"}
MAX_NODES = 2_000_000
MAX_NAME_PARTS = 64  # deeper names keep their last parts: a 1.9M-deep nesting must not cost O(depth^2)


class PickleBomb(Exception):
    pass


@dataclass
class Named:
    name: str
    section: str          # "model" | "optimizer" | "scaler" | "bookkeeping" | "other"
    ref: Any              # TensorRef or Unsupported


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


def _walk(root: Any, prefix: str, section: str, out: list[Named], seen: set[int], budget: list[int]) -> None:
    """Depth-first over containers. A node's name is a link to its parent's (parent, key), joined only
    for tensors, so deep nesting costs O(nodes), not O(nodes x depth)."""
    stack: list[tuple[Any, Any]] = [(root, None)]
    while stack:
        obj, path = stack.pop()
        budget[0] -= 1
        if budget[0] < 0:
            raise PickleBomb(f"more than {MAX_NODES:,} objects in the pickle (a memo or recursion bomb?)")
        if isinstance(obj, (TensorRef, Unsupported)):
            out.append(Named(_name(prefix, path), section, obj))
            continue
        if obj is None or isinstance(obj, (str, bytes, int, float, bool, complex)):
            continue
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        children: list[tuple[Any, Any]] = []
        if isinstance(obj, dict):
            children = [(v, (path, k)) for k, v in obj.items()]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            children = [(v, (path, i)) for i, v in enumerate(obj)]
        elif is_module(obj):
            f = obj.fields
            for field in ("_parameters", "_buffers"):
                if isinstance(f.get(field), dict):
                    children += [(v, (path, k)) for k, v in f[field].items()]
            if isinstance(f.get("_modules"), dict):
                children += [(v, (path, k)) for k, v in f["_modules"].items()]
        elif isinstance(obj, Stub):
            arr = numpy_array(obj)
            if arr is not None:
                out.append(Named(_name(prefix, path), section, TensorRef.from_array(arr)))
                continue
            children = [(v, (path, k)) for k, v in obj.fields.items()]
            children += [(v, (path, i)) for i, v in enumerate(obj._nd_args)]
            children += [(v, (path, i)) for i, v in enumerate(obj._nd_items)]
            children += [(v, (path, k)) for k, v in obj._nd_map.items()]  # dict subclasses (defaultdict)
        stack.extend(reversed(children))


def _name(prefix: str, path: Any) -> str:
    parts: list[str] = []
    depth = 0
    while path is not None:
        path, key = path
        depth += 1
        if depth <= MAX_NAME_PARTS:
            parts.append(str(key)[:1000])
    if depth > MAX_NAME_PARTS:
        parts.append(f"...({depth - MAX_NAME_PARTS} levels)")
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
