"""inspect-ckpt on checkpoints written by the real writers (torch.save, safetensors, DCP, numpy)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from nandoctor.ckpt.engine import inspect_ckpt  # noqa: E402
from tests.ultralytics_writers import save_ultralytics_checkpoint  # noqa: E402


def entry(report, name: str) -> dict:
    return next(c for c in report.summary["checkpoints"] if c["path"].endswith(name))


def found(report, code: str) -> list:
    return [f for f in report.findings if f.code == code]


def results(n_epochs: int, nan_from: int | None = None) -> dict:
    cols = {"epoch": [], "train/box_loss": [], "val/box_loss": [], "metrics/mAP50(B)": []}
    for e in range(1, n_epochs + 1):
        bad = nan_from is not None and e >= nan_from
        cols["epoch"].append(float(e))
        cols["train/box_loss"].append(math.nan if bad else 2.0 - 0.1 * e)
        cols["val/box_loss"].append(math.nan if bad else 2.1 - 0.1 * e)
        cols["metrics/mAP50(B)"].append(0.0 if bad else 0.1 * e)
    return cols


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3)
        self.bn = torch.nn.BatchNorm2d(8)
        self.norm = torch.nn.LayerNorm(16)
        self.fc = torch.nn.Linear(16, 4)


def trained(steps: int = 2):
    """A Net with a real AdamW state after a couple of steps."""
    torch.manual_seed(0)
    net = Net()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    for _ in range(steps):
        for p in net.parameters():
            p.grad = torch.randn_like(p)
        opt.step()
    return net, opt


# --- the demo run: the "done when" -------------------------------------------------------


def test_ND201_demo_run_names_bad_tensors_and_recommends_newest_clean_epoch(cli, demo_run):
    r = cli("inspect-ckpt", demo_run / "weights", "--format", "json")
    assert r.code == 1
    env = r.json
    status = {Path(c["path"]).name: c["status"] for c in env["summary"]["checkpoints"]}
    assert status == {
        "epoch0.pt": "clean",
        "epoch1.pt": "clean",
        "epoch2.pt": "clean",
        "best.pt": "clean",
        "epoch3.pt": "poisoned",
        "epoch4.pt": "poisoned",
        "last.pt": "suspect",
    }
    assert Path(env["summary"]["recommended"]).name == "epoch2.pt"
    bad = {(Path(f["path"]).name, f["code"], f["where"]) for f in env["findings"]}
    for name in ("epoch3.pt", "epoch4.pt"):
        assert (name, "ND201", "model.1.conv.weight") in bad
        assert (name, "ND201", "model.2.bn.running_var") in bad  # the Inf BatchNorm buffer
        assert (name, "ND203", "optimizer.state.0.exp_avg_sq") in bad  # the NaN Adam state
    e3 = next(c for c in env["summary"]["checkpoints"] if c["path"].endswith("epoch3.pt"))
    assert e3["epoch"] == 3 and e3["resumable"] and e3["framework"] == "ultralytics" and e3["format"] == "torch-zip"
    assert set(e3["nonfinite_tensors"]) == {
        "model.1.conv.weight",
        "model.2.bn.running_var",
        "optimizer.state.0.exp_avg_sq",
    }


def test_ND205_sanitised_last_pt_is_not_clean(demo_run):
    r = inspect_ckpt(demo_run / "weights" / "last.pt")
    assert entry(r, "last.pt")["status"] == "suspect"
    where = {f.where for f in found(r, "ND205")}
    assert "model.2.bn.running_var" in where  # Inf -> 65504
    assert "model.1.conv.weight" in where  # NaN -> 0 in a dense weight
    assert r.summary["recommended"] is None


def test_demo_text_view_ends_with_backup_and_resume_step(cli, demo_run):
    r = cli("inspect-ckpt", demo_run / "weights")
    assert r.code == 1
    tail = r.stdout[r.stdout.index("Next steps:") :]
    assert "backup of" in tail and "last.pt" in tail
    assert "Resume from" in tail and "epoch2.pt" in tail
    step = inspect_ckpt(demo_run / "weights").next_steps[-1]  # as pasted: a new folder, never `resume`
    assert "yolo train resume" not in step and "resume=" not in step
    assert (
        f"`yolo train model={demo_run / 'weights' / 'epoch2.pt'} cfg={demo_run / 'args_fixed.yaml'} "
        f"pretrained=True save_dir={demo_run.parent / (demo_run.name + '_from_epoch2')}`"
    ) in step


def test_reading_an_ultralytics_checkpoint_imports_neither_torch_nor_ultralytics(demo_run):
    code = (
        "import sys; from pathlib import Path; from nandoctor.ckpt.engine import inspect_ckpt; "
        f"r = inspect_ckpt(Path({str(demo_run / 'weights' / 'epoch3.pt')!r})); "
        "assert r.summary['checkpoints'][0]['status'] == 'poisoned'; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'ultralytics')))"
    )
    p = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"


# --- ordering and recommendation -----------------------------------------------------------------


def test_stripped_checkpoints_order_by_train_results_and_fall_back_to_clean_without_optimizer(tmp_path):
    # Stripped files all say epoch -1; order comes from the length of their stored results.
    save_ultralytics_checkpoint(tmp_path / "a.pt", epoch=9, results=results(5), stripped=True)
    save_ultralytics_checkpoint(tmp_path / "b.pt", epoch=9, results=results(3), stripped=True)
    save_ultralytics_checkpoint(tmp_path / "c.pt", epoch=9, results=results(7, nan_from=7), stripped=True, poison=True)
    os.utime(tmp_path / "b.pt", (2e9, 2e9))  # newest by mtime, oldest by training progress
    r = inspect_ckpt(tmp_path)
    order = [Path(c["path"]).name for c in r.summary["checkpoints"]]
    assert order == ["b.pt", "a.pt", "c.pt"]
    assert entry(r, "a.pt")["epoch"] == -1 and not entry(r, "a.pt")["resumable"]
    assert Path(r.summary["recommended"]).name == "a.pt"
    assert "no optimizer state" in r.summary["recommended_reason"]


def test_ND212_no_clean_checkpoint(tmp_path):
    for i in range(2):
        save_ultralytics_checkpoint(tmp_path / f"epoch{i}.pt", epoch=i, results=results(i + 1), poison=True)
    r = inspect_ckpt(tmp_path)
    assert r.summary["recommended"] is None
    assert [f.severity.value for f in found(r, "ND212")] == ["error"]


def test_ND212_folder_holding_one_poisoned_checkpoint(tmp_path):
    """weights/ with only a poisoned last.pt has no clean checkpoint either (it used to say nothing);
    the same file asked about alone points at its folder instead."""
    weights = tmp_path / "weights"
    weights.mkdir()
    save_ultralytics_checkpoint(weights / "last.pt", epoch=3, results=results(4, nan_from=3), poison=True)
    [f] = found(inspect_ckpt(weights), "ND212")
    assert f.severity.value == "error" and f.path == str(weights)
    alone = inspect_ckpt(weights / "last.pt")
    assert not found(alone, "ND212")
    assert any(f"nandoctor inspect-ckpt {weights}" in s for s in alone.next_steps)


# --- generic, Lightning and HF layouts -----------------------------------------------------------


def test_ND203_generic_layout_names_optimizer_entry_and_step(tmp_path):
    net, opt = trained()
    state = opt.state_dict()
    state["state"][2]["exp_avg"][0] = float("inf")
    torch.save(
        {
            "model_state_dict": net.state_dict(),
            "optimizer_state_dict": state,
            "scheduler_state_dict": {"last_epoch": 3},
            "epoch": 3,
            "step": 1200,
            "metrics": {"val_loss": 0.4},
        },
        tmp_path / "ckpt.pth",
    )
    r = inspect_ckpt(tmp_path / "ckpt.pth")
    e = entry(r, "ckpt.pth")
    assert (e["epoch"], e["step"], e["resumable"], e["status"]) == (3, 1200, True, "suspect")
    [f] = found(r, "ND203")
    assert f.where == "optimizer_state_dict.state.2.exp_avg" and "1 +Inf" in f.message


def test_ND204_negative_exp_avg_sq(tmp_path):
    net, opt = trained()
    state = opt.state_dict()
    state["state"][0]["exp_avg_sq"].view(-1)[3] = -1e-3
    torch.save({"model": net.state_dict(), "optimizer": state, "epoch": 1}, tmp_path / "c.pt")
    [f] = found(inspect_ckpt(tmp_path / "c.pt"), "ND204")
    assert f.where == "optimizer.state.0.exp_avg_sq" and f.severity.value == "error"


def test_ND206_running_var_not_positive(tmp_path):
    net, _ = trained()
    net.bn.running_var[2] = -0.5
    torch.save(net.state_dict(), tmp_path / "w.pt")
    r = inspect_ckpt(tmp_path / "w.pt")
    assert [f.where for f in found(r, "ND206")] == ["bn.running_var"]
    assert entry(r, "w.pt")["status"] == "suspect"


def test_ND207_norm_weight_collapsed(tmp_path):
    net, _ = trained()
    with torch.no_grad():
        net.norm.weight.zero_()
    torch.save(net.state_dict(), tmp_path / "w.pt")
    assert [f.where for f in found(inspect_ckpt(tmp_path / "w.pt"), "ND207")] == ["norm.weight"]


def test_ND208_fp16_exp_avg_sq_flushed_to_zero(tmp_path):
    net, opt = trained()
    state = opt.state_dict()
    for s in state["state"].values():  # older Ultralytics halved the moments: tiny values flush to 0
        s["exp_avg_sq"] = (s["exp_avg_sq"] * 1e-9).half()
    torch.save({"model": net.state_dict(), "optimizer": state}, tmp_path / "c.pt")
    r = inspect_ckpt(tmp_path / "c.pt")
    assert "optimizer.state.0.exp_avg_sq" in {f.where for f in found(r, "ND208")}


def test_ND209_grad_scaler_collapsed(tmp_path):
    net, opt = trained()
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**-14)
    torch.save(
        {"model": net.state_dict(), "optimizer": opt.state_dict(), "scaler": scaler.state_dict(), "epoch": 5},
        tmp_path / "c.pt",
    )
    r = inspect_ckpt(tmp_path / "c.pt")
    [f] = found(r, "ND209")
    assert f.severity.value == "warning" and "6.1e-05" in f.message
    assert entry(r, "c.pt")["status"] == "suspect"


def test_ND210_nan_in_stored_loss_history(tmp_path):
    save_ultralytics_checkpoint(tmp_path / "epoch5.pt", epoch=5, results=results(6, nan_from=6))
    r = inspect_ckpt(tmp_path / "epoch5.pt")
    f = found(r, "ND210")[0]
    assert "from epoch 6" in f.message and entry(r, "epoch5.pt")["status"] == "suspect"


def test_ND211_fp32_beyond_fp16_range_under_amp(tmp_path):
    net, opt = trained()
    with torch.no_grad():
        net.fc.weight[0, 0] = 1.5e5
    torch.save(
        {"model": net.state_dict(), "optimizer": opt.state_dict(), "train_args": {"amp": True}}, tmp_path / "c.pt"
    )
    assert [f.where for f in found(inspect_ckpt(tmp_path / "c.pt"), "ND211")] == ["fc.weight"]


def test_lightning_checkpoint(tmp_path):
    net, opt = trained()
    sd = {f"model.{k}": v for k, v in net.state_dict().items()}
    sd["model.fc.bias"][1] = float("nan")
    torch.save(
        {
            "epoch": 4,
            "global_step": 5000,
            "pytorch-lightning_version": "2.4.0",
            "state_dict": sd,
            "loops": {},
            "callbacks": {},
            "optimizer_states": [opt.state_dict()],
            "lr_schedulers": [],
        },
        tmp_path / "epoch=4-step=5000.ckpt",
    )
    r = inspect_ckpt(tmp_path)
    e = r.summary["checkpoints"][0]
    assert (e["framework"], e["step"], e["epoch"], e["resumable"]) == ("lightning", 5000, 4, True)
    assert e["nonfinite_tensors"] == ["model.fc.bias"]


def test_hf_pytorch_model_bin_and_legacy_format(tmp_path):
    net, _ = trained()
    sd = net.state_dict()
    torch.save(sd, tmp_path / "pytorch_model.bin")
    sd["fc.weight"][0, 0] = float("-inf")
    torch.save(sd, tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    r = inspect_ckpt(tmp_path)
    assert entry(r, "pytorch_model.bin")["framework"] == "hf" and entry(r, "pytorch_model.bin")["status"] == "clean"
    old = entry(r, "old.pt")
    assert old["format"] == "torch-legacy" and old["nonfinite_tensors"] == ["fc.weight"]


def test_bf16_and_noncontiguous_views_in_torch_zip(tmp_path):
    base = torch.randn(8, 8)
    base[5, 2] = float("nan")
    t = torch.randn(100).bfloat16()
    t[42] = float("inf")
    torch.save({"col": base[:, 2], "row": base[0], "bf": t}, tmp_path / "v.pt")  # views share base's storage
    r = inspect_ckpt(tmp_path / "v.pt")
    assert sorted(entry(r, "v.pt")["nonfinite_tensors"]) == ["bf", "col"]
    msg = {f.where: f.message for f in found(r, "ND201")}
    assert "first at flat index 5 " in msg["col"] and "first at flat index 42 " in msg["bf"]


# --- safetensors, sharded, DCP, npz --------------------------------------------------------------


def test_safetensors_nan_found(tmp_path):
    from safetensors.torch import save_file

    t = torch.randn(64, 64)
    t[10, 10] = float("nan")
    save_file({"a": t, "b": torch.ones(3, dtype=torch.bfloat16)}, tmp_path / "model.safetensors")
    r = inspect_ckpt(tmp_path / "model.safetensors")
    e = entry(r, "model.safetensors")
    assert (e["format"], e["nonfinite_tensors"], e["tensors"]) == ("safetensors", ["a"], 2)
    assert "first at flat index 650 " in found(r, "ND201")[0].message


def test_ND201_sharded_safetensors_names_the_shard(tmp_path):
    from safetensors.torch import save_file

    model = tmp_path / "model"
    model.mkdir()
    shard1 = {"embed.weight": torch.randn(32, 8), "layers.0.weight": torch.randn(8, 8)}
    shard2 = {"layers.1.weight": torch.randn(8, 8), "lm_head.weight": torch.randn(32, 8)}
    shard2["layers.1.weight"][3, 3] = float("nan")
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    save_file(shard1, model / names[0])
    save_file(shard2, model / names[1])
    weight_map = {**{k: names[0] for k in shard1}, **{k: names[1] for k in shard2}}
    (model / "model.safetensors.index.json").write_text(
        json.dumps(
            {
                "metadata": {"total_size": 4 * sum(t.numel() for t in [*shard1.values(), *shard2.values()])},
                "weight_map": weight_map,
            },
            indent=2,
        )
    )
    (model / "config.json").write_text("{}")
    r = inspect_ckpt(tmp_path)  # the folder above: the sharded model is found and read as one
    assert len(r.summary["checkpoints"]) == 1
    e = r.summary["checkpoints"][0]
    assert e["format"] == "safetensors-sharded" and e["tensors"] == 4 and e["framework"] == "hf"
    [f] = found(r, "ND201")
    assert f.where == "layers.1.weight" and "shard model-00002-of-00002.safetensors" in f.message


def test_dcp_folder_is_read(tmp_path):
    import warnings

    import torch.distributed.checkpoint as dcp

    net, _ = trained()
    sd = net.state_dict()
    sd["conv.weight"][0, 0, 0, 0] = float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dcp.save({"model": sd, "step": 100, "epoch": 2}, checkpoint_id=str(tmp_path / "step_100"))
        r = inspect_ckpt(tmp_path / "step_100")
    e = r.summary["checkpoints"][0]
    assert e["format"] == "dcp" and e["nonfinite_tensors"] == ["model.conv.weight"]
    assert (e["step"], e["epoch"]) == (100, 2)
    assert e["tensors"] == len(sd)


def test_ND203_dcp_optimizer_state_by_parameter_name(tmp_path):
    import warnings

    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict

    net, opt = trained()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        msd, osd = get_state_dict(net, opt)
        osd["state"]["fc.weight"]["exp_avg_sq"][0, 0] = float("nan")
        dcp.save({"model": msd, "optim": osd}, checkpoint_id=str(tmp_path / "ckpt"))
    from tests.conftest import run_cli

    r = run_cli("inspect-ckpt", tmp_path / "ckpt", "--format", "json")
    assert r.stderr == ""  # torch's single-process warning is expected and silenced
    [f] = r.json["findings"]
    assert (f["code"], f["where"]) == ("ND203", "optim.state.fc.weight.exp_avg_sq")
    assert r.json["summary"]["checkpoints"][0]["resumable"] is True


def test_npz_plain_and_compressed(tmp_path):
    import numpy as np

    a = np.ones((10, 10), dtype=np.float32)
    a[9, 9] = np.inf
    np.savez(tmp_path / "w.npz", a=a, b=np.zeros(5, dtype=np.float16))
    np.savez_compressed(tmp_path / "wc.npz", a=a)
    r = inspect_ckpt(tmp_path)
    assert entry(r, "w.npz")["nonfinite_tensors"] == ["a"] and entry(r, "wc.npz")["nonfinite_tensors"] == ["a"]
    assert "first at flat index 99 " in found(r, "ND201")[0].message


def test_stats_table(cli, tmp_path):
    torch.save({"w": torch.tensor([[0.0, -2.0], [4.0, 2.0]])}, tmp_path / "s.pt")
    r = cli("inspect-ckpt", tmp_path / "s.pt", "--stats", "--format", "json")
    assert r.code == 0
    [row] = r.json["summary"]["checkpoints"][0]["stats"]
    assert (row["name"], row["min"], row["max"], row["mean"], row["absmax"], row["zero_frac"]) == (
        "w",
        -2.0,
        4.0,
        1.0,
        4.0,
        0.25,
    )
    assert row["std"] == pytest.approx(math.sqrt(5.0)) and row["shape"] == [2, 2]
    text = cli("inspect-ckpt", tmp_path / "s.pt", "--stats")
    assert "Tensors in" in text.stdout and "f32" in text.stdout


def test_missing_path_and_empty_folder_exit_2(cli, tmp_path):
    from tests.conftest import run_cli

    r = run_cli("inspect-ckpt", tmp_path / "nope")
    assert r.code == 2 and "no such file" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("inspect-ckpt", tmp_path)
    assert r.code == 2 and "no checkpoints found" in r.stderr and r.stderr.count("\n") == 1


def test_ND210_hf_trainer_checkpoint_folders(tmp_path):
    from safetensors.torch import save_file

    net, opt = trained()
    for step, bad in ((500, False), (1000, True)):
        d = tmp_path / "output" / f"checkpoint-{step}"
        d.mkdir(parents=True)
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, d / "model.safetensors")
        torch.save(opt.state_dict(), d / "optimizer.pt")
        torch.save({"last_epoch": step}, d / "scheduler.pt")
        history = [
            {"epoch": 0.5, "grad_norm": 1.2, "learning_rate": 5e-5, "loss": 2.1, "step": 250},
            {"epoch": 1.0, "grad_norm": float("nan") if bad else 0.9, "learning_rate": 4e-5, "loss": 1.9, "step": step},
        ]
        (d / "trainer_state.json").write_text(
            json.dumps(
                {
                    "best_metric": None,
                    "epoch": step / 500,
                    "global_step": step,
                    "log_history": history,
                    "max_steps": 2000,
                    "num_train_epochs": 4,
                },
                indent=2,
            )
        )
    r = inspect_ckpt(tmp_path / "output")
    c500, c1000 = r.summary["checkpoints"]
    assert (c500["format"], c500["framework"], c500["step"], c500["resumable"]) == ("hf-trainer", "hf", 500, True)
    assert c500["status"] == "clean" and c1000["status"] == "suspect"
    [f] = found(r, "ND210")
    assert "grad_norm = nan at step 1000" in f.message and f.path.endswith("checkpoint-1000")
    assert r.summary["recommended"].endswith("checkpoint-500")


def test_whole_module_pickled_gives_state_dict_names(tmp_path):
    net, _ = trained()
    with torch.no_grad():
        net.fc.weight[1, 2] = float("nan")
    torch.save({"net": net, "epoch": 2}, tmp_path / "full.pt")  # torch.save of the module object itself
    r = inspect_ckpt(tmp_path / "full.pt")
    assert entry(r, "full.pt")["nonfinite_tensors"] == ["net.fc.weight"]


@pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor")
def test_ND213_quantized_tensor_is_named_not_scanned(tmp_path):
    q = torch.quantize_per_tensor(torch.randn(4, 4), scale=0.1, zero_point=0, dtype=torch.qint8)
    torch.save({"q": q, "w": torch.ones(2)}, tmp_path / "q.pt")
    r = inspect_ckpt(tmp_path / "q.pt")
    [f] = found(r, "ND213")
    assert f.where == "q" and f.severity.value == "info" and entry(r, "q.pt")["status"] == "clean"


def test_ND203_ultralytics_three_param_groups_name_the_parameter(tmp_path):
    """Ultralytics' build_optimizer: biases, then weights with decay, then norm weights."""
    from tests.ultralytics_writers import ultralytics_modules

    with ultralytics_modules() as DetectionModel:
        model = DetectionModel()
        g = ([], [], [])
        for mname, module in model.named_modules():
            for pname, p in module.named_parameters(recurse=False):
                full = f"{mname}.{pname}" if mname else pname
                (g[2] if "bias" in full else g[1] if isinstance(module, torch.nn.BatchNorm2d) else g[0]).append(p)
        opt = torch.optim.AdamW(g[2], lr=1e-3)
        opt.add_param_group({"params": g[0], "weight_decay": 5e-4})
        opt.add_param_group({"params": g[1], "weight_decay": 0.0})
        for p in model.parameters():
            p.grad = torch.randn_like(p)
        opt.step()
        state = opt.state_dict()
        index = len(g[2]) + 1  # the second weight with decay: model.1.conv.weight
        state["state"][index]["exp_avg"].view(-1)[0] = float("nan")
        torch.save(
            {"epoch": 3, "model": None, "ema": model.half(), "optimizer": state, "train_results": results(4)},
            tmp_path / "epoch3.pt",
        )
    [f] = found(inspect_ckpt(tmp_path / "epoch3.pt"), "ND203")
    assert f.where == f"optimizer.state.{index}.exp_avg" and "parameter model.1.conv.weight" in f.message


def test_big_endian_npz_and_float8_tensors(tmp_path):
    import numpy as np

    be = np.arange(12, dtype=">f4").reshape(3, 4)
    be[2, 1] = np.nan
    np.savez(tmp_path / "be.npz", be=be)
    f8 = torch.tensor([1.0, -2.0, float("nan"), 0.5]).to(torch.float8_e4m3fn)
    e5 = torch.tensor([1.0, float("inf"), 3.0]).to(torch.float8_e5m2)
    torch.save({"f8": f8, "e5": e5, "ok": torch.ones(2).to(torch.float8_e4m3fn)}, tmp_path / "f8.pt")
    r = inspect_ckpt(tmp_path)
    assert entry(r, "be.npz")["nonfinite_tensors"] == ["be"]
    assert sorted(entry(r, "f8.pt")["nonfinite_tensors"]) == ["e5", "f8"]
    msgs = {f.where: f.message for f in found(r, "ND201")}
    assert "first at flat index 9 " in msgs["be"] and "first at flat index 2 " in msgs["f8"]
    assert "1 +Inf" in msgs["e5"]


def test_ND210_numpy_scalars_in_train_metrics(tmp_path):
    """Ultralytics stores validator results as numpy float64 scalars (pickled through numpy globals)."""
    import numpy as np

    torch.save(
        {
            "epoch": 9,
            "model": None,
            "ema": None,
            "train_args": {"amp": False},
            "train_metrics": {
                "metrics/mAP50(B)": np.float64(0.0),
                "val/box_loss": np.float64("nan"),
                "fitness": np.float64(0.1),
            },
            "best_fitness": np.float64(0.3),
            "w": torch.ones(2),
            "hist": np.array([1.0, np.inf]),
        },
        tmp_path / "epoch9.pt",
    )
    r = inspect_ckpt(tmp_path / "epoch9.pt")
    [f] = found(r, "ND210")
    assert "val/box_loss" in f.message
    assert entry(r, "epoch9.pt")["nonfinite_tensors"] == ["hist"]  # a pickled ndarray is read as data too


def test_files_without_tensors_are_not_listed_in_a_folder_scan(tmp_path):
    import pickle

    net, opt = trained()
    torch.save(net.state_dict(), tmp_path / "pytorch_model.bin")
    torch.save({"output_dir": "out", "learning_rate": 5e-5}, tmp_path / "training_args.bin")
    (tmp_path / "cache.pkl").write_bytes(pickle.dumps({"files": ["a.jpg"], "hash": "x"}))
    r = inspect_ckpt(tmp_path)
    assert [Path(c["path"]).name for c in r.summary["checkpoints"]] == ["pytorch_model.bin"]
    assert r.findings == []
    alone = inspect_ckpt(tmp_path / "cache.pkl")  # named directly, it is reported
    assert [f.code for f in alone.findings] == ["ND200"]


def test_lightning_epoch_in_name_orders_the_run(tmp_path):
    """`epoch=10-step=100.ckpt` holds epoch 10 (names.EPOCH_IN_NAME, shared with triage): newer in
    training than epoch=2 even when epoch=2's file was touched last."""
    net, opt = trained()
    for name in ("epoch=2-step=20.ckpt", "epoch=10-step=100.ckpt"):
        torch.save({"state_dict": net.state_dict(), "optimizer_states": [opt.state_dict()]}, tmp_path / name)
    os.utime(tmp_path / "epoch=2-step=20.ckpt", (2e9, 2e9))
    r = inspect_ckpt(tmp_path)
    assert [Path(c["path"]).name for c in r.summary["checkpoints"]] == [
        "epoch=2-step=20.ckpt",
        "epoch=10-step=100.ckpt",
    ]
    assert Path(r.summary["recommended"]).name == "epoch=10-step=100.ckpt"


def test_a_bug_while_judging_is_an_internal_error_not_an_unreadable_file(tmp_path, monkeypatch, cli):
    """A ValueError raised by nandoctor's own judging used to become ND200 'unreadable' on a good file."""
    from nandoctor.ckpt import checks

    torch.save({"model": {"w": torch.ones(4)}, "epoch": 1}, tmp_path / "a.pt")

    def broken(*args, **kwargs):
        raise ValueError("a bug in judging")

    monkeypatch.setattr(checks, "judge", broken)
    with pytest.raises(ValueError, match="a bug in judging"):
        inspect_ckpt(tmp_path / "a.pt")
    r = cli("inspect-ckpt", tmp_path / "a.pt", "--format", "json")
    assert r.code == 2 and "internal error in nandoctor" in r.stderr and not r.stdout.strip()


def test_a_bug_inside_the_restricted_unpickler_propagates(tmp_path, monkeypatch):
    """judge_pickle catches what a malformed pickle raises, not every Exception: a bug in a stand-in
    (here a ZeroDivisionError in the tensor rebuilder) is not dressed as a corrupt checkpoint."""
    from nandoctor.ckpt import unpickle

    torch.save({"model": {"w": torch.ones(4)}}, tmp_path / "a.pt")

    def broken(self, *args):
        return 1 / 0

    monkeypatch.setattr(unpickle._Standins, "rebuild_tensor_v2", broken)
    with pytest.raises(ZeroDivisionError):
        inspect_ckpt(tmp_path / "a.pt")


def test_ND213_weights_nandoctor_cannot_read_are_never_called_clean_or_recommended(cli, tmp_path):
    """A sparse-COO model (a layout the scan does not read) is `unknown`, not clean, and not recommended;
    beside it a dense checkpoint is the one recommended."""
    import torch

    torch.save({"model": {"fc.weight": torch.randn(8, 4).to_sparse()}}, tmp_path / "sparse.pt")
    torch.save({"model": {"fc.weight": torch.randn(8, 4)}}, tmp_path / "dense.pt")
    alone = cli("inspect-ckpt", tmp_path / "sparse.pt", "--format", "json")
    rows = alone.json["summary"]["checkpoints"]
    assert [r["status"] for r in rows] == ["unknown"] and alone.json["summary"].get("recommended") is None
    (nd213,) = [f for f in alone.json["findings"] if f["code"] == "ND213"]
    assert "fc.weight" in nd213["message"] and "not called clean" in nd213["message"]
    both = cli("inspect-ckpt", tmp_path, "--format", "json")
    assert both.json["summary"]["recommended"] == str(tmp_path / "dense.pt")
