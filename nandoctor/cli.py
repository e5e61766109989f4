"""The Typer app: parse options, call one engine per input, render the Report, exit. No logic lives here.

Heavy libraries (torch, pandas) are imported inside the engines, never at the top of this module,
so `--help`, `--version` and `explain` start in a fraction of a second.

Exit codes, one rule for every command (the README's table; tests/test_contract.py checks it):
0 nothing reached --fail-on, 1 findings at --fail-on, 2 the command could not do its job (missing
path, wrong kind of file, unreadable input, bad option, an internal error), 3 `--watch` reached
--timeout without an alarm, 130 interrupted. A closed stdout (`| head`) changes nothing.
"""

from __future__ import annotations

import functools
import glob
import os
import sys
import warnings
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterator, List, Optional, Sequence

import typer

from nandoctor import __version__
from nandoctor.findings import NandoctorError, Report

EXIT_TIMEOUT = 3
EXIT_INTERRUPTED = 130

app = typer.Typer(
    name="nandoctor",
    help="Find out why your training run printed loss=nan: data, checkpoints, loss curve, config.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Format(str, Enum):
    text = "text"
    concise = "concise"
    json = "json"
    github = "github"


class DocFormat(str, Enum):
    text = "text"
    json = "json"


class FailOn(str, Enum):
    error = "error"
    warning = "warning"
    info = "info"
    never = "never"


class Color(str, Enum):
    auto = "auto"
    always = "always"
    never = "never"


FORMAT = typer.Option(
    Format.text,
    "--output-format",
    "--format",
    "-f",
    help="text (default), concise (path:line: CODE severity message), json, or github (workflow annotations).",
)
DOC_FORMAT = typer.Option(DocFormat.text, "--output-format", "--format", "-f", help="text (default) or json.")
FAIL_ON = typer.Option(FailOn.error, "--fail-on", help="Exit 1 when a finding reaches this severity.")
DEBUG = typer.Option(False, "--debug", help="Show a traceback when the command fails.")
COLOR = typer.Option(Color.auto, "--color", help="auto (a terminal, honouring NO_COLOR), always or never.")
STATISTICS = typer.Option(False, "--statistics", help="Count findings per code instead of listing them.")
QUIET = typer.Option(False, "--quiet", "-q", help="Print the findings only.")

# Exceptions a malformed input makes a parser raise: the user's file, not a bug (exit 2, the reason).
KNOWN_PARSE_ERRORS = {
    "UnicodeDecodeError": "not valid UTF-8 text",
    "JSONDecodeError": "not valid JSON",
    "YAMLError": "not valid YAML",
    "BadZipFile": "not a valid zip archive",
    "UnpicklingError": "not a readable pickle",
    "ParserError": "could not be parsed as a table",
    "EmptyDataError": "holds no data",
    "RecursionError": "nested too deeply to read",
    "MemoryError": "too large to read in the memory available",
}
TRUST = typer.Option(None, "--trust", help="A pickled class or module you trust (e.g. mypkg.Model); repeatable.")


def trusting(names: Optional[list[str]], engine: Callable[[], Report]) -> Callable[[], Report]:
    """The engine run with those pickle globals counted as safe (never those that can run code)."""

    def call() -> Report:
        from nandoctor.pickle_policy import trusting as policy_trusting

        with policy_trusting(names):
            return engine()

    return call


def fail(message: str, code: int = 2) -> None:
    """Exit 2 with one line on stderr: the contract for 'could not do its job'."""
    from nandoctor.inert import inert

    sys.stderr.write(f"nandoctor: error: {inert(message)}\n")
    sys.stderr.flush()
    raise typer.Exit(code)


def _configure(fmt=None, color=None, statistics=None, quiet=None) -> None:
    from nandoctor.render import configure

    configure(fmt=fmt, color=color, statistics=statistics, quiet=quiet)


def _known_parse_error(exc: BaseException) -> str | None:
    for cls in type(exc).__mro__:
        if cls.__name__ in KNOWN_PARSE_ERRORS:
            return KNOWN_PARSE_ERRORS[cls.__name__]
    return None


def _map_error(exc: BaseException, label: str | None, debug: bool) -> None:
    """Turn an exception from an engine (or the renderer) into the one-line exit-2 contract."""
    import traceback

    if debug:
        traceback.print_exc()
    where = f"{label}: " if label else ""
    if isinstance(exc, NandoctorError):
        fail(str(exc))
    if isinstance(exc, OSError):  # permission denied, I/O error: the input's fault, not a bug
        fail(f"{exc.filename or label or 'input'}: {exc.strerror or exc}")
    reason = _known_parse_error(exc)
    if reason:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        fail(f"{where}{reason} ({detail[:200]})")
    fail(
        f"internal error in nandoctor, please report: {type(exc).__name__}: {str(exc)[:300]}"
        + ("" if debug else " (rerun with --debug for the traceback)")
    )


def _wrong_kind(label: str | None, report: Report) -> str | None:
    """Why the one file given is not of the kind the command reads (the engine marked its finding
    `wrong_kind`), or None. A folder's wrong-kind files stay findings: the rest is still judged."""
    if label is None or label == "-" or os.path.isdir(label):
        return None
    for f in report.findings:
        if f.wrong_kind and f.path is not None and os.path.abspath(f.path) == os.path.abspath(label):
            return f.message
    return None


@contextmanager
def _warnings_hidden(debug: bool) -> Iterator[None]:
    """torch's and numpy's warnings (a deprecation, an overflow the report already names) are not the
    user's business: stderr carries nandoctor's own lines only. --debug lets them through."""
    with warnings.catch_warnings():
        if not debug:
            warnings.simplefilter("ignore")
        yield


def _closed_stdout() -> None:
    """Stdout went away (`| head`): stop writing without an error; the verdict's exit code stands."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def run(
    engine: Callable[[], Report] | Sequence[tuple[str | None, Callable[[], Report]]],
    fmt: Format,
    fail_on: FailOn,
    debug: bool,
    *,
    color: Color = Color.auto,
    statistics: bool = False,
    quiet: bool = False,
    command: str | None = None,
) -> None:
    """Call the engine once per input, merge into one Report, render it, exit by the contract."""
    from nandoctor.render import render

    _configure(fmt, color, statistics, quiet)
    calls: list[tuple[str | None, Callable[[], Report]]] = [(None, engine)] if callable(engine) else list(engine)
    label = None
    with _warnings_hidden(debug):
        try:
            parts: list[tuple[str | None, Report]] = []
            for label, call in calls:
                report = call()
                reason = _wrong_kind(label, report) if len(calls) == 1 else None  # among several: a finding
                if reason is not None:
                    fail(f"{label}: {reason}")
                parts.append((label, report))
            label = None
            report = parts[0][1] if len(parts) == 1 else merge(command or parts[0][1].command, parts)
            code = report.exit_code(fail_on.value)
            if (
                report.summary.get("watch", {}).get("stopped") == "timeout"
                and fail_on is not FailOn.never
                and code == 0
            ):
                code = EXIT_TIMEOUT
            try:
                render(report, fmt.value)
                sys.stdout.flush()
            except BrokenPipeError:
                _closed_stdout()
        except typer.Exit:
            raise
        except KeyboardInterrupt:
            sys.stderr.write("nandoctor: interrupted\n")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:  # never a traceback for the user; --debug shows it
            _map_error(exc, label, debug)
    raise typer.Exit(code)


def merge(command: str, parts: list[tuple[str | None, Report]]) -> Report:
    """Several inputs, one report: every finding, each input's summary under `summary.inputs`."""
    merged = Report(command=command)
    hidden: dict[str, int] = {}
    for label, r in parts:
        merged.findings.extend(r.findings)
        merged.summary.setdefault("inputs", []).append({"path": label, "summary": r.summary})
        for code, n in (r.summary.get("findings_not_listed") or {}).items():
            hidden[code] = hidden.get(code, 0) + n
        merged.next_steps += [s for s in r.next_steps if s not in merged.next_steps]
        merged.alarm = merged.alarm or r.alarm
    if hidden:
        merged.summary["findings_not_listed"] = hidden
    merged.parts = [r for _, r in parts]
    return merged


def existing(path: Path) -> Path:
    if not path.exists() and not path.is_symlink():
        raise NandoctorError(f"{path}: no such file or directory")
    return path


def expand(paths: Sequence[Path], stdin: bool = False) -> list[Path]:
    """The inputs as given, with quoted globs (`'runs/*/results.csv'`) expanded; every one must exist.
    `-` (stdin) is passed through where the command reads it."""
    out: list[Path] = []
    for p in paths:
        text = str(p)
        if text == "-":
            if not stdin:
                raise NandoctorError("this command cannot read stdin (`-`); give it a path")
            out.append(p)
        elif not p.exists() and not p.is_symlink() and glob.has_magic(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise NandoctorError(f"{text}: no file matches this pattern")
            out += [Path(m) for m in matches]
        else:
            out.append(existing(p))
    return list(dict.fromkeys(out))


def _calls(paths: list[Path], make: Callable[[Path], Report]) -> list[tuple[str, Callable[[], Report]]]:
    return [(str(p), functools.partial(make, p)) for p in paths]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nandoctor {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Find out why your training run printed loss=nan."""


def _doc_json(command: str, summary) -> None:
    from nandoctor.render import envelope

    sys.stdout.write(envelope(command, [], summary) + "\n")


@app.command()
def explain(
    code: Optional[str] = typer.Argument(None, help="A rule code such as ND201; omit to list all."),
    fmt: DocFormat = DOC_FORMAT,
    color: Color = COLOR,
) -> None:
    """Explain a finding code: why it leads to NaN/Inf and how to fix it (no code: list them all)."""
    from dataclasses import asdict

    from nandoctor.catalogue import catalogue, get_rule
    from nandoctor.explain import explain_code, list_codes

    _configure(color=color)
    try:
        rule = None if code is None else get_rule(code)
    except KeyError:
        fail(f"unknown rule code {code!r}; run `nandoctor explain` to list them")
    try:
        if fmt is DocFormat.json:
            _doc_json("explain", {"rules": [asdict(r) for r in (catalogue().values() if rule is None else [rule])]})
        elif rule is None:
            list_codes()
        else:
            explain_code(rule.code)
        sys.stdout.flush()
    except BrokenPipeError:
        _closed_stdout()


@app.command()
def demo(
    directory: Path = typer.Argument(..., help="Where to write the broken demo run."),
    force: bool = typer.Option(False, "--force", help="Write into a non-empty directory."),
    fmt: DocFormat = DOC_FORMAT,
    debug: bool = DEBUG,
) -> None:
    """Write a realistic broken training run (dataset, checkpoints, results.csv, args.yaml) to try every command on."""
    from nandoctor.demo import write_demo

    try:
        with _warnings_hidden(debug):
            steps = write_demo(directory, force=force)
    except KeyboardInterrupt:
        sys.stderr.write("nandoctor: interrupted\n")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as exc:
        _map_error(exc, str(directory), debug)
    try:
        if fmt is DocFormat.json:
            _doc_json("demo", {"directory": str(directory), "try_next": steps})
        else:
            sys.stdout.write(f"Wrote a broken Ultralytics-style training run to {directory}\nTry next:\n")
            for step in steps:
                sys.stdout.write(f"  {step}\n")
        sys.stdout.flush()
    except BrokenPipeError:
        _closed_stdout()


# --- engine commands: each engine registers its command below its own marker -------------------


# check-data
@app.command("check-data")
def check_data_cmd(
    paths: List[Path] = typer.Argument(
        ...,
        metavar="PATH...",
        help="Dataset folders, data.yaml, labels folders, label/JSONL/CSV files, or tensor files (globs allowed).",
    ),
    num_classes: Optional[int] = typer.Option(None, "--num-classes", help="Class count (overrides data.yaml)."),
    config: Optional[Path] = typer.Option(
        None, "--config", help="Multi-dataset config holding datasets.dataset_configs."
    ),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Dataset NAME in --config (its num_classes)."),
    task: Optional[str] = typer.Option(None, "--task", help="detect, segment, pose or obb (default: inferred)."),
    images: Optional[bool] = typer.Option(
        None, "--images/--no-images", help="Pair and check images (default: on for folders)."
    ),
    label_key: str = typer.Option("label", "--label-key", help="JSONL/CSV label field."),
    ignore_index: Optional[List[int]] = typer.Option(
        None, "--ignore-index", help="Allowed ignore label, e.g. -100 (repeatable)."
    ),
    vocab_size: Optional[int] = typer.Option(None, "--vocab-size", help="Integer tensors: ids must stay below this."),
    trust: Optional[list[str]] = TRUST,
    fmt: Format = FORMAT,
    fail_on: FailOn = FAIL_ON,
    color: Color = COLOR,
    statistics: bool = STATISTICS,
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Find poisoned labels (class range, NaN, coordinates, zero area, pairing) and non-finite tensors."""
    from nandoctor.data.engine import check_data

    def one(p: Path) -> Report:
        return check_data(
            p,
            num_classes=num_classes,
            config=config,
            dataset=dataset,
            task=task,
            images=images,
            label_key=label_key,
            ignore_index=ignore_index,
            vocab_size=vocab_size,
        )

    _run_many(
        "check-data", paths, lambda p: trusting(trust, lambda: one(p))(), fmt, fail_on, debug, color, statistics, quiet
    )


def _run_many(
    command: str,
    paths: Sequence[Path],
    one: Callable[[Path], Report],
    fmt,
    fail_on,
    debug,
    color,
    statistics,
    quiet,
    stdin: bool = False,
) -> None:
    try:
        inputs = expand(paths, stdin=stdin)
    except NandoctorError as exc:
        _configure(fmt, color, statistics, quiet)
        fail(str(exc))
    run(_calls(inputs, one), fmt, fail_on, debug, color=color, statistics=statistics, quiet=quiet, command=command)


# inspect-ckpt
@app.command("inspect-ckpt")
def inspect_ckpt_cmd(
    paths: List[Path] = typer.Argument(
        ...,
        metavar="PATH...",
        help="Checkpoint files, sharded/DCP model folders, or folders of checkpoints (globs allowed).",
    ),
    stats: bool = typer.Option(
        False, "--stats", help="Add a per-tensor table (dtype, shape, min, max, mean, std, ...)."
    ),
    trust: Optional[list[str]] = TRUST,
    fmt: Format = FORMAT,
    fail_on: FailOn = FAIL_ON,
    color: Color = COLOR,
    statistics: bool = STATISTICS,
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Which checkpoint is still clean, and what exactly is broken in the others (never runs pickled code)."""
    from nandoctor.ckpt.engine import inspect_ckpt

    _run_many(
        "inspect-ckpt",
        paths,
        lambda p: trusting(trust, lambda: inspect_ckpt(p, stats=stats))(),
        fmt,
        fail_on,
        debug,
        color,
        statistics,
        quiet,
    )


# analyze-log
@app.command("analyze-log")
def analyze_log_cmd(
    paths: List[Path] = typer.Argument(
        ...,
        metavar="PATH...",
        help="Logs: results.csv, trainer_state.json, metrics.csv, any CSV, TensorBoard events, a console log, "
        "or run folders holding one (globs allowed), or - for stdin.",
    ),
    metric: Optional[str] = typer.Option(
        None, "--metric", help="Column to classify (default: the training loss; Ultralytics: the sum of train/*_loss)."
    ),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Also write a PNG of the curve (needs matplotlib)."),
    force: bool = typer.Option(False, "--force", help="Overwrite the --plot file if it exists."),
    watch: bool = typer.Option(
        False,
        "--watch",
        help="Follow a log still being written (it may not exist yet); "
        "exit 1 at the first non-finite loss or early warning, "
        "3 at --timeout.",
    ),
    interval: float = typer.Option(2.0, "--interval", min=0.05, help="--watch: seconds between polls."),
    timeout: float = typer.Option(3600.0, "--timeout", min=0.0, help="--watch: stop after this many seconds."),
    heartbeat: int = typer.Option(30, "--heartbeat", min=1, help="--watch: a status line every N polls."),
    fmt: Format = FORMAT,
    fail_on: FailOn = FAIL_ON,
    color: Color = COLOR,
    statistics: bool = STATISTICS,
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Name the loss curve's shape, date the break (first non-finite, last healthy), say what it implies."""
    _configure(fmt, color, statistics, quiet)
    if plot is not None:
        from nandoctor.safe_write import check_target

        if len(paths) > 1:
            fail("--plot draws one log; give one PATH")
        try:
            check_target(plot, force, [p for p in paths if str(p) != "-"], what="--plot PNG")
        except NandoctorError as exc:
            fail(str(exc))
    if watch:
        from nandoctor.logs.watch import watch_log

        if len(paths) != 1 or str(paths[0]) == "-":
            fail("--watch follows one log file; give one PATH")

        def emit(line: str) -> None:
            from nandoctor.inert import inert

            sys.stderr.write(inert(line) + "\n")
            sys.stderr.flush()

        run(
            lambda: watch_log(
                paths[0],
                metric=metric,
                interval=interval,
                timeout=timeout,
                emit=emit,
                plot=plot,
                force=force,
                heartbeat=heartbeat,
            ),
            fmt,
            fail_on,
            debug,
            color=color,
            statistics=statistics,
            quiet=quiet,
        )
        return
    from nandoctor.logs.engine import analyze_log

    def one(p: Path) -> Report:
        report = analyze_log(p, metric=metric, plot=plot, force=force)
        if plot is not None:
            sys.stderr.write(f"nandoctor: wrote the plot to {plot}\n")
        return report

    _run_many("analyze-log", paths, one, fmt, fail_on, debug, color, statistics, quiet, stdin=True)


# diagnose-config
@app.command("diagnose-config")
def diagnose_config_cmd(
    cfg: Path = typer.Argument(
        ...,
        help="Training config: Ultralytics args.yaml, HF TrainingArguments YAML, "
        "accelerate or DeepSpeed config (YAML/JSON), Lightning config, or your own YAML.",
    ),
    log: Optional[Path] = typer.Option(
        None,
        "--log",
        help="Training log (results.csv, trainer_state.json, ...) "
        "whose diagnosis picks the LR, clip value and precision.",
    ),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help="Where to write the repaired config (default: <name>_fixed.yaml beside CFG)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the diff; write nothing."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing repaired file."),
    no_log: bool = typer.Option(
        False, "--no-log", help="Ignore the run's own log beside CFG (results.csv, trainer_state.json)."
    ),
    fmt: Format = FORMAT,
    fail_on: FailOn = FAIL_ON,
    color: Color = COLOR,
    statistics: bool = STATISTICS,
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Find the settings that make training fragile and write a repaired <name>_fixed.yaml."""
    from nandoctor.config.engine import diagnose_config

    run(
        lambda: diagnose_config(
            existing(cfg),
            log=existing(log) if log else None,
            output=output,
            dry_run=dry_run,
            force=force,
            find_log=not no_log,
        ),
        fmt,
        fail_on,
        debug,
        color=color,
        statistics=statistics,
        quiet=quiet,
    )


# env (diagnose-config's precision and version decisions)
@app.command("env")
def env_cmd(fmt: DocFormat = DOC_FORMAT) -> None:
    """Framework versions and bf16/CUDA support on this machine (what diagnose-config's repairs assume)."""
    import json

    from nandoctor.environment import describe, detect

    with _warnings_hidden(False):  # a CUDA probe's warnings are not the report
        env = detect(probe=True)
    sys.stdout.write((json.dumps(env.as_dict(), indent=2) if fmt is DocFormat.json else describe(env)) + "\n")


# triage
@app.command()
def triage(
    run_dir: Path = typer.Argument(..., help="A training run folder (Ultralytics, HF Trainer, Lightning or generic)."),
    no_data: bool = typer.Option(False, "--no-data", help="Do not scan the dataset named by the run's config."),
    force: bool = typer.Option(False, "--force", help="Replace an existing <config>_fixed.yaml."),
    trust: Optional[list[str]] = TRUST,
    fmt: Format = FORMAT,
    fail_on: FailOn = FAIL_ON,
    color: Color = COLOR,
    statistics: bool = STATISTICS,
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Run every check on a run folder and link them: when it broke, which checkpoint to trust, the fixed config."""
    from nandoctor.triage.engine import triage as triage_run

    run(
        trusting(trust, lambda: triage_run(existing(run_dir), no_data=no_data, force=force, strict=debug)),
        fmt,
        fail_on,
        debug,
        color=color,
        statistics=statistics,
        quiet=quiet,
    )


def _click_exceptions() -> ModuleType:
    """Typer 0.2x vendors its own Click; older ones use the click package."""
    import importlib

    try:
        return importlib.import_module("typer._click.exceptions")
    except ImportError:  # pragma: no cover
        return importlib.import_module("click.exceptions")


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: Click's usage errors as one line (`nandoctor: error: ...`, exit 2), Ctrl-C as 130."""
    cx = _click_exceptions()

    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="nandoctor", standalone_mode=False)
    except cx.NoArgsIsHelpError as exc:  # `nandoctor` alone: the help, as Click shows it
        exc.show()
        code = exc.exit_code
    except cx.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "nandoctor"
        message = " ".join(exc.format_message().split())
        sys.stderr.write(f"nandoctor: error: {message} (see `{where} --help`)\n")
        code = exc.exit_code
    except cx.ClickException as exc:
        sys.stderr.write(f"nandoctor: error: {' '.join(exc.format_message().split())}\n")
        code = exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("nandoctor: interrupted\n")
        code = EXIT_INTERRUPTED
    except BrokenPipeError:
        _closed_stdout()
        code = 0
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _closed_stdout()
    sys.exit(code if isinstance(code, int) else 0)
