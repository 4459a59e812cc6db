import pytest

from postprocess import clean_text, normalize, plain_fractions
from recipe_schema import InvalidRecipeError, Recipe


def recipe(**fields) -> Recipe:
    base = {"title": "T", "ingredients": ["1 egg"], "steps": ["Cook."]}
    return Recipe.model_validate({**base, **fields})


@pytest.mark.parametrize("step, expected", [
    ("1. Boil water", "Boil water"),
    ("2) Boil water", "Boil water"),
    ("Step 3: Boil water", "Boil water"),
    ("step 4 - Boil water", "Boil water"),
    ("(5) Boil water", "Boil water"),
    ("- Boil water", "Boil water"),
    ("• Boil water", "Boil water"),
    ("* Boil water", "Boil water"),
    ("1. - Boil water", "Boil water"),
    ("  Boil \n\t water  ", "Boil water"),
    ("350 degrees is hot enough", "350 degrees is hot enough"),
    ("1.5 cups go in next", "1.5 cups go in next"),
])
def test_steps_lose_numbering_and_bullets(step, expected):
    assert normalize(recipe(steps=[step])).steps == [expected]


@pytest.mark.parametrize("text, expected", [
    ("1½ cups", "1 1/2 cups"),
    ("1 ½ cups", "1 1/2 cups"),
    ("add ¾ cup", "add 3/4 cup"),
    ("1⁄2 tsp", "1/2 tsp"),
    ("⅛ tsp", "1/8 tsp"),
])
def test_unicode_fractions_become_plain(text, expected):
    assert plain_fractions(text) == expected


def test_ingredients_lose_bullets_but_keep_quantities():
    r = normalize(recipe(ingredients=["- 2 eggs", "• 1 cup milk", "3 eggs"]))
    assert r.ingredients == ["2 eggs", "1 cup milk", "3 eggs"]


def test_exact_duplicates_and_empty_optional_fields_are_dropped():
    r = normalize(recipe(steps=["Mix.", "1. Mix.", "Bake."], tags=["quick", " quick "],
                         description="   ", cuisine=" Thai "))
    assert r.steps == ["Mix.", "Bake."]
    assert r.tags == ["quick"]
    assert r.description is None
    assert r.cuisine == "Thai"


def test_a_recipe_with_nothing_left_after_normalizing_is_invalid():
    with pytest.raises(InvalidRecipeError) as err:
        normalize(recipe(steps=["(1)"]))
    assert err.value.errors[0].pointer == "/steps"


def test_clean_text_collapses_whitespace():
    assert clean_text("  a \u00a0 b\n c ") == "a b c"
