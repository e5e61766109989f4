"""What a checkpoint's file name tells: which files are checkpoints, the epoch a name holds, which of
two files at the same point of training to prefer. inspect-ckpt and triage read these from here only.
"""

from __future__ import annotations

import re

# What trainers save checkpoints as (torch.save, Lightning, safetensors, numpy): a run folder is
# searched for these.
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".safetensors", ".bin", ".npz")
# inspect-ckpt also scans bare pickles and torch's oldest .tar format when a folder holds them: a
# downloaded model's .pkl is exactly what must be judged before anyone loads it.
SCANNED_SUFFIXES = (*CHECKPOINT_SUFFIXES, ".pkl", ".tar")
# epoch5.pt (Ultralytics save_period), epoch_10.pt, epoch-3.pth, epoch=3-step=120.ckpt (Lightning).
# Linear: one pass over a name of at most 255 bytes.
EPOCH_IN_NAME = re.compile(r"epoch[=_-]?(\d+)", re.IGNORECASE)


def epoch_in_name(name: str) -> int | None:
    m = EPOCH_IN_NAME.search(name)
    return int(m.group(1)) if m else None


def name_rank(name: str) -> int:
    """At the same point of training: an epochN file (2) over last.* (1) over best.* and the rest (0).
    An epoch file is exactly where training stood and resuming never overwrites it; best.pt is a copy
    chosen by fitness."""
    return 2 if EPOCH_IN_NAME.search(name) else 1 if name.startswith("last") else 0
