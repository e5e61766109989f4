"""Every string a user can see stands on its own: no message, fix, catalogue text or written comment cites
the project's internal documents ("the field notes") or its tracker ("issue 12")."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nandoctor

INTERNAL = re.compile(r"field[ -]notes|\bissue\s+\d+", re.I)  # ours; an upstream "issue #24079" is a public reference


def _strings(tree: ast.AST):
    """String constants that are not docstrings (docstrings are for the next developer, not the user)."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node


def test_no_user_visible_string_cites_internal_documents_or_issues():
    root = Path(nandoctor.__file__).parent
    cited = [
        f"{path.relative_to(root)}:{node.lineno}: {node.value[:80]!r}"
        for path in sorted(root.rglob("*.py"))
        for node in _strings(ast.parse(path.read_text(encoding="utf-8")))
        if INTERNAL.search(node.value)
    ]
    assert not cited, "\n".join(cited)


def test_the_catalogue_and_the_demo_outputs_stand_alone(cli, demo_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(demo_run, run)
    explain = cli("explain", "--format", "json")
    triage = cli("triage", run, "--fail-on", "never")
    written = (run / "args_fixed.yaml").read_text(encoding="utf-8")
    for text in (explain.stdout, triage.stdout, triage.stderr, written):
        assert not INTERNAL.search(text), INTERNAL.search(text)
