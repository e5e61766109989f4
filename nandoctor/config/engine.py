"""diagnose-config: read a training config, name its fragile settings, write `<stem>_fixed.yaml`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from nandoctor.config.detect import detect
from nandoctor.config.evidence import run_log
from nandoctor.config.frameworks import check
from nandoctor.config.issues import KEEP, Context, Issue, LogEvidence, nonfinite_values, number
from nandoctor.config.load import Doc, dotted, load
from nandoctor.config.validate import validate
from nandoctor.config.write import apply, default_output, verify
from nandoctor.findings import NandoctorError, Report
from nandoctor.safe_write import write_atomic

ABRUPT = ("sudden", "abrupt")  # analyze-log's sudden_spike / abrupt_nonfinite: overflow, not a slow LR blow-up


def diagnose_config(
    path: Path,
    *,
    log: Path | None = None,
    output: Path | None = None,
    dry_run: bool = False,
    force: bool = False,
    keep_existing: bool = False,
    log_summary: dict | None = None,
    find_log: bool = True,
) -> Report:
    """`keep_existing` (for triage): an existing output is reported and kept instead of exit 2.
    `log_summary` (for triage): analyze-log's summary of `log`, already computed, so it is not read twice.
    `find_log`: with no `log`, use the run's own log lying beside the config (`--no-log` turns it off)."""
    path = Path(path)
    report = Report(command="diagnose-config")
    report.summary = {
        "framework": None,
        "output": None,
        "existing_output": None,
        "changes": [],
        "diff": "",
        "dry_run": dry_run,
        "log": None,
        "validation": None,
    }
    doc = load(path)
    if doc.data is None or (isinstance(doc.data, dict) and not doc.data):
        report.add("ND414", "info", "the file is empty: no training settings to check", path=str(path))
        return report
    if not isinstance(doc.data, dict):
        raise NandoctorError(
            f"{path}: the top level is a {type(doc.data).__name__}, not a mapping of training settings"
        )
    framework = detect(doc)
    report.summary["framework"] = framework
    if framework is None:
        report.add(
            "ND414",
            "info",
            "no key here is a training setting of Ultralytics, Hugging Face, accelerate, "
            "DeepSpeed, Lightning or a generic training config",
            path=str(path),
        )
        return report

    evidence = None
    if log is not None:
        evidence = _evidence(log, report, log_summary)
    elif find_log and (found := run_log(path)) is not None:
        evidence = _found_evidence(found, report)
    issues = check(framework, Context(doc, evidence)) + nonfinite_values(doc)
    for issue in issues:
        _add(report, doc, issue)

    changes = _last_per_key([i for i in issues if i.new is not KEEP and _finite(i.new)])
    text, applied, skipped = apply(doc, changes)
    for issue in skipped:
        report.add(
            issue.code,
            "info",
            f"could not write {dotted(issue.path)} = {issue.new!r} without reformatting the file; set it by hand",
            path=str(path),
            line=doc.line(issue.path),
            where=dotted(issue.path),
        )
    report.summary["changes"] = [
        {"key": dotted(i.path), "old": doc.get(i.path), "new": i.new, "code": i.code, "reason": i.reason}
        for i in applied
    ]
    if not applied:
        return report
    repaired = verify(doc, text, applied)
    target = Path(output) if output is not None else default_output(path, doc.is_json)
    report.summary["diff"] = _diff(doc.text, text[1:] if doc.bom else text, path, target)
    touched = [(*i.path[:-1], i.rename) if i.rename else i.path for i in applied]
    verdict = validate(framework, doc.data, repaired, text, path.suffix.lower(), touched)
    report.summary["validation"] = {"status": verdict.status, "message": verdict.message}
    if verdict.status == "rejected":
        report.add("ND420", "error", f"the repair was not written: {verdict.message}", path=str(path))
        return report
    if dry_run:
        report.next_steps.append(f"Rerun without --dry-run to write {target}")
        return report
    _write(report, path, target, text, force, keep_existing)
    return report


def _add(report: Report, doc: Doc, issue: Issue) -> None:
    line = doc.line(issue.path)
    if line is None and issue.after:  # a key to add: point at the sibling it goes after
        line = doc.line((*issue.path[:-1], issue.after))
    if line is None and issue.path[:-1]:
        line = doc.line(issue.path[:-1])
    data: dict[str, Any] = {"old": doc.get(issue.path), **issue.data}
    if issue.new is not KEEP:
        data["new"] = issue.new
    report.add(
        issue.code, issue.severity, issue.message, path=str(doc.path), line=line, where=dotted(issue.path), data=data
    )


def _finite(value: Any) -> bool:
    """A repair never writes NaN or Inf (a rule fed a non-finite number must not pass it on)."""
    return not isinstance(value, float) or math.isfinite(value)


def _last_per_key(issues: list[Issue]) -> list[Issue]:
    """Two rules may change one key (a string `1e-4` that is also too high): the later, specific one wins."""
    by_key: dict[tuple, Issue] = {}
    for i in issues:
        by_key[i.path] = i
    return list(by_key.values())


def _write(report: Report, source: Path, target: Path, text: str, force: bool, keep_existing: bool) -> None:
    if target.resolve() == source.resolve():
        raise NandoctorError(f"{target} is the input file; nandoctor never modifies its input (choose --output)")
    if target.exists() and not target.is_file():  # a device, FIFO or folder: never replaced, --force or not
        raise NandoctorError(
            f"{target} exists and is not a regular file; nandoctor writes only regular files or "
            "new paths (choose another --output)"
        )
    if target.exists() or target.is_symlink():
        if keep_existing and not force:
            report.summary["existing_output"] = str(target)
            report.add(
                "ND415",
                "info",
                f"{target} already exists and was kept (rerun diagnose-config with --force to rewrite it)",
                path=str(target),
            )
            return
        if not force:
            raise NandoctorError(
                f"{target} already exists; pass --force to overwrite it or --output to choose another path"
            )
    if not target.parent.is_dir():
        raise NandoctorError(f"{target.parent}: no such directory for the output")
    try:
        # existing targets were settled above (kept, refused or --force); safe_write re-checks before the rename
        write_atomic(
            target, text, force=True, inputs=[source], what="repaired config", mode=source.stat().st_mode & 0o777
        )
    except OSError as exc:
        raise NandoctorError(f"cannot write {target}: {exc.strerror or exc}") from None
    report.summary["output"] = str(target)
    report.next_steps.append(f"Train with the repaired config {target} (each change is commented `# nandoctor:`)")


def _diff(old: str, new: str, source: Path, target: Path) -> str:
    import difflib

    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), fromfile=str(source), tofile=str(target)
        )
    )


def _found_evidence(log: Path, report: Report) -> LogEvidence | None:
    """The run folder's own log: evidence when it reads, an info (never exit 2) when it does not."""
    try:
        s = _analyze(log)
    except NandoctorError as exc:
        report.add(
            "ND417",
            "info",
            f"the run's log {log} beside the config could not be read ({exc}); the config is judged without it",
            path=str(log),
        )
        return None
    return _evidence(log, report, s, found=True)


def _evidence(log: Path, report: Report, s: dict | None = None, found: bool = False) -> LogEvidence:
    """analyze-log's diagnosis of the run's loss curve picks the LR, the clip value and fp16 off."""
    if s is None:
        s = _analyze(log)
    pattern = str(s.get("pattern") or "")
    ev = LogEvidence(
        nonfinite=s.get("first_nonfinite") is not None,
        pattern=pattern or None,
        epochs_to_nonfinite=number(s.get("epochs_to_nonfinite")),
        clip_threshold=number(s.get("clip_threshold")),
        suggested_lr=number(s.get("suggested_lr")),
    )
    ev.abrupt = ev.nonfinite and any(w in pattern.lower() for w in ABRUPT)
    first = s.get("first_nonfinite")
    ev.lr_ran, ev.lr_column = number(s.get("lr_ran")), s.get("lr_column")  # analyze-log's: peak before the NaN
    report.summary["log"] = {
        "path": str(log),
        "pattern": ev.pattern,
        "first_nonfinite": first,
        "epochs_to_nonfinite": ev.epochs_to_nonfinite,
        "clip_threshold": ev.clip_threshold,
        "suggested_lr": ev.suggested_lr,
        "lr_ran": ev.lr_ran,
        "found_beside_config": found,
    }
    at = first.get("index", first) if isinstance(first, dict) else first
    where = f"the run's own log {log} (found beside the config; --no-log ignores it)" if found else str(log)
    other = list(s.get("nonfinite_columns") or [])  # analyze-log's verdict, not judged again here
    msg = (
        f"{where} went non-finite at {s.get('index_name') or 'step'} {at} "
        f"(pattern: {pattern or 'unknown'}); repair values follow that diagnosis"
        if ev.nonfinite
        else f"{where}: the training loss stays finite"
        + (f" (non-finite elsewhere: {', '.join(map(str, other[:3]))}; see analyze-log)" if other else "")
        + "; repair values follow the usual defaults"
    )
    report.add("ND417", "info", msg, path=str(log))
    return ev


def _analyze(log: Path) -> dict[str, Any]:
    from nandoctor.logs.engine import analyze_log  # loaded only when a log is read

    return analyze_log(Path(log)).summary
