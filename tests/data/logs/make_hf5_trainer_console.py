"""Makes hf5_trainer_console_nan.log: a real transformers 5 Trainer run (CPU, seconds) whose weights
turn NaN after step 12, its console captured with `python make_hf5_trainer_console.py OUT > log 2>&1`.
Needs transformers and torch (the scratch framework venv), never nandoctor's own environment."""

import sys

import torch
from torch import nn
from transformers import Trainer, TrainerCallback, TrainingArguments


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.l = nn.Linear(4, 1)

    def forward(self, x, labels=None):
        y = self.l(x).squeeze(-1)
        return {"loss": ((y - labels) ** 2).mean(), "logits": y}


class DS(torch.utils.data.Dataset):
    def __len__(self):
        return 64

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        x = torch.randn(4, generator=g)
        return {"x": x, "labels": x.sum()}


class Poison(TrainerCallback):
    def on_step_end(self, args, state, control, model=None, **kw):
        if state.global_step == 12:
            with torch.no_grad():
                model.l.weight[0, 0] = float("nan")


args = TrainingArguments(
    output_dir=sys.argv[1],
    per_device_train_batch_size=8,
    num_train_epochs=3,
    logging_steps=2,
    eval_strategy="steps",
    eval_steps=8,
    save_strategy="no",
    report_to=[],
    disable_tqdm=False,
    use_cpu=True,
    seed=0,
)
Trainer(model=M(), args=args, train_dataset=DS(), eval_dataset=DS(), callbacks=[Poison()]).train()
