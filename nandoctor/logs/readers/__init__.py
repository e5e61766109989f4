"""Readers: detect a log's format and turn it into a LogTable (one module per format).

Detection looks at the name and the first kilobytes only, so a 10-million-row log is sniffed as
fast as a 10-row one. A reader never judges the numbers; that is classify.py's job.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from nandoctor.findings import NandoctorError
from nandoctor.logs.readers.yaml_config import SNIFF_BYTES, YAML_REFUSAL, looks_like_yaml_config
from nandoctor.logs.table import LogTable
from nandoctor.numbers import parse_number

_LOG_NAMES = ("results.csv", "trainer_state.json", "metrics.csv", "training_history.csv")


def resolve(path: Path) -> Path:
    """A run folder stands for the log inside it (event files, results.csv, trainer_state.json...)."""
    if not path.is_dir():
        return path
    if any(path.glob("events.out.tfevents.*")):
        return path
    for pattern in ("{}", "*/{}", "*/*/{}"):  # the folder, then two levels down; never a full walk
        for name in _LOG_NAMES:
            found = sorted(path.glob(pattern.format(name)))
            if found:
                return found[0]
    for events in sorted(path.glob("*/events.out.tfevents.*")) + sorted(path.glob("*/*/events.out.tfevents.*")):
        return events.parent
    consoles = sorted(p for p in path.glob("*.log") if p.is_file())  # a folder holding only a console log
    if consoles:
        return consoles[0]
    raise NandoctorError(
        f"{path}: no training log found in this folder (looked for event files, " + ", ".join(_LOG_NAMES) + ", *.log)"
    )


def read_log(path: Path, metric: str | None = None) -> LogTable:
    """`metric` (analyze-log --metric) tells a sampled huge CSV which series' jumps to keep."""
    from nandoctor.logs.readers import hf, lightning, plaincsv, tensorboard, text, ultralytics

    path = resolve(path)
    if path.is_dir():
        return tensorboard.read(path)
    if not path.is_file():
        raise NandoctorError(f"{path}: not a regular file (a pipe or device cannot be analyzed)")
    if tensorboard.is_event_file(path):
        return tensorboard.read(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError as exc:
        raise NandoctorError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not head.strip():
        raise NandoctorError(f"{path}: empty file, no log to analyze")
    if b"\x00" in head:
        raise NandoctorError(f"{path}: binary file, not a training log (CSV, JSON, text or TensorBoard events)")
    text_head = head.decode("utf-8", "replace").lstrip("\ufeff")
    if path.suffix.lower() in (".yaml", ".yml") or looks_like_yaml_config(text_head):
        raise NandoctorError(f"{path}: {YAML_REFUSAL}")
    stripped = text_head.lstrip()
    if path.suffix.lower() == ".json" or re.match(r'\{\s*"|\[\s*[\[{"\]]|[\[{]\s*$', stripped):
        return hf.read(path)
    header = _csv_header(text_head, path.suffix.lower() == ".csv")
    if header is not None:
        if ultralytics.looks_like(header):
            return ultralytics.read(path, metric)
        if lightning.looks_like(header):
            return lightning.read(path, metric)
        if lightning.looks_sparse(path, header):
            return lightning.read(path, metric)
        return plaincsv.read(path, metric)
    return text.read_text(path)


def _csv_header(head: str, named_csv: bool = False) -> list[str] | None:
    """The stripped header names when the text starts like a CSV with a named header (and, unless the
    file is named .csv, a second line with as many fields: `GPU available: False, used: False` is prose)."""
    first, _, rest = head.partition("\n")
    first = first.rstrip("\r")
    if re.match(r"\s*\[?\d{2,4}[-/]\d\d[-/ ]", first) or re.search(r"\w: \S", first):
        return None  # a timestamped log line or `GPU available: False, used: False`, not a header
    if not named_csv:
        second = next((ln for ln in rest.split("\n") if ln.strip()), "")
        try:
            if len(next(csv.reader(io.StringIO(second)))) != len(next(csv.reader(io.StringIO(first)))):
                return None
        except (csv.Error, StopIteration):
            return None
    if (
        first.count(",") < 1
        or re.search(r"(:\s+|=\s*)[-+]?(\d|nan|inf)", first, re.I)
        or re.search(r"[\r{}<>]|%\|", first)
    ):
        return None  # `Loss: inf, Accuracy: 0.01` is a console line, not a header
    try:
        names = next(csv.reader(io.StringIO(first)))
    except (csv.Error, StopIteration):
        return None
    names = [n.strip() for n in names]
    named = [n for n in names if n and not _is_number(n)]
    return names if len(named) >= max(1, len(names) // 2) else None


def _is_number(token: str) -> bool:
    return parse_number(token) is not None
