"""Shared fixtures: example recipes as the tests' users would write them."""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

EXAMPLE = resources.files("corpus").joinpath("examples/harissa-chickpeas.json")


@pytest.fixture
def example_text() -> str:
    return EXAMPLE.read_text(encoding="utf-8")


@pytest.fixture
def minimal() -> dict:
    return {"title": "Toast", "ingredients": ["2 slices bread"], "steps": ["Toast the bread."]}


@pytest.fixture
def write_json(tmp_path: Path):
    def write(obj, name: str = "recipe.json") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(obj), encoding="utf-8")
        return path

    return write
