"""Running the CLI as a user does: arguments (and stdin) in, exit code and output out."""
from __future__ import annotations

import io
import sys

import pytest

from souschef.cli import main


@pytest.fixture
def cli(capsys, monkeypatch):
    """``cli(args, stdin=b"") -> (exit code, stdout, stderr)``; never a traceback."""

    def run(args: list[str], stdin: bytes = b"") -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        try:
            code = main(args)
        except SystemExit as e:  # argparse usage errors and --help
            code = e.code
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err

    return run
