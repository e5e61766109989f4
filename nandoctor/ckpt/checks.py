"""Judge one checkpoint: scanned tensors + stored metadata -> findings and a status.

Status: `poisoned` when the weights (anything but optimizer state and trainer bookkeeping) hold
NaN/Inf; `suspect` when the weights are finite but anything else is at warning or error: nan_to_num's
signature, non-finite optimizer state (the sanitiser only touches the model), NaN in its own loss
history, exploded weights or losses, a collapsed scaler; else `clean`.

Callback, loop and scheduler state (Lightning's ModelCheckpoint stores its initial worst score
`kth_value = inf`) is bookkeeping: reported as info, never held against the weights.
Every per-name test here is plain string work, linear in the name's length: names come from the file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from nandoctor.ckpt.scan import FP16_MAX, TensorStat
from nandoctor.ckpt.walk import Named, is_module, module_params
from nandoctor.numbers import parse_number

OPT_LEAVES = ("exp_avg_sq", "exp_avg", "max_exp_avg_sq", "momentum_buffer", "square_avg")
LOSS_ABSURD = 1e6  # a stored loss above this is divergence whatever the loss function
WEIGHT_ABSURD = 1e12  # no trained network needs a weight this large
LOSS_JUMP = 5.0  # a loss this many times above the run's highest healthy value so far has exploded
WEIGHT_JUMP = 100.0  # two orders of magnitude over the run's own earlier checkpoints


def opt_state(name: str) -> tuple[str, str] | None:
    """(parameter, moment) for `optimizer.state.<index>.exp_avg` (torch) or `optim.state.<fqn>.exp_avg`
    (DCP): the text between the first `.state.` and the last dot."""
    head, _, leaf = name.rpartition(".")
    if leaf not in OPT_LEAVES:
        return None
    s = f".{head}."
    i = s.find(".state.")
    param = s[i + 7 : -1] if i >= 0 else ""
    return (param, leaf) if param else None


def is_norm_weight(name: str) -> bool:
    """`...bn1.weight`, `...norm.weight`, `...layer_norm.weight`, `...attn_ln.weight` and the like."""
    if not name.endswith(".weight") and name != "weight":
        return False
    comp = name[: -len("weight")].rstrip(".").rpartition(".")[2].lower()
    if not comp or not all(c.isalnum() or c == "_" for c in comp):
        return False
    if comp.startswith("bn"):
        return comp[2:].isdigit() or comp == "bn"
    return comp.startswith(("norm", "ln", "layernorm", "layer_norm", "batchnorm", "batch_norm")) or comp.endswith(
        ("_norm", "_ln")
    )


@dataclass
class Issue:
    code: str
    severity: str
    message: str
    where: str | None = None
    data: dict = field(default_factory=dict)


@dataclass
class Verdict:
    issues: list[Issue] = field(default_factory=list)
    nonfinite: list[str] = field(default_factory=list)
    weights_nonfinite: bool = False
    role: str = "model"  # model | optimizer | trainer-state
    losses: dict[str, float] = field(default_factory=dict)  # stored losses, for the run comparison
    profile: dict[str, tuple] = field(default_factory=dict)  # weight name -> (absmax, zero_frac, fp16 hits)
    weights_unread: bool = False  # every model tensor is in a layout nandoctor does not read

    def add(self, code: str, severity: str, message: str, where: str | None = None, **data: Any) -> None:
        self.issues.append(Issue(code, severity, message, where, data))

    @property
    def exploded(self) -> bool:
        return any(i.code == "ND215" and i.severity != "info" for i in self.issues)

    @property
    def status(self) -> str:
        if self.weights_nonfinite:
            return "poisoned"
        if any(i.severity in ("error", "warning") for i in self.issues):
            return "suspect"
        if self.weights_unread:
            return "unknown"  # never "clean" on weights that were not read: never recommended
        return "clean"


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4g}"


def judge(
    tensors: list[Named],
    stats: dict[str, TensorStat],
    obj: Any,
    shards: dict[str, str],
    pad_rows: dict[str, set[int]] | None = None,
    meta: dict | None = None,
) -> Verdict:
    """`pad_rows`: rows that are zero by construction (an embedding's padding_idx, config.json's
    pad_token_id), by tensor name. `meta`: non-tensor facts beside the weights (HF trainer_state)."""
    from nandoctor.ckpt.scan import zeros_outside_rows

    v = Verdict()
    top = obj if isinstance(obj, dict) else {}
    facts = {**top, **(meta or {})}
    pad_rows = {**_module_padding(obj), **(pad_rows or {})}
    amp = _amp_on(top)
    param_names = _optimizer_param_names(top)
    dense_model = _otherwise_dense(tensors, stats)
    unscanned = []
    bookkeeping: list[str] = []
    v.role = _role(tensors)
    for t in tensors:
        st = stats.get(t.name)
        if st is None or not st.scanned:
            if t.section != "bookkeeping":
                unscanned.append(t.name)
            continue
        shard = f" (shard {shards[t.name]})" if t.name in shards else ""
        desc = f"{t.name}{shard} ({st.dtype}, {list(st.shape)})"
        if t.section == "bookkeeping":
            if st.nonfinite:
                bookkeeping.append(t.name)
            continue
        m = opt_state(t.name) if t.section == "optimizer" or ".state." in t.name else None
        opt_param = ""
        if m and m[0].isdigit() and len(m[0]) < 10 and int(m[0]) < len(param_names):  # the name is the file's
            opt_param = f", parameter {param_names[int(m[0])]}"
        if t.section in ("model", "other") and st.absmax is not None and st.dtype.startswith(("float", "bfloat")):
            v.profile[t.name] = (st.absmax, st.zero_frac, st.fp16_max_hits)
        if st.nonfinite:
            v.nonfinite.append(t.name)
            parts = [f"{n} {w}" for n, w in ((st.nan, "NaN"), (st.posinf, "+Inf"), (st.neginf, "-Inf")) if n]
            msg = (
                f"{' and '.join(parts)} values in {desc}{opt_param}, first at flat index {st.first_bad} of {st.numel:,}"
            )
            code = "ND203" if m else "ND201"
            v.weights_nonfinite |= code == "ND201"
            v.add(
                code,
                "error",
                msg,
                t.name,
                nan=st.nan,
                posinf=st.posinf,
                neginf=st.neginf,
                first_index=st.first_bad,
                shard=shards.get(t.name),
            )
        if st.fp16_max_hits:
            v.add(
                "ND205",
                "warning",
                f"{st.fp16_max_hits} values are exactly +-65504 in {desc}: nan_to_num replaced Inf here before saving",
                t.name,
                count=st.fp16_max_hits,
                sign="fp16max",
            )
        if (
            t.section == "model"
            and dense_model
            and st.numel >= 256
            and len(st.shape) >= 2
            and st.zero_frac is not None
            and 0.01 <= st.zero_frac < 0.95
        ):
            frac = st.zero_frac
            rows = pad_rows.get(t.name)
            if rows:  # zeros confined to the padding row(s) are how the layer was built
                total, in_rows = zeros_outside_rows(t.ref, rows)
                frac = (total - in_rows) / max(st.numel, 1)
            if frac >= 0.01:
                v.add(
                    "ND205",
                    "warning",
                    f"{frac:.1%} exact zeros in {desc} while the model's other weights "
                    "are dense: the pattern nan_to_num leaves where NaN was",
                    t.name,
                    zero_fraction=frac,
                    sign="zeros",
                )
        if t.name.endswith("running_var") and st.min is not None and st.min <= 0:
            v.add("ND206", "error", f"{desc} has values <= 0 (min {_fmt(st.min)})", t.name, min=st.min)
        if t.section == "model" and is_norm_weight(t.name) and st.absmax == 0 and st.numel > 1:
            v.add("ND207", "warning", f"{desc} is all zeros", t.name)
        if m and m[1] in ("exp_avg_sq", "max_exp_avg_sq"):
            if st.min is not None and st.min < 0:
                v.add(
                    "ND204", "error", f"{desc}{opt_param} has negative values (min {_fmt(st.min)})", t.name, min=st.min
                )
            if st.dtype == "float16" and st.zero_frac is not None and st.zero_frac >= 0.5 and st.numel >= 16:
                v.add(
                    "ND208",
                    "warning",
                    f"{desc}{opt_param} is {st.zero_frac:.0%} exact zeros in fp16",
                    t.name,
                    zero_fraction=st.zero_frac,
                )
        if (
            amp
            and t.section == "model"
            and st.dtype in ("float32", "float64")
            and st.absmax is not None
            and st.absmax > FP16_MAX
        ):
            v.add(
                "ND211",
                "warning",
                f"{desc} abs-max {_fmt(st.absmax)} overflows fp16 under AMP",
                t.name,
                absmax=st.absmax,
            )
    if bookkeeping:
        v.add(
            "ND216",
            "info",
            f"{len(bookkeeping)} non-finite value(s) in trainer bookkeeping, not weights, e.g. "
            f"{bookkeeping[0]} (an initial worst score or a scheduler value); not held against the weights",
            bookkeeping[0],
            names=bookkeeping[:20],
        )
    model = [t.name for t in tensors if t.section == "model"]
    v.weights_unread = bool(model) and set(model) <= set(unscanned)
    if unscanned:
        v.add(
            "ND213",
            "info",
            f"{len(unscanned)} tensors in a layout nandoctor does not read, e.g. {unscanned[0]}"
            + ("; none of the model's weights could be read, so it is not called clean" if v.weights_unread else ""),
            unscanned[0],
            names=unscanned[:20],
        )
    absurd = max(v.profile.items(), key=lambda kv: kv[1][0], default=None)
    if absurd and absurd[1][0] >= WEIGHT_ABSURD:
        v.add(
            "ND215",
            "warning",
            f"{absurd[0]} abs-max {_fmt(absurd[1][0])}: the weights have exploded (finite, "
            "but no trained network holds values this large)",
            absurd[0],
            absmax=absurd[1][0],
        )
    _check_scaler(v, obj)
    _check_history(v, facts)
    return v


def _role(tensors: list[Named]) -> str:
    """model (it holds weights), optimizer (only optimizer state: a lone optimizer.pt) or trainer-state
    (rng_state.pth, scheduler.pt: nothing to resume a model from)."""
    weights = [t for t in tensors if t.section in ("model", "other", "scaler")]
    if any(
        getattr(t.ref, "kind", "float") in ("float", "bf16", "f8e4m3", "f8e5m2", "complex", "unknown")
        for t in weights
        if t.section != "scaler"
    ):
        return "model"
    if any(t.section == "optimizer" for t in tensors):
        return "optimizer"
    return "model" if any(t.section != "scaler" for t in weights) else "trainer-state"


def _module_padding(obj: Any) -> dict[str, set[int]]:
    """padding_idx of every pickled nn.Embedding, by its weight's state_dict name."""
    from nandoctor.ckpt.walk import MODEL_KEYS

    out: dict[str, set[int]] = {}
    roots = (
        [(obj, "")]
        if is_module(obj)
        else [
            (val, "" if key in ("model", "ema", "state_dict", "model_state_dict", "module") else f"{key}.")
            for key, val in (obj.items() if isinstance(obj, dict) else [])
            if key in MODEL_KEYS and is_module(val)
        ]
    )
    budget = 200_000
    for root, prefix in roots:
        stack = [(root, prefix)]
        while stack and budget > 0:
            mod, name = stack.pop()
            budget -= 1
            f = mod.fields
            pad = f.get("padding_idx")
            if isinstance(pad, int) and not isinstance(pad, bool) and "Embedding" in mod._nd_global:
                out[f"{name}weight"] = {pad}
            stack += [(m, f"{name}{k}.") for k, m in (f.get("_modules") or {}).items() if is_module(m)]
    return out


def _amp_on(top: dict) -> bool:
    args = top.get("train_args")
    if isinstance(args, dict) and args.get("amp") not in (None, False, "false", "False"):
        return True
    return isinstance(top.get("scaler"), dict) and bool(top["scaler"])


def _optimizer_param_names(top: dict) -> list[str]:
    """Name optimizer state by parameter: state index i is the i-th parameter over param_groups in order.

    One group covering the model: `model.parameters()` order. Ultralytics' three groups (its
    build_optimizer: biases, then weights with decay, then norm weights): checked against the group
    sizes, so a layout we guess wrong yields no names rather than wrong ones.
    """
    opt = top.get("optimizer") if isinstance(top.get("optimizer"), dict) else top.get("optimizer_state_dict")
    model = next((top[k] for k in ("ema", "model") if is_module(top.get(k))), None)
    if not isinstance(opt, dict) or model is None or not isinstance(opt.get("param_groups"), list):
        return []
    sizes = [len(g.get("params", [])) if isinstance(g, dict) else -1 for g in opt["param_groups"]]
    params = module_params(model)
    names = [n for n, _ in params]
    if sizes == [len(names)]:
        return names
    bias = [n for n in names if "bias" in n]
    norm = [n for n, cls in params if "bias" not in n and ("Norm" in cls.rsplit(".", 1)[-1] or "logit_scale" in n)]
    decay = [n for n in names if n not in set(bias) | set(norm)]
    if sizes == [len(bias), len(decay), len(norm)]:
        return bias + decay + norm
    return []


def _otherwise_dense(tensors: list[Named], stats: dict[str, TensorStat]) -> bool:
    """True when most weight matrices have (almost) no exact zeros, i.e. the model is not pruned."""
    fracs = sorted(
        s.zero_frac
        for t in tensors
        if t.section == "model"
        for s in [stats.get(t.name)]
        if s and s.zero_frac is not None and len(s.shape) >= 2 and s.numel >= 256
    )
    return bool(fracs) and fracs[len(fracs) // 2] < 0.001


def _scalers(obj: Any, depth: int = 0) -> list[tuple[str, Any]]:
    """GradScaler state dicts anywhere near the top: {'scale': ..., '_growth_tracker'/'growth_factor': ...}."""
    found: list[tuple[str, Any]] = []
    if depth > 3 or not isinstance(obj, dict):
        return found
    if "scale" in obj and ("_growth_tracker" in obj or "growth_factor" in obj):
        return [("scale", obj["scale"])]
    for k, val in list(obj.items())[:200]:
        for name, s in _scalers(val, depth + 1):
            found.append((f"{k}.{name}", s))
    return found


def _number(x: Any) -> float | None:
    """A stored number as float (huge ints saturate to +-inf instead of raising OverflowError)."""
    from nandoctor.ckpt.tensors import TensorRef

    if isinstance(x, (bool, int, float)):
        return parse_number(x)
    if isinstance(x, TensorRef) and x.numel == 1 and x.kind in ("float", "int", "bf16"):
        try:
            return float(x.array().reshape(-1)[0])
        except (ValueError, OSError):
            return None
    return None


def metric_number(x: Any) -> float | None:
    """A stored metric: a number, a one-element tensor, or the strings Ultralytics writes ('nan')."""
    if isinstance(x, str) and len(x) <= 32:
        return parse_number(x)
    return _number(x)


def _check_scaler(v: Verdict, obj: Any) -> None:
    for where, raw in _scalers(obj):
        scale = _number(raw)
        if scale is None:
            continue
        if not math.isfinite(scale):
            v.add("ND209", "error", f"GradScaler {where} is {scale}", where, scale=scale)
        elif scale < 1:
            v.add(
                "ND209", "warning", f"GradScaler {where} collapsed to {scale:.3g} (starts at 65536)", where, scale=scale
            )


def exploded_index(values: list[float]) -> int | None:
    """First index from which a loss series has exploded for good: the last value is LOSS_JUMP times
    above the highest healthy value before it (healthy values raise that bar; exploded ones do not)."""
    bar = None
    first = None
    for i, x in enumerate(values):
        if not math.isfinite(x):
            continue
        if bar is not None and bar > 0 and x > LOSS_JUMP * bar:
            first = i if first is None else first
        else:
            bar = x if bar is None else max(bar, x)
            first = None
    return first


def _series(values: Any, limit: int = 1_000_000) -> list[float]:
    out = []
    for x in values[-limit:] if isinstance(values, list) else []:
        n = metric_number(x)
        out.append(math.nan if n is None else n)
    return out


def _label(x: Any) -> str:
    n = metric_number(x)
    return f"{n:g}" if n is not None and math.isfinite(n) else repr(x)[:40]


def _check_history(v: Verdict, top: dict) -> None:
    """The checkpoint's own record of training: NaN in it (ND210), or losses that exploded (ND215)."""
    results = top.get("train_results")
    if isinstance(results, dict):  # Ultralytics: column -> per-epoch list (it writes the string 'nan')
        epochs = results.get("epoch") if isinstance(results.get("epoch"), list) else None
        for col, values in list(results.items())[:1000]:
            if "loss" not in str(col) or not isinstance(values, list):
                continue
            nums = [metric_number(x) for x in values[:1_000_000]]
            bad = [i for i, n in enumerate(nums) if n is not None and not math.isfinite(n)]
            if bad:
                first = _label(epochs[bad[0]]) if epochs and bad[0] < len(epochs) else str(bad[0] + 1)
                v.add(
                    "ND210",
                    "warning",
                    f"train_results['{col}'] is {nums[bad[0]]} from epoch {first} ({len(bad)} of {len(values)} epochs)",
                    f"train_results.{col}",
                    first_epoch=metric_number(epochs[bad[0]]) if epochs and bad[0] < len(epochs) else bad[0] + 1,
                )
                break
        for col, values in list(results.items())[:1000]:
            if "loss" in str(col) and isinstance(values, list) and values:
                series = _series(values)
                v.losses.setdefault(str(col), series[-1])
                at = exploded_index(series)
                if at is not None:
                    v.add(
                        "ND215",
                        "warning",
                        f"train_results['{col}'] exploded to {_fmt(series[-1])} (from "
                        f"{_fmt(min(x for x in series[:at] if math.isfinite(x)))} earlier in the run)",
                        f"train_results.{col}",
                        loss=series[-1],
                    )
                    break
    history = top.get("log_history")
    if isinstance(history, list):  # HF trainer_state.json: loss may be NaN-filtered, grad_norm/eval_loss are not
        seen: dict[str, list[float]] = {}
        flagged = False
        for item in history[:1_000_000]:
            if not isinstance(item, dict):
                continue
            for k in ("loss", "grad_norm", "eval_loss"):
                n = metric_number(item.get(k)) if k in item else None
                if n is None:
                    continue
                seen.setdefault(k, []).append(n)
                if not math.isfinite(n) and not flagged:
                    flagged = True
                    v.add(
                        "ND210",
                        "warning",
                        f"trainer_state.json log_history has {k} = {n} at step {_label(item.get('step'))}",
                        f"log_history.{k}",
                        step=item.get("step"),
                    )
        for k in ("loss", "eval_loss"):
            if seen.get(k):
                v.losses[f"log_history.{k}"] = seen[k][-1]
                at = exploded_index(seen[k])
                if at is not None and not v.exploded:
                    v.add(
                        "ND215",
                        "warning",
                        f"trainer_state.json {k} exploded to {_fmt(seen[k][-1])} (from "
                        f"{_fmt(min(x for x in seen[k][:at] if math.isfinite(x)))} earlier)",
                        f"log_history.{k}",
                        loss=seen[k][-1],
                    )
    metrics = top.get("train_metrics")
    if isinstance(metrics, dict):
        bad_keys = [
            k
            for k, x in list(metrics.items())[:1000]
            if "loss" in str(k) and (n := metric_number(x)) is not None and not math.isfinite(n)
        ]
        if bad_keys:
            v.add(
                "ND210",
                "warning",
                f"train_metrics has non-finite {', '.join(map(str, bad_keys))}",
                f"train_metrics.{bad_keys[0]}",
            )
    # plain loops: torch.save({'epoch': e, 'train_loss': ..., 'val_loss': ...}); Lightning's monitored score
    scalars = {
        str(k): metric_number(x)
        for k, x in list(top.items())[:1000]
        if isinstance(k, str) and "loss" in k and not k.startswith("best") and not isinstance(x, (dict, list))
    }
    nonfinite = [k for k, n in scalars.items() if n is not None and not math.isfinite(n)]
    # Lightning's monitored score is bookkeeping (a NaN there is ND216 info), but an absurd finite
    # loss it recorded is still evidence the run had exploded when it saved
    for key, state in _model_checkpoints(top):
        if "loss" in str(state.get("monitor")):
            scalars[f"callbacks.{key}.current_score"] = metric_number(state.get("current_score"))
    if nonfinite and not any(i.code == "ND210" for i in v.issues):
        v.add(
            "ND210",
            "warning",
            f"the checkpoint stores {nonfinite[0]} = {scalars[nonfinite[0]]}: it was saved "
            "after the loss had gone non-finite",
            nonfinite[0],
        )
    for k, n in scalars.items():
        if n is None:
            continue
        v.losses[k] = n
        if math.isfinite(n) and abs(n) > LOSS_ABSURD and not v.exploded:
            v.add("ND215", "warning", f"the checkpoint stores {k} = {_fmt(n)}: the loss has exploded", k, loss=n)


def _model_checkpoints(top: dict) -> list[tuple[str, dict]]:
    callbacks = top.get("callbacks")
    if not isinstance(callbacks, dict):
        return []
    return [
        (str(k)[:80], s)
        for k, s in list(callbacks.items())[:100]
        if str(k).startswith("ModelCheckpoint") and isinstance(s, dict)
    ]


def compare_run(entries: list[dict[str, Any]]) -> None:
    """Judge each checkpoint against the run's own earlier ones (same folder, in training order).

    - a nan_to_num signature (exact zeros, +-65504) present in every checkpoint since the run's first
      one is how the model was built (padding rows, zero-initialised layers, fp16 mask constants):
      downgraded to info. One that appeared between two checkpoints stays evidence.
    - weights two orders of magnitude above the run's earlier healthy checkpoints, or a stored loss
      LOSS_JUMP times above its earlier healthy values, have exploded (ND215): suspect, never clean.
    """
    from pathlib import Path

    from nandoctor.ckpt.select import progress_key

    groups: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        v = e.get("_verdict")
        if isinstance(v, Verdict) and v.role == "model":
            folder = Path(e["path"]).parent  # a file inside checkpoint-N/ belongs to the run above it
            groups.setdefault(str(folder.parent if folder.name.startswith("checkpoint-") else folder), []).append(e)
    for run in groups.values():
        if len(run) < 2:
            continue
        run.sort(key=progress_key)
        _construction_signatures(run)
        _explosions(run)


def _construction_signatures(run: list[dict[str, Any]]) -> None:
    from pathlib import Path

    first = run[0]["_verdict"].profile
    flagged = {
        (i.where, i.data.get("sign"))
        for e in run
        for i in e["_verdict"].issues
        if i.code == "ND205" and i.severity == "warning"
    }
    for where, sign in flagged:
        col = 1 if sign == "zeros" else 2
        base = first.get(where, (None, None, None))[col]
        if not base:
            continue
        same = [
            e
            for e in run[1:]
            if (x := e["_verdict"].profile.get(where, (None, None, None))[col]) is not None
            and 0.9 * x <= base <= x / 0.9
        ]  # the same signature as in the run's first checkpoint
        for e in [run[0], *same] if same else []:
            for i in e["_verdict"].issues:
                if i.code == "ND205" and i.where == where and i.data.get("sign") == sign:
                    i.severity = "info"
                    i.message += (
                        f"; the same since the run's first checkpoint {Path(run[0]['path']).name}: "
                        "built that way, not sanitised"
                    )


def _explosions(run: list[dict[str, Any]]) -> None:
    from pathlib import Path

    healthy: list[Verdict] = []
    for e in run:
        v = e["_verdict"]
        if healthy and not v.exploded and not v.weights_nonfinite:
            base_max = max((a for h in healthy for a, _, _ in h.profile.values()), default=0.0)
            worst = None
            for name, (a, _, _) in v.profile.items():
                before = [h.profile[name][0] for h in healthy if name in h.profile]
                if not before or not math.isfinite(a):
                    continue
                floor = max(max(before), 0.01 * base_max)
                if (
                    floor > 0
                    and a >= WEIGHT_JUMP * floor
                    and a > 10 * base_max  # beyond anything the run held
                    and (worst is None or a / floor > worst[1])
                ):
                    worst = (name, a / floor, a, max(before))
            if worst:
                name, ratio, a, b = worst
                v.add(
                    "ND215",
                    "warning",
                    f"{name} abs-max {_fmt(a)} is {ratio:.3g}x the run's earlier checkpoints "
                    f"(at most {_fmt(b)}): the weights have exploded",
                    name,
                    absmax=a,
                    ratio=ratio,
                )
            for k, x in v.losses.items():
                before = [h.losses[k] for h in healthy if math.isfinite(h.losses.get(k, math.nan))]
                if before and math.isfinite(x) and max(before) > 0 and x > LOSS_JUMP * max(before) and not v.exploded:
                    v.add(
                        "ND215",
                        "warning",
                        f"the stored {k} = {_fmt(x)} is {x / max(before):.3g}x the run's "
                        f"earlier checkpoints (at most {_fmt(max(before))}): the loss has exploded",
                        k,
                        loss=x,
                    )
        if not v.exploded and not v.weights_nonfinite:
            healthy.append(v)
    if len(healthy) == 1 and len(run) > 2 and all(e["_verdict"].exploded for e in run[1:]):
        run[0]["_verdict"].add(
            "ND215",
            "info",
            f"every later checkpoint exploded against this one, the run's "
            f"first ({Path(run[0]['path']).name}); it may already be on the way up",
            None,
            first=True,
        )
