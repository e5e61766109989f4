"""inspect-ckpt rules (ND2xx): anti-pattern and best-practice inputs, written with the real writers.

torch.save of the dicts trainers save (Ultralytics' 'model'/'ema'/'optimizer'/'epoch', a plain loop's
'model_state_dict', Lightning's 'state_dict'/'callbacks'), real AdamW and GradScaler state, HF
Trainer `checkpoint-N` folders (model.safetensors + optimizer.pt + trainer_state.json),
safetensors.torch.save_file, a sharded model.safetensors.index.json, torch.distributed.checkpoint
(dcp.save on one process), and pickles built the way tests/pickle_corpus.py builds them.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from tests.catalogue import example


def _trained(fp16_state: bool = False) -> tuple[Any, dict]:
    """A small conv net with BatchNorm and the AdamW state one real step leaves (state 0 is conv.weight)."""
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.Flatten(), torch.nn.Linear(8 * 6 * 6, 4)
    )
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    net(torch.randn(2, 3, 8, 8)).square().mean().backward()
    opt.step()
    state = opt.state_dict()
    if fp16_state:  # what `.half()` on the optimizer state leaves
        for s in state["state"].values():
            s["exp_avg"], s["exp_avg_sq"] = s["exp_avg"].half(), s["exp_avg_sq"].half()
    return net, state


def _yolo(
    path: Path, *, model: dict | None = None, optimizer: dict | None = None, epoch: int = 4, **extra: Any
) -> list:
    """An Ultralytics-shaped torch.save dict: model, ema, optimizer, epoch (+ train_args, train_results...)."""
    import torch

    net, state = _trained()
    weights = model if model is not None else net.state_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "epoch": epoch,
            "best_fitness": 0.5,
            "model": weights,
            "ema": {k: v.half() if v.is_floating_point() else v for k, v in weights.items()},
            "updates": 40,
            "optimizer": optimizer if optimizer is not None else state,
            **extra,
        },
        path,
    )
    return [path]


def _hf_checkpoint(folder: Path, *, optimizer: dict | None = None, log_history: list | None = None) -> list:
    """An HF Trainer checkpoint-N folder as Trainer._save_checkpoint writes it."""
    import torch
    from safetensors.torch import save_file

    net, state = _trained()
    folder.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(folder / "model.safetensors"))
    torch.save(optimizer if optimizer is not None else state, folder / "optimizer.pt")
    step = int(folder.name.rpartition("-")[2])
    history = (
        log_history
        if log_history is not None
        else [
            {"epoch": 0.5, "step": step // 2, "loss": 1.3, "grad_norm": 2.1, "learning_rate": 5e-5},
            {"epoch": 1.0, "step": step, "loss": 0.9, "grad_norm": 1.7, "learning_rate": 4e-5},
        ]
    )
    (folder / "trainer_state.json").write_text(
        json.dumps(
            {
                "global_step": step,
                "epoch": 1.0,
                "max_steps": 4 * step,
                "log_history": history,
                "best_metric": None,
                "best_model_checkpoint": None,
            },
            indent=2,
        )
    )
    return [folder]


# --- ND200 unreadable checkpoint -------------------------------------------------------------------


@example("ND200", "bad", "inspect-ckpt")
def _(tmp: Path) -> list:
    _yolo(tmp / "full.pt")
    raw = (tmp / "full.pt").read_bytes()
    (tmp / "last.pt").write_bytes(raw[: len(raw) // 2])  # the job was killed mid-save
    (tmp / "full.pt").unlink()
    return [tmp / "last.pt"]


@example("ND200", "good", "inspect-ckpt")
def _(tmp: Path) -> list:
    return _yolo(tmp / "last.pt")


# --- ND201 non-finite weights ----------------------------------------------------------------------


@example("ND201", "bad", "inspect-ckpt")
def _(tmp: Path) -> list:
    import torch

    weights = torch.randn(8, 4)
    weights[2, 1] = float("nan")
    torch.save({"model": {"fc.weight": weights, "fc.bias": torch.zeros(8)}}, tmp / "last.pt")
    return [tmp / "last.pt"]


@example("ND201", "good", "inspect-ckpt")
def _(tmp: Path) -> list:
    import torch

    torch.save({"model": {"fc.weight": torch.randn(8, 4), "fc.bias": torch.zeros(8)}}, tmp / "last.pt")
    return [tmp / "last.pt"]


# --- ND202 unsafe pickle ---------------------------------------------------------------------------


@example("ND202", "bad", "inspect-ckpt")
def _(tmp: Path) -> list:
    """A best.pt whose pickle calls os.system: the payload as tests/pickle_corpus.py writes it."""
    import os

    import torch

    from tests.pickle_corpus import Reduce

    torch.save(
        {"model": {"fc.weight": torch.randn(4, 4)}, "epoch": 3, "extra": Reduce(os.system, f"touch {tmp / 'canary'}")},
        tmp / "best.pt",
    )
    return [tmp / "best.pt"]


@example("ND202", "good", "inspect-ckpt")
def _(tmp: Path) -> list:
    import torch
    from safetensors.torch import save_file

    save_file({"fc.weight": torch.randn(4, 4), "fc.bias": torch.zeros(4)}, str(tmp / "model.safetensors"))
    return [tmp / "model.safetensors"]


# --- ND203 non-finite optimizer state --------------------------------------------------------------


@example("ND203", "bad", "inspect-ckpt")
def _(tmp: Path) -> list:
    _, state = _trained()
    state["state"][0]["exp_avg_sq"].view(-1)[:5] = float("nan")
    return _hf_checkpoint(tmp / "checkpoint-500", optimizer=state)


@example("ND203", "good", "inspect-ckpt")
def _(tmp: Path) -> list:
    return _hf_checkpoint(tmp / "checkpoint-500")


# --- ND204 negative Adam second moment -------------------------------------------------------------


@example("ND204", "bad", "inspect-ckpt")
def _(tmp: Path) -> list:
    _, state = _trained()
    state["state"][3]["exp_avg_sq"].view(-1)[1] = -3.1e-05
    return _yolo(tmp / "last.pt", optimizer=state)


@example("ND204", "good", "inspect-ckpt")
def _(tmp: Path) -> list:
    return _yolo(tmp / "last.pt")


# --- ND205 nan_to_num sanitising signature ---------------------------------------------------------


@example("ND205", "bad", "inspect-ckpt")
def _(tmp: Path) -> list:
    """Inf replaced by 65504 before saving, as recent Ultralytics does: no NaN left, the fp16 EMA pinned."""
    import torch

    net, _ = _trained()
    weights = net.state_dict()
    weights["1.running_var"] = torch.nan_to_num(
        torch.tensor([float("inf"), 1.0, 0.8, 1.2, 0.9, 1.1, 1.0, 0.7]), posinf=65504.0
    ).half()
    return _yolo(tmp / "last.pt", model=weights)


@example("ND205", "good", "inspect-ckpt")
def _(tmp: Path) -> list:
    return _yolo(tmp / "last.pt")


# --- ND206 BatchNorm running_var not positive ------------------------------------------------------


def _bn_safetensors(path: Path, zero_var: bool) -> list:
    from safetensors.torch import save_file

    net, _ = _trained()
    weights = net.state_dict()
    if zero_var:
        weights["1.running_var"][:4] = 0.0
    save_file(weights, str(path))
    return [path]


@example("ND206", "bad", "inspect-ckpt")
def _(tmp: Path) -> list:
    return _bn_safetensors(tmp / "model.safetensors", zero_var=True)


@example("ND206", "good", "inspect-ckpt")
def _(tmp: Path) -> list:
    return _bn_safetensors(tmp / "model.safetensors", zero_var=False)


# --- ND207 normalisation weight collapsed to zero --------------------------------------------------


def _sharded(folder: Path, weights: dict) -> list:
    """A model split over two safetensors shards with the index transformers' save_pretrained writes."""
    from safetensors.torch import save_file

    names = sorted(weights)
    parts = {
        "model-00001-of-00002.safetensors": names[: len(names) // 2],
        "model-00002-of-00002.safetensors": names[len(names) // 2 :],
    }
    folder.mkdir(parents=True)
    for shard, keys in parts.items():
        save_file({k: weights[k].contiguous() for k in keys}, str(folder / shard))
    total = sum(t.numel() * t.element_size() for t in weights.values())
    (folder / "model.safetensors.index.json").write_text(
        json.dumps(
            {"metadata": {"total_size": total}, "weight_map": {k: s for s, keys in parts.items() for k in keys}},
            indent=2,
        )
    )
    return [folder]


def _bn_model(zero_norm: bool) -> dict:
    import torch

    torch.manual_seed(1)
    weights = {
        "model.8.conv.weight": torch.randn(16, 8, 3, 3),
        "model.8.bn.weight": torch.ones(16),
        "model.8.bn.bias": torch.zeros(16),
        "model.8.bn.running_mean": torch.randn(16),
        "model.8.bn.running_var": torch.rand(16) + 0.5,
        "model.9.linear.weight": torch.randn(10, 16),
    }
    if zero_norm:
        weights["model.8.bn.weight"] = torch.zeros(16)
    return weights


@example("ND207", "bad", "inspect-ckpt")
def _(tmp: Path) -> list:
    return _sharded(tmp / "model", _bn_model(zero_norm=True))


@example("ND207", "good", "inspect-ckpt")
def _(tmp: Path) -> list:
    return _sharded(tmp / "model", _bn_model(zero_norm=False))


# --- ND208 fp16 exp_avg_sq flushed to zero ---------------------------------------------------------


@example("ND208", "bad", "inspect-ckpt")
def _(tmp: Path) -> list:
    _, state = _trained(fp16_state=True)
    sq = state["state"][0]["exp_avg_sq"]  # squared gradients below 6e-8 flush to 0 in fp16
    sq.view(-1)[: sq.numel() * 97 // 100] = 0.0
    return _yolo(tmp / "last.pt", optimizer=state)


@example("ND208", "good", "inspect-ckpt")
def _(tmp: Path) -> list:
    return _yolo(tmp / "last.pt")  # optimizer moments in fp32


# --- ND209 GradScaler scale collapsed --------------------------------------------------------------


def _with_scaler(path: Path, init_scale: float, model: dict | None = None) -> list:
    """A plain AMP loop's checkpoint: model, optimizer and GradScaler state_dicts."""
    import torch

    net, state = _trained()
    scaler = torch.amp.GradScaler("cpu", init_scale=init_scale)
    torch.save(
        {
            "model_state_dict": model if model is not None else net.state_dict(),
            "optimizer_state_dict": state,
            "scaler": scaler.state_dict(),
            "epoch": 7,
        },
        path,
    )
    return [path]


@example("ND209", "bad", "inspect-ckpt")
def _(tmp: Path) -> list:
    return _with_scaler(tmp / "ckpt.pth", 6.1e-05)


@example("ND209", "good", "inspect-ckpt")
def _(tmp: Path) -> list:
    return _with_scaler(tmp / "ckpt.pth", 65536.0)


# --- ND210 NaN in the stored loss history ----------------------------------------------------------


def _results(nan_from: int | None) -> dict:
    losses = [1.9, 1.5, 1.3, 1.2, 1.1, 1.05]
    if nan_from is not None:
        losses[nan_from:] = [float("nan")] * (len(losses) - nan_from)
    return {
        "epoch": list(range(1, 7)),
        "train/box_loss": losses,
        "train/cls_loss": [x / 2 for x in losses],
        "metrics/mAP50(B)": [0.1, 0.2, 0.3, 0.35, 0.38, 0.4],
    }


@example("ND210", "bad", "inspect-ckpt")
def _(tmp: Path) -> list:
    return _yolo(tmp / "weights" / "last.pt", epoch=5, train_results=_results(nan_from=3))


@example("ND210", "good", "inspect-ckpt")
def _(tmp: Path) -> list:
    return _yolo(tmp / "weights" / "last.pt", epoch=5, train_results=_results(nan_from=None))


# --- ND211 values beyond fp16 range ----------------------------------------------------------------


def _amp_model(absmax: float) -> dict:
    net, _ = _trained()
    weights = net.state_dict()
    weights["3.weight"].view(-1)[7] = absmax
    return weights


@example("ND211", "bad", "inspect-ckpt")
def _(tmp: Path) -> list:
    """A plain AMP loop (GradScaler state saved): fp32 weights fine now, Inf once autocast casts them."""
    return _with_scaler(tmp / "ckpt.pth", 65536.0, model=_amp_model(1.2e5))


@example("ND211", "good", "inspect-ckpt")
def _(tmp: Path) -> list:
    return _with_scaler(tmp / "ckpt.pth", 65536.0, model=_amp_model(3.5))


# --- ND212 no clean checkpoint ---------------------------------------------------------------------


def _poisoned(path: Path) -> None:
    net, _ = _trained()
    weights = net.state_dict()
    weights["0.weight"].view(-1)[::7] = float("nan")
    _yolo(path, model=weights)


@example("ND212", "bad", "inspect-ckpt")
def _(tmp: Path) -> list:
    _poisoned(tmp / "weights" / "last.pt")  # weights/ holds only last.pt, poisoned
    return [tmp / "weights"]


@example("ND212", "good", "inspect-ckpt")
def _(tmp: Path) -> list:
    _poisoned(tmp / "weights" / "last.pt")
    _yolo(tmp / "weights" / "epoch5.pt", epoch=5)  # save_period: 5 kept one to fall back on
    return [tmp / "weights"]


# --- ND213 tensors not scanned ---------------------------------------------------------------------


@example("ND213", "bad", "inspect-ckpt")
def _(tmp: Path) -> list:
    import torch

    w = torch.randn(16, 16)
    with warnings.catch_warnings():  # torch deprecates quantized dtypes; checkpoints holding them remain
        warnings.simplefilter("ignore", UserWarning)
        q = torch.quantize_per_tensor(w, scale=float(w.abs().max()) / 127, zero_point=0, dtype=torch.qint8)
    torch.save({"model": {"fc.weight": q, "fc.bias": torch.zeros(16)}, "epoch": 2}, tmp / "quantized.pt")
    return [tmp / "quantized.pt"]


@example("ND213", "good", "inspect-ckpt")
def _(tmp: Path) -> list:
    """Dense tensors saved with torch.distributed.checkpoint on one process."""
    import torch
    import torch.distributed.checkpoint as dcp

    net, state = _trained()
    with warnings.catch_warnings():  # "torch.distributed is disabled ... single process": the point here
        warnings.simplefilter("ignore", UserWarning)
        dcp.save({"model": net.state_dict(), "step": torch.tensor(300)}, checkpoint_id=str(tmp / "dcp"))
    return [tmp / "dcp"]


# --- ND214 not a model checkpoint ------------------------------------------------------------------


@example("ND214", "bad", "inspect-ckpt")
def _(tmp: Path) -> list:
    """rng_state.pth as Trainer._save_rng_state writes it: random, numpy and torch generator states."""
    import random

    import numpy as np
    import torch

    _hf_checkpoint(tmp / "checkpoint-500")
    torch.save(
        {"python": random.getstate(), "numpy": np.random.get_state(), "cpu": torch.random.get_rng_state()},
        tmp / "checkpoint-500" / "rng_state.pth",
    )
    return [tmp / "checkpoint-500" / "rng_state.pth"]


@example("ND214", "good", "inspect-ckpt")
def _(tmp: Path) -> list:
    import random

    import numpy as np
    import torch

    _hf_checkpoint(tmp / "checkpoint-500")
    torch.save(
        {"python": random.getstate(), "numpy": np.random.get_state(), "cpu": torch.random.get_rng_state()},
        tmp / "checkpoint-500" / "rng_state.pth",
    )
    return [tmp / "checkpoint-500"]


# --- ND215 exploded weights or loss ----------------------------------------------------------------


def _run(folder: Path, last_scale: float) -> list:
    """A plain loop's epoch_9.pt and epoch_10.pt; the second's weights `last_scale` times the first's."""
    import torch

    net, state = _trained()
    folder.mkdir()
    torch.save(
        {"epoch": 9, "model_state_dict": net.state_dict(), "optimizer_state_dict": state, "val_loss": 0.41},
        folder / "epoch_9.pt",
    )
    grown = {
        k: v * last_scale if v.is_floating_point() and k.endswith("weight") else v for k, v in net.state_dict().items()
    }
    torch.save(
        {"epoch": 10, "model_state_dict": grown, "optimizer_state_dict": state, "val_loss": 0.39},
        folder / "epoch_10.pt",
    )
    return [folder]


@example("ND215", "bad", "inspect-ckpt")
def _(tmp: Path) -> list:
    return _run(tmp / "ckpts", last_scale=3700.0)


@example("ND215", "good", "inspect-ckpt")
def _(tmp: Path) -> list:
    return _run(tmp / "ckpts", last_scale=1.02)


# --- ND216 non-finite trainer bookkeeping ----------------------------------------------------------


def _lightning(path: Path, kth_value: float) -> list:
    """The dict Lightning's Trainer.save_checkpoint writes, with ModelCheckpoint's callback state."""
    import torch

    net, state = _trained()
    key = (
        "ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min', 'every_n_train_steps': 0, 'every_n_epochs': 1, "
        "'train_time_interval': None}"
    )
    torch.save(
        {
            "epoch": 3,
            "global_step": 120,
            "pytorch-lightning_version": "2.6.6",
            "state_dict": net.state_dict(),
            "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 4, "completed": 3}}}},
            "callbacks": {
                key: {
                    "monitor": "val_loss",
                    "best_model_score": torch.tensor(0.41),
                    "best_model_path": str(path),
                    "current_score": torch.tensor(0.41),
                    "dirpath": str(path.parent),
                    "best_k_models": {str(path): torch.tensor(0.41)},
                    "kth_best_model_path": str(path),
                    "kth_value": torch.tensor(kth_value),
                    "last_model_path": "",
                }
            },
            "optimizer_states": [state],
            "lr_schedulers": [],
            "hparams_name": "kwargs",
            "hyper_parameters": {"lr": 1e-3},
        },
        path,
    )
    return [path]


@example("ND216", "bad", "inspect-ckpt")
def _(tmp: Path) -> list:
    return _lightning(tmp / "epoch=3-step=120.ckpt", float("inf"))  # save_top_k=2: its initial worst score


@example("ND216", "good", "inspect-ckpt")
def _(tmp: Path) -> list:
    return _lightning(tmp / "epoch=3-step=120.ckpt", 0.41)


# --- ND217 pickle names globals outside the allow-list ---------------------------------------------


@example("ND217", "bad", "inspect-ckpt")
def _(tmp: Path) -> list:
    """A user's own class pickled beside the weights, as tests/pickle_corpus.py's unknown cases do."""
    import torch

    from tests.pickle_corpus import CustomModel

    torch.save({"model": {"fc.weight": torch.randn(4, 4)}, "epoch": 2, "config": CustomModel()}, tmp / "best.pt")
    return [tmp / "best.pt"]


@example("ND217", "good", "inspect-ckpt")
def _(tmp: Path) -> list:
    import torch

    torch.save({"model": {"fc.weight": torch.randn(4, 4)}, "epoch": 2, "config": {"width": 4}}, tmp / "best.pt")
    return [tmp / "best.pt"]
