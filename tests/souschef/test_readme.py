"""The README's console examples are real: each `$ souschef ...` prints what it shows."""
import re
import shlex
import sys
from pathlib import Path

import pytest

from souschef.cli import main

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def examples():
    for block in re.findall(r"```console\n(.*?)```", README, re.DOTALL):
        for chunk in re.split(r"^\$ ", block, flags=re.MULTILINE)[1:]:
            command, _, output = chunk.partition("\n")
            if command.startswith("souschef "):
                yield pytest.param(command, output, id=command[:60])


@pytest.mark.parametrize("command, expected", list(examples()))
def test_readme_example_prints_what_it_shows(command, expected, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", ["souschef"])
    main(shlex.split(command)[1:])
    assert capsys.readouterr().out == expected


def test_readme_shows_the_two_commands_first():
    first_screen = "\n".join(README.splitlines()[:25])
    assert "make demo" in first_screen and "make test" in first_screen


def test_the_readme_cli_reference_is_what_the_parser_prints_today():
    from souschef.cli_reference import render, replace_block

    assert replace_block(README, render()) == README, "run: python -m souschef.cli_reference"
