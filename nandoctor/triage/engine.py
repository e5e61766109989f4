"""`nandoctor triage RUN_DIR`: run every engine on a run folder and link their answers.

The links are the point: the log dates the first non-finite epoch/step, which decides which
checkpoints to distrust (even clean-looking ones) and which one to resume from; the log also
informs the repaired config. Engines keep their own finding codes; ND5xx findings hold the
conclusions only the combination can reach.
"""

from __future__ import annotations

import importlib
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from nandoctor.ckpt.verdict import CheckpointScan, CheckpointVerdict
from nandoctor.config.repair import ConfigRepair
from nandoctor.findings import Finding, NandoctorError, Report, Severity
from nandoctor.logs.verdict import LogVerdict, Point
from nandoctor.triage.discover import RunLayout, discover
from nandoctor.triage.link import (
    BAD,
    DIVERGING,
    Checkpoint,
    Timeline,
    choose,
    first_logged_epoch,
    group_units,
    index_of,
    lightning_epochs,
    place,
    ultralytics_ending,
)

ENGINES = {  # command name -> (module, function)
    "analyze-log": ("nandoctor.logs.engine", "analyze_log"),
    "inspect-ckpt": ("nandoctor.ckpt.engine", "inspect_ckpt"),
    "diagnose-config": ("nandoctor.config.engine", "diagnose_config"),
    "check-data": ("nandoctor.data.engine", "check_data"),
}


class _Engines:
    """Call engines by name, fold their findings into one report, never let one failure stop triage."""

    def __init__(self, report: Report, strict: bool):
        self.report, self.strict = report, strict
        self.runs: dict[str, list[dict[str, Any]]] = {}
        self.failures: dict[Path, Finding] = {}  # the ND504 of each primary input that could not be analysed

    def _function(self, name: str) -> Callable[..., Report] | None:
        module, func = ENGINES[name]
        try:
            return getattr(importlib.import_module(module), func)
        except ImportError as exc:
            if self.strict:
                raise
            self.report.add(
                "ND506",
                "info",
                f"{name} is not available in this installation ({exc}); that part of the diagnosis was skipped",
            )
            return None

    def skip(self, name: str, path: Path, why: str) -> None:
        self.runs.setdefault(name, []).append({"path": str(path), "status": "skipped", "reason": why})

    def call(self, name: str, path: Path, *, primary: bool = True, **kw: Any) -> Report | None:
        record: dict[str, Any] = {"path": str(path), "status": "ran"}
        self.runs.setdefault(name, []).append(record)
        function = self._function(name)
        if function is None:
            record["status"] = "unavailable"
            return None
        try:
            sub = function(path, **kw)
        except NandoctorError as exc:
            reason = str(exc)
        except (KeyboardInterrupt, MemoryError):
            raise
        except Exception as exc:  # a bug in one engine must not hide what the others found
            if self.strict:
                raise
            reason = (
                f"internal error in nandoctor, please report: {type(exc).__name__}: {str(exc)[:300]} "
                f"(rerun `nandoctor {name} {path} --debug` for the traceback)"
            )
        else:
            self.report.findings.extend(sub.findings)
            record.update(findings=len(sub.findings), summary=sub.summary)
            return sub
        record.update(status="failed", reason=reason)
        if primary:
            self.failures[path] = self.report.add(
                "ND504", "warning", f"{name} could not analyse {path}: {reason}", path=str(path)
            )
        else:
            self.report.add("ND503", "info", f"{path} skipped: {reason}", path=str(path))
        return None

    def only_one_failed(self, path: Path, consequence: str) -> None:
        """The run's only log or only config could not be analysed: an error, not a warning, since
        what triage concludes without it (which checkpoint, which settings) may be confidently wrong."""
        finding = self.failures.get(path)
        if finding is not None:
            finding.severity = Severity.ERROR
            finding.message += f"; {consequence}"

    def judged_nothing(self) -> str | None:
        """Why nothing in the run could be judged (every input failed or was skipped), else None."""
        records = [r for runs in self.runs.values() for r in runs]
        if any(r["status"] == "ran" for r in records):
            return None
        return "; ".join(" ".join(str(r.get("reason") or r["status"]).split()) for r in records) or "nothing was read"


def triage(run_dir: Path, *, no_data: bool = False, force: bool = False, strict: bool = False) -> Report:
    """Diagnose a run folder; `strict` (from --debug) lets engine exceptions propagate."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise NandoctorError(
            f"{run_dir} is not a folder; triage takes a run folder "
            "(for one file use inspect-ckpt, analyze-log, diagnose-config or check-data)"
        )
    layout = discover(run_dir)
    if layout.is_empty():
        runs = [p.name for p in _child_runs(run_dir)]
        if runs:
            raise NandoctorError(
                f"{run_dir} holds several runs; triage one of them: "
                + ", ".join(str(run_dir / r) for r in runs[:5])
                + (" ..." if len(runs) > 5 else "")
            )
        raise NandoctorError(
            f"{run_dir}: found no log, checkpoint or config to triage (looked for args.yaml, "
            "results.csv, weights/, checkpoint-*/, lightning_logs/, training_history.csv, "
            "*.pt, *.ckpt, *.safetensors, *.yaml)"
        )

    report = Report(command="triage")
    engines = _Engines(report, strict)
    for message, path in layout.notes:
        report.add("ND503", "info", message, path=str(path) if path else None)

    timeline, log_summary = _read_log(engines, layout)
    checkpoints = _place_checkpoints(engines, layout, timeline)
    finished = ultralytics_ending(report, layout, timeline, checkpoints) if layout.framework == "ultralytics" else None
    chosen = choose(report, checkpoints, timeline)
    if chosen.get("recommended"):
        for f in report.findings:  # name the way out, as the design's example fix does
            if f.code == "ND501":
                f.fix = f"Resume from {chosen['recommended']} instead; see `nandoctor explain ND501`."
    fixed = _repair_config(engines, layout, force, log=log_summary)
    if fixed is not None and fixed.written and fixed.status == "written":
        from nandoctor.triage.fixed import make_safe_to_paste

        make_safe_to_paste(Path(fixed.written), layout, chosen.get("recommended") or chosen.get("restart_weights"))
    if layout.dataset is not None:
        if no_data:
            engines.skip("check-data", layout.dataset, "--no-data")
        else:
            engines.call("check-data", layout.dataset)
    why = engines.judged_nothing()
    if why is not None:  # a report of infos alone would read as "nothing wrong"
        raise NandoctorError(f"{run_dir}: nothing in the run could be analysed: {why}")

    whole = timeline.whole
    report.summary = {
        "run_dir": str(run_dir),
        "framework": layout.framework,
        "pattern": whole.pattern if whole else None,
        "index_name": timeline.index_name,
        "checkpoint_axis": timeline.axis,
        "first_nonfinite": _point(whole.first_nonfinite if whole else None),
        "latest_segment": _segment(timeline),
        "nonfinite_columns": list(timeline.judged.nonfinite_columns) if timeline.judged else [],
        "diverged_at": timeline.diverged_at,
        "finished": finished,
        "last_healthy": _point(whole.last_healthy if whole else None),
        "recommended": chosen.get("recommended"),
        "restart_weights": chosen.get("restart_weights"),
        "distrusted": [c.path for c in checkpoints if c.verdict in ("after-nonfinite", "after-divergence", *BAD)],
        "checkpoints": [asdict(c) for c in checkpoints],
        "fixed_config": fixed.path if fixed else None,
        "fixed_config_status": fixed.status if fixed else None,
        "discovered": layout.to_dict(),
        "engines": engines.runs,
    }
    from nandoctor.triage.steps import next_steps

    report.next_steps = next_steps(report, layout)
    report.summary["next_steps"] = list(report.next_steps)
    return report


def _point(p: Point | None) -> dict[str, Any] | None:
    return p.to_dict() if p is not None else None


def _segment(timeline: Timeline) -> dict[str, Any] | None:
    """The latest segment of a resumed log, as the JSON summary shows it (null when not split)."""
    s = timeline.judged
    if timeline.segment_end is None or s is None:
        return None
    return {
        "pattern": s.pattern,
        "first_nonfinite": _point(s.first_nonfinite),
        "last_healthy": _point(s.last_healthy),
        "segment_end": timeline.segment_end,
    }


def _child_runs(folder: Path) -> list[Path]:
    """Sub-folders that are runs themselves (runs/detect/ holding train, train2, ...)."""
    from nandoctor.triage.discover import _entries, _is_dir

    return [Path(e.path) for e in _entries(folder)[:1000] if _is_dir(e) and not discover(Path(e.path)).is_empty()]


# --- the log: when did it break -----------------------------------------------------------------


def _read_log(engines: _Engines, layout: RunLayout) -> tuple[Timeline, dict[str, Any] | None]:
    """The log's timeline, and analyze-log's summary of it (diagnose-config reuses it instead of
    reading the log again); None when there is no log or it could not be analysed."""
    if layout.log is None:
        return Timeline(), None
    sub = engines.call("analyze-log", layout.log)
    if sub is None:
        short = _rows_of_a_short_log(layout)
        if short is None:
            engines.only_one_failed(
                layout.log, "the NaN could not be dated, so no checkpoint could be placed before or after it"
            )
        return short or Timeline(), None
    whole = judged = LogVerdict.of(sub)
    timeline = Timeline(whole=whole)
    segment = _latest_segment(engines, layout, whole)
    if segment is not None:  # checkpoints are judged on the latest segment; the report keeps the file's verdict
        judged, timeline.segment_end = segment
        timeline.superseded_nan = index_of(whole.first_nonfinite)
    timeline.judged, timeline.index_name, timeline.rows = judged, judged.index_name, judged.rows
    timeline.nan_at = index_of(judged.first_nonfinite)
    timeline.healthy_to = index_of(judged.last_healthy)
    timeline.axis = judged.index_name or "epoch"
    # analyze-log's verdict is the only one: which columns went non-finite, and where a named
    # divergence began (checkpoints after that onset hold weights from diverging training)
    if judged.pattern in DIVERGING:
        timeline.diverged_at = index_of(judged.onset)
    timeline.base = _epoch_base(layout)
    if layout.framework == "lightning" and (timeline.nan_at is not None or timeline.diverged_at is not None):
        lightning_epochs(timeline, layout.log)
    return timeline, sub.summary


def _epoch_base(layout: RunLayout) -> int:
    """The epoch results.csv counts from (0 for YOLOv5/8.0, else 1); 1 for every other framework."""
    base = first_logged_epoch(layout.log) if layout.framework == "ultralytics" and layout.log else None
    return 1 if base is None else min(max(base, 0), 1)


def _rows_of_a_short_log(layout: RunLayout) -> Timeline | None:
    """analyze-log gives no verdict on a curve under 3 points, yet an Ultralytics run that stopped
    after 2 rows still tells triage how far it got (its ND507 ending). Only a log that reads and
    holds no non-finite cell counts: then 'nothing non-finite was logged' is known, not guessed."""
    if layout.framework != "ultralytics" or layout.log is None:
        return None
    from nandoctor.logs import evidence
    from nandoctor.logs.readers import read_log

    try:
        if layout.log.stat().st_size > _MAX_SEGMENT_LOG:
            return None
        table = read_log(layout.log, None)
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception:  # unreadable as a log: triage knows nothing about the run's progress
        return None
    if table.total_rows < 1 or evidence.nonfinite_columns(table) or evidence.missing_cells(table):
        return None
    return Timeline(
        rows=int(table.total_rows),
        index_name=table.index_name,
        axis=table.index_name or "epoch",
        base=_epoch_base(layout),
    )


_MAX_SEGMENT_LOG = 64 * 1024 * 1024  # results.csv is a few KB; a resume split of a huge file is not attempted


def _latest_segment(engines: _Engines, layout: RunLayout, whole: LogVerdict) -> tuple[LogVerdict, int] | None:
    """A resumed Ultralytics run: results.csv holds the old segment's rows, then the resumed ones
    (analyze-log's ND314 dates where the time column restarted). When the first non-finite row
    lies in a superseded segment, analyze-log judges the latest segment on its own, since it is
    what the rewritten epochN.pt came from; the whole-log findings stay as analyze-log gave them.
    Returns that segment's verdict and its last epoch."""
    import csv
    import tempfile

    first = whole.first_nonfinite
    if layout.framework != "ultralytics" or layout.log is None or first is None or not whole.resumes:
        return None
    resume = whole.resumes[-1]
    if not first.row < resume.row:
        return None
    try:
        if layout.log.stat().st_size > _MAX_SEGMENT_LOG:
            return None
        with layout.log.open(newline="", encoding="utf-8", errors="replace") as fh:
            rows = list(csv.reader(fh))
    except (OSError, csv.Error):
        return None
    header, data = rows[0] if rows else [], rows[1:]
    start = resume.row
    names = [h.strip() for h in header]
    column = names.index("epoch") if "epoch" in names else None
    try:  # the row ids must be data rows of this file, or nothing is split
        if column is None or int(float(data[start][column])) != index_of(resume):
            return None
    except (IndexError, ValueError, OverflowError):
        return None
    from nandoctor.logs.engine import analyze_log

    with tempfile.TemporaryDirectory(prefix="nandoctor-") as tmp:
        part = Path(tmp) / "results.csv"
        with part.open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows([header, *data[start:]])
        try:
            latest = LogVerdict.of(analyze_log(part))
        except (KeyboardInterrupt, MemoryError):
            raise
        except Exception:  # the latest segment cannot be judged alone (too few rows): keep the whole log
            return None
    try:
        segment_end = int(float(data[-1][column]))
    except (IndexError, ValueError, OverflowError):
        return None
    verdict = (
        f"non-finite at epoch {index_of(latest.first_nonfinite)}"
        if latest.first_nonfinite
        else f"pattern {latest.pattern}"
    )
    engines.report.add(
        "ND508",
        "info",
        f"results.csv was resumed at epoch {resume.index} (the time column "
        f"restarts): the non-finite epoch {first.index} is in the segment the resume "
        f"replaced; checkpoints are judged against the latest segment (analyze-log: {verdict})",
        path=str(layout.log),
        where=f"epoch {resume.index}",
        data={"resumed_at": resume.to_dict(), "superseded_nonfinite": first.to_dict()},
    )
    return latest, segment_end


# --- the checkpoints: which ones to trust -------------------------------------------------------


def _place_checkpoints(engines: _Engines, layout: RunLayout, timeline: Timeline) -> list[Checkpoint]:
    entries: list[CheckpointVerdict] = []
    optimizers: list[Path] = []
    for path in layout.checkpoints:
        sub = engines.call("inspect-ckpt", path)
        if sub is not None:
            scan = CheckpointScan.of(sub)
            entries += scan.checkpoints
            optimizers += [Path(o) for o in scan.optimizers]
    units = group_units(entries, layout.units, optimizers)
    final_step = _final_model_step(layout)
    for c in units:
        if final_step is not None and c.step is None and Path(c.path).parent == layout.root:
            c.step = final_step  # trainer.save_model() after train(): the state at the last global_step
        c.log_index = place(c, layout, timeline)
    return sorted(units, key=lambda c: (c.log_index is None, c.log_index or 0, c.path))


def _final_model_step(layout: RunLayout) -> int | None:
    """global_step of the top-level trainer_state.json that trainer.save_state() wrote beside the final
    model. With load_best_model_at_end the final weights are older than that, so dating them at the
    last step only ever distrusts them more, never less."""
    import json

    state = layout.root / "trainer_state.json"
    if layout.framework != "hf" or layout.units == [layout.root] or not state.is_file():
        return None
    try:
        if state.stat().st_size > 64 * 1024 * 1024:
            return None
        step = json.loads(state.read_text(encoding="utf-8", errors="replace")).get("global_step")
    except (OSError, ValueError, AttributeError, RecursionError):
        return None
    return step if isinstance(step, int) and not isinstance(step, bool) and step >= 0 else None


# --- the config: repaired with the log's diagnosis ---------------------------------------------


def _repair_config(
    engines: _Engines, layout: RunLayout, force: bool, *, log: dict[str, Any] | None
) -> ConfigRepair | None:
    """`log`: analyze-log's summary of layout.log, None when there is none or it could not be read.
    The first config repaired (written, or kept from an earlier triage) is the one returned."""
    if layout.config is None and layout.training_args is not None:
        return _repair_training_args(engines, layout, force, log=log)
    result: ConfigRepair | None = None
    judged = False
    primary = layout.framework == "ultralytics" or "train" in (layout.config.name.lower() if layout.config else "")
    for i, config in enumerate([layout.config, *layout.other_configs] if layout.config else []):
        # the output is named from the path as found, so a symlinked config never leads us to write
        # beside its target, outside the run folder
        output = config.with_name(f"{config.stem}_fixed.yaml") if config.suffix in (".yaml", ".yml") else None
        sub = engines.call(
            "diagnose-config",
            config,
            primary=primary and i == 0,
            output=output,
            log=layout.log if log is not None else None,
            log_summary=log,
            force=force,
            keep_existing=not force,
        )
        judged = judged or sub is not None
        if sub is None or result is not None:
            continue
        repair = ConfigRepair.of(sub)
        result = repair if repair.path else None
    if layout.config is not None and not judged:
        engines.only_one_failed(layout.config, "its settings were not checked and no repaired config was written")
    return result


def _scalar_training_args(path: Path) -> dict[str, Any]:
    """TrainingArguments' plain fields from training_args.bin, read and judged by inspect-ckpt's reader
    (the one pickle policy: imports nothing, runs nothing); raises when it is unsafe or unreadable."""
    from nandoctor.ckpt.readers import read_any
    from nandoctor.ckpt.unpickle import Stub

    obj = read_any(path).obj
    fields = obj.fields if isinstance(obj, Stub) else obj if isinstance(obj, dict) else {}
    return {
        str(k): v
        for k, v in fields.items()
        if isinstance(k, str)
        and not k.startswith("_")
        and k not in _NOT_ARGUMENTS
        and (v is None or isinstance(v, (bool, int, float, str)))
    }


# attributes TrainingArguments.__post_init__ sets on itself: pickled with the object, but
# TrainingArguments(**fields) refuses them, so the repaired YAML must not carry them
_NOT_ARGUMENTS = frozenset(
    {"mixed_precision", "deepspeed_plugin", "fsdp_plugin_args", "distributed_state", "hf_deepspeed_config"}
)


def _repair_training_args(
    engines: _Engines, layout: RunLayout, force: bool, *, log: dict[str, Any] | None
) -> ConfigRepair | None:
    """An HF run without a YAML config: diagnose the TrainingArguments saved in training_args.bin and
    write the repaired ones as training_args_fixed.yaml (HfArgumentParser.parse_yaml_file reads it)."""
    import tempfile

    import yaml

    binary = layout.training_args
    if binary is None:
        return None
    try:
        fields = _scalar_training_args(binary)
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception:  # unsafe, truncated or not a torch zip: inspect-ckpt says which, precisely
        engines.call("inspect-ckpt", binary)
        return None
    if not fields:
        return None
    with tempfile.TemporaryDirectory(prefix="nandoctor-") as tmp:
        source = Path(tmp) / "training_args.yaml"
        source.write_text(yaml.safe_dump(fields, sort_keys=False))
        sub = engines.call(
            "diagnose-config",
            source,
            output=layout.root / "training_args_fixed.yaml",
            log=layout.log if log is not None else None,
            log_summary=log,
            force=force,
            keep_existing=not force,
        )
    engines.runs["diagnose-config"][-1]["path"] = str(binary)
    for f in engines.report.findings:  # point at the file the user has, not our temporary YAML
        if f.path == str(source):
            f.path, f.line, f.message = str(binary), None, f.message.replace(str(source), str(binary))
    if sub is None:
        engines.only_one_failed(source, "its settings were not checked and no repaired config was written")
        return None
    repair = ConfigRepair.of(sub)
    return repair if repair.path else None
