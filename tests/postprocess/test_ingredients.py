from fractions import Fraction

import pytest

from postprocess import parse_ingredient

CASES = [
    # line, quantity, quantity_max, unit, item, note
    ("2-3 cloves garlic, minced", 2, 3, "clove", "garlic", "minced"),
    ("salt to taste", None, None, None, "salt", "to taste"),
    ("Salt, to taste", None, None, None, "Salt", "to taste"),
    ("1 1/2 cups flour", 1.5, None, "cup", "flour", None),
    ("½ tsp salt", 0.5, None, "tsp", "salt", None),
    ("1½ cups sugar", 1.5, None, "cup", "sugar", None),
    ("0.5 kg potatoes", 0.5, None, "kg", "potatoes", None),
    ("400g spaghetti", 400, None, "g", "spaghetti", None),
    ("250 ml whole milk", 250, None, "ml", "whole milk", None),
    ("1 (400 g) can chopped tomatoes", 1, None, "can", "chopped tomatoes", "400 g"),
    ("1/2 cup grated parmesan (optional)", 0.5, None, "cup", "grated parmesan", "optional"),
    ("1 large onion, diced", 1, None, None, "large onion", "diced"),
    ("2 to 3 lb beef chuck, cut into cubes", 2, 3, "lb", "beef chuck", "cut into cubes"),
    ("2 tablespoons olive oil", 2, None, "tbsp", "olive oil", None),
    ("2 Tbsp. butter", 2, None, "tbsp", "butter", None),
    ("2 T sugar", 2, None, "tbsp", "sugar", None),
    ("1 t vanilla extract", 1, None, "tsp", "vanilla extract", None),
    ("3 teaspoons baking powder", 3, None, "tsp", "baking powder", None),
    ("8 oz cream cheese", 8, None, "oz", "cream cheese", None),
    ("1 fl oz dark rum", 1, None, "fl oz", "dark rum", None),
    ("2 cups of milk", 2, None, "cup", "milk", None),
    ("a pinch of salt", 1, None, "pinch", "salt", None),
    ("4 whole cloves", 4, None, None, "whole cloves", None),
    ("3 eggs", 3, None, None, "eggs", None),
    ("fresh basil, for serving", None, None, None, "fresh basil", "for serving"),
    ("salt and pepper", None, None, None, "salt and pepper", None),
    ("1 lemon, zested and juiced", 1, None, None, "lemon", "zested and juiced"),
    ("2 sprigs thyme", 2, None, "sprig", "thyme", None),
    ("1 bunch coriander", 1, None, "bunch", "coriander", None),
    ("1.5 l chicken stock", 1.5, None, "l", "chicken stock", None),
    ("olive oil, plus more for drizzling", None, None, None, "olive oil", "plus more for drizzling"),
]


@pytest.mark.parametrize("line, quantity, quantity_max, unit, item, note", CASES)
def test_parse_ingredient(line, quantity, quantity_max, unit, item, note):
    parsed = parse_ingredient(line).to_dict()
    assert (parsed["quantity"], parsed["quantity_max"], parsed["unit"], parsed["item"],
            parsed["note"]) == (quantity, quantity_max, unit, item, note)


def test_quantities_are_exact_fractions():
    assert parse_ingredient("1 1/3 cups water").quantity == Fraction(4, 3)


def test_the_quantity_span_points_at_the_quantity_text():
    parsed = parse_ingredient("2 1/2 cups flour")
    start, end = parsed.quantity_span
    assert parsed.line[start:end] == "2 1/2"
