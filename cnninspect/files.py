"""Writing files the way users expect: atomically, and with the mode their umask allows.

``tempfile.mkstemp`` creates files with mode 0600 whatever the umask, so a plot, a
snapshot, a report's ``conf.py`` or a checkpoint renamed into place from it would be
unreadable to the user's group and to a web server. Every writer in cnninspect goes
through :func:`atomic_write`, which gives the file ``0666 & ~umask`` -- what
``open(path, "w")`` gives -- before renaming it over the target.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def current_umask() -> int:
    """The process umask, read without changing it where the OS lets us (Linux), else set and restored."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _open_fd(fd: int, text: bool) -> IO[Any]:
    """The temporary's descriptor as a file: UTF-8 text with ``\\n`` line ends, or bytes."""
    if text:
        return os.fdopen(fd, "w", encoding="utf-8", newline="\n")
    return os.fdopen(fd, "wb")


def atomic_write(
    path: str | os.PathLike[str],
    write: Callable[[IO[Any]], Any],
    *,
    text: bool = False,
    sync: bool = False,
    suffix: str = ".tmp",
) -> Path:
    """Call ``write(fh)`` on a temporary file beside ``path``, then rename it into place.

    A reader sees the old file or the new one, never half of one; a failed write
    leaves the old file and no temporary behind. ``sync=True`` fsyncs before the
    rename (checkpoints). The file gets the mode a plain ``open`` would give it.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    try:
        if hasattr(os, "fchmod"):  # POSIX; on Windows mkstemp's mode is not a permission problem
            os.fchmod(fd, 0o666 & ~current_umask())
        with _open_fd(fd, text) as fh:
            write(fh)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target


__all__ = ["atomic_write", "current_umask"]
