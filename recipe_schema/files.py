"""Reading inputs and writing outputs without losing the user's data.

Every package writes through ``atomic_write``: the text goes to a temporary file
beside the target, is flushed to disk, then renamed over it, so a crash or a
failure never leaves a half-written file and an existing file stays untouched
until the new one is complete.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

from .errors import InputFileError

STDIN = "-"


def read_bytes(path: str) -> bytes:
    """Read a file (``-`` is standard input); unreadable files raise ``InputFileError``."""
    if path == STDIN:
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputFileError(path, "no such file") from None
    except IsADirectoryError:
        raise InputFileError(path, "is a directory") from None
    except PermissionError:
        raise InputFileError(path, "permission denied") from None
    except OSError as e:
        raise InputFileError(path, e.strerror or str(e)) from None


def atomic_write(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename).

    Raises
    ------
    InputFileError
        When the target directory does not exist or cannot be written.
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    except FileNotFoundError:
        raise InputFileError(str(path), "directory does not exist") from None
    except OSError as e:
        raise InputFileError(str(path), e.strerror or str(e)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise InputFileError(str(path), e.strerror or str(e)) from None
        raise
