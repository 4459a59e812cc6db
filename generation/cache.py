"""Where souschef keeps what it builds once and reuses: ``$SOUSCHEF_CACHE_DIR`` or ``~/.cache/souschef``.

Compiled grammars (``grammar/``) and base models converted from GGUF (``models/``)
live under it, each keyed by a fingerprint of what it was made from, so a stale
entry is never used and deleting the folder only costs time.
"""
from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "SOUSCHEF_CACHE_DIR"


def cache_root() -> Path:
    """``$SOUSCHEF_CACHE_DIR``, or ``~/.cache/souschef``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "souschef")
