import json
import os
from fractions import Fraction
from pathlib import Path

import pytest

from postprocess import format_quantity, human_duration, process, scale_recipe, to_jsonld, to_markdown
from recipe_schema import Recipe, ScalingError

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("value, unit, text", [
    (Fraction(3, 2), "cup", "1 1/2"),
    (Fraction(2, 3), "cup", "2/3"),
    (Fraction(3, 8), "tsp", "3/8"),
    (Fraction(4), None, "4"),
    (Fraction(1, 6), "cup", "1/8"),       # not a kitchen measure: nearest eighth or third
    (Fraction(5, 7), "cup", "3/4"),
    (Fraction(1, 100), "tsp", "1/8"),     # never scaled down to nothing
    (Fraction(250, 3), "g", "83"),
    (Fraction(5, 4), "kg", "1.25"),
    (Fraction(225, 2), "g", "112.5"),
])
def test_format_quantity_is_kitchen_friendly(value, unit, text):
    assert format_quantity(value, unit) == text


def test_scale_recipe_rewrites_quantities_units_and_servings():
    r = Recipe(title="T", servings=4, steps=["Cook."], ingredients=[
        "1 cup milk", "2 tbsp sugar", "2-3 cloves garlic, minced", "2 (400 g) cans tomatoes",
        "salt to taste", "400 g pasta"])
    scaled = scale_recipe(r, 6)
    assert scaled.servings == 6
    assert scaled.ingredients == [
        "1 1/2 cups milk", "3 tbsp sugar", "3-4 1/2 cloves garlic, minced",
        "3 (400 g) cans tomatoes", "salt to taste", "600 g pasta"]
    assert scale_recipe(scaled, 4).ingredients[0] == "1 cup milk"


def test_scaling_a_recipe_without_servings_says_so():
    with pytest.raises(ScalingError, match="no servings"):
        scale_recipe(Recipe(title="T", ingredients=["1 egg"], steps=["Cook."]), 2)


@pytest.mark.parametrize("iso, text", [
    ("PT25M", "25 min"), ("PT1H30M", "1 h 30 min"), ("P1DT2H", "1 d 2 h"), ("P2W", "P2W"),
])
def test_human_duration(iso, text):
    assert human_duration(iso) == text


def test_markdown_matches_the_golden_file(example_text):
    recipe = process(example_text, strict=True)
    for name, text in [("harissa-chickpeas.md", to_markdown(recipe)),
                       ("harissa-chickpeas-serves-6.md", to_markdown(scale_recipe(recipe, 6)))]:
        golden = GOLDEN / name
        if os.environ.get("UPDATE_GOLDEN"):
            golden.write_text(text, encoding="utf-8")
        assert text == golden.read_text(encoding="utf-8"), f"{name} changed: UPDATE_GOLDEN=1 to accept"


def test_markdown_escapes_text_that_would_become_markup():
    md = to_markdown(Recipe(title="*Best* [ever]", ingredients=["1 egg"], steps=["Use <b>."]))
    assert md.startswith("# \\*Best\\* \\[ever\\]\n")
    assert "1. Use \\<b\\>." in md


def test_jsonld_is_a_schema_org_recipe(example_text):
    doc = to_jsonld(process(example_text, strict=True))
    assert doc["@context"] == "https://schema.org" and doc["@type"] == "Recipe"
    assert doc["name"] == "Sheet-Pan Harissa Chickpeas with Feta"
    assert doc["recipeYield"] == "4 servings"
    assert doc["prepTime"] == "PT10M" and doc["cookTime"] == "PT30M"
    assert doc["recipeCuisine"] == "North African"
    assert doc["keywords"] == "vegetarian, dinner, one-pan"
    assert doc["recipeIngredient"][5] == "1 1/2 tsp ground cumin"
    assert doc["recipeInstructions"][0] == {"@type": "HowToStep", "text": "Heat the oven to 220°C (425°F)."}
    json.dumps(doc)  # serializable as is
