"""Writes the real-framework pickles the pickle-safety corpus reads (run with /work/fwvenv/bin/python).

lightning.ckpt: a Lightning-layout checkpoint whose hyper_parameters are a real AttributeDict holding an
omegaconf DictConfig, an argparse.Namespace with a PosixPath and a datetime, and a SimpleNamespace.
lightning_trainer.ckpt: what a real `Trainer.fit` (bf16-mixed, Adam + StepLR, save_hyperparameters of a
DictConfig) saves with `trainer.save_checkpoint`.
training_args.bin: what transformers' Trainer writes (torch.save of a TrainingArguments).
"""

import argparse
import collections
import datetime
import pathlib
import sys
import types
from pathlib import Path

import lightning as L
import torch
from lightning.fabric.utilities.data import AttributeDict
from omegaconf import OmegaConf
from transformers import TrainingArguments

out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent)
cfg = OmegaConf.create({"lr": 0.01, "model": {"layers": [1, 2]}, "name": "x"})
ns = argparse.Namespace(lr=0.1, data=pathlib.PosixPath("/data/x"), when=datetime.datetime(2024, 1, 1))
torch.save(
    {
        "epoch": 3,
        "global_step": 30,
        "pytorch-lightning_version": "2.6.0",
        "state_dict": collections.OrderedDict(w=torch.ones(3)),
        "optimizer_states": [{"state": {}, "param_groups": [{"lr": 0.1, "params": [0]}]}],
        "lr_schedulers": [],
        "hparams_name": "kwargs",
        "hyper_parameters": AttributeDict(cfg=cfg, ns=ns, path=pathlib.Path("/x"), sn=types.SimpleNamespace(a=1)),
    },
    out / "lightning.ckpt",
)
torch.save(TrainingArguments(output_dir="/tmp/out", learning_rate=3e-5, report_to=[]), out / "training_args.bin")


class Tiny(L.LightningModule):
    def __init__(self, cfg, lr=0.1):
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch, _):
        return self.layer(batch[0]).pow(2).mean()

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
        return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.StepLR(opt, 1)}


torch.manual_seed(0)
data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(8, 2)), batch_size=4)
trainer = L.Trainer(
    max_epochs=1,
    default_root_dir=str(out / "_lightning_run"),
    logger=False,
    accelerator="cpu",
    enable_progress_bar=False,
    enable_model_summary=False,
    precision="bf16-mixed",
)
trainer.fit(Tiny(OmegaConf.create({"a": 1, "b": [1, 2]})), data)
trainer.save_checkpoint(out / "lightning_trainer.ckpt")
