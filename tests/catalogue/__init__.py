"""Each rule's anti-pattern and best-practice examples, built with the real writers.

A rule's text lives in `nandoctor/catalogue/<engine>.py`; its examples live here, in
`examples_<engine>.py`, keyed by the same code. `tests/test_catalogue.py` runs every example through
the real CLI: the anti-pattern must raise the code, the best practice must not. `pytest -k ND201`
selects these examples and every other test that mentions ND201 (see conftest.py).

An example is a function that writes its input under the folder it is given and returns the command
line after the command name (usually just the path), e.g.

    @example("ND201", "bad", "inspect-ckpt")
    def _(tmp: Path) -> list:
        torch.save({"w": torch.tensor([float("nan")])}, tmp / "last.pt")
        return [tmp / "last.pt"]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Example:
    code: str
    kind: str  # "bad" (must raise the code) or "good" (must not)
    command: str  # the nandoctor sub-command that judges it
    build: Callable[[Path], list]


EXAMPLES: dict[tuple[str, str], Example] = {}


def example(code: str, kind: str, command: str) -> Callable[[Callable[[Path], list]], Callable[[Path], list]]:
    assert kind in ("bad", "good"), kind

    def register(build: Callable[[Path], list]) -> Callable[[Path], list]:
        key = (code, kind)
        assert key not in EXAMPLES, f"two {kind} examples for {code}"
        EXAMPLES[key] = Example(code, kind, command, build)
        return build

    return register


def load_all() -> dict[tuple[str, str], Example]:
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("examples_"):
            importlib.import_module(f"{__name__}.{info.name}")
    return EXAMPLES
