"""One parser per console-line format, recognised by content. Each turns a line into a `Rec`
(values by metric name plus the log's own counters) or returns None; `LineParser` keeps what
spans lines (the Keras `Epoch 4/5` header, a YOLO column header, the current epoch).

Hand-written regexes rather than a parsing library: every format here is one line of `name: value`
pairs around a counter, and no maintained library reads training consoles. Each regex is anchored
or bounded, and lines are capped in length by the caller, so hostile input stays linear.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

from nandoctor.numbers import parse_number

NUM = r"[-+]?(?:nan(?:\(ind\)|\.0+)?|inf(?:inity|\.0+)?|(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)"  # tqdm: `nan.0`
_END = r"(?![\w.%/])"  # a value ends at a separator, not inside `1s`, `44ms/step` or `0.97%`


def value(token: str) -> float | None:
    """A log's number token as a float (`nan`, `-nan`, `nan(ind)`, `inf`, `1.0E+00`); None if not one."""
    return parse_number(token.strip().strip("'\""))


@lru_cache(maxsize=4096)
def name(raw: str) -> str:
    """`Train Loss` -> `train_loss`, `lm loss` -> `lm_loss`, `train/box_loss` kept."""
    return re.sub(r"[^a-z0-9/]+", "_", raw.strip().lower()).strip("_")


@dataclass
class Rec:
    fmt: str
    values: dict[str, float] = field(default_factory=dict)
    epoch: float | None = None
    step: float | None = None
    batch: int | None = None
    batches: int | None = None
    # where each number of the record sits in the line: (row key, start, end) in the order of
    # text._row's keys; set only by formats whose record is nothing but those numbers, so the
    # reader can read the lines like it as one table (shapes.Template) or one regex run (runs.Run)
    spans: tuple[tuple[str, int, int], ...] | None = None


# --- Hugging Face Trainer console: {'loss': 0.0, 'grad_norm': nan, 'learning_rate': 5e-05, 'epoch': 0.54}
_HF_DICT = re.compile(r"\{\s*'(?:loss|eval_\w+|train_runtime|grad_norm|learning_rate|epoch|train_loss)'[^{}]{0,2000}\}")
_HF_PAIR = re.compile(
    r"'([A-Za-z_][\w/.-]{0,80})'\s*:\s*(?:'([^']{0,60})'|\w+\.\w+\(\s*([^()]{1,60})\)|([^,}\s]{1,60}))"
)


def hf_dict(text: str) -> Rec | None:
    m = _HF_DICT.search(text)
    if not m:
        return None
    pairs: dict[str, float] = {}
    at: dict[str, tuple[int, int]] = {}
    for p in _HF_PAIR.finditer(text, m.start(), m.end()):
        g = 2 if p.group(2) else 3 if p.group(3) else 4
        v = value(p.group(g) or "")
        if v is not None:
            if p.group(1) in pairs:
                at.clear()  # a key logged twice: no spans (its first place holds the last value)
            pairs[p.group(1)] = v
            at[p.group(1)] = p.span(g)
    if not pairs:
        return None
    rec = Rec("hf-console", epoch=pairs.pop("epoch", None))
    if "train_runtime" in pairs:  # the closing summary: a run average, not a point of the curve
        return rec
    rec.values = pairs
    if len(at) == len(pairs) + (rec.epoch is not None) and not _DIGIT.search("".join(at)):  # keys hold no digit
        rec.spans = tuple((k, *at[k]) for k in pairs) + ((("epoch", *at["epoch"]),) if rec.epoch is not None else ())
    return rec


# --- Megatron-LM: ` iteration 5426/ 250000 | ... | lm loss: 2.3E+00 | loss scale: 1.0 | grad norm: nan |`
_MEGATRON = re.compile(r"^\s*(?:\[[^\]]{0,60}\]\s*)?iteration\s+(\d+)\s*/\s*(\d+)\s*\|", re.I)
_CELL = re.compile(r"^\s*([A-Za-z][\w ./()-]{0,60}?)\s*[:=]?\s+(" + NUM + r")\s*$", re.I)


def megatron(text: str) -> Rec | None:
    m = _MEGATRON.match(text)
    if not m:
        return None
    rec = Rec("megatron", step=float(m.group(1)))
    for cell in text[m.end() :].split("|"):
        c = _CELL.match(cell)
        v = value(c.group(2)) if c else None
        if c and v is not None:
            rec.values[name(c.group(1))] = v
    return rec


# --- mmdet / mmengine: `Epoch [1][25500/61598]\tlr: 0.02, loss: nan`, `Epoch(train) [1][ 50/500]  loss: 0.5`
_MMDET = re.compile(r"\bEpoch\s*(?:\((train|val|test)\))?\s*\[\s*(\d+)\s*\]\s*\[\s*(\d+)\s*/\s*(\d+)\s*\]", re.I)
_MMITER = re.compile(r"\bIter\s*\((train|val|test)\)\s*\[\s*(\d+)\s*/\s*(\d+)\s*\]", re.I)
_COLON_PAIR = re.compile(r"(?:^|[\s,|])([A-Za-z][\w/.-]{0,60}):\s*(" + NUM + r")" + _END, re.I)


def mmdet(text: str) -> Rec | None:
    m = _MMDET.search(text)
    if m:
        rec = Rec("mmdet", epoch=float(m.group(2)), batch=int(m.group(3)), batches=int(m.group(4)))
        mode = (m.group(1) or "train").lower()
    else:
        m = _MMITER.search(text)
        if not m:
            return None
        rec = Rec("mmdet", step=float(m.group(2)))
        mode = m.group(1).lower()
    prefix = "" if mode == "train" else "val/"
    for key, v in _COLON_PAIR.findall(text[m.end() :]):
        x = value(v)  # never None: the regex matched a number
        if x is not None and key.lower() not in ("eta", "time", "data_time", "memory"):
            rec.values[prefix + name(key)] = x
    return rec


# --- detectron2: `[04/19 00:18:40 d2.utils.events]:  eta: 0:13:29  iter: 199  total_loss: nan  loss_cls: nan`
_D2 = re.compile(r"\biter:\s*(\d+)\s+(?=.*\b(?:total_loss|loss_\w+):)", re.I)


def detectron2(text: str) -> Rec | None:
    m = _D2.search(text)
    if not m:
        return None
    rec = Rec("detectron2", step=float(m.group(1)))
    for key, v in _COLON_PAIR.findall(text[m.end() :]):
        x = value(v)
        if x is not None and key.lower() not in ("eta", "time", "data_time", "max_mem"):
            rec.values[name(key)] = x
    return rec


# --- darknet: ` 74: -nan, -nan avg loss, 0.001000 rate, 2.95 seconds, 4736 images` (value before name)
_DARKNET = re.compile(
    r"^\s*(\d+):\s*(" + NUM + r"),\s*(" + NUM + r")\s+avg(?: loss)?,\s*(" + NUM + r")\s+rate,"
    r"\s*(" + NUM + r")\s+seconds,\s*(\d+)\s+images",
    re.I,
)


def darknet(text: str) -> Rec | None:
    m = _DARKNET.match(text)
    if not m:
        return None
    read = {
        "loss": value(m.group(2)),
        "avg_loss": value(m.group(3)),
        "learning_rate": value(m.group(4)),
        "seconds": value(m.group(5)),
        "images": float(m.group(6)),
    }
    return Rec("darknet", step=float(m.group(1)), values={k: v for k, v in read.items() if v is not None})


# --- Keras 2/3: `Epoch 4/5` then `23/31 [====>....] - ETA: 1s - loss: nan` or `23/31 ━━━━ 1s 44ms/step - loss: nan`
_KERAS_EPOCH = re.compile(r"^\s*Epoch\s+(\d+)/(\d+)\s*$")
_KERAS_LINE = re.compile(r"^\s*(\d+)/(\d+)\s+(?:\[[=>.]*\]|[━─\u2501\u2500\u2578\u257a]+|-)\s")
_DASH_PAIR = re.compile(r"(?:^|\s)-\s+([A-Za-z_][\w/.]{0,60}):\s*(" + NUM + r")" + _END, re.I)


def keras_line(text: str) -> tuple[int, int, dict] | None:
    m = _KERAS_LINE.match(text)
    if not m:
        return None
    pairs = {name(k): value(v) for k, v in _DASH_PAIR.findall(text[m.end() - 1 :]) if k.lower() != "eta"}
    return (int(m.group(1)), int(m.group(2)), pairs) if pairs else None


# --- Lightning progress bars: tqdm `Epoch 3: 100%|####| 50/50 [00:01<00:00, 30.0it/s, loss=nan, v_num=1]`,
#     rich `Epoch 9/9  ━━━━ 8/8 0:00:00 • 0:00:00 814.98it/s v_num: 0 train_loss_step: 0.009 ...`
_PL_TQDM = re.compile(r"^\s*Epoch\s+(\d+):\s*\d+%\|[^|]{0,200}\|\s*(\d+)/(\d+)\s*\[([^\]]{0,2000})\]")
_PL_RICH = re.compile(r"^\s*Epoch\s+(\d+)/(\d+)\s+[━─\u2501\u2500\u2578\u257a]+\s+(\d+)/(\d+)\s")
_EQ_PAIR = re.compile(r"(?:^|[\s,])([A-Za-z_][\w/.]{0,60})=(" + NUM + r")" + _END, re.I)


def lightning(text: str) -> Rec | None:
    m = _PL_TQDM.match(text)
    spans = None
    if m:
        found = [(name(p.group(1)), p) for p in _EQ_PAIR.finditer(m.group(4))]
        pairs = {k: x for k, p in found if (x := value(p.group(2))) is not None}
        rec = Rec("lightning-console", epoch=float(m.group(1)), batch=int(m.group(2)), batches=int(m.group(3)))
        if len(pairs) == len(found):  # no key twice: each value's place is known
            at = m.start(4)
            spans = tuple((k, at + p.start(2), at + p.end(2)) for k, p in found if k != "v_num")
            spans += (("epoch", *m.span(1)), ("batch", *m.span(2)), ("batches", *m.span(3)))
    else:
        m = _PL_RICH.match(text)
        if not m:
            return None
        pairs = {name(k): x for k, v in _COLON_PAIR.findall(text[m.end() :]) if (x := value(v)) is not None}
        rec = Rec("lightning-console", epoch=float(m.group(1)), batch=int(m.group(3)), batches=int(m.group(4)))
    pairs.pop("v_num", None)
    if not pairs:
        return None
    rec.values, rec.spans = pairs, spans
    return rec


# --- YOLO consoles: a header `Epoch GPU_mem box_loss cls_loss dfl_loss Instances Size` (Ultralytics 8),
#     `Epoch gpu_mem box obj cls total labels img_size` (YOLOv5/YOLOv7), then `41/299 65.1G nan 0.015 0 nan 1869 320: ...`
_YOLO_HEADER = re.compile(r"^\s*Epoch\s+(?:GPU_mem|gpu_mem)\s+((?:[A-Za-z_][\w/]*\s+){1,12}[A-Za-z_][\w/]*)\s*$")
_YOLO_ROW = re.compile(
    r"^\s*(\d+)/(\d+)\s+(\d+(?:\.\d+)?[GMK]?)\s+((?:" + NUM + r"\s+){1,12}" + NUM + r")\s*(?::|$)", re.I
)
# Ultralytics 8.4's NaN recovery (engine/trainer.py `_handle_nan_recovery`)
_YOLO_RECOVERY = re.compile(r"(Loss|Fitness) NaN/Inf detected|NaN persisted for \d+ epochs")


def yolo_header(text: str) -> list[str] | None:
    m = _YOLO_HEADER.match(text)
    return [name(n) for n in m.group(1).split()] if m else None


def yolo_row(text: str, names: list[str]) -> Rec | None:
    m = _YOLO_ROW.match(text)
    if not m:
        return None
    tokens = m.group(4).split()
    if len(tokens) != len(names):
        return None
    fmt = "ultralytics-console" if any(n.endswith("_loss") for n in names) else "yolo-console"
    values = {n: x for n, t in zip(names, tokens, strict=True) if (x := value(t)) is not None}
    rec = Rec(fmt, values=values, epoch=float(m.group(1)))
    bar = _TQDM_COUNT.search(text, m.end())  # the batch counter of the epoch's progress bar
    if bar:
        rec.batch, rec.batches = int(bar.group(1)), int(bar.group(2))
    at = [t.span() for t in _TOKEN.finditer(text, m.start(4), m.end(4))]
    if len(set(names)) == len(names) == len(at):
        spans = [(n, *t) for n, t in zip(names, at, strict=True)]
        spans.append(("epoch", *m.span(1)))
        if bar:
            spans += [("batch", *bar.span(1)), ("batches", *bar.span(2))]
        rec.spans = tuple(spans)
    return rec


_TOKEN = re.compile(r"\S+")


_TQDM_COUNT = re.compile(r"(?:\||[━─]\s)\s*(\d+)/(\d+)\b")  # tqdm `| 21/40 [`, Ultralytics 8.4 `━━━ 1/2`


_ULTRALYTICS_DEFAULT = ["box_loss", "cls_loss", "dfl_loss", "instances", "size"]  # 8.x detect, when no header


# the validation summary after each epoch: `all  20987  129965  0.848  0.542  0.609  0.332` (images, labels, P, R,
# mAP50, mAP50-95); Ultralytics 8 adds mask/pose columns after those four, which are not read
_YOLO_VAL = re.compile(
    r"^\s*all\s+(\d+)\s+(\d+)\s+(" + NUM + r")\s+(" + NUM + r")\s+(" + NUM + r")\s+(" + NUM + r")", re.I
)


def yolo_val(text: str, epoch: float | None) -> Rec | None:
    m = _YOLO_VAL.match(text)
    if not m:
        return None
    names = ("metrics/precision", "metrics/recall", "metrics/mAP50", "metrics/mAP50-95")
    values = {n: x for n, v in zip(names, m.groups()[2:], strict=True) if (x := value(v)) is not None}
    return Rec("yolo-val", values=values, epoch=epoch)


def yolo_recovery(text: str) -> bool:
    return bool(_YOLO_RECOVERY.search(text))


# --- pipe consoles: `| epoch   1 |   200/ 2983 batches | lr 20.00 | loss  7.63 |`,
#     `Epoch 2/50 | Train Loss: 0.7663 | Val Loss: nan`, `Iter 100 | loss 2.3`
_BATCHES = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s+(?:batches|batch|iters|it|steps)\s*$", re.I)
_COUNTER_CELL = re.compile(
    r"^\s*(?:end\s+of\s+)?(epoch|step|iter|iteration|global_step)\s*[:=#]?\s*(\d+)"
    r"(?:\s*/\s*(\d+))?\s*$",
    re.I,
)


def pipe(text: str) -> Rec | None:
    if text.count("|") < 1 or "%|" in text:
        return None
    rec = Rec("pipe-console")
    for cell in text.split("|"):
        if not cell.strip():
            continue
        c = _COUNTER_CELL.match(cell)
        if c:
            kind = c.group(1).lower()
            if kind == "epoch":
                rec.epoch = float(c.group(2))
            else:
                rec.step = float(c.group(2))
            continue
        b = _BATCHES.match(cell)
        if b:
            rec.batch, rec.batches = int(b.group(1)), int(b.group(2))
            continue
        for part in cell.split(","):
            p = _CELL.match(part)
            v = value(p.group(2)) if p else None
            if p and v is not None:
                rec.values[name(p.group(1))] = v
    if not rec.values or (rec.epoch is None and rec.step is None and not any(is_metric(k) for k in rec.values)):
        return None
    return rec


# --- Python logging and other `name: value` / `name=value` lines:
#     `2024-05-01 12:00:00,123 - INFO - step 1500 loss=nan`, `[12:00:00] step 12: loss=2.3`
_STAMP = re.compile(
    r"^\s*(?:\[?\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?\]?|\[\d\d:\d\d:\d\d(?:[.,]\d+)?\])"
    r"(?:\s*[-|:]?\s*(?:[\w.\[\]]{1,40}\s*[-|:]\s*){0,3})?\s*"
)
_COUNTER = re.compile(r"\b(epoch|step|iter|iteration|global_step)\s*[:=#]?\s*\[?\s*(\d+)(?:\s*/\s*(\d+))?", re.I)
_PAIR = re.compile(
    r"(?:^|(?<=[\s,;|({\[]))([A-Za-z][\w/.-]{0,40}(?: [A-Za-z][\w/.-]{0,20}){0,2}?)\s*[:=]\s*(" + NUM + r")" + _END,
    re.I,
)
_METRIC = re.compile(
    r"loss|acc|grad|norm|ppl|perplex|map|f1|score|error|psnr|bleu|reward|kl|mse|mae|iou|dice|"
    r"precision|recall|top1|top5|auc",
    re.I,
)
_CONFIG_LINE = re.compile(r"Namespace\(|^\s*(?:[\w ./-]+:\s*)?(?:[\w.]+=[^,=]*,\s*){5,}")


def is_metric(key: str) -> bool:
    return bool(_METRIC.search(key))


# Lines of one console mostly differ only in their digits (`step 12 loss=0.5132` then `step 13 loss=0.4871`),
# and none of the regexes below tells one digit from another, except `0` after `nan.` or `inf.` (tqdm's
# `nan.0`): two lines alike once their digits are all read as `1` give the same matches at the same places.
# So the regexes run once per such shape, and each line reads its own keys and values from the spans found.
# The shape is taken on the UTF-8 bytes (bytes.translate is many times faster than str.translate).
_SHAPE = bytes.maketrans(b"0123456789", b"1111111111")
_SHAPE_KEEP_0 = bytes.maketrans(b"123456789", b"111111111")
_SPANS: dict[bytes, tuple] = {}  # shape -> (spans, plan)
_MAX_SHAPES = 4096
_KEYS: dict[str, str | None] = {}  # a raw key -> its name, None for a counter (`global_step`); bounded too


def shape(text: str) -> bytes:
    """`text` with its digits read as `1` (its 0s kept where a 0 can decide: `nan.0`, non-ASCII)."""
    raw = text.encode("utf-8", "surrogatepass")
    low = raw.lower()  # non-ASCII text keeps its 0s too: `re.I` folds some other letters onto n, a, i, f
    return raw.translate(_SHAPE_KEEP_0 if b"nan." in low or b"inf." in low or not raw.isascii() else _SHAPE)


def keeps_zero(text: str) -> bool:
    """Whether shape() keeps the 0s of `text` (the same test, on the text)."""
    if not text.isascii():
        return True
    low = text.lower()
    return "nan." in low or "inf." in low


def _spans(text: str) -> tuple:
    """Where generic()'s regexes match in `text`: (config line?, pair spans, counter spans)."""
    m = _STAMP.match(text)  # `_STAMP` is anchored: removing its first match is removing this one
    start = m.end() if m else 0
    body = text[start:]
    if (
        (body.count("=") >= 5 or "Namespace(" in body)
        and _CONFIG_LINE.search(body)
        and ("loss" not in body.lower() or body.count("=") >= 12)
    ):
        return True, (), None  # an argparse Namespace(...) or `hyperparameters: lr0=0.01, ...` line is a config
    pairs = tuple(
        (p.start(1) + start, p.end(1) + start, p.start(2) + start, p.end(2) + start) for p in _PAIR.finditer(body)
    )
    c = _COUNTER.search(body)
    counter = (c.start(1) + start, c.end(1) + start, c.start(2) + start, c.end(2) + start) if c else None
    return False, pairs, counter


def _plan(text: str, found: tuple) -> tuple | None:
    """When no key holds a digit, every line of this shape has the same keys, and so the same verdict
    on being a record: (names with their value spans, counter word, counter spans, record?)."""
    config, spans, counter = found
    if config or not spans or any(_DIGIT.search(text[ks:ke]) for ks, ke, _, _ in spans):
        return None
    named = tuple(
        (k, vs, ve) for k, vs, ve in ((_key(text[ks:ke]), vs, ve) for ks, ke, vs, ve in spans) if k is not None
    )
    kind = text[counter[0] : counter[1]].lower() if counter else None
    return named, kind, counter, generic_slow(text, found) is not None


def _fixed(text: str, plan: tuple) -> Rec | None:
    named, kind, counter, record = plan
    if not record:
        return None
    pairs = {}
    for k, vs, ve in named:
        v = text[vs:ve]
        try:
            pairs[k] = float(v)  # what value() tries first
        except ValueError:
            if (x := value(v)) is not None:  # always: the regex matched a number
                pairs[k] = x
    rec = Rec("text-log", values=pairs)
    spans = tuple(named)
    if kind == "epoch":
        rec.epoch = float(text[counter[2] : counter[3]])
        spans += (("epoch", counter[2], counter[3]),)
    elif kind is not None:
        rec.step = float(text[counter[2] : counter[3]])
        spans += (("step", counter[2], counter[3]),)
    if len(pairs) == len(named):  # no key twice
        rec.spans = spans
    return rec


_DIGIT = re.compile(r"[0-9]")


def _key(raw: str) -> str | None:
    """A raw key's name; None for a counter (`global_step`, `NaN at iteration=199`), not a value."""
    try:
        return _KEYS[raw]
    except KeyError:
        named = name(raw)
        k = None if named.rsplit("_", 1)[-1] in ("epoch", "step", "iter", "iteration") else named
        if len(_KEYS) >= _MAX_SHAPES:
            _KEYS.clear()
        _KEYS[raw] = k
        return k


def generic(text: str) -> Rec | None:
    key = shape(text)
    cached = _SPANS.get(key)
    if cached is None:
        if len(_SPANS) >= _MAX_SHAPES:
            _SPANS.clear()
        found = _spans(text)
        cached = _SPANS[key] = (found, _plan(text, found))
    found, plan = cached
    if plan is not None:  # every key digit-free: only the values differ from line to line
        return _fixed(text, plan)
    return generic_slow(text, found)


def alike_parse_alike(text: str, key: bytes, rec: Rec | None) -> bool:
    """Whether every line of shape `key` (digits aside, the same text) parses as `text` did.

    True but where a key's digits decide: a pipe cell or a lone generic pair is a record only when
    its key names a metric (`top1` does, `top7` does not), and two keys alike but for their digits
    (`a1=1 a2=2`, `a1=1 a1=2`) are two pairs or one."""
    if "|" in text and "%|" not in text:
        return False  # pipe() read it (or tried to): its cells' keys decided
    if rec is not None and rec.fmt != "text-log":
        return True  # read by a format before generic(), none of which looks at a key's digits
    cached = _SPANS.get(key)
    if cached is None:
        return rec is None and not text.strip()  # only a blank line never reaches generic()
    (config, spans, _), plan = cached
    return config or not spans or plan is not None


def generic_slow(text: str, found: tuple) -> Rec | None:
    """generic() read through the spans its regexes found, each key named on its own."""
    config, spans, counter = found
    if config or not spans:
        return None
    pairs = {}
    for ks, ke, vs, ve in spans:
        k = _key(text[ks:ke])
        if k is not None:
            v = text[vs:ve]
            try:
                pairs[k] = float(v)  # what value() tries first
            except ValueError:
                if (x := value(v)) is not None:  # always: the regex matched a number
                    pairs[k] = x
    if not pairs:
        return None
    rec = Rec("text-log")
    if counter:
        if text[counter[0] : counter[1]].lower() == "epoch":
            rec.epoch = float(text[counter[2] : counter[3]])
        else:
            rec.step = float(text[counter[2] : counter[3]])
    if rec.epoch is None and rec.step is None and not any(is_metric(k) for k in pairs):
        return None  # `Total Sequences: 4067` in prose is not a log record
    if len(pairs) == 1 and rec.epoch is None and rec.step is None and not any("loss" in k for k in pairs):
        return None  # a lone `key: value` (a YAML line, a banner) is not a training record
    rec.values = pairs
    return rec


# a substring each format's line must hold: the regexes run only on lines that can match
_GUARDED = (
    ("iteration", megatron),
    ("Epoch", mmdet),
    ("Iter(", mmdet),
    ("iter:", detectron2),
    (" avg", darknet),
    ("Epoch", lightning),
)


class LineParser:
    """Feeds lines through the formats above, keeping state that spans lines."""

    def __init__(self) -> None:
        self.keras_epoch: tuple[int, int] | None = None
        self.yolo_names: list[str] | None = None
        self.last_epoch: float | None = None
        self.last_step: float | None = None

    def parse(self, text: str) -> Rec | None:
        if not text.strip():
            return None
        rec = self._parse(text)
        if rec is not None:
            if rec.epoch is not None:
                self.last_epoch = rec.epoch
            if rec.step is not None:
                self.last_step = rec.step
        return rec

    def _parse(self, text: str) -> Rec | None:
        # each `in` test below is a substring the regex after it cannot match without: a cheap skip
        has_epoch = "Epoch" in text
        k = _KERAS_EPOCH.match(text) if has_epoch else None
        if k:
            self.keras_epoch = (int(k.group(1)), int(k.group(2)))
            return Rec("keras-console", epoch=float(k.group(1)))  # a header: counted as read, no values
        names = yolo_header(text) if has_epoch else None
        if names:
            self.yolo_names = names
            return Rec("yolo-header")
        slash = "/" in text
        rec = yolo_row(text, self.yolo_names or _ULTRALYTICS_DEFAULT) if slash else None
        if rec:
            return rec
        if "all" in text and self.last_epoch is not None:
            rec = yolo_val(text, self.last_epoch)
            if rec:
                return rec
        if "NaN" in text and yolo_recovery(text):
            return Rec("ultralytics-console", values={"nan_recovery": math.nan}, epoch=self.last_epoch)
        if "{'" in text:
            rec = hf_dict(text)
            if rec:
                return rec
        for needle, parse in _GUARDED:
            if needle in text:
                rec = parse(text)
                if rec:
                    return rec
        kl = keras_line(text) if slash else None
        if kl:
            batch, batches, pairs = kl
            epoch = float(self.keras_epoch[0]) if self.keras_epoch else None
            return Rec("keras-console", values=pairs, epoch=epoch, batch=batch, batches=batches)
        return pipe(text) or generic(text)
