"""The one way nandoctor writes a file (a plot, a repaired config): atomically, and never over
something it must not touch.

Rules, `--force` or not: never an input of the command (also through a symlink or a hard link),
never a directory, FIFO, socket or device; only a regular file (with `--force`) or a new path.
The data goes to a temporary file beside the target, is flushed to disk and renamed into place,
so a reader never sees half a file; the new file gets the mode the umask gives (not mkstemp's 0600).
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Union

from nandoctor.findings import NandoctorError

Data = Union[bytes, str, Callable[[object], None]]  # bytes, text (UTF-8), or a function writing to a binary file


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_target(path: Path | str, force: bool, inputs: Iterable[Path | str] = (), what: str = "output") -> Path:
    """Raise NandoctorError (exit 2) unless `path` may be written; return it as a Path. Call it
    before the work, so a bad target fails fast; `write_atomic` checks again before the rename."""
    path = Path(path)
    real = Path(os.path.realpath(path))
    for src in inputs:
        if str(src) == "-":
            continue
        if real == Path(os.path.realpath(src)) or _same_file(path, Path(src)):
            raise NandoctorError(
                f"{path} is an input of this command; refusing to write the {what} over it "
                "(--force does not change that)"
            )
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        st = None
    if st is not None:
        mode = st.st_mode
        if stat.S_ISLNK(mode):
            try:
                mode = os.stat(path).st_mode  # what the link points to
            except OSError:
                mode = stat.S_IFREG  # dangling link: replacing the link itself is harmless
        if stat.S_ISDIR(mode):
            raise NandoctorError(f"{path} is a directory; give the {what} a file name")
        if not stat.S_ISREG(mode):
            raise NandoctorError(
                f"{path} is not a regular file (a device, FIFO or socket); refusing to write the {what} there"
            )
        if not force:
            raise NandoctorError(f"{path} exists; choose another path or pass --force")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise NandoctorError(f"{parent}: no such directory for the {what}")
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(
    path: Path | str,
    data: Data,
    force: bool = False,
    inputs: Iterable[Path | str] = (),
    what: str = "output",
    mode: int | None = None,
) -> Path:
    """Write `data` to `path` under the rules above; return the path written. `mode`: the new file's
    permission bits instead of the umask's (a repaired config keeps its input's)."""
    inputs = list(inputs)
    path = check_target(path, force, inputs, what)
    parent = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, (0o666 & ~_umask()) if mode is None else mode)
        check_target(path, force, inputs, what)  # nothing appeared there meanwhile
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    return path
