"""check-data's side of the pickle policy: the verdict inspect-ckpt gives, as ND128 findings.

A .pt/.pth/.bin is read by inspect-ckpt's reader (`nandoctor.ckpt.readers.read_any`, which judges
every pickle in the file by `nandoctor.pickle_policy`), so both commands give one file one verdict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from nandoctor.findings import Report, WrongKind

MAX_VALUES = 1 << 28  # elements materialised per tensor (check-data checks values in memory)


def judge(path: Path, report: Report) -> Any:
    """The file read inertly (a `Loaded`), or None after a finding: unsafe (error) or unreadable."""
    from nandoctor.ckpt.engine import PARSE_ERRORS, _from_unpickling
    from nandoctor.ckpt.readers import read_any
    from nandoctor.ckpt.unpickle import UnsafePickle

    try:
        loaded = read_any(path)
    except UnsafePickle as exc:
        v = exc.verdict
        names = list(v.unsafe)
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        report.add(
            "ND128",
            "error",
            f"the pickle references {shown} ({exc.reason}); not loaded (it would run code under weights_only=False)",
            path=str(path),
            where=exc.global_name,
            data={"globals": v.globals[:200], **v.to_dict()},
        )
        return None
    except MemoryError:
        raise
    except (TypeError, KeyError, IndexError, AttributeError) as exc:
        if not _from_unpickling(exc):  # raised outside the pickle: a bug of ours, not the file's fault
            raise
        return _unreadable(exc, path, report)
    except PARSE_ERRORS as exc:  # corrupt, truncated, not a checkpoint: one line (inspect-ckpt's list)
        return _unreadable(exc, path, report)
    verdict = loaded.verdict
    if verdict is not None and verdict.status == "unknown":
        report.add(
            "ND128",
            "warning",
            f"the pickle names {', '.join(verdict.unknown[:5])}, outside nandoctor's "
            "allow-list; nothing was run and the tensors were read without it (pass --trust "
            f"{verdict.unknown[0]} if you trust that code)",
            path=str(path),
            where=verdict.unknown[0],
            data={"globals": verdict.globals[:200], **verdict.to_dict()},
        )
    return loaded


def _unreadable(exc: BaseException, path: Path, report: Report) -> None:
    text = " ".join(str(exc).split())[:200] or type(exc).__name__
    report.add(
        "ND100", "error", f"cannot read this tensor file: {text}", path=str(path), wrong_kind=isinstance(exc, WrongKind)
    )
    return None


def torch_may_load(loaded: Any) -> bool:
    """torch.load(weights_only=True) only on what nandoctor judged safe and torch reads as data: not a
    TorchScript archive (torch.load would hand it to torch.jit.load, which compiles its code)."""
    v = loaded.verdict
    return (
        v is not None
        and v.status == "safe"
        and loaded.format in ("torch-zip", "torch-legacy")
        and not any(p.endswith("constants.pkl") for p in v.pickles)
    )


def tensors_of(loaded: Any, path: Path, report: Report) -> Iterator[tuple[str, Any]]:
    """(name, numpy array) for every tensor nandoctor's reader found, without torch; named by their
    path in the pickled object (`model.w`), as check-data names tensors torch loaded."""
    from nandoctor.ckpt.tensors import TensorRef
    from nandoctor.ckpt.unpickle import Unsupported

    found = False
    for name, ref in _walk(loaded.obj):
        found = True
        if isinstance(ref, Unsupported):
            report.add("ND100", "error", f"{name}: cannot read values ({ref.kind} tensor)", path=str(path), where=name)
        elif ref.numel > MAX_VALUES:
            report.add(
                "ND100",
                "error",
                f"{name}: {ref.numel:,} values, too many to check in memory",
                path=str(path),
                where=name,
            )
        elif isinstance(ref, TensorRef):
            yield name or "tensor", ref.array()
    if not found:
        report.add(
            "ND100", "error", "no tensors inside (expected a tensor, dict, list or tuple of tensors)", path=str(path)
        )


def _walk(obj: Any, budget: int = 2_000_000) -> Iterator[tuple[str, Any]]:
    """Iterative, with a visited set and a node budget: a memo bomb ends the walk, not the process."""
    from nandoctor.ckpt.tensors import TensorRef
    from nandoctor.ckpt.unpickle import Stub, Unsupported

    stack: list[tuple[Any, str, int]] = [(obj, "", 0)]
    seen: set[int] = set()
    while stack and budget > 0:
        node, name, depth = stack.pop()
        budget -= 1
        if isinstance(node, (TensorRef, Unsupported)):
            yield name, node
            continue
        if id(node) in seen or depth > 50:
            continue
        seen.add(id(node))
        if isinstance(node, Stub):
            node = node.fields
        if isinstance(node, dict):
            items = list(node.items())
        elif isinstance(node, (list, tuple)):
            items = list(enumerate(node))
        else:
            continue
        stack.extend((v, f"{name}.{k}" if name else str(k), depth + 1) for k, v in reversed(items))
