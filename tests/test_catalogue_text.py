"""The catalogue documents and tests itself (SQLFluff style): every rule is complete and in range."""

import pytest

from nandoctor.catalogue import catalogue

RANGES = {"1": "data", "2": "checkpoints", "3": "logs", "4": "configs", "5": "triage"}


@pytest.mark.parametrize("code", list(catalogue()))
def test_rule_is_documented(code):
    rule = catalogue()[code]
    assert rule.code == code and code[:2] == "ND" and len(code) == 5 and code[2] in RANGES
    for field in ("title", "why", "fix", "bad", "good"):
        assert getattr(rule, field).strip(), f"{code} has no {field}"
