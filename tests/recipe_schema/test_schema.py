import json
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError

import recipe_schema
from recipe_schema import Recipe, Reply, load_schema, parse_answer, schema_text, to_compact_json

SCHEMA_FILE = Path(recipe_schema.__file__).with_name("recipe.schema.json")


def test_committed_schema_matches_the_model():
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "recipe.schema.json drifted from the Recipe model: run `python -m recipe_schema`"
    )


def test_schema_is_draft_2020_12_with_id_and_version():
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].startswith("urn:souschef:schema:recipe:")
    assert schema["version"] == recipe_schema.SCHEMA_VERSION
    assert schema["required"] == ["title", "ingredients", "steps"]
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize(
    "change",
    [
        {"title": ""},
        {"title": "   "},
        {"ingredients": []},
        {"ingredients": [""]},
        {"steps": []},
        {"servings": 0},
        {"servings": 101},
        {"servings": 2.5},
        {"prep_time": "25 minutes"},
        {"cook_time": "PT"},
        {"cook_time": "P"},
        {"colour": "red"},
    ],
)
def test_model_and_schema_both_reject(minimal, change):
    doc = {**minimal, **change}
    with pytest.raises(ValidationError):
        Recipe.model_validate(doc)
    assert list(jsonschema.Draft202012Validator(load_schema()).iter_errors(doc))


@pytest.mark.parametrize("duration", ["PT25M", "PT1H30M", "P1DT2H", "PT45S", "P2D"])
def test_iso_durations_are_accepted(minimal, duration):
    assert Recipe.model_validate({**minimal, "prep_time": duration}).prep_time == duration


def test_compact_serialization_has_fixed_order_and_no_spaces(minimal):
    recipe = Recipe.model_validate({**minimal, "servings": 2, "cuisine": "British"})
    assert to_compact_json(recipe) == (
        '{"title":"Toast","servings":2,"cuisine":"British",'
        '"ingredients":["2 slices bread"],"steps":["Toast the bread."]}'
    )
    assert to_compact_json(Reply(reply="Só cozinho.")) == '{"reply":"Só cozinho."}'


def test_parse_answer_tells_recipes_from_replies(minimal):
    assert isinstance(parse_answer(minimal), Recipe)
    assert parse_answer({"reply": "I only cook."}) == Reply(reply="I only cook.")
    recipe = parse_answer(json.loads(to_compact_json(Recipe.model_validate(minimal))))
    assert recipe == Recipe.model_validate(minimal)


def test_every_error_is_a_souschef_error_with_an_exit_code():
    errors = [getattr(recipe_schema, name) for name in recipe_schema.__all__ if name.endswith("Error")]
    for cls in errors:
        if cls is recipe_schema.SchemaError:  # a record, not an exception
            continue
        assert issubclass(cls, recipe_schema.SouschefError)
        assert cls.exit_code in (1, 2)
    assert recipe_schema.UsageError.exit_code == 2
    assert recipe_schema.InvalidRecipeError.exit_code == 1
