"""Renamed modules and classes keep their old names for one release, with a warning for modules."""

from __future__ import annotations

import importlib
import sys

import pytest


@pytest.mark.parametrize("old, new", [("recipe_schema.chat", "recipe_schema.prompt"),
                                      ("recipe_schema.model", "recipe_schema.recipe")])
def test_an_old_module_name_is_the_new_module_with_a_deprecation_warning(monkeypatch, old, new):
    monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.deprecated_call(match=new):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)


def test_old_class_names_are_the_renamed_classes():
    import generation
    from evaluation import compare, report
    from recipe_schema import prompt, recipe

    assert generation.Settings is generation.GenerationConfig
    assert report.FORMAT == report.REPORT_FORMAT and compare.FORMAT == compare.COMPARISON_FORMAT
    assert recipe.Recipe.__module__ == "recipe_schema.recipe"
    assert prompt.format_prompt.__module__ == "recipe_schema.prompt"
