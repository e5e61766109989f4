"""Build the tiny inspect-ckpt fixtures with the real trainers (run with a venv that has them):

    PYTHONPATH=. /work/fwvenv/bin/python tests/data/ckpt/make_fixtures.py

Writes, next to this script:
- lightning/lightning_logs/version_0: ModelCheckpoint(monitor="val_loss", save_top_k=-1), healthy: its
  callback state holds best_model_score/current_score and the initial kth_value=inf;
- lightning/lightning_logs/version_1: save_weights_only=True, a NaN written into the weights at the end
  of epoch 2 (user callbacks run before ModelCheckpoint saves);
- hf/out: transformers Trainer on a tiny BERT (vocab 40, pad_token_id 0: the embedding's padding row is
  zeroed by HF's init and stays zero), checkpoint-N folders plus save_model() and save_state();
- truth.json: which file is healthy, from isfinite over every weight, written by this script.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def lightning_runs() -> None:
    import lightning as L
    from torch.utils.data import DataLoader, TensorDataset

    class Net(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Linear(4, 1)

        def training_step(self, batch, _):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch, _):
            x, y = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05)

    class PoisonAt(L.Callback):
        def on_train_epoch_end(self, trainer, module):
            if trainer.current_epoch == 2:
                with torch.no_grad():
                    module.net.weight[0, 1] = float("nan")

    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    data = DataLoader(TensorDataset(x, y), batch_size=16)
    root = HERE / "lightning"
    shutil.rmtree(root, ignore_errors=True)
    for version, (weights_only, callbacks) in enumerate([(False, []), (True, [PoisonAt()])]):
        L.seed_everything(0)
        ckpt = L.pytorch.callbacks.ModelCheckpoint(monitor="val_loss", save_top_k=-1, save_weights_only=weights_only)
        trainer = L.Trainer(
            max_epochs=4,
            default_root_dir=root,
            callbacks=[*callbacks, ckpt],
            logger=L.pytorch.loggers.CSVLogger(root, name="lightning_logs", version=version),
            enable_progress_bar=False,
            enable_model_summary=False,
            log_every_n_steps=1,
        )
        trainer.fit(Net(), data, data)


def hf_run() -> None:
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        Trainer,
        TrainingArguments,
    )

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=40,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        pad_token_id=0,
        num_labels=2,
    )
    model = BertForSequenceClassification(config)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1, 40, (32, 8), generator=g)
    ids[:, -2:] = 0  # padded tail
    labels = (ids[:, 0] > 20).long()
    rows = [
        {"input_ids": i, "attention_mask": (i != 0).long(), "labels": lab} for i, lab in zip(ids, labels, strict=True)
    ]
    out = HERE / "hf" / "out"
    shutil.rmtree(out.parent, ignore_errors=True)
    args = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=8,
        num_train_epochs=2,
        save_steps=4,
        logging_steps=1,
        report_to=[],
        use_cpu=True,
        seed=0,
    )
    trainer = Trainer(model=model, args=args, train_dataset=rows)
    trainer.train()
    trainer.save_model()
    trainer.save_state()


def truth() -> None:
    from safetensors.torch import load_file

    facts = {}
    for path in sorted(HERE.rglob("*")):
        if path.suffix == ".ckpt":
            sd = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
        elif path.name == "model.safetensors":
            sd = load_file(path)
        else:
            continue
        facts[str(path.relative_to(HERE))] = {"weights_finite": all(bool(t.isfinite().all()) for t in sd.values())}
    (HERE / "truth.json").write_text(json.dumps(facts, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    lightning_runs()
    hf_run()
    truth()
