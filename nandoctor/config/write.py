"""Write the repaired config: change only the bytes of the changed values, comment each changed
line, add keys next to a sibling, then write atomically beside the input.

Why not ruamel.yaml's dumper: on the real files under shared/formats its round trip rewrites
untouched lines (`null` -> empty, `False` -> `false`, sequence indentation, trailing spaces, flow
mappings) and dumps 1e-06 as `1e-06`, which PyYAML reads back as a string. Splicing at the node
positions PyYAML reports keeps every untouched byte, and the result is re-read with PyYAML (what
the training script uses) to prove each new value loads as intended.

Positions are PyYAML's, so the text is split where PyYAML counts lines (CR, LF, CRLF, NEL, LS/PS),
inserted lines take the file's own line ending, a BOM is written back, an `&anchor`/`!tag` before
a scalar is kept, and a node reached through an alias or a `<<:` merge key is edited once, where
it is written. A key is added only inside its own mapping's text (block or flow), never after an
inherited sibling.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from nandoctor.config.issues import Issue
from nandoctor.config.load import Doc, dotted
from nandoctor.findings import NandoctorError

PLAIN_SAFE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-/]*$")
YAML11_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "none", "~"}


def yaml_float(x: float) -> str:
    """A float PyYAML (YAML 1.1) reads back as a float: it needs a dot and a signed exponent."""
    r = repr(float(x))
    mantissa, _, exp = r.partition("e")
    if exp:
        if "." not in mantissa:
            mantissa += ".0"
        if exp[0] not in "+-":
            exp = "+" + exp
        return f"{mantissa}e{exp}"
    return r


def render(value: Any, doc: Doc, old_text: str = "") -> str:
    if doc.is_json:
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        word = "true" if value else "false"
        return word.capitalize() if old_text[:1].isupper() else word
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return yaml_float(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {render(v, doc)}" for k, v in value.items()) + "}"
    s = str(value)
    if old_text[:1] in {"'", '"'}:
        return "'" + s.replace("'", "''") + "'" if old_text[0] == "'" else json.dumps(s)
    return s if PLAIN_SAFE.match(s) and s.lower() not in YAML11_WORDS else json.dumps(s)


def comment(issue: Issue, old: Any, new: Any, added: bool = False) -> str:
    what = f"added {new!r}" if added else f"{_show(old)} -> {_show(new)}"
    if issue.rename:
        what = f"{issue.path[-1]}: {_show(old)} -> {issue.rename}: {_show(new)}"
    return f"# nandoctor: {what}, {issue.reason or issue.code}"


def _show(v: Any) -> str:
    if isinstance(v, float):
        g = f"{v:g}"
        return g if any(c in g for c in ".en") else g + ".0"
    return json.dumps(v) if isinstance(v, (bool, type(None))) else str(v)


LINE = re.compile(r"[^\r\n\x85\u2028\u2029]*(?:\r\n|[\r\n\x85\u2028\u2029]|$)")
PREFIX = re.compile(r"^(?:[&!][^\s]*\s+)+")  # `&anchor ` / `!!float ` before a scalar: kept as written


def split_lines(text: str) -> list[str]:
    """Lines with their endings, split where PyYAML counts a line break (not str.splitlines, which also
    splits at form feeds and other characters PyYAML keeps inside a line)."""
    lines = [m.group(0) for m in LINE.finditer(text)]
    return lines[:-1] if lines and lines[-1] == "" else lines


def newline_of(text: str) -> str:
    m = re.search(r"\r\n|\r|\n", text)
    return m.group(0) if m else "\n"


def _within(node, mapping) -> bool:
    """The key node is written inside this mapping's own text (not inherited through `<<: *base`)."""
    at = (node.start_mark.line, node.start_mark.column)
    return (
        (mapping.start_mark.line, mapping.start_mark.column) <= at <= (mapping.end_mark.line, mapping.end_mark.column)
    )


def _sibling(doc: Doc, parent: tuple, preferred: str | None):
    """The key a new key goes after: `preferred` when written in this mapping, else its last own scalar key."""
    mapping = doc.mappings.get(parent)
    if mapping is None:
        return None
    names = [preferred] if preferred else []
    names += list(reversed(doc.keys(parent)))
    for name in names:
        e = doc.entries.get((*parent, name))
        if (
            e is None
            or e.key_node is None
            or e.value_node is None
            or isinstance(e.value, (dict, list))
            and not doc.is_json
        ):
            continue
        if (
            _within(e.key_node, mapping)
            and _within(e.value_node, mapping)
            and e.value_node.start_mark.line == e.value_node.end_mark.line
        ):  # not an alias of a node elsewhere
            return e
    return None


def apply(doc: Doc, issues: list[Issue]) -> tuple[str, list[Issue], list[Issue]]:
    """Return (new text, applied, skipped). Skipped ones could not be placed without reformatting."""
    lines = split_lines(doc.text)
    nl_style = newline_of(doc.text)
    edits: dict[int, list[tuple[int, int, str]]] = {}  # line -> [(col_start, col_end, text)]
    notes: dict[int, list[str]] = {}  # line -> comments to append
    inserts: dict[int, list[str]] = {}  # after line -> new lines
    done: set[tuple[int, int]] = set()  # scalar nodes already edited (anchors, merge keys)
    applied, skipped = [], []
    for issue in issues:
        entry = doc.entries.get(issue.path)
        if entry is not None:
            node = entry.value_node
            if node is None or node.start_mark.line != node.end_mark.line or isinstance(entry.value, (dict, list)):
                skipped.append(issue)
                continue
            ln, c0, c1 = node.start_mark.line, node.start_mark.column, node.end_mark.column
            prefix = PREFIX.match(lines[ln][c0:c1])
            c0 += len(prefix.group(0)) if prefix else 0
            if (ln, c0) in done:  # one node reached through an alias or `<<:`: it is edited once
                applied.append(issue)
                continue
            done.add((ln, c0))
            old_text = lines[ln][c0:c1]
            new_text = render(issue.new, doc, old_text)
            if c0 == c1:  # `key:` with an empty (null) value
                new_text = " " + new_text if lines[ln][c0 - 1 : c0] == ":" else new_text
            edits.setdefault(ln, []).append((c0, c1, new_text))
            if issue.rename:
                k = entry.key_node
                if k is None or k.start_mark.line != ln or getattr(k, "style", None) not in (None, ""):
                    skipped.append(issue)
                    continue
                edits[ln].append((k.start_mark.column, k.end_mark.column, issue.rename))
            notes.setdefault(ln, []).append(comment(issue, entry.value, issue.new))
            applied.append(issue)
            continue
        parent = tuple(issue.path[:-1])
        mapping = doc.mappings.get(parent)
        sibling = _sibling(doc, parent, issue.after) if issue.after or mapping is not None else None
        if sibling is None or mapping is None or (not doc.is_json and isinstance(sibling.value, (dict, list))):
            skipped.append(issue)
            continue
        ln = sibling.value_node.end_mark.line
        key = issue.path[-1]
        col = sibling.value_node.end_mark.column
        if doc.is_json:
            indent = " " * sibling.key_node.start_mark.column
            edits.setdefault(ln, []).append(
                (col, col, f",{nl_style}{indent}{json.dumps(key)}: {render(issue.new, doc)}")
            )
        elif mapping.flow_style:  # `{lr: 1e-4, fp16: true}`: one more pair after the sibling
            edits.setdefault(ln, []).append((col, col, f", {key}: {render(issue.new, doc)}"))
            notes.setdefault(ln, []).append(comment(issue, None, issue.new, added=True))
        else:
            indent = " " * sibling.key_node.start_mark.column
            inserts.setdefault(ln, []).append(
                f"{indent}{key}: {render(issue.new, doc)}  {comment(issue, None, issue.new, added=True)}{nl_style}"
            )
        applied.append(issue)

    out = ["\ufeff"] if doc.bom else []
    for i, line in enumerate(lines):
        m = re.search(r"(\r\n|[\r\n\x85\u2028\u2029])$", line)
        body, nl = (line[: m.start()], m.group(1)) if m else (line, "")
        for c0, c1, text in sorted(edits.get(i, []), reverse=True):
            body = body[:c0] + text + _keep_comment_column(body[c1:], len(text) - (c1 - c0))
        if i in notes and not doc.is_json:
            body = body.rstrip() + "  " + "  ".join(notes[i])
        if i in inserts and not nl:
            nl = nl_style
        out.append(body + nl + "".join(inserts.get(i, [])))
    return "".join(out), applied, skipped


def _keep_comment_column(rest: str, grew: int) -> str:
    """`lr: 1e-4      # note`: take the growth out of the padding so the comment stays aligned."""
    pad = len(rest) - len(rest.lstrip(" "))
    if grew and pad and rest[pad:].startswith("#"):
        return " " * max(2 if pad >= 2 else 1, pad - grew) + rest[pad:]
    return rest


def read_back(data: Any, path: tuple) -> tuple[bool, Any]:
    """(found, value) at a key path, through mappings and lists."""
    got = data
    for part in path:
        if isinstance(got, dict) and part in got:
            got = got[part]
        elif isinstance(got, list) and isinstance(part, int) and 0 <= part < len(got):
            got = got[part]
        else:
            return False, None
    return True, got


def verify(doc: Doc, text: str, applied: list[Issue]) -> Any:
    """Re-read the repaired text as the training script will and check every changed value; returns the data."""
    import yaml

    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the same YAML 1.1 resolver as yaml.safe_load
        body = text[1:] if text.startswith("\ufeff") else text  # json refuses a BOM; PyYAML skips it
        data = json.loads(body) if doc.is_json else yaml.load(body, Loader=loader)
    except (yaml.YAMLError, ValueError) as exc:
        raise NandoctorError(
            f"could not produce a valid repaired file ({str(exc).splitlines()[0]}); apply the changes listed by hand"
        ) from None
    for issue in applied:
        path = (*issue.path[:-1], issue.rename) if issue.rename else issue.path
        found, got = read_back(data, path)
        if not found or got != issue.new or type(got) is not type(issue.new) and not isinstance(issue.new, dict):
            raise NandoctorError(
                f"repaired file does not read back {dotted(path)} as {issue.new!r} "
                f"(got {got!r}); apply the changes listed by hand"
            )
        if issue.rename and read_back(data, issue.path)[0]:
            raise NandoctorError(f"repaired file still has {dotted(issue.path)}; apply the changes listed by hand")
    return data


def default_output(path: Path, is_json: bool) -> Path:
    suffix = ".json" if is_json else (path.suffix if path.suffix.lower() in {".yaml", ".yml"} else ".yaml")
    return path.with_name(f"{path.stem}_fixed{suffix}")
