"""Read a config the way training scripts do (PyYAML, YAML 1.1; `json` for .json) and keep every
value's exact position, so rules can name a line and the writer can change only those bytes.

Reading goes through PyYAML's composer because it is what the user's script sees (`1e-6` is a
string there) and its nodes carry start/end marks; aliases are expanded against a size budget so a
'billion laughs' file is refused instead of hanging a walker.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nandoctor.findings import NandoctorError

MAX_BYTES = 32 * 1024 * 1024  # a config is kilobytes; anything past this is not one
MAX_EXPANDED_NODES = 200_000  # alias expansion budget (a real config has a few hundred nodes)

# YAML 1.1 (PyYAML) float needs a dot: `1e-6` is a str there, `1.0e-6` a float.
NUMBER_LIKE = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")

Path_ = tuple  # a key path: ("training", "lr") or ("datasets", "dataset_configs", "food101", "num_classes")


def dotted(path: Path_) -> str:
    return ".".join(str(p) for p in path)


@dataclass
class Entry:
    """One key's value with where it sits in the text (None where no position is known)."""

    value: Any
    key_node: Any = None
    value_node: Any = None

    @property
    def line(self) -> int | None:
        node = self.key_node or self.value_node
        return node.start_mark.line + 1 if node is not None else None

    @property
    def plain(self) -> bool:
        """Written without quotes (so a number-like string is an accident, not a choice)."""
        n = self.value_node
        return n is not None and getattr(n, "style", "x") in (None, "")  # libyaml says "", PyYAML None


@dataclass
class Doc:
    path: Path
    text: str
    data: Any
    is_json: bool
    entries: dict[Path_, Entry] = field(default_factory=dict)
    mappings: dict[Path_, Any] = field(default_factory=dict)  # path -> MappingNode (None: no position)
    bom: bool = False  # the file starts with a UTF-8 BOM, which the repaired copy keeps

    def get(self, path: Path_, default: Any = None) -> Any:
        e = self.entries.get(tuple(path))
        return default if e is None else e.value

    def has(self, path: Path_) -> bool:
        return tuple(path) in self.entries

    def line(self, path: Path_) -> int | None:
        e = self.entries.get(tuple(path))
        return e.line if e else None

    def keys(self, path: Path_ = ()) -> list[str]:
        v = self.data if not path else self.get(path)
        return [k for k in v] if isinstance(v, dict) else []

    def leaves(self):
        """(path, Entry) for every scalar value, in file order."""
        for p, e in self.entries.items():
            if not isinstance(e.value, (dict, list)):
                yield p, e


def read_text(path: Path) -> str:
    try:
        if path.is_dir():
            raise NandoctorError(f"{path}: is a directory, not a config file")
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise NandoctorError(f"{path}: {size} bytes is too large for a training config")
        raw = path.read_bytes()
    except OSError as exc:
        raise NandoctorError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if b"\x00" in raw:
        raise NandoctorError(f"{path}: binary data (NUL bytes), not a YAML or JSON config")
    try:
        return raw.decode("utf-8-sig")  # a BOM is dropped here and written back by the writer (Doc.bom)
    except UnicodeDecodeError as exc:
        raise NandoctorError(
            f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); save it as UTF-8"
        ) from None


def huge_number(path: Path, text: str, exc: ValueError) -> NandoctorError:
    """A number too long for Python's int conversion: the training script cannot load this file either."""
    m = re.search(r"\d{4301,}", text)
    if m is None:
        return NandoctorError(f"{path}: a value could not be read ({str(exc).splitlines()[0][:120]})")
    line = text.count("\n", 0, m.start()) + 1
    return NandoctorError(
        f"{path}: line {line} holds a number of {len(m.group(0))} digits, past Python's 4300-digit "
        "limit: PyYAML and json refuse it, so the training script cannot load this file"
    )


def _has_bom(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(3) == b"\xef\xbb\xbf"
    except OSError:
        return False


def _loader():
    """libyaml's parser when PyYAML was built with it (same YAML 1.1 resolver, ~10x faster), else pure Python."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _compose(text: str, path: Path):
    """PyYAML node tree plus the Python value built from it (one parse)."""
    import yaml

    loader = None
    try:
        loader = _loader()(text)  # its reader already rejects unprintable characters
        node = loader.get_single_node()
        if node is None:
            return None, None
        _check_size(node, path)
        return node, loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        hint = " (YAML does not allow tabs for indentation)" if "\\t" in str(exc) or "tab" in str(exc) else ""
        raise NandoctorError(f"{path}: not valid YAML{where}: {problem}{hint}") from None
    except RecursionError:
        raise NandoctorError(f"{path}: nesting too deep to be a training config") from None
    except ValueError as exc:  # int('1' * 5000): Python's 4300-digit limit, which the script's PyYAML hits too
        raise huge_number(path, text, exc) from None
    finally:
        if loader is not None:
            loader.dispose()


def _check_size(root, path: Path) -> None:
    """Refuse recursive aliases and alias bombs: count nodes as if aliases were expanded."""
    import yaml

    memo: dict[int, int] = {}
    active: set[int] = set()
    aliased = [False]  # a node reached twice: the size comes from aliases, not from the file's length

    def size(n) -> int:
        key = id(n)
        if key in memo:
            aliased[0] = True
            return memo[key]
        if key in active:
            raise NandoctorError(f"{path}: a recursive YAML alias (an anchor that contains itself)")
        active.add(key)
        total = 1
        if isinstance(n, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in n.value)
        elif isinstance(n, yaml.SequenceNode):
            total += sum(size(c) for c in n.value)
        active.discard(key)
        if total > MAX_EXPANDED_NODES:
            if aliased[0]:
                raise NandoctorError(
                    f"{path}: YAML aliases expand to more than {MAX_EXPANDED_NODES} values "
                    "(an alias bomb?); refusing to read it"
                )
            raise NandoctorError(
                f"{path}: more than {MAX_EXPANDED_NODES:,} values, far more than a training "
                "config holds; refusing to read it"
            )
        memo[key] = total
        return total

    size(root)


def _index(doc: Doc, node, value: Any, path: Path_) -> None:
    """Record every key path with its nodes; node may be None (JSON PyYAML could not read)."""
    import yaml

    if isinstance(value, dict):
        doc.mappings[path] = node if isinstance(node, yaml.MappingNode) else None
        pairs = {}
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode):
                    pairs[k.value] = (k, v)
        for k, v in value.items():
            kn, vn = pairs.get(str(k), (None, None))
            p = (*path, str(k))
            doc.entries[p] = Entry(v, kn, vn)
            _index(doc, vn, v, p)
    elif isinstance(value, list):
        children = node.value if isinstance(node, yaml.SequenceNode) and len(node.value) == len(value) else None
        for i, v in enumerate(value):
            vn = children[i] if children else None
            p = (*path, i)
            doc.entries[p] = Entry(v, None, vn)
            _index(doc, vn, v, p)


def _check_count(text: str, path: Path) -> None:
    """Refuse a file with more lines or comma-separated values than the value budget before any parse:
    composing a flat million-key file takes a minute and a gigabyte only to be refused after."""
    lines, commas = text.count("\n"), text.count(",")
    if max(lines, commas) > MAX_EXPANDED_NODES:
        what = f"{lines:,} lines" if lines >= commas else f"{commas:,} comma-separated values"
        raise NandoctorError(
            f"{path}: {what}, far more than a training config holds (at most "
            f"{MAX_EXPANDED_NODES:,} values are read); refusing to read it"
        )


def load(path: Path) -> Doc:
    text = read_text(path)
    _check_count(text, path)
    # A .json file is JSON; anything else is read as the training script reads it, with PyYAML, also a
    # document that is one flow mapping (`{lr: 1e-4, fp16: true}`, where `1e-4` is a string).
    is_json = path.suffix.lower() == ".json"
    data: Any = None
    if is_json:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise NandoctorError(
                f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from None
        except RecursionError:
            raise NandoctorError(f"{path}: nesting too deep to be a training config") from None
        except ValueError as exc:
            raise huge_number(path, text, exc) from None
    if is_json:
        try:  # positions only; JSON that YAML 1.1 cannot read is still diagnosed, without line numbers
            node, _ = _compose(text, path)
        except NandoctorError:
            node = None
    else:
        node, data = _compose(text, path)
    doc = Doc(path=path, text=text, data=data, is_json=is_json, bom=_has_bom(path))
    if isinstance(data, dict):
        try:
            _index(doc, node, data, ())
        except RecursionError:
            raise NandoctorError(f"{path}: nesting too deep to be a training config") from None
    return doc
