"""Runs of console lines alike but for their digits, read as one fixed-width table.

A training console repeats one line shape for hours (`step 41230 loss=0.5132 grad_norm=1.021`), and
lines.py's parsers read every line of one shape alike (`lines.alike_parse_alike` says where not).
Lines of one shape have one length, so a run of them is a table of fixed-width rows: numpy checks
every row against the shape (literal characters equal, digits digits) and reads each number from
its columns, with no Python work per line. A plain decimal (`0.5132`, `-1.5e-05`) is computed from
its digits exactly as `float()` rounds it (an integer of at most 15 digits times or divided by a
power of ten up to 1e22 is one correctly rounded operation); any other is read by `value()`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np  # this module serves text.py's reader only, which needs numpy anyway

from nandoctor.logs.readers.lines import Rec, keeps_zero, shape, value

_DECIMAL = re.compile(r"([-+]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([-+]?)([0-9]+))?")
_POW10 = np.array([10.0**i for i in range(23)])  # exact doubles
SHORT_RUN = 8  # pieces of a run compared (and read) one by one; past them numpy checks 64, 512... at a time


class Template:
    """The pieces of one shape: what one holds (`keys`, in the row's order; none for a piece that is
    no record), where, and how well its runs have paid so far."""

    __slots__ = (
        "fmt",
        "keys",
        "text",
        "key",
        "head",
        "_lit",
        "_codes",
        "_digits",
        "_low",
        "_fields",
        "seen",
        "runs",
        "pieces",
    )

    def __init__(self, text: str, fmt: str, spans: Sequence[tuple[str, int, int]]):
        self.fmt, self.keys, self.text, self.key = fmt, tuple(k for k, _, _ in spans), text, shape(text)
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        keep_zero = keeps_zero(text)
        self._low = 49 if keep_zero else 48  # shape() keeps 0s: there a digit class is 1-9
        digit = (codes >= self._low) & (codes <= 57)
        self._digits = np.flatnonzero(digit)
        self._lit = np.flatnonzero(~digit)
        self._codes = codes[self._lit]
        first = int(self._digits[0]) if len(self._digits) else len(text)
        self.head = text[:first]  # a cheap first test of a piece
        self._fields = [(s, e, _decimal(text, s, e)) for _, s, e in spans]
        self.seen = 1  # pieces of this shape met outside a run
        self.runs = self.pieces = 0  # runs read, and the pieces in them

    def worth_it(self) -> bool:
        """Used only where its runs pay: a shape met a third time, whose runs average 16 pieces or
        more after the first few (bars whose digits change width every few pieces read faster one
        by one)."""
        self.seen += 1
        return self.seen >= 3 and (self.runs < 8 or self.pieces >= 16 * self.runs)

    def run(self, block: str, pos: int, codes) -> tuple[int, int]:
        """How many pieces of this shape start at `pos` back to back, and the width of each with its
        separator; (0, 0) if the piece at `pos` is not of this shape. The first few are compared one
        by one; past them, numpy checks the rest as a table (`codes()` gives the block's codes)."""
        n = len(self.text)
        sep = block[pos + n : pos + n + 2]
        if not sep or sep[0] not in "\r\n":
            return 0, 0
        crlf = sep == "\r\n"
        width = n + 1 + crlf
        rows, at, size = 0, pos, len(block)
        while rows < SHORT_RUN and at + width <= size:
            tail = block[at + n : at + width]
            if not (
                block.startswith(self.head, at)
                and (tail == "\r\n" if crlf else tail in ("\n", "\r"))
                and shape(block[at : at + n]) == self.key
            ):
                return rows, width
            rows, at = rows + 1, at + width
        if rows < SHORT_RUN:
            return rows, width
        table = codes()
        most = (len(table) - pos) // width
        look = SHORT_RUN * 8
        while rows < most:
            look = min(look, most - rows)
            start = pos + rows * width
            part = table[start : start + look * width].reshape(look, width)
            ok = (part[:, self._lit] == self._codes).all(axis=1)
            d = part[:, self._digits]
            ok &= ((d >= self._low) & (d <= 57)).all(axis=1)
            if crlf:
                ok &= (part[:, n] == 13) & (part[:, n + 1] == 10)
            else:
                ok &= (part[:, n] == 10) | (part[:, n] == 13)
            miss = np.flatnonzero(~ok)
            if len(miss):
                return rows + int(miss[0]), width
            rows, look = rows + look, look * 8
        return rows, width

    def values(self, block: str, pos: int, rows: int, width: int, codes) -> list:
        """Each key's numbers in the run of `rows` pieces at `pos`: lists for a short run, else
        numpy columns computed from the table of the block's codes."""
        if rows < SHORT_RUN:
            return [
                [_float(block[i + s : i + e]) for i in range(pos, pos + rows * width, width)]
                for s, e, _ in self._fields
            ]
        table = codes()[pos : pos + rows * width].reshape(rows, width)
        out = []
        for s, e, plan in self._fields:
            col = _compute(table, plan) if plan is not None else None
            if col is None:
                col = np.array([_float(block[i + s : i + e]) for i in range(pos, pos + rows * width, width)])
            out.append(col)
        return out


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:  # `nan.0`, `nan(ind)`: a number to value(), as the parsers read it
        v = value(text)
        return v if v is not None else float("nan")


def template(text: str, rec: Rec | None, row: dict[str, float] | None) -> Template | None:
    """The template of `text`'s shape, given what parsing it gave (`rec` and its `row`); None when its
    numbers' places are not known, or reading them back does not give that row."""
    spans = rec.spans if rec is not None else ()
    if spans is None or (rec is not None and row is None) or not text:
        return None
    if row is not None and (
        tuple(row) != tuple(k for k, _, _ in spans) or not all(_same(value(text[s:e]), row[k]) for k, s, e in spans)
    ):
        return None
    return Template(text, rec.fmt if rec is not None else "", spans)  # "": pieces that are no record


def _same(a: float | None, b: float) -> bool:
    return a is not None and (a == b or (a != a and b != b))


def _decimal(text: str, s: int, e: int) -> tuple | None:
    """How to compute a plain decimal at text[s:e] from its digits, for every piece of the shape:
    (sign, mantissa digit columns, fraction digits, exponent sign, exponent digit columns); None
    when it is not one (`nan`, `inf`) or has more than 15 digits (or 3 in its exponent)."""
    m = _DECIMAL.fullmatch(text, s, e)
    if m is None or not (m.group(2) or m.group(3)):
        return None
    mantissa = [i for i in range(m.start(2), m.end(2))]
    if m.group(3) is not None:
        mantissa += [i for i in range(m.start(3), m.end(3))]
    if len(mantissa) > 15 or (m.group(5) is not None and len(m.group(5)) > 3):
        return None
    exponent = list(range(m.start(5), m.end(5))) if m.group(5) is not None else []
    return (m.group(1) == "-", np.array(mantissa), len(m.group(3) or ""), m.group(4) == "-", np.array(exponent))


def _compute(table: np.ndarray, plan: tuple) -> np.ndarray | None:
    negative, mantissa, frac, negative_exp, exponent = plan
    weights = 10 ** np.arange(len(mantissa) - 1, -1, -1, dtype=np.int64)
    mant = (table[:, mantissa].astype(np.int64) - 48) @ weights
    power = np.full(len(table), -frac, dtype=np.int64)
    if len(exponent):
        exp = (table[:, exponent].astype(np.int64) - 48) @ (10 ** np.arange(len(exponent) - 1, -1, -1, dtype=np.int64))
        power += -exp if negative_exp else exp
    if len(power) and np.abs(power).max() > 22:
        return None  # past the exact powers of ten: value() reads these
    up = power >= 0
    col = mant.astype(np.float64)
    col = np.where(up, col * _POW10[np.where(up, power, 0)], col / _POW10[np.where(up, 0, -power)])
    return -col if negative else col
