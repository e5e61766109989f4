"""The rule catalogue: every finding code with its title, why it leads to NaN/Inf, and the fix.

A rule is found from its code in three places, all named by it: its text here, the function that raises
it (`Rule.check`), and its runnable anti-pattern/best-practice examples in
`tests/catalogue/examples_<engine>.py` (`pytest -k ND201` runs them and every test that mentions ND201).

Each engine keeps its rules in its own module here (data, ckpt, logs, config, triage) so the
catalogue grows without merge fights; `nandoctor explain CODE` reads them all. Codes are stable
once released: ND1xx data, ND2xx checkpoints, ND3xx logs, ND4xx configs, ND5xx triage.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache

_MODULES = ("data", "ckpt", "logs", "config", "triage", "general")


@dataclass(frozen=True)
class Rule:
    code: str
    title: str
    why: str  # why this leads to NaN/Inf
    fix: str  # what to do about it
    bad: str  # anti-pattern: a concrete example that triggers the rule
    good: str  # best practice: the repaired form
    check: str = ""  # "module:function" whose source raises this code (tests/test_catalogue.py follows it)


@lru_cache(maxsize=1)
def catalogue() -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for name in _MODULES:
        try:
            module = importlib.import_module(f"nandoctor.catalogue.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"nandoctor.catalogue.{name}":
                raise
            continue
        for rule in module.RULES:
            if rule.code in rules:
                raise ValueError(f"duplicate rule code {rule.code}")
            rules[rule.code] = rule
    return dict(sorted(rules.items()))


def get_rule(code: str) -> Rule:
    try:
        return catalogue()[code.upper()]
    except KeyError:
        raise KeyError(f"unknown rule code {code!r}") from None
