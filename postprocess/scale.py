"""Scale a recipe to N servings, with kitchen-friendly quantities.

Quantities are exact fractions while scaling; only the written form rounds.
Cup-and-spoon quantities show as ``1 1/2`` with halves, thirds, quarters and
eighths; metric ones as integers or short decimals (``83 g``, ``1.25 kg``), or
as a fraction where the recipe wrote one (``1/3 l``).
Exact values are never rounded, so scaling by k and back by 1/k returns the
original quantities.
"""
from __future__ import annotations

from fractions import Fraction

from recipe_schema import Recipe, ScalingError

from .ingredients import METRIC, UNITS, parse_ingredient

KITCHEN_DENOMINATORS = (1, 2, 3, 4, 8)
# Unit words that change between one and many ("1 cup", "2 cups"). Abbreviations are
# written one way whatever the amount ("2 tbsp"), except that "1 lbs" becomes "1 lb".
_ABBREVIATIONS = {"tbsp", "tbs", "tbl", "tblsp", "tsp", "tspn", "lb", "oz", "pt", "qt", "pc", "pkg",
                  "gal", "gr", "ltr", "g", "kg", "mg", "ml", "cl", "dl", "l"}
_SINGULARS = {
    p: s for spellings in UNITS.values() for s in spellings for p in spellings
    if p in (s + "s", s + "es")
}
_PLURALS = {s: p for p, s in _SINGULARS.items() if s not in _ABBREVIATIONS}


def format_quantity(value: Fraction, unit: str | None = None) -> str:
    """Write a quantity the way a cook reads it.

    >>> format_quantity(Fraction(3, 2))
    '1 1/2'
    >>> format_quantity(Fraction(250, 3), "g")
    '83'
    """
    if unit in METRIC:
        decimal = f"{float(value):.2f}".rstrip("0").rstrip(".")
        if (value * 100).denominator == 1:  # an exact short decimal: 1.25 kg, 112.5 g
            return decimal
        if value >= 10:
            return str(round(value))  # 83 g, not 83 1/3 g
        if value.denominator not in KITCHEN_DENOMINATORS:
            return decimal
    if value.denominator not in KITCHEN_DENOMINATORS:
        candidates = [Fraction(round(value * d), d) for d in (8, 3)]
        value = min(candidates, key=lambda c: (abs(c - value), c.denominator))
        value = value or Fraction(1, 8)  # never scale something down to nothing
    whole, part = divmod(value, 1)
    if not part:
        return str(whole)
    return f"{whole} {part}" if whole else str(part)


def _retarget_unit(unit_text: str, amount: Fraction) -> str:
    word = unit_text.rstrip(".")
    lower = word.lower()
    if amount > 1 and lower in _PLURALS:
        return _PLURALS[lower]
    if amount <= 1 and lower in _SINGULARS:
        return _SINGULARS[lower]
    return unit_text


def scale_line(line: str, factor: Fraction) -> str:
    """Rewrite one ingredient line with its quantity (or range) times ``factor``."""
    parsed = parse_ingredient(line)
    if parsed.quantity is None or parsed.quantity_span is None:
        return parsed.line
    low = parsed.quantity * factor
    text = format_quantity(low, parsed.unit)
    if parsed.quantity_max is not None:
        text += "-" + format_quantity(parsed.quantity_max * factor, parsed.unit)
    start, end = parsed.quantity_span
    rest = parsed.line[end:]
    if parsed.unit_text:
        head, unit_text, tail = rest.partition(parsed.unit_text)
        amount = parsed.quantity_max * factor if parsed.quantity_max else low
        rest = head + _retarget_unit(unit_text, amount) + tail
    return parsed.line[:start] + text + rest


def scale_recipe(recipe: Recipe, servings: int) -> Recipe:
    """Return ``recipe`` scaled from its own servings to ``servings``.

    Raises
    ------
    ScalingError
        When the recipe does not say how many it serves, or ``servings`` is out of range.
    """
    if recipe.servings is None:
        raise ScalingError("the recipe has no servings, so it cannot be scaled")
    if not 1 <= servings <= 100:
        raise ScalingError(f"servings must be between 1 and 100, not {servings}")
    factor = Fraction(servings, recipe.servings)
    lines = [scale_line(line, factor) for line in recipe.ingredients]
    return recipe.model_copy(update={"ingredients": lines, "servings": servings})
