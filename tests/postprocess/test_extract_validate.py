import json

import pytest

from postprocess import extract, loads_strict, process, process_answer, schema_errors, validate
from recipe_schema import ExtractionError, InvalidRecipeError, Recipe, Reply

RECIPE = {"title": "Toast", "ingredients": ["2 slices bread"], "steps": ["Toast the bread."]}
TEXT = json.dumps(RECIPE)


@pytest.mark.parametrize("wrapped", [
    TEXT,
    f"```json\n{TEXT}\n```",
    f"Sure! Here is a recipe:\n```\n{TEXT}\n```\nEnjoy your meal.",
    f"Here you go: {TEXT} Let me know if you want more.",
    f'{{"note": "not this"}} and then {TEXT}',
    "\ufeff" + TEXT,
])
def test_extract_finds_the_recipe_in_model_text(wrapped):
    assert extract(wrapped) == RECIPE


@pytest.mark.parametrize("text, message", [
    ("no json here", "no JSON object found"),
    ('{"title": "Toast", "ingredients": ["2 sl', "truncated"),
    ("", "no JSON object found"),
])
def test_extract_explains_what_is_missing(text, message):
    with pytest.raises(ExtractionError, match=message):
        extract(text)


def test_validate_reports_every_error_with_its_json_pointer():
    doc = {"title": "", "servings": 0, "ingredients": ["ok", " "], "steps": [], "extra": 1}
    with pytest.raises(InvalidRecipeError) as err:
        validate(doc)
    assert [(e.pointer, e.message) for e in err.value.errors] == [
        ("/", "Additional properties are not allowed ('extra' was unexpected)"),
        ("/title", "'' should be non-empty"),
        ("/servings", "0 is less than the minimum of 1"),
        ("/ingredients/1", "is blank (only whitespace)"),
        ("/steps", "[] should be non-empty"),
    ]


def test_validate_caps_the_error_list_and_counts_the_rest():
    doc = {"title": "T", "ingredients": [""] * 120, "steps": ["s"]}
    errors, omitted = schema_errors(doc)
    assert len(errors) == 50 and omitted == 70
    assert errors[0].pointer == "/ingredients/0" and errors[49].pointer == "/ingredients/49"


def test_pointers_escape_slashes_and_tildes():
    errors, _ = schema_errors({**RECIPE, "a/b~c": 1})
    assert errors[0].pointer == "/"
    assert "a/b~c" in errors[0].message


@pytest.mark.parametrize("doc", [[], "recipe", 42, None])
def test_a_document_that_is_not_an_object_is_invalid_at_the_root(doc):
    errors, _ = schema_errors(doc)
    assert errors[0].pointer == "/"
    assert "is not of type 'object'" in errors[0].message


def test_long_messages_are_shortened():
    errors, _ = schema_errors({**RECIPE, "title": ["x" * 10_000]})
    assert len(errors[0].message) <= 200


@pytest.mark.parametrize("text, message", [
    ("", "empty document"),
    ("{", "not JSON"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
def test_loads_strict_turns_bad_json_into_invalid_recipe_errors(text, message):
    with pytest.raises(InvalidRecipeError, match=message):
        loads_strict(text)


def test_process_returns_a_normalized_recipe():
    recipe = process('Here: {"title": " Toast ", "ingredients": ["- 2 slices bread"], '
                     '"steps": ["1. Toast the bread.", "1. Toast the bread."]}')
    assert recipe == Recipe(title="Toast", ingredients=["2 slices bread"], steps=["Toast the bread."])


def test_process_strict_refuses_wrapped_text():
    with pytest.raises(InvalidRecipeError, match="not JSON"):
        process(f"```json\n{TEXT}\n```", strict=True)


def test_process_answer_reads_replies_and_recipes():
    assert process_answer('{"reply": "  I only   cook. "}') == Reply(reply="I only cook.")
    assert isinstance(process_answer(TEXT), Recipe)
