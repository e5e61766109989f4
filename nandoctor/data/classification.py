"""Classification labels in JSONL or CSV: every label in [0, num_classes) or an allowed ignore index."""

from __future__ import annotations

import json
from pathlib import Path

from nandoctor.findings import NandoctorError, Report

MAX_LINE = 1 << 20  # a JSONL line longer than 1 MiB is reported, not parsed (bounded time and memory)


def check_classification(
    path: Path, report: Report, num_classes: int | None, label_key: str, ignore_index: list[int]
) -> None:
    import numpy as np

    encoding = _sniff(path, report)
    read = _csv if path.suffix.lower() == ".csv" else _jsonl
    at, values = read(path, report, label_key, encoding)
    lines, labels = np.asarray(at, dtype=np.int64), np.asarray(values, dtype=np.int64)
    p = str(path)
    if not len(labels) and not [f for f in report.findings if f.path == p and f.severity.value == "error"]:
        report.add("ND100", "error", "no label rows in the file: nothing to check", path=p)
    ignored = np.isin(labels, ignore_index) if ignore_index else np.zeros(len(labels), bool)
    neg = (labels < 0) & ~ignored
    high = (labels >= num_classes) & ~ignored if num_classes is not None else np.zeros(len(labels), bool)
    for i in np.flatnonzero(neg | high):
        v = int(labels[i])
        msg = (
            f"label {v} is negative (allow it with --ignore-index {v})"
            if v < 0
            else f"label {v} >= num_classes {num_classes} (valid 0..{(num_classes or 0) - 1})"
        )
        report.add("ND121", "error", msg, path=p, line=int(lines[i]), data={"label": v, "num_classes": num_classes})
    if num_classes is None:
        report.add("ND120", "info", "no --num-classes or --config/--dataset: only negative labels were checked", path=p)
    used = labels[~ignored]
    ids, counts = np.unique(used, return_counts=True)
    summary = {
        "format": "classification",
        "files_scanned": 1,
        "rows": int(len(labels)),
        "num_classes": num_classes,
        "class_histogram": dict(zip(ids.tolist(), counts.tolist(), strict=True)),
        "min_label": int(used.min()) if len(used) else None,
        "max_label": int(used.max()) if len(used) else None,
        "unique_labels": int(len(ids)),
        "ignored": int(ignored.sum()),
    }
    if num_classes is not None and num_classes <= 1_000_000:
        seen = set(ids.tolist())
        never = [c for c in range(num_classes) if c not in seen]
        summary.update(classes_never_seen=never[:1000], classes_never_seen_count=len(never))
    report.summary.update(summary)


INT64 = 1 << 63


class _Huge(int):
    """A JSON integer with more digits than int64 holds; parsing it whole is Python's 4300-digit
    ValueError (or minutes of work), so only its digit count is kept."""

    digits: int

    def __new__(cls, digits: str):
        obj = super().__new__(cls, 0)
        obj.digits = len(digits.lstrip("-"))
        return obj


def _parse_int(s: str) -> int:
    return int(s) if len(s) < 20 else _Huge(s)


def _int64_overflow(text: str) -> int | None:
    """The digit count of an integer written in text that int64 cannot hold, else None."""
    digits = text.lstrip("+-")
    if not digits.isascii() or not digits.isdigit() or len(digits) < 19:
        return None
    if len(digits) < 25 and -INT64 <= int(text) < INT64:
        return None
    return len(digits)


def _as_int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**62:
        return int(value)
    return None


def _sniff(path: Path, report: Report) -> str | None:
    """The file's wide encoding (UTF-16/32, as Excel and PowerShell save text), noted as a warning."""
    from nandoctor.data.encoding import encoding_note, wide_encoding

    try:
        with open(path, "rb") as f:
            encoding = wide_encoding(f.read(4096))
    except OSError as exc:
        raise NandoctorError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if encoding:
        report.add("ND100", "warning", encoding_note(encoding), path=str(path), data={"encoding": encoding})
    return encoding


def _jsonl(path: Path, report: Report, key: str, encoding: str | None = None) -> tuple[list[int], list[int]]:
    import io

    lines, labels = [], []
    p = str(path)
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise NandoctorError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    with f:
        readline = lambda: f.readline(MAX_LINE + 1)  # noqa: E731
        if encoding:  # decoded by its byte-order mark, re-encoded line by line (bounded like the bytes)
            text = io.TextIOWrapper(f, encoding=encoding, errors="replace")
            readline = lambda: text.readline(MAX_LINE + 1).encode("utf-8")  # noqa: E731
        n = 0
        while raw := readline():
            n += 1
            if len(raw) > MAX_LINE:
                report.add("ND100", "error", f"line longer than {MAX_LINE} bytes; not parsed", path=p, line=n)
                while raw and not raw.endswith(b"\n"):  # skip the rest without holding it in memory
                    raw = readline()
                continue
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw, parse_int=_parse_int)
            except (ValueError, RecursionError) as exc:
                report.add("ND100", "error", f"not JSON: {str(exc)[:200]}", path=p, line=n)
                continue
            if not isinstance(rec, dict) or key not in rec:
                report.add("ND122", "error", f"no {key!r} key (use --label-key)", path=p, line=n)
                continue
            v = _as_int(rec[key])
            if isinstance(v, _Huge) or (v is not None and not -INT64 <= v < INT64):
                digits = v.digits if isinstance(v, _Huge) else len(str(abs(v)))
                report.add(
                    "ND121",
                    "error",
                    f"{key} is an integer of {digits} digits: beyond int64, no class index "
                    "(cross-entropy cannot take it)",
                    path=p,
                    line=n,
                    data={"digits": digits},
                )
                continue
            if v is None:
                report.add(
                    "ND122",
                    "error",
                    f"{key} is {str(rec[key])[:60]!r} ({type(rec[key]).__name__}), not an integer",
                    path=p,
                    line=n,
                )
                continue
            lines.append(n)
            labels.append(v)
    return lines, labels


def _csv(path: Path, report: Report, key: str, encoding: str | None = None) -> tuple[list[int], list[int]]:
    """Vectorised with pandas; line = row index + 2 (the header is line 1)."""
    import numpy as np
    import pandas as pd

    try:
        df = pd.read_csv(
            path,
            usecols=[key],
            dtype=str,
            keep_default_na=False,
            on_bad_lines="skip",
            encoding=encoding or "utf-8",
            encoding_errors="replace",
        )
    except ValueError as exc:
        if "usecols" in str(exc) or "not in list" in str(exc) or "do not match" in str(exc):
            raise NandoctorError(f"{path}: no {key!r} column (use --label-key)") from exc
        raise NandoctorError(f"{path}: cannot parse CSV: {str(exc).splitlines()[0]}") from exc
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise NandoctorError(f"{path}: cannot parse CSV: {str(exc).splitlines()[0] if str(exc) else exc}") from exc
    raw = df[key].str.strip()
    num = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    lines = np.arange(len(df)) + 2
    ok = np.isfinite(num) & (num == np.floor(num)) & (np.abs(num) < 2**62)
    for i in np.flatnonzero(~ok)[:10000]:
        digits = _int64_overflow(raw.iloc[i])
        if digits:
            report.add(
                "ND121",
                "error",
                f"{key} is an integer of {digits} digits: beyond int64, no class index (cross-entropy cannot take it)",
                path=str(path),
                line=int(lines[i]),
                data={"digits": digits},
            )
        else:
            report.add(
                "ND122", "error", f"{key} is {raw.iloc[i][:60]!r}, not an integer", path=str(path), line=int(lines[i])
            )
    return lines[ok].tolist(), num[ok].astype(np.int64).tolist()
