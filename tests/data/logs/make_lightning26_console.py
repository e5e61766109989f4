"""Makes lightning26_tqdm_console_nan.log: a real Lightning 2.6 run (CPU, seconds) with the default
TQDMProgressBar, 8 batches an epoch, whose loss turns NaN from global step 29 (epoch 3, batch 6/8);
captured with `python make_lightning26_console.py OUT > log 2>&1`. Needs lightning and torch."""

import sys

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class M(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.l = nn.Linear(4, 1)

    def training_step(self, batch, i):
        x, y = batch
        loss = ((self.l(x).squeeze(-1) - y) ** 2).mean()
        if self.global_step >= 29:
            loss = loss * float("nan")
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, i):
        x, y = batch
        self.log("val_loss", ((self.l(x).squeeze(-1) - y) ** 2).mean(), prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


torch.manual_seed(0)
x = torch.randn(64, 4)
data = TensorDataset(x, x.sum(-1))
trainer = L.Trainer(
    max_epochs=5,
    default_root_dir=sys.argv[1],
    log_every_n_steps=1,
    enable_checkpointing=False,
    callbacks=[L.pytorch.callbacks.TQDMProgressBar(refresh_rate=1)],
    logger=False,
    accelerator="cpu",
)
trainer.fit(M(), DataLoader(data, batch_size=8), DataLoader(data, batch_size=32))
