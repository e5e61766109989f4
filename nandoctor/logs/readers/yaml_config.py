"""Telling a YAML config from a console log: both are `key: value` lines, and analyze-log must refuse the
first with the right advice instead of reading it as a log. Its own module so that the package's
dispatcher and the console reader share it without importing each other."""

from __future__ import annotations

import re

SNIFF_BYTES = 65536  # the head the dispatcher reads; a longer head is cut at its last whole line
_YAML_KEY = re.compile(r"^[A-Za-z_][\w.-]*:(\s|$)")
YAML_REFUSAL = "a YAML config, not a training log (for configs use `nandoctor diagnose-config`)"


def looks_like_yaml_config(head: str) -> bool:
    """Mostly `key: value` lines at column 0 and no line with two metrics: a config, not a log.

    A config nested under one or two keys, or holding a block scalar (`notes: |`) or a URL, fails
    the quick test; then the YAML parser decides: a mapping is a config (a console log never is one:
    its lines repeat their keys, or hold several pairs, or are prose)."""
    lines = [ln for ln in head.splitlines()[:200] if ln.strip() and not ln.lstrip().startswith("#")]
    if len(lines) < 3:
        return False
    keyed = sum(bool(_YAML_KEY.match(ln)) or ln.startswith(("  ", "- ")) for ln in lines)
    top = [ln.split(":", 1)[0] for ln in lines if _YAML_KEY.match(ln)]
    unique = len(set(top)) >= 0.8 * len(top)  # a config names each key once; a log repeats `loss: ...`
    if keyed < 0.9 * len(lines) or not top or not unique:
        return False
    multi = sum(ln.count(":") + ln.count("=") >= 3 or "|" in ln or "{'" in ln for ln in lines)
    if multi == 0 and len(top) >= 3:
        return True
    return _yaml_mapping(head)


def _yaml_mapping(head: str) -> bool:
    """Whether `head` (cut at its last whole line) parses as a YAML mapping with unique top keys."""
    import yaml

    text = head[: head.rfind("\n") + 1] if len(head) >= SNIFF_BYTES else head
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        doc = yaml.load(text, Loader=loader)  # safe: plain data only; aliases are shared, never copied
    except (yaml.YAMLError, RecursionError, ValueError, OverflowError):
        return False
    return isinstance(doc, dict) and len(doc) == len(
        {ln.split(":", 1)[0] for ln in head.splitlines() if _YAML_KEY.match(ln)}
    )
