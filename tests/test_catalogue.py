"""Every rule's examples run through the real CLI: the anti-pattern raises its code, the best practice
does not. Examples live in tests/catalogue/examples_<engine>.py; `pytest -k ND201` runs one rule's."""

from __future__ import annotations

import importlib
import json

import pytest

from nandoctor.catalogue import catalogue
from tests.catalogue import load_all

EXAMPLES = load_all()


def _codes(report: dict) -> set[str]:
    codes = {f["code"] for f in report.get("findings", [])}
    for part in report.get("parts", []) or []:
        codes |= _codes(part)
    return codes


@pytest.mark.parametrize("key", sorted(EXAMPLES), ids=[f"{c}-{k}" for c, k in sorted(EXAMPLES)])
def test_example(key, tmp_path, cli):
    ex = EXAMPLES[key]
    assert ex.code in catalogue(), f"{ex.code} has examples but no rule"
    args = ex.build(tmp_path)
    r = cli(ex.command, *args, "--format", "json", "--fail-on", "never")
    assert r.code == 0 or ex.kind == "bad", r.stdout + r.stderr  # a good example must be readable
    report = json.loads(r.stdout) if r.stdout.strip() else {}
    codes = _codes(report)
    if ex.kind == "bad":
        assert ex.code in codes, f"{ex.code} anti-pattern not caught: {sorted(codes)} {r.stderr}"
    else:
        assert ex.code not in codes, f"{ex.code} raised on its best practice: {report.get('findings')}"


@pytest.mark.parametrize("code", [c for c, r in catalogue().items() if r.check])
def test_rule_names_its_check(code):
    """`check = "module:function"` leads a reader from the rule's text to the code that raises it."""
    module, _, name = catalogue()[code].check.partition(":")
    target = importlib.import_module(module)
    for part in name.split("."):
        target = getattr(target, part)
    assert callable(target)
    assert code in (target.__doc__ or "") + _source(target), f"{code}'s check {name} never mentions {code}"


def _source(fn) -> str:
    import inspect

    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return ""


# The only rules without runnable examples, and why (each examples file says so too).
NO_EXAMPLE = {
    "ND420": "fires only when the framework itself is installed and refuses the repair; CI has no framework",
    "ND506": "an engine missing from the installation: every checkout that runs the tests has all four",
}


@pytest.mark.parametrize("code", list(catalogue()))
def test_every_rule_has_its_check_and_both_examples(code):
    assert catalogue()[code].check, f"{code} names no check function (Rule.check)"
    missing = [k for k in ("bad", "good") if (code, k) not in EXAMPLES]
    if code in NO_EXAMPLE:
        assert missing == ["bad", "good"], f"{code} has examples now: remove it from NO_EXAMPLE"
        return
    assert not missing, f"{code} has no runnable {' or '.join(missing)} example in tests/catalogue/"
