"""Every real log under ../shared/realworld and ../shared/runs agrees with its truth (the same
comparison as benchmarks/real_logs.py; the truth is REAL_LOGS in analyze_log_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyze_log_fixtures import REAL_LOGS, check_real_log
from nandoctor.findings import NandoctorError
from nandoctor.logs.engine import analyze_log

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.mark.skipif(not (SHARED / "realworld").is_dir(), reason="../shared/realworld is not here")
@pytest.mark.parametrize("case", REAL_LOGS, ids=[c["path"] for c in REAL_LOGS])
def test_real_log_agrees_with_its_truth(case):
    path = SHARED / case["path"]
    if not path.exists():
        pytest.skip(f"{path} is not here")
    if path.is_dir():  # the run folders here hold TensorBoard event files
        pytest.importorskip("tensorboard")
    try:
        report = analyze_log(path)
    except NandoctorError as exc:
        assert "\n" not in str(exc)
        rc, doc = 2, None
    else:
        rc, doc = (
            report.exit_code("error"),
            {"summary": report.summary, "findings": [f.to_dict() for f in report.findings]},
        )
    assert check_real_log(case, rc, doc) == []


@pytest.mark.skipif(not (SHARED / "realworld").is_dir(), reason="../shared/realworld is not here")
def test_no_log_with_a_nonfinite_loss_exits_0():
    """The issue's bar, stated directly: a log whose truth holds a non-finite loss or grad norm never exits 0."""
    broken = [c for c in REAL_LOGS if c.get("errors") and "ND301" in c["errors"]]
    assert len(broken) >= 12
    for case in broken:
        path = SHARED / case["path"]
        if not path.exists():
            continue
        try:
            assert analyze_log(path).exit_code("error") == 1, case["path"]
        except NandoctorError:
            pytest.fail(f"{case['path']} could not be read")
