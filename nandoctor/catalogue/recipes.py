"""Command lines the advice gives, one home each, so two commands never tell the user two ways
to do the same thing (inspect-ckpt and triage both say how to keep broken checkpoints as evidence)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Iterable


def backup_command(paths: Iterable[str | Path], dest: str | Path) -> str:
    """Copy broken checkpoints (files or HF/DCP folders) aside before the next run overwrites them."""
    q = [shlex.quote(str(p)) for p in paths]
    return f"mkdir -p {shlex.quote(str(dest))} && cp -rp {' '.join(q)} {shlex.quote(str(dest))}/"
