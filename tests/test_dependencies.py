"""The declared dependencies are the ones the code uses, and every install hint names an extra
that exists and that ``make install`` installs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PACKAGES = ("recipe_schema", "postprocess", "generation", "evaluation", "souschef")


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _sources() -> list[Path]:
    return [p for pkg in PACKAGES if (ROOT / pkg).is_dir() for p in (ROOT / pkg).rglob("*.py")]


def test_runtime_dependencies_leave_out_test_tools_and_outlines_itself():
    runtime = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    assert "pytest" not in runtime and "pytest" in {_name(r) for r in PYPROJECT["project"]
                                                      ["optional-dependencies"]["dev"]}
    assert "outlines" not in runtime and "outlines-core" in runtime  # the engine under Outlines
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import outlines\b(?!_)|from outlines\b(?!_))", text, re.M), path


def test_training_only_libraries_are_an_extra_that_make_install_installs():
    extras = PYPROJECT["project"]["optional-dependencies"]
    runtime = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    assert {"scikit-learn", "wordfreq"} <= {_name(r) for r in extras["train"]}
    assert not {"scikit-learn", "wordfreq"} & runtime  # so their install hints can fire
    installed = re.search(r'install -q -e "\.\[([a-z,]+)\]"', (ROOT / "Makefile").read_text()).group(1)
    hinted = {m for path in _sources() for m in re.findall(r"souschef\[(\w+)\]", path.read_text("utf-8"))}
    assert hinted and hinted <= set(extras)
    assert set(installed.split(",")) == set(extras) - {"lora"}  # lora: peft is a dependency now
