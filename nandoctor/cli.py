"""The Typer app: parse options, call one engine, render its Report, exit. No logic lives here.

Heavy libraries (torch, pandas) are imported inside the engines, never at the top of this module,
so `--help`, `--version` and `explain` start in a fraction of a second.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Callable, Optional

import typer

from nandoctor import __version__
from nandoctor.findings import NandoctorError, Report

app = typer.Typer(
    name="nandoctor",
    help="Find out why your training run printed loss=nan: data, checkpoints, loss curve, config.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class Format(str, Enum):
    text = "text"
    json = "json"


class FailOn(str, Enum):
    error = "error"
    warning = "warning"
    info = "info"
    never = "never"


FORMAT = typer.Option(Format.text, "--format", "-f", help="text (default) or json (stdout only).")
FAIL_ON = typer.Option(FailOn.error, "--fail-on", help="Exit 1 when a finding reaches this severity.")
DEBUG = typer.Option(False, "--debug", help="Show a traceback when the command fails.")
TRUST = typer.Option(None, "--trust", help="A pickled class or module you trust (e.g. mypkg.Model); repeatable.")


def trusting(names: Optional[list[str]], engine: Callable[[], Report]) -> Callable[[], Report]:
    """The engine run with those pickle globals counted as safe (never those that can run code)."""
    def call() -> Report:
        from nandoctor.pickle_policy import trusting as policy_trusting

        with policy_trusting(names):
            return engine()
    return call


def fail(message: str) -> None:
    """Exit 2 with one line on stderr: the contract for 'could not do its job'."""
    sys.stderr.write(f"nandoctor: error: {message}\n")
    raise typer.Exit(2)


def run(engine: Callable[[], Report], fmt: Format, fail_on: FailOn, debug: bool) -> None:
    """Call an engine, render its Report, exit 0/1/2 by the contract."""
    try:
        report = engine()
    except NandoctorError as exc:
        if debug:
            raise
        fail(str(exc))
    except KeyboardInterrupt:
        sys.stderr.write("nandoctor: interrupted\n")
        raise typer.Exit(130)
    except OSError as exc:  # permission denied, I/O error: the input's fault, not a bug (issue 8)
        if debug:
            raise
        fail(f"{exc.filename or 'input'}: {exc.strerror or exc}")
    except Exception as exc:  # never a traceback for the user; --debug shows it
        if debug:
            raise
        fail(f"unexpected {type(exc).__name__}: {exc} (rerun with --debug and report this)")
    render_and_exit(report, fmt, fail_on)


def render_and_exit(report: Report, fmt: Format, fail_on: FailOn) -> None:
    from nandoctor.render import render

    render(report, fmt.value)
    raise typer.Exit(report.exit_code(fail_on.value))


def existing(path: Path) -> Path:
    if not path.exists() and not path.is_symlink():
        raise NandoctorError(f"{path}: no such file or directory")
    return path


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nandoctor {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Find out why your training run printed loss=nan."""


@app.command()
def explain(code: Optional[str] = typer.Argument(None, help="A rule code such as ND201; omit to list all.")) -> None:
    """Explain a finding code: why it leads to NaN/Inf and how to fix it."""
    from nandoctor.explain import explain_code, list_codes

    if code is None:
        list_codes()
        return
    try:
        explain_code(code)
    except KeyError:
        fail(f"unknown rule code {code!r}; run `nandoctor explain` to list them")


@app.command()
def demo(
    directory: Path = typer.Argument(..., help="Where to write the broken demo run."),
    force: bool = typer.Option(False, "--force", help="Write into a non-empty directory."),
    debug: bool = DEBUG,
) -> None:
    """Write a realistic broken training run (dataset, checkpoints, results.csv, args.yaml) to try every command on."""
    from nandoctor.demo import write_demo

    try:
        steps = write_demo(directory, force=force)
    except NandoctorError as exc:
        if debug:
            raise
        fail(str(exc))
    sys.stdout.write(f"Wrote a broken Ultralytics-style training run to {directory}\nTry next:\n")
    for step in steps:
        sys.stdout.write(f"  {step}\n")


# --- engine commands: each engine registers its command below its own marker -------------------

# check-data (issue 3)
@app.command("check-data")
def check_data_cmd(
    path: Path = typer.Argument(
        ..., help="Dataset folder, data.yaml, labels folder, label/JSONL/CSV file, or tensor file."),
    num_classes: Optional[int] = typer.Option(None, "--num-classes", help="Class count (overrides data.yaml)."),
    config: Optional[Path] = typer.Option(
        None, "--config", help="Multi-dataset config holding datasets.dataset_configs."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Dataset NAME in --config (its num_classes)."),
    task: Optional[str] = typer.Option(None, "--task", help="detect, segment, pose or obb (default: inferred)."),
    images: Optional[bool] = typer.Option(
        None, "--images/--no-images", help="Pair and check images (default: on for folders)."),
    label_key: str = typer.Option("label", "--label-key", help="JSONL/CSV label field."),
    ignore_index: Optional[list[int]] = typer.Option(
        None, "--ignore-index", help="Allowed ignore label, e.g. -100 (repeatable)."),
    vocab_size: Optional[int] = typer.Option(None, "--vocab-size", help="Integer tensors: ids must stay below this."),
    trust: Optional[list[str]] = TRUST,
    fmt: Format = FORMAT,
    fail_on: FailOn = FAIL_ON,
    debug: bool = DEBUG,
) -> None:
    """Find poisoned labels (class range, NaN, coordinates, zero area, pairing) and non-finite tensors."""
    from nandoctor.data.engine import check_data

    run(trusting(trust, lambda: check_data(existing(path), num_classes=num_classes, config=config, dataset=dataset,
                                           task=task, images=images, label_key=label_key, ignore_index=ignore_index,
                                           vocab_size=vocab_size)), fmt, fail_on, debug)


# inspect-ckpt (issue 4)
@app.command("inspect-ckpt")
def inspect_ckpt_cmd(
    path: Path = typer.Argument(..., help="A checkpoint file, a sharded/DCP model folder, or a folder of checkpoints."),
    stats: bool = typer.Option(False, "--stats", help="Add a per-tensor table (dtype, shape, min, max, mean, std, ...)."),
    trust: Optional[list[str]] = TRUST,
    fmt: Format = FORMAT,
    fail_on: FailOn = FAIL_ON,
    debug: bool = DEBUG,
) -> None:
    """Which checkpoint is still clean, and what exactly is broken in the others (never runs pickled code)."""
    from nandoctor.ckpt.engine import inspect_ckpt

    run(trusting(trust, lambda: inspect_ckpt(existing(path), stats=stats)), fmt, fail_on, debug)


# analyze-log (issue 5)
@app.command("analyze-log")
def analyze_log_cmd(
    path: Path = typer.Argument(..., help="A log: results.csv, trainer_state.json, metrics.csv, any CSV, "
                                          "TensorBoard events, a console log, or a run folder holding one."),
    metric: Optional[str] = typer.Option(None, "--metric", help="Column to classify (default: the training loss; "
                                                                "Ultralytics: the sum of train/*_loss)."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Also write a PNG of the curve (needs matplotlib)."),
    force: bool = typer.Option(False, "--force", help="Overwrite the --plot file if it exists."),
    watch: bool = typer.Option(False, "--watch", help="Follow a log still being written; exit 1 at the first "
                                                      "non-finite loss or early-warning signal."),
    interval: float = typer.Option(2.0, "--interval", min=0.05, help="--watch: seconds between polls."),
    timeout: float = typer.Option(3600.0, "--timeout", min=0.0, help="--watch: stop after this many seconds."),
    fmt: Format = FORMAT,
    fail_on: FailOn = FAIL_ON,
    debug: bool = DEBUG,
) -> None:
    """Name the loss curve's shape, date the break (first non-finite, last healthy), say what it implies."""
    if watch:
        from nandoctor.logs.watch import watch_log

        def emit(line: str) -> None:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

        run(lambda: watch_log(existing(path), metric=metric, interval=interval, timeout=timeout, emit=emit),
            fmt, fail_on, debug)
        return
    from nandoctor.logs.engine import analyze_log

    run(lambda: analyze_log(existing(path), metric=metric, plot=plot, force=force), fmt, fail_on, debug)


# diagnose-config (issue 6)
@app.command("diagnose-config")
def diagnose_config_cmd(
    cfg: Path = typer.Argument(..., help="Training config: Ultralytics args.yaml, HF TrainingArguments YAML, "
                               "accelerate or DeepSpeed config (YAML/JSON), Lightning config, or your own YAML."),
    log: Optional[Path] = typer.Option(None, "--log", help="Training log (results.csv, trainer_state.json, ...) "
                                       "whose diagnosis picks the LR, clip value and precision."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Where to write the repaired config "
                                          "(default: <name>_fixed.yaml beside CFG)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the diff; write nothing."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing repaired file."),
    fmt: Format = FORMAT,
    fail_on: FailOn = FAIL_ON,
    debug: bool = DEBUG,
) -> None:
    """Find the settings that make training fragile and write a repaired <name>_fixed.yaml."""
    from nandoctor.config.engine import diagnose_config

    run(lambda: diagnose_config(existing(cfg), log=existing(log) if log else None, output=output,
                                dry_run=dry_run, force=force), fmt, fail_on, debug)


# triage (issue 7)
@app.command()
def triage(
    run_dir: Path = typer.Argument(..., help="A training run folder (Ultralytics, HF Trainer, Lightning or generic)."),
    no_data: bool = typer.Option(False, "--no-data", help="Do not scan the dataset named by the run's config."),
    force: bool = typer.Option(False, "--force", help="Replace an existing <config>_fixed.yaml."),
    trust: Optional[list[str]] = TRUST,
    fmt: Format = FORMAT,
    fail_on: FailOn = FAIL_ON,
    debug: bool = DEBUG,
) -> None:
    """Run every check on a run folder and link them: when it broke, which checkpoint to trust, the fixed config."""
    from nandoctor.triage import triage as triage_run

    run(trusting(trust, lambda: triage_run(existing(run_dir), no_data=no_data, force=force, strict=debug)),
        fmt, fail_on, debug)


def main() -> None:
    app()
