"""`nandoctor explain`: print the catalogue, in the spirit of `ruff rule CODE`."""

from __future__ import annotations

from nandoctor.catalogue import catalogue, get_rule
from nandoctor.render import stdout_console, wrap_width


def list_codes() -> None:
    from rich import box
    from rich.table import Table

    table = Table(
        title="nandoctor rule codes (`nandoctor explain CODE` for one)",
        title_justify="left",
        box=box.SIMPLE,
        show_edge=False,
    )
    table.add_column("code", style="bold", no_wrap=True)
    table.add_column("title", overflow="fold")
    for code, rule in catalogue().items():
        table.add_row(code, rule.title)
    stdout_console().print(table)


def explain_code(code: str) -> None:
    from rich.text import Text

    from nandoctor.layout import wrap

    rule = get_rule(code)
    console = stdout_console()
    width = wrap_width(console)

    def say(text, style: str = "") -> None:
        console.print(text if isinstance(text, Text) else Text(text, style=style), soft_wrap=True)

    head = Text(rule.code, style="bold")
    head.append(f": {rule.title}", style="")
    say(head)
    for title, body in (
        ("Why it leads to NaN/Inf", rule.why),
        ("How to fix it", rule.fix),
        ("Anti-pattern", rule.bad),
        ("Best practice", rule.good),
    ):
        say("")
        say(title, "bold")
        for paragraph in body.splitlines() or [""]:
            for line in wrap(paragraph, width, "  ", "  "):
                say(line)
