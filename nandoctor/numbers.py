"""The one parser for numbers written in users' files: log tokens, CSV cells, JSON/YAML values and
numbers stored in checkpoints. Every engine reads the same text as the same value through it.

Why not plain `float()`: trainers and C runtimes print non-finite values in spellings float() refuses
(`-nan(ind)` from MSVC's printf, `nan.0` from tqdm), and `float(10**400)` raises OverflowError where a
file merely holds an integer too large for a float. A NaN or Inf the user's run wrote is exactly what
nandoctor looks for, so it must never be lost as "not a number", nor crash the reader.

Accepted:
- text as float() reads it, surrounding whitespace stripped: `1e-3`, ` 2.5 `, `-nan` (darknet prints
  it), `inf`, `-Infinity`; `1e400` and integers of thousands of digits become +-inf, as float() rounds
  them (no 4300-digit limit: the digits are never made an int);
- `nan(ind)`, `-nan(ind)` (MSVC), `nan.0`, `inf.0` (tqdm), any case;
- ints of any size (beyond the float range: +-inf) and floats.
Rejected (None): blank text, bool (True is no measurement), None, words, other types.
"""

from __future__ import annotations

import math
import re

NAN_WORDS = frozenset({"nan", "+nan", "-nan", "nan(ind)", "+nan(ind)", "-nan(ind)", "nan.0", "+nan.0", "-nan.0"})
POS_INF_WORDS = frozenset({"inf", "+inf", "infinity", "+infinity", "inf.0", "+inf.0"})
NEG_INF_WORDS = frozenset({"-inf", "-infinity", "-inf.0"})
_SPECIAL = re.compile(r"([-+]?)(?:(nan)(?:\(ind\))?|inf(?:inity)?)(?:\.0+)?", re.IGNORECASE)


def parse_number(value: object) -> float | None:
    """`value` as the float it writes (see the module docstring), or None when it is no number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:  # beyond ~1.8e308
            return math.inf if value > 0 else -math.inf
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    try:
        return float(value)  # the common case; float() itself ignores surrounding whitespace
    except ValueError:
        pass
    m = _SPECIAL.fullmatch(value.strip())
    if m is None:
        return None
    if m.group(2):
        return math.nan
    return -math.inf if m.group(1) == "-" else math.inf


def finite_number(value: object) -> float | None:
    """parse_number(value) when it is finite, else None (a value a rule may compare or write back)."""
    f = parse_number(value)
    return f if f is not None and math.isfinite(f) else None
