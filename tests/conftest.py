"""Shared test helpers: run the real CLI (in-process for speed, or as a subprocess where the
process boundary itself is under test) and parse its JSON envelope."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

SHARED_FORMATS = Path(__file__).resolve().parents[1].parent / "shared" / "formats"


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict:
        return json.loads(self.stdout)

    def codes(self) -> list[str]:
        return [f["code"] for f in self.json["findings"]]


def run_cli(*args: str, env: dict | None = None, timeout: float = 120) -> Result:
    """Run `python -m nandoctor ARGS` in a fresh process, as a user would."""
    full_env = {**os.environ, **(env or {})}
    p = subprocess.run(
        [sys.executable, "-m", "nandoctor", *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )
    return Result(p.returncode, p.stdout, p.stderr)


def sigint_as_in_a_terminal() -> None:
    """`preexec_fn` for a child the test sends Ctrl-C to: a runner started in the background (nohup,
    some CI agents) ignores SIGINT, and children inherit that; a user's terminal does not."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def cli():
    """In-process CLI runner (no interpreter start-up per call); returns a Result."""
    from typer.testing import CliRunner

    from nandoctor.cli import app

    runner = CliRunner()

    def invoke(*args: str) -> Result:
        r = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
        return Result(r.exit_code, r.stdout, r.stderr)

    return invoke


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """One `nandoctor demo` run folder per test session (read-only for tests)."""
    from nandoctor.demo import write_demo

    d = tmp_path_factory.mktemp("demo") / "run"
    write_demo(d)
    return d


@pytest.fixture
def shared_formats() -> Path:
    if not SHARED_FORMATS.is_dir():
        pytest.skip("../shared/formats is not beside the checkout")
    return SHARED_FORMATS


def pytest_collection_modifyitems(items):
    """`pytest -k ND108` selects every test whose code mentions ND108, not only those named after it."""
    import inspect
    import re

    pattern = re.compile(r"\bND\d{3}\b")
    sources: dict[object, str] = {}
    for item in items:
        fn = getattr(item, "function", None)
        if fn is None:
            continue
        if fn not in sources:
            try:
                sources[fn] = inspect.getsource(fn)
            except (OSError, TypeError):
                sources[fn] = ""
        codes = set(pattern.findall(sources[fn]))
        callspec = getattr(item, "callspec", None)
        if callspec is not None:
            codes |= set(pattern.findall(" ".join(map(str, callspec.params.values()))))
        item.extra_keyword_matches.update(codes)
