"""The one data model every command returns: a Report holding Findings.

Engines build a Report and never print or exit; the CLI renders it. Keeping the
model this small is what lets every command share one renderer and one exit rule.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class Severity(str, Enum):
    ERROR = "error"  # will produce, or already contains, NaN/Inf
    WARNING = "warning"  # makes NaN/Inf likely
    INFO = "info"  # worth knowing

    @property
    def rank(self) -> int:
        return {"info": 1, "warning": 2, "error": 3}[self.value]


class NandoctorError(Exception):
    """The command could not do its job (exit 2). The message is shown as one line."""


class WrongKind(ValueError):
    """A reader's verdict that a file is not of the kind it reads at all (empty, unknown first bytes), as
    opposed to one of that kind that is damaged. The engine marks the finding it makes of it `wrong_kind`."""


@dataclass
class Finding:
    code: str
    severity: Severity
    message: str
    path: str | None = None
    line: int | None = None
    where: str | None = None
    fix: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    title: str = ""
    # The file at `path` is not of the kind the command reads (the message says why). Given alone, the
    # command could not do its job: the CLI exits 2 with that message; in a folder it stays a finding.
    wrong_kind: bool = False

    def __post_init__(self) -> None:
        from nandoctor.catalogue import get_rule

        rule = get_rule(self.code)  # an unknown code is a bug: fail loudly in tests
        self.severity = Severity(self.severity)
        if not self.title:
            self.title = rule.title
        if self.fix is None:
            self.fix = f"{rule.fix} See `nandoctor explain {self.code}`."

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["severity"] = self.severity.value
        order = ["code", "severity", "title", "message", "path", "line", "where", "fix", "data"]
        return {k: d[k] for k in order}


@dataclass
class Report:
    command: str
    findings: list[Finding] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    # Lines the text view prints after the findings (e.g. the next step to take).
    next_steps: list[str] = field(default_factory=list)
    # The command's own verdict that the run is failing, whatever the severities (e.g. an early-warning
    # alarm that stopped `analyze-log --watch`); exit 1 unless --fail-on never.
    alarm: bool = False
    # Several inputs merged into one report: each input's own report, so the text view shows one per input.
    parts: list[Report] = field(default_factory=list)

    def add(self, code: str, severity: Severity | str, message: str, **kw: Any) -> Finding:
        f = Finding(code=code, severity=Severity(severity), message=message, **kw)
        self.findings.append(f)
        return f

    def extend(self, other: "Report") -> None:
        self.findings.extend(other.findings)

    def counts(self) -> dict[str, int]:
        c = {s.value: 0 for s in Severity}
        for f in self.findings:
            c[f.severity.value] += 1
        return c

    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), key=lambda s: s.rank, default=None)

    def exit_code(self, fail_on: str = "error") -> int:
        if fail_on == "never":
            return 0
        if self.alarm:
            return 1
        threshold = Severity(fail_on).rank
        return 1 if any(f.severity.rank >= threshold for f in self.findings) else 0
