"""Which text encoding a label or table file is written in, from its first bytes.

Excel ("Unicode text") and PowerShell 5 (`Out-File`, `>`) save UTF-16 with a byte-order mark; its
ASCII characters come with a NUL byte each, so without this test such a file looks binary.
"""

from __future__ import annotations

_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),  # before UTF-16: FF FE starts both
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def wide_encoding(head: bytes) -> str | None:
    """'utf-16'/'utf-32' for a file starting with that byte-order mark; 'utf-16-le'/'utf-16-be' for
    mostly-ASCII UTF-16 without one (a NUL in every other byte); None for anything else."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    sample = head[:4096]
    sample = sample[: len(sample) // 2 * 2]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) == len(odd) and even.count(0) == 0:
        return "utf-16-le"
    if even.count(0) == len(even) and odd.count(0) == 0:
        return "utf-16-be"
    return None


def encoding_note(encoding: str) -> str:
    """The finding's words for a table read in a wide encoding."""
    return (
        f"{encoding.upper()} text: read as such here, but pandas.read_csv, the datasets library and "
        "open() on Linux read UTF-8 unless told otherwise; save it as UTF-8"
    )
