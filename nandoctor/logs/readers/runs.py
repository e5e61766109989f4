"""Progress-bar consoles read a run of `\r` pieces at a time, by one regex, where pieces change width.

shapes.py reads runs of pieces alike but for their digits as fixed-width tables. Progress bars defeat
it: Ultralytics prints a row per batch whose `%11.4g` numbers and bar (`50% ━━━━━━────── 250/500
7.3it/s 34.2s<34.2s`) change width every few pieces, the HF Trainer prints a dict per logging step
between tqdm bars that change every piece, and Lightning's tqdm bar changes its rate every batch.
For these, a `Run` is one regex for a stretch of pieces (a record, and the bars and blanks before
it), matched stretch after stretch: the regex engine, not Python, walks each piece, and every piece
is still read (a NaN keeps its batch).

Each pattern accepts only pieces that the line parsers (lines.py, through text._Scanner) read to the
very same record: the reasons are given at each one. Every class below is narrower than the parser
regex it stands for (ASCII digits, bounded repeats, no `\r`, `\n` or ESC inside a piece), so a piece
the pattern does not take is simply parsed as before. tests/test_analyze_log_readers.py checks that
reading with runs gives what parsing each piece gives, on clean and on mangled consoles.
"""

from __future__ import annotations

import operator
import re

from nandoctor.logs.readers.lines import Rec

# a number as Python's `%g`, repr() and f-strings write it: a subset of lines.NUM that float() reads
# exactly as lines.value() does (value() tries float() first); no `,`, `'`, `}` or space, so it never
# runs into what follows it. Every counted repeat here is possessive (`{1,20}+`): what follows one
# can never continue it (a space after digits, `|` after bar glyphs), so giving characters back would
# never make a match, and the engine is spared trying
_NUM = r"[-+]?(?:[0-9]{1,20}+(?:\.[0-9]{0,20}+)?(?:e[-+]?[0-9]{1,3}+)?|nan|inf)"
_SEP = r"(\r\n|\r|\n)"
# pieces before a record that are no record: blanks (tqdm clearing its line, the empty piece before a
# line's first `\r`) and, for the HF Trainer, tqdm's own bar ` 8%|▊         | 2/24 [00:00<00:00, 58.40it/s]`.
# The parsers read neither: a blank piece is skipped; a bar holds `%|` (pipe() refuses it), starts
# with no counter (`\d+/` for yolo_row and keras_line), holds none of the words the other formats
# need (`{'`, `Epoch`, `all`, `NaN`, `iter`...) and no letter but `it/s`, so no `key: value` pair.
# A noise piece ends with a `\r` that starts no `\r\n`: it holds no line break.
_BLANK = r" {0,400}+"
_TQDM_STATS = r"[0-9:]{1,12}+<(?:[0-9:]{1,12}+|\?), {0,4}+(?:[0-9.]{1,12}+|\?)(?:it/s|s/it)"  # `00:01<00:19, 8.20it/s`
_TQDM_BAR = rf" {{0,2}}+[0-9]{{1,3}}+%\|[ ▏▎▍▌▋▊▉█]{{0,100}}+\| [0-9]{{1,12}}+/[0-9]{{1,12}}+ \[{_TQDM_STATS}\]"
_LIGHTNING_BAR = r": {1,4}+[0-9]{1,3}+%\|[ ▏▎▍▌▋▊▉█]{0,100}+\| {0,2}+"  # `:  45%|████▌     | `
_MAX_RUNS = 256  # patterns remembered at most (one per YOLO header, HF dict or Lightning bar's keys)


class Run:
    """Reads stretches of `noise` pieces then one record piece: `keys` in the row's order (as
    text._row makes it), `fmt` the record's format."""

    __slots__ = ("keys", "fmt", "_one", "_order")

    def __init__(self, keys: tuple[str, ...], fmt: str, record: str, order: list[int], noise: str) -> None:
        self.keys, self.fmt, self._order = keys, fmt, order
        # group 1: the whole stretch; then the groups of `record`, then the separator
        self._one = re.compile(rf"((?:(?:{noise})\r(?!\n))*{record}{_SEP})")

    def read(self, block: str, pos: int) -> tuple[int, list[list[float]], tuple[str, ...]] | None:
        """Where the run of stretches at `pos` ends, each key's numbers, and each record's separator;
        None when no stretch starts at `pos`.

        A line at a time, findall() reads its stretches in C; they are the line's every piece when
        their lengths add up to it. Where they do not (a piece no stretch matches), the stretches are
        matched one by one from the line's start up to that piece, and the run ends there."""
        one, rows, at, n = self._one, [], pos, len(block)
        while at < n:
            end = block.find("\n", at) + 1 or n
            found = one.findall(block, at, end)
            if found and sum(map(len, map(_first, found))) == end - at:
                rows += found
                at = end
                continue
            while (m := one.match(block, at)) is not None:
                rows.append(m.groups())
                at = m.end()
            break
        if not rows:
            return None
        columns = list(zip(*rows, strict=True))
        return at, [_floats(columns[i + 1]) for i in self._order], columns[-1]


_first = operator.itemgetter(0)


def _floats(column: tuple[str, ...]) -> list[float]:
    """float() of each number; each distinct one read once (counters and sizes repeat down a run)."""
    if len(set(column[:32])) > 16:  # mostly distinct (a loss): looking them up would cost more
        return list(map(float, column))
    distinct = {text: float(text) for text in dict.fromkeys(column)}
    return list(map(distinct.__getitem__, column))


_known: dict[tuple, Run | None] = {}


def run_for(rec: Rec, text: str) -> Run | None:
    """The Run that reads pieces like `text`, which parsed to `rec`; None where none is known."""
    if rec.spans is None or not rec.values:
        return None
    if rec.fmt in ("ultralytics-console", "yolo-console"):
        key: tuple = (rec.fmt, tuple(k for k, _, _ in rec.spans), _ultralytics_bar(text))
        make = _yolo
    elif rec.fmt in ("lightning-console", "hf-console"):
        key = (rec.fmt, _skeleton(text, sorted(rec.spans, key=lambda s: s[1])))
        make = _lightning if rec.fmt == "lightning-console" else _hf
    else:
        return None
    if key not in _known:
        if len(_known) >= _MAX_RUNS:
            _known.clear()
        _known[key] = make(rec, text)
    return _known[key]


def _yolo(rec: Rec, text: str) -> Run | None:
    """A YOLO batch row under its bar, Ultralytics 8.4's `━━━━──── 3/40 2.0it/s 0.4s<0.5s` after an
    `ESC[K`, or tqdm's `|████      | 3/40 [00:01<00:02,  2.78it/s]` (YOLOv5): the bar of `text`.

    Why the parsers read it to this record: ANSI removal takes the `ESC[K` (the only ESC); no `Epoch`
    (yolo_row is the first format tried) and no `\\d+/\\d+ ━` (the Keras split); _YOLO_ROW matches
    with its numbers exactly the columns, because only spaces and `:` follow the last; the first
    `|` or bar glyph followed by a space and `\\d+/\\d+` after the `:` is the bar's counter (the
    glyphs hold no digit, and a space, `[` or the end follows the total)."""
    names = [k for k, _, _ in rec.spans or ()]
    if names[-3:] != ["epoch", "batch", "batches"]:
        return None  # a row without its bar: the counter is what dates a batch
    if _ultralytics_bar(text):
        esc, bar = r"(?:\x1b\[K)?", r"[━─]{1,100}+ ([0-9]{1,9}+)/([0-9]{1,9}+)(?: [ 0-9.:<?itsmh/]{0,60}+)?"
    else:
        esc, bar = "", r"\|[ ▏▎▍▌▋▊▉█]{0,100}+\| ([0-9]{1,9}+)/([0-9]{1,9}+) \[[ 0-9.:<?,itsmh/]{0,60}+\]"
    k = len(names) - 3
    row = r" {0,20}+([0-9]{1,9}+)/[0-9]{1,9}+ {1,20}+[0-9]{1,6}+(?:\.[0-9]{1,6}+)?[GMK]?" + rf" {{1,20}}+({_NUM})" * k
    record = rf"{esc}{row} {{0,20}}+: {{0,2}}+[0-9]{{1,3}}+% {{0,2}}+{bar}"
    order = [*range(1, k + 1), 0, k + 1, k + 2]  # the groups: epoch, the k numbers, batch, batches
    return Run(tuple(names), rec.fmt, record, order, _BLANK)


def _ultralytics_bar(text: str) -> bool:
    """Whether a YOLO row's bar is Ultralytics 8.4's own (else tqdm's, as YOLOv5 prints it)."""
    return "━" in text or "─" in text


def _skeleton(text: str, spans: list) -> str:
    """`text` without its numbers: the HF dicts and Lightning bars a Run reads are those with these
    keys and literals, in this order."""
    parts, at = [], 0
    for _, s, e in spans:
        parts.append(text[at:s])
        at = e
    parts.append(text[at:])
    return "\0".join(parts)


def _hf(rec: Rec, text: str) -> Run | None:
    """An HF Trainer dict `{'loss': '4.012', 'grad_norm': '3.364', 'learning_rate': '4.792e-05',
    'epoch': '0.25'}` (transformers 5 quotes the values, 4.x does not), after tqdm bars and blanks.

    The pattern is the dict itself with its numbers as groups. Why the parsers read every such
    piece to this record: it starts with `{` (no format before hf_dict matches at its start) and holds
    no `NaN` (Ultralytics' recovery message), no ESC and no `━` (the Keras split); a number is one of
    _NUM, which holds no quote, comma, brace or space, so _HF_DICT and _HF_PAIR find the same keys at
    the same places, each value in the same alternative (quoted, or bare after `: `); the dict stays
    far below their length bounds (2,000 characters, 60 a value)."""
    spans = sorted(rec.spans or (), key=lambda s: s[1])
    if not text.startswith("{") or any(c in text for c in ("NaN", "\x1b", "━")) or len(text) + 60 * len(spans) > 1800:
        return None
    parts, at = [], 0
    for _, s, e in spans:
        if text[s - 1] not in "' ":
            return None  # a value inside `tensor(...)`: left to the parsers
        parts.append(re.escape(text[at:s]) + f"({_NUM})")
        at = e
    record = "".join(parts) + re.escape(text[at:])
    in_text = [k for k, _, _ in spans]
    order = [in_text.index(k) for k, _, _ in rec.spans or ()]
    return Run(tuple(k for k, _, _ in rec.spans or ()), rec.fmt, record, order, f"{_BLANK}|{_TQDM_BAR}")


def _lightning(rec: Rec, text: str) -> Run | None:
    """A Lightning tqdm bar `Epoch 3:  45%|████▌     | 9/20 [00:01<00:01,  8.20it/s, v_num=0, loss=0.512]`.

    The pattern is `text` with its epoch, percentage, bar, counter, times, rate and logged values
    as groups or classes, the keys and `v_num` as they are. Why the parsers read every such piece to
    this record: it starts with its one `Epoch` followed by `N:` (no Keras, YOLO, mmdet or Rich
    match there), holds none of the other formats' words (`NaN`, `{'`, `iter`, `Iter(`, ` avg`) nor an
    ESC or `━`; _PL_TQDM's groups fall on the same places (the bar holds no `|`, the classes no `]`),
    and within the brackets only the logged `key=value` pairs hold an `=`, each value one of _NUM
    ended by `,` or `]`."""
    spans = sorted(rec.spans or (), key=lambda s: s[1])
    where = {k: (s, e) for k, s, e in spans}
    needles = ("NaN", "{'", "iter", "Iter", " avg", "\x1b", "━")
    if text.count("Epoch") != 1 or any(c in text for c in needles) or len(text) + 60 * len(spans) > 1800:
        return None
    (es, ee), (bs, be), (ns, ne) = where["epoch"], where["batch"], where["batches"]
    values = [(k, s, e) for k, s, e in spans if k not in ("epoch", "batch", "batches")]
    stats = re.compile(rf" {{0,2}}+\[{_TQDM_STATS}").match(text, ne)
    if (
        not re.fullmatch(r"\s*Epoch\s+", text[:es])
        or not re.fullmatch(_LIGHTNING_BAR, text[ee:bs])
        or text[be:ns] != "/"
        or stats is None
        or not values
        or values[0][1] < stats.end()
        or any(text[e] not in ",]" for _, _, e in values)
    ):
        return None
    record = re.escape(text[:es]) + r"([0-9]{1,9}+)" + _LIGHTNING_BAR + r"([0-9]{1,12}+)/([0-9]{1,12}+)"
    record += rf" {{0,2}}+\[{_TQDM_STATS}"
    at = stats.end()
    for _, s, e in values:
        record += re.escape(text[at:s]) + f"({_NUM})"
        at = e
    record += re.escape(text[at:])
    # the groups: epoch, batch, batches, then the values in the text's order
    group = {k: 3 + i for i, (k, _, _) in enumerate(values)} | {"epoch": 0, "batch": 1, "batches": 2}
    keys = tuple(k for k, _, _ in rec.spans or ())
    return Run(keys, rec.fmt, record, [group[k] for k in keys], _BLANK)
