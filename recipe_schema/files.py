"""Reading inputs and writing outputs without losing the user's data.

Every package writes through ``atomic_write``: the text goes to a temporary file
beside the target, is flushed to disk, then renamed over it, so a crash or a
failure never leaves a half-written file and an existing file stays untouched
until the new one is complete. Every command that writes files first asks
``refuse_overwriting_inputs`` whether an output would destroy one of its inputs
(``render r.json -o r.json``), and refuses before any work when it would.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Union

from .errors import InputFileError, UsageError

PathArg = Union[str, "os.PathLike[str]"]

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


def _paths(value: PathArg | Iterable[PathArg] | None) -> list[Path]:
    if value is None:
        return []
    if isinstance(value, (str, os.PathLike)):
        value = [value]
    return [Path(v) for v in value if str(v) not in ("", STDIN)]


def _same(a: Path, b: Path) -> bool:
    """One file under two names: the same path, a symbolic or a hard link."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def _inside(child: Path, parent: Path) -> bool:
    return parent.resolve() in child.resolve().parents


def refuse_overwriting_inputs(outputs: Mapping[str, PathArg | Iterable[PathArg] | None],
                              inputs: Mapping[str, PathArg | Iterable[PathArg] | None]) -> None:
    """Refuse, before anything is written, outputs that would destroy an input or each other.

    An output destroys an input when it is the same file (by name, symbolic or hard
    link), when it is a directory that will be replaced and holds the input, or when it
    is an existing file inside an input directory (``-o model/config.json``). Two
    outputs that are one file would overwrite each other. ``-`` (stdin) and ``None`` are
    ignored; an input that does not exist (a hub model's name, a database's WAL file
    between sessions) is refused only as the very same path.

    Parameters
    ----------
    outputs, inputs
        Name (as the user gave it: a flag or a parameter) -> one path or several.

    Raises
    ------
    UsageError
        Naming both paths; nothing has been written.
    """
    outs = [(name, path) for name, value in outputs.items() for path in _paths(value)]
    ins = [(name, path) for name, value in inputs.items() for path in _paths(value)]
    for name, out in outs:
        for in_name, src in ins:
            if _same(out, src):
                raise UsageError(f"{name}: {out} is the {in_name} input; writing it would destroy it "
                                 "(choose another path; nothing was written)")
            if not src.exists():  # a hub model's name: nothing on disk to lose
                continue
            if _inside(src, out):
                raise UsageError(f"{name}: {out} holds the {in_name} input {src}, which writing it "
                                 "would destroy (choose another path; nothing was written)")
            if src.is_dir() and out.exists() and _inside(out, src):
                raise UsageError(f"{name}: {out} is a file of the {in_name} input {src}; writing it "
                                 "would destroy it (choose another path; nothing was written)")
    for i, (name, out) in enumerate(outs):
        for other_name, other in outs[i + 1:]:
            if _same(out, other):
                raise UsageError(f"{name} and {other_name} are one file ({out}); give each its own path")
