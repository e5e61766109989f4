"""Terminal layout that survives copy-paste: prose wraps with a hanging indent, while commands,
paths and other pasteable tokens are never broken (they may run past the edge, where the terminal
soft-wraps them and copying joins them again). Rich only prints; it is never asked to wrap a line
we built here (`soft_wrap=True`), because its wrapping inserts real newlines.

Tables are laid out to fit: the full table when it fits the width, else the key columns with the
rest folded onto a second line under the name, else one block per row.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable, Sequence

if TYPE_CHECKING:
    from rich.console import JustifyMethod

_SPAN = re.compile(r"`[^`\n]*`")
_GLUE = "\x00"  # stands for a space that must not break (inert text never holds a raw NUL)

# Where a next step's prose ends and its command begins: ": " then one of these.
_COMMAND_START = re.compile(
    r": (?=(?:nandoctor|yolo|mkdir|cp|python|pip|torchrun|accelerate|deepspeed)\s"
    r"|(?:model|ckpt) = |trainer\.\w+\()"
)
_PYTHON_TAIL = re.compile(r"^(.*?)\s{2}\(Python: (.*)\)$", re.S)


def cell_len(text: str) -> int:
    from rich.cells import cell_len as _cell_len

    return _cell_len(text)


def wrap(
    text: str, width: int | None, indent: str = "", hang: str | None = None, atoms: Iterable[str] = ()
) -> list[str]:
    """Lines of `text`, broken only at spaces outside backtick spans and outside `atoms` (paths,
    names). A token wider than the line keeps a line of its own, whole. `width=None`: one line."""
    hang = indent if hang is None else hang
    if width is None:
        return [indent + text]
    glued = _SPAN.sub(lambda m: m.group().replace(" ", _GLUE), text)
    for atom in sorted({a for a in atoms if a and " " in a}, key=len, reverse=True):
        glued = glued.replace(atom, atom.replace(" ", _GLUE))
    lines: list[str] = []
    line, used, fresh = indent, cell_len(indent), True
    for word in glued.split(" "):
        word = word.replace(_GLUE, " ")
        n = cell_len(word)
        if not fresh and used + 1 + n > width:
            lines.append(line)
            line, used, fresh = hang + word, cell_len(hang) + n, False
            continue
        line, used, fresh = (line + word, used + n, False) if fresh else (line + " " + word, used + 1 + n, False)
    lines.append(line)
    return lines


def split_step(step: str) -> list[tuple[str, str]]:
    """A next step as [("prose", ...), ("code", ...), ("label", "Python:"), ("code", ...)]: the
    command lines go on lines of their own, whole, so pasting one runs exactly that command."""
    parts: list[tuple[str, str]] = []
    python = None
    m = _PYTHON_TAIL.match(step)
    if m:
        step, python = m.group(1), m.group(2)
    c = _COMMAND_START.search(step)
    if c:
        parts += [("prose", step[: c.start() + 1]), ("code", step[c.end() :].rstrip())]
    else:
        parts.append(("prose", step))
    if python:
        parts += [("label", "Python:"), ("code", python)]
    return parts


def fitted_table(
    console,
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence],
    *,
    key: Sequence[int],
    justify: dict[int, JustifyMethod] | None = None,
    prose: Sequence[int] = (),
    name_style: str = "",
) -> list:
    """Renderables for a table that fits `console.width` with no cell cut: the whole table when it
    fits; else the `key` columns (column 0 is the name) with the others folded under the name;
    else one block per row (the name alone on its line, then `header value` pairs). `prose`
    columns may wrap; all others (names, numbers) never do."""
    from rich import box
    from rich.measure import Measurement
    from rich.table import Table
    from rich.text import Text

    justify = justify or {}
    width = console.width

    def build(cols: Sequence[int], fold: Sequence[int] = ()) -> Table:
        t = Table(title=title, title_justify="left", box=box.SIMPLE, show_edge=False, pad_edge=False)
        for i in cols:
            t.add_column(
                headers[i],
                justify=justify.get(i, "left"),
                no_wrap=i not in prose,
                overflow="fold" if i in prose else "ignore",
                min_width=12 if i in prose else None,
            )
        for row in rows:
            cells = [_as_text(row[i]) for i in cols]
            if fold:
                extra = "  ".join(f"{headers[i]} {_plain(row[i])}" for i in fold if _plain(row[i]) not in ("", "-"))
                if extra:
                    cells[0] = cells[0].copy()
                    cells[0].append("\n  " + extra, style="dim")
            t.add_row(*cells)
        return t

    def fits(t: Table, cols: Sequence[int]) -> bool:
        natural = Measurement.get(console, console.options.update(width=10**6), t).maximum
        if natural <= width:
            return True
        if not prose:
            return False
        squeeze = sum(max(0, max((cell_len(_plain(r[i])) for r in rows), default=0) - 12) for i in prose if i in cols)
        return natural - squeeze <= width

    all_cols = list(range(len(headers)))
    full = build(all_cols)
    if fits(full, all_cols):
        return [full]
    rest = [i for i in all_cols if i not in key]
    narrow = build(list(key), rest)
    narrow_check = build(list(key))  # the folded line may run long; the columns must fit
    if fits(narrow_check, key) and all(cell_len(_fold_line(headers, r, rest)) <= width for r in rows):
        return [narrow]
    out: list = [Text(title, style="italic")] if title else []
    for row in rows:
        out.append(Text("  ").append(_as_text(row[0])))
        pairs = [
            f"{headers[i]}{_GLUE}{_plain(row[i]).replace(' ', _GLUE)}"
            for i in list(key)[1:] + rest
            if _plain(row[i]) != ""
        ]
        out.extend(Text(line) for line in wrap(" ".join(pairs), width, "      "))
    return out


def _fold_line(headers, row, rest) -> str:
    return "  " + "  ".join(f"{headers[i]} {_plain(row[i])}" for i in rest)


def _as_text(cell):
    from rich.text import Text

    return cell if isinstance(cell, Text) else Text(str(cell))


def _plain(cell) -> str:
    return cell.plain if hasattr(cell, "plain") else str(cell)
