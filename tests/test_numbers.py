"""nandoctor.numbers.parse_number: one reading of a written number for every engine."""

from __future__ import annotations

import math

import pytest

from nandoctor.numbers import finite_number, parse_number


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0.25", 0.25),
        (" 1e-3\n", 1e-3),
        ("-2", -2.0),
        ("1.0E+00", 1.0),
        ("inf", math.inf),
        ("-Infinity", -math.inf),
        ("+inf.0", math.inf),
        ("1e400", math.inf),
        ("-1e400", -math.inf),
        ("9" * 5000, math.inf),  # more digits than int() takes: never made an int
        (b"0.5", 0.5),
        (10**400, math.inf),
        (-(10**400), -math.inf),
        (7, 7.0),
        (0.5, 0.5),
    ],
)
def test_numbers_as_written(text, expected):
    assert parse_number(text) == expected


@pytest.mark.parametrize("text", ["nan", "-nan", "+nan", "NaN", "nan(ind)", "-nan(ind)", "nan.0", "-NAN.000", " nan "])
def test_every_spelling_of_nan_is_nan(text):  # darknet prints -nan, MSVC -nan(ind), tqdm nan.0
    v = parse_number(text)
    assert v is not None and math.isnan(v)


@pytest.mark.parametrize(
    "value", ["", "   ", "loss", "0.5,0.3", "nanx", "infinite", "0x10", None, True, False, [1.0], {"a": 1}]
)
def test_no_number_is_none(value):
    assert parse_number(value) is None


def test_finite_number_drops_nan_and_inf():
    assert [finite_number(v) for v in ("1e400", "nan", 10**400, "3", 2)] == [None, None, None, 3.0, 2.0]
