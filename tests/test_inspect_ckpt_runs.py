"""inspect-ckpt on runs as trainers write them: which files are model checkpoints, what is bookkeeping,
zeros by construction vs sanitised, exploded-but-finite weights.

Real-run fixtures: tests/data/ckpt/ (Lightning ModelCheckpoint, transformers Trainer; made by
tests/data/ckpt/make_fixtures.py with the real libraries) and ../shared/runs/ (eight runs with truth).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from nandoctor.ckpt.engine import inspect_ckpt  # noqa: E402  (after the skip: no torch, no module)

DATA = Path(__file__).resolve().parent / "data" / "ckpt"
RUNS = Path(__file__).resolve().parents[1].parent / "shared" / "runs"


def by_name(report) -> dict[str, dict]:
    return {Path(c["path"]).name: c for c in report.summary["checkpoints"]}


def codes(report, path_end: str = "", severity: str | None = None) -> list[str]:
    return [
        f.code
        for f in report.findings
        if f.path.endswith(path_end) and (severity is None or f.severity.value == severity)
    ]


# --- ../shared/runs: every checkpoint verdict matches the truth --------------------------------------

# From each run's truth (ckpt_truth.jsonl: isfinite over every tensor by section; run_truth.json: the
# per-epoch losses and events). Lightning's only non-finite tensor is ModelCheckpoint's kth_value.
EXPECTED = {
    # run: (units folder, poisoned, exploded, recommended)
    "h1_healthy": ("out", set(), set(), "checkpoint-60"),
    "h3_nan_end30": (
        "out",
        {"checkpoint-30", "checkpoint-40", "checkpoint-50", "checkpoint-60"},
        set(),
        "checkpoint-20",
    ),
    "l1_healthy": ("run", set(), set(), "epoch=9-step=80.ckpt"),
    # lr 1.0: the loss is 6e4 within epoch 0 and x100 per epoch after; weights x100+ per checkpoint
    "l2_diverge": ("run", set(), {f"epoch={e}-step={8 * (e + 1)}.ckpt" for e in range(1, 10)}, "epoch=0-step=8.ckpt"),
    "p1_healthy": ("run", set(), set(), "epoch_30.pt"),
    # poisoned sample at epoch 10: val_loss 4.35e6, weights x3700 and never back to their scale
    "p4_poison_recover": ("run", set(), {f"epoch_{e}.pt" for e in range(10, 21)}, "epoch_9.pt"),
    # fp16 overflow: train_loss 0.05 -> 6.0 at epoch 7 (scale backs off), NaN from epoch 10
    "p5_fp16_overflow": ("run", set(), {"epoch_7.pt", "epoch_8.pt", "epoch_9.pt"}, "epoch_6.pt"),
    "x2_lightning_defaults": ("lightning_logs", set(), set(), "epoch=1-step=8.ckpt"),
}


@pytest.mark.parametrize("run", sorted(EXPECTED))
def test_shared_runs_every_verdict_matches_the_truth(run):
    if not (RUNS / run).is_dir():
        pytest.skip("../shared/runs is not beside the checkout")
    folder, poisoned, exploded, recommended = EXPECTED[run]
    truth = [json.loads(line) for line in (RUNS / run / "ckpt_truth.jsonl").read_text().splitlines()]
    r = inspect_ckpt(RUNS / run / folder)
    got = by_name(r)
    weights = [
        t for t in truth if not t["file"].endswith((".pth", "scheduler.pt", "training_args.bin", "optimizer.pt"))
    ]
    assert len(got) == len(weights)
    for t in weights:
        name = Path(t["file"]).parent.name if t["file"].endswith("model.safetensors") else Path(t["file"]).name
        c = got[name]
        bad_weights = any(s["nonfinite_tensors"] for k, s in t["sections"].items() if k != "callbacks")
        assert (c["status"] == "poisoned") == bad_weights == (name in poisoned), name
        if name in exploded:
            assert (c["status"], c.get("reason")) == ("suspect", "exploded"), name
        elif not bad_weights and run != "p5_fp16_overflow":
            assert c["status"] == "clean", name
    assert Path(r.summary["recommended"]).name == recommended
    for t in truth:  # rng_state.pth, scheduler.pt, training_args.bin: read for safety, never a checkpoint
        assert not any(
            c["path"].endswith(t["file"].split("/", 1)[1])
            for c in r.summary["checkpoints"]
            if t["file"].endswith((".pth", "scheduler.pt", "training_args.bin"))
        )


# --- Lightning: callback, loop and score state is bookkeeping ------------------------------------------


def test_lightning_model_checkpoint_scores_never_poison():
    """version_0: ModelCheckpoint(monitor='val_loss', save_top_k=-1) stores kth_value, best_model_score,
    current_score and best_k_models as tensors in every checkpoint."""
    r = inspect_ckpt(DATA / "lightning" / "lightning_logs" / "version_0")
    assert {c["status"] for c in r.summary["checkpoints"]} == {"clean"}
    assert [f for f in r.findings if f.severity.value != "info"] == []
    assert Path(r.summary["recommended"]).name == "epoch=3-step=16.ckpt"
    assert r.summary["recommended_reason"] == "newest clean checkpoint with optimizer state"


def test_lightning_kth_value_inf_is_info_not_poison(tmp_path):
    """ModelCheckpoint's initial worst score, as a fresh callback stores it (monitor None)."""
    ckpt = torch.load(
        DATA / "lightning" / "lightning_logs" / "version_0" / "checkpoints" / "epoch=0-step=4.ckpt", weights_only=False
    )
    state = next(iter(ckpt["callbacks"].values()))
    state.update(kth_value=torch.tensor(float("inf")), best_model_score=torch.tensor(float("nan")))
    torch.save(ckpt, tmp_path / "epoch=0-step=4.ckpt")
    r = inspect_ckpt(tmp_path / "epoch=0-step=4.ckpt")
    assert by_name(r)["epoch=0-step=4.ckpt"]["status"] == "clean"
    [f] = [f for f in r.findings if f.code == "ND216"]
    assert f.severity.value == "info" and {n.rsplit(".", 1)[1] for n in f.data["names"]} == {
        "kth_value",
        "best_model_score",
    }


def test_lightning_save_weights_only_run_with_nan_injected_at_epoch_2():
    r = inspect_ckpt(DATA / "lightning" / "lightning_logs" / "version_1")
    truth = json.loads((DATA / "truth.json").read_text())
    for name, c in by_name(r).items():
        finite = truth[f"lightning/lightning_logs/version_1/checkpoints/{name}"]["weights_finite"]
        assert c["status"] == ("clean" if finite else "poisoned") and c["resumable"] is False
    assert Path(r.summary["recommended"]).name == "epoch=1-step=8.ckpt"
    assert "no optimizer state" in r.summary["recommended_reason"]


# --- HF Trainer output_dir ---------------------------------------------------------------------------


def test_hf_output_dir_after_save_model_and_save_state(cli):
    """checkpoint-4/ and checkpoint-8/ beside the final model and a top-level trainer_state.json."""
    out = DATA / "hf" / "out"
    r = cli("inspect-ckpt", out, "--format", "json")
    assert r.code == 0
    rows = {Path(c["path"]).name: c for c in r.json["summary"]["checkpoints"]}
    assert set(rows) == {"checkpoint-4", "checkpoint-8", "out"}
    assert {c["status"] for c in rows.values()} == {"clean"} and rows["out"]["resumable"] is False
    assert Path(r.json["summary"]["recommended"]).name == "checkpoint-8"
    others = {str(Path(o["path"]).relative_to(out)) for o in r.json["summary"]["other_files"]}
    assert {"checkpoint-8/rng_state.pth", "checkpoint-8/scheduler.pt", "training_args.bin"} <= others
    assert r.json["findings"] == []


def test_rng_state_and_a_lone_optimizer_are_never_recommended(cli):
    for name, what in (("rng_state.pth", "trainer state"), ("optimizer.pt", "optimizer state only")):
        r = cli("inspect-ckpt", DATA / "hf" / "out" / "checkpoint-8" / name, "--format", "json")
        [c] = r.json["summary"]["checkpoints"]
        assert c["status"] == "no-weights" and r.json["summary"]["recommended"] is None
        [f] = r.json["findings"]
        assert f["code"] == "ND214" and f["severity"] == "warning" and what in f["message"]


def test_hf_padding_row_from_config_json_is_construction(tmp_path):
    """HF's init zeroes the pad_token_id row of word_embeddings (vocab 40: 2.5 % exact zeros)."""
    shutil.copy(DATA / "hf" / "out" / "model.safetensors", tmp_path / "model.safetensors")
    alone = inspect_ckpt(tmp_path / "model.safetensors")  # nothing says the zeros are a padding row
    [f] = [f for f in alone.findings if f.code == "ND205"]
    assert f.where == "bert.embeddings.word_embeddings.weight" and f.severity.value == "warning"
    shutil.copy(DATA / "hf" / "out" / "config.json", tmp_path / "config.json")
    r = inspect_ckpt(tmp_path / "model.safetensors")
    assert by_name(r)["model.safetensors"]["status"] == "clean" and codes(r) == []


# --- zeros by construction vs sanitised --------------------------------------------------------------


class Esm(torch.nn.Module):
    """ESM-2's shape: a 33-token vocabulary with padding_idx 1 (3 % of the embedding is zeros)."""

    def __init__(self):
        super().__init__()
        self.embed_tokens = torch.nn.Embedding(33, 16, padding_idx=1)
        self.layers = torch.nn.Sequential(*[torch.nn.Linear(16, 16) for _ in range(4)])


def _train(model, steps=3):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(steps):
        loss = model.layers(model.embed_tokens(torch.randint(0, 33, (8, 4)))).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_padding_idx_of_a_pickled_embedding_is_construction(tmp_path):
    torch.manual_seed(0)
    model = Esm()
    _train(model)
    torch.save({"model": model, "epoch": 1}, tmp_path / "full.pt")
    from nandoctor.pickle_policy import trusting

    with trusting([f"{Esm.__module__}.Esm"]):  # the test's own class: outside the allow-list until trusted
        r = inspect_ckpt(tmp_path / "full.pt")
    assert by_name(r)["full.pt"]["status"] == "clean" and "ND205" not in codes(r)
    with torch.no_grad():  # zeros outside the padding row are still the sanitiser's signature
        model.embed_tokens.weight[5:9] = 0
    torch.save({"model": model, "epoch": 2}, tmp_path / "full.pt")
    [f] = [f for f in inspect_ckpt(tmp_path / "full.pt").findings if f.code == "ND205"]
    assert f.where == "embed_tokens.weight" and "12.1%" in f.message


def test_zeros_since_the_first_checkpoint_are_construction_new_zeros_are_evidence(tmp_path):
    torch.manual_seed(0)
    model = Esm()
    for epoch in (1, 2):
        _train(model)
        torch.save({"model_state_dict": model.state_dict(), "epoch": epoch}, tmp_path / f"epoch_{epoch}.pt")
    r = inspect_ckpt(tmp_path)
    assert {c["status"] for c in r.summary["checkpoints"]} == {"clean"}
    assert {f.severity.value for f in r.findings if f.code == "ND205"} == {"info"}
    _train(model)
    with torch.no_grad():  # NaN in four rows between epoch 2 and 3, then torch.nan_to_num before saving
        model.embed_tokens.weight[10:14] = float("nan")
        sd = {k: torch.nan_to_num(v) for k, v in model.state_dict().items()}
    torch.save({"model_state_dict": sd, "epoch": 3}, tmp_path / "epoch_3.pt")
    r = inspect_ckpt(tmp_path)
    assert by_name(r)["epoch_3.pt"]["status"] == "suspect"
    assert [(f.severity.value, f.where) for f in r.findings if f.path.endswith("epoch_3.pt")] == [
        ("warning", "embed_tokens.weight")
    ]
    assert Path(r.summary["recommended"]).name == "epoch_2.pt"


def test_fp16_mask_constant_present_since_the_first_checkpoint(tmp_path):
    """-65504 is torch.finfo(float16).min: a causal-mask buffer holds it by construction."""
    for epoch in (1, 2):
        mask = torch.triu(torch.full((8, 8), -65504.0, dtype=torch.float16), 1)
        torch.save(
            {"state_dict": {"w": torch.randn(8, 8).half() * epoch, "mask": mask}, "epoch": epoch},
            tmp_path / f"epoch_{epoch}.pt",
        )
    r = inspect_ckpt(tmp_path)
    assert {c["status"] for c in r.summary["checkpoints"]} == {"clean"}
    assert {(f.code, f.severity.value) for f in r.findings} == {("ND205", "info")}


# --- exploded: finite is not healthy ---------------------------------------------------------------


def test_weights_that_jumped_orders_of_magnitude_are_exploded(tmp_path):
    torch.manual_seed(0)
    w = torch.randn(16, 16)
    for epoch, scale in ((1, 1.0), (2, 1.3), (3, 4e3)):
        torch.save(
            {
                "model": {"fc.weight": w * scale, "fc.bias": torch.zeros(16)},
                "optimizer": {"state": {}, "param_groups": []},
                "epoch": epoch,
            },
            tmp_path / f"epoch{epoch}.pt",
        )
    r = inspect_ckpt(tmp_path)
    assert (by_name(r)["epoch3.pt"]["status"], by_name(r)["epoch3.pt"]["reason"]) == ("suspect", "exploded")
    [f] = [f for f in r.findings if f.code == "ND215"]
    assert f.where == "fc.weight" and "3.08e+03x" in f.message
    assert Path(r.summary["recommended"]).name == "epoch2.pt"


def test_absurd_stored_loss_in_one_checkpoint(tmp_path):
    torch.save({"model": {"w": torch.ones(4)}, "epoch": 5, "val_loss": 4e36}, tmp_path / "epoch5.pt")
    r = inspect_ckpt(tmp_path / "epoch5.pt")
    [f] = [f for f in r.findings if f.code == "ND215"]
    assert f.where == "val_loss" and "4e+36" in f.message and by_name(r)["epoch5.pt"]["status"] == "suspect"


def test_ultralytics_string_nan_and_exploded_train_results(tmp_path):
    """Ultralytics writes the string 'nan' into train_results; a finite blow-up is exploded too."""
    res = {"epoch": [1.0, 2.0, 3.0], "train/box_loss": [1.9, 1.7, "nan"], "val/box_loss": [2.0, 1.8, 1.7]}
    torch.save({"epoch": 2, "model": None, "ema": {"w": torch.ones(4)}, "train_results": res}, tmp_path / "a.pt")
    [f] = [f for f in inspect_ckpt(tmp_path / "a.pt").findings if f.code == "ND210"]
    assert "train_results['train/box_loss'] is nan from epoch 3" in f.message
    res = {"epoch": [1.0, 2.0, 3.0], "train/box_loss": [1.9, 1.7, 3e13]}
    torch.save({"epoch": 2, "model": None, "ema": {"w": torch.ones(4)}, "train_results": res}, tmp_path / "a.pt")
    [f] = [f for f in inspect_ckpt(tmp_path / "a.pt").findings if f.code == "ND215"]
    assert f.where == "train_results.train/box_loss" and "3e+13" in f.message


def test_stats_counts_negative_values(cli, tmp_path):
    torch.save({"w": torch.tensor([[-1.0, 2.0], [-3.0, 0.0]]), "i": torch.tensor([-2, -1, 5])}, tmp_path / "s.pt")
    r = cli("inspect-ckpt", tmp_path / "s.pt", "--stats", "--format", "json")
    stats = {t["name"]: t for t in r.json["summary"]["checkpoints"][0]["stats"]}
    assert (stats["w"]["negative"], stats["i"]["negative"]) == (2, 2)


def test_a_bug_in_the_scan_is_an_internal_error_not_an_unreadable_checkpoint(cli, tmp_path, monkeypatch):
    from nandoctor.ckpt import checks

    torch.save({"w": torch.ones(3)}, tmp_path / "epoch1.pt")

    def broken(*args, **kwargs):
        raise KeyError("a bug in nandoctor")

    monkeypatch.setattr(checks, "judge", broken)
    r = cli("inspect-ckpt", tmp_path, "--format", "json")
    assert r.code == 2 and "KeyError" in r.stderr and "unreadable" not in r.stdout + r.stderr


def test_huge_epoch_and_strings_in_train_results_stay_per_file(tmp_path):
    torch.save({"model": {"w": torch.ones(3)}, "epoch": 10**5000}, tmp_path / "a.pt")
    torch.save(
        {
            "epoch": -1,
            "model": None,
            "ema": {"w": torch.ones(3)},
            "train_results": {"epoch": ["one", "two"], "train/box_loss": [1.0, math.nan]},
        },
        tmp_path / "b.pt",
    )
    torch.save({"model": {"w": torch.ones(3)}, "epoch": 3}, tmp_path / "c.pt")
    r = inspect_ckpt(tmp_path)
    rows = by_name(r)
    assert (rows["a.pt"]["status"], rows["a.pt"]["epoch"]) == ("clean", None)
    assert rows["b.pt"]["status"] == "suspect" and "from epoch 'two'" in next(
        f.message for f in r.findings if f.code == "ND210"
    )
    assert rows["c.pt"]["status"] == "clean"


def test_hf_checkpoint_folder_missing_its_weights_is_reported_not_skipped(tmp_path):
    out = tmp_path / "out"
    shutil.copytree(DATA / "hf" / "out", out)
    (out / "checkpoint-8" / "model.safetensors").unlink()
    r = inspect_ckpt(out)
    assert by_name(r)["checkpoint-8"]["status"] == "unreadable"
    [f] = r.findings
    assert f.code == "ND200" and "holds no model weights" in f.message and f.path.endswith("checkpoint-8")
    assert Path(r.summary["recommended"]).name == "checkpoint-4"


def test_lora_b_growing_from_zero_init_is_not_exploded(tmp_path):
    """LoRA B starts at zero and grows by orders of magnitude in healthy training; it stays within the
    scale of the run's other weights, so it is not an explosion. Adapters saved in checkpoint-N/
    folders are compared as one run, in step order."""
    from safetensors.torch import save_file

    torch.manual_seed(0)
    a = torch.rand(8, 64) * 0.7 - 0.35
    for step, b_scale in ((100, 1e-4), (200, 3e-2), (300, 0.3), (400, 300.0)):
        d = tmp_path / f"checkpoint-{step}"
        d.mkdir()
        save_file(
            {"q_proj.lora_A.weight": a, "q_proj.lora_B.weight": torch.randn(64, 8) * b_scale},
            d / "adapter_model.safetensors",
        )
    r = inspect_ckpt(tmp_path)
    rows = [(Path(c["path"]).parent.name, c["step"], c["status"]) for c in r.summary["checkpoints"]]
    assert rows == [
        ("checkpoint-100", 100, "clean"),
        ("checkpoint-200", 200, "clean"),
        ("checkpoint-300", 300, "clean"),
        ("checkpoint-400", 400, "suspect"),
    ]
    [f] = r.findings
    assert (
        f.code == "ND215"
        and f.where == "q_proj.lora_B.weight"
        and f.path.endswith("checkpoint-400/adapter_model.safetensors")
    )


def test_lightning_monitored_score_nan_is_info_absurd_is_exploded(tmp_path):
    src = DATA / "lightning" / "lightning_logs" / "version_0" / "checkpoints" / "epoch=2-step=12.ckpt"
    for name, score in (("nan.ckpt", float("nan")), ("absurd.ckpt", 4e36)):
        ckpt = torch.load(src, weights_only=False)
        next(iter(ckpt["callbacks"].values()))["current_score"] = torch.tensor(score)
        torch.save(ckpt, tmp_path / name)
        r = inspect_ckpt(tmp_path / name)
        if name == "nan.ckpt":
            assert by_name(r)[name]["status"] == "clean" and codes(r) == ["ND216"]
        else:
            assert (by_name(r)[name]["status"], by_name(r)[name]["reason"]) == ("suspect", "exploded")
            assert codes(r) == ["ND215"]
