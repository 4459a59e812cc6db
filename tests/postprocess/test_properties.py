"""Properties that hold for every recipe, checked on many generated ones."""
from fractions import Fraction

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from postprocess import normalize, parse_ingredient, scale_recipe, to_jsonld, to_markdown
from recipe_schema import InvalidRecipeError, Recipe

line = st.text(min_size=1, max_size=40).filter(lambda s: s.strip())
recipes = st.builds(
    Recipe,
    title=line,
    description=st.none() | st.text(max_size=60),
    servings=st.none() | st.integers(1, 100),
    prep_time=st.none() | st.sampled_from(["PT5M", "PT1H", "P1DT2H30M"]),
    cuisine=st.none() | line,
    tags=st.none() | st.lists(line, max_size=4),
    ingredients=st.lists(line, min_size=1, max_size=8),
    steps=st.lists(line, min_size=1, max_size=8),
)


@given(recipes)
def test_any_valid_recipe_renders(recipe):
    md = to_markdown(recipe)
    assert md.startswith("# ") and "## Ingredients" in md and "## Steps" in md
    assert md.count("\n- ") >= len(recipe.ingredients)
    doc = to_jsonld(recipe)
    assert doc["name"] == recipe.title
    assert len(doc["recipeInstructions"]) == len(recipe.steps)


@given(recipes)
def test_normalize_is_idempotent(recipe):
    try:
        once = normalize(recipe)
    except InvalidRecipeError:
        assume(False)  # every line was numbering only: rightly refused
    assert normalize(once) == once


# Quantities as cooks write them: kitchen fractions of cups and spoons, whole or
# short decimal numbers of grams and millilitres.
KITCHEN = [Fraction(n, d) for d in (1, 2, 3, 4, 8) for n in range(1, 3 * d)]
SPOONS = ["cup", "cups", "tbsp", "tsp", "cloves", "", "oz"]
MEASURES = st.tuples(st.sampled_from(KITCHEN), st.sampled_from(SPOONS))
METRIC = st.tuples(
    st.integers(1, 2000).map(Fraction) | st.sampled_from([Fraction(1, 4), Fraction(1, 2), Fraction(5, 4)]),
    st.sampled_from(["g", "ml", "kg", "l"]),
)


@settings(max_examples=200)
@given(
    servings=st.integers(1, 10),
    k=st.integers(2, 10),
    amounts=st.lists(MEASURES | METRIC, min_size=1, max_size=6),
)
def test_scaling_by_k_then_back_returns_the_original_quantities(servings, k, amounts):
    assume(servings * k <= 100)
    lines = [f"{_written(q)} {u} flour".replace("  ", " ") for q, u in amounts]
    recipe = Recipe(title="T", servings=servings, ingredients=lines, steps=["Mix."])
    back = scale_recipe(scale_recipe(recipe, servings * k), servings)
    assert back.servings == servings
    assert [parse_ingredient(x).quantity for x in back.ingredients] == [q for q, _ in amounts]


def _written(q: Fraction) -> str:
    if (q * 100).denominator == 1 and q.denominator > 1 and q > 1:
        return str(float(q))
    whole, part = divmod(q, 1)
    return f"{whole} {part}" if whole and part else str(part or whole)
