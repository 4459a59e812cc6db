"""Ingredient lines -> quantity, unit, item and note.

``"2-3 cloves garlic, minced"`` -> quantity 2, quantity_max 3, unit ``clove``,
item ``garlic``, note ``minced``. Quantities are exact ``Fraction``s (``1 1/2``,
``½``, ``0.5``, ranges ``2-3`` / ``2 to 3``); units have one canonical spelling;
lines without a quantity (``salt to taste``) keep their item. Written on the
standard library alone: the NLP parsers around need downloads at run time.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from .normalize import clean_text

# canonical unit -> its spellings (lower case; single letters are matched by case below)
UNITS: dict[str, tuple[str, ...]] = {
    "g": ("g", "gr", "gram", "grams", "gramme", "grammes"),
    "kg": ("kg", "kgs", "kilo", "kilos", "kilogram", "kilograms"),
    "mg": ("mg", "milligram", "milligrams"),
    "ml": ("ml", "mls", "milliliter", "milliliters", "millilitre", "millilitres"),
    "cl": ("cl", "centiliter", "centiliters", "centilitre", "centilitres"),
    "dl": ("dl", "deciliter", "deciliters", "decilitre", "decilitres"),
    "l": ("l", "ltr", "liter", "liters", "litre", "litres"),
    "tsp": ("tsp", "tsps", "tspn", "teaspoon", "teaspoons"),
    "tbsp": ("tbsp", "tbsps", "tbs", "tbl", "tblsp", "tablespoon", "tablespoons"),
    "cup": ("cup", "cups"),
    "fl oz": ("fl oz", "fl. oz", "fluid ounce", "fluid ounces", "floz"),
    "oz": ("oz", "ounce", "ounces"),
    "lb": ("lb", "lbs", "pound", "pounds"),
    "pint": ("pint", "pints", "pt"),
    "quart": ("quart", "quarts", "qt"),
    "gallon": ("gallon", "gallons", "gal"),
    "pinch": ("pinch", "pinches"),
    "dash": ("dash", "dashes"),
    "drop": ("drop", "drops"),
    "clove": ("clove", "cloves"),
    "can": ("can", "cans", "tin", "tins"),
    "jar": ("jar", "jars"),
    "package": ("package", "packages", "pkg", "packet", "packets", "pack", "packs"),
    "bag": ("bag", "bags"),
    "bottle": ("bottle", "bottles"),
    "slice": ("slice", "slices"),
    "piece": ("piece", "pieces", "pc", "pcs"),
    "bunch": ("bunch", "bunches"),
    "handful": ("handful", "handfuls"),
    "sprig": ("sprig", "sprigs"),
    "stick": ("stick", "sticks"),
    "stalk": ("stalk", "stalks"),
    "head": ("head", "heads"),
    "sheet": ("sheet", "sheets"),
    "cube": ("cube", "cubes"),
    "knob": ("knob", "knobs"),
}
# Case matters for one-letter units: T is a tablespoon, t a teaspoon, c a cup.
_CASED = {"T": "tbsp", "t": "tsp", "c": "cup", "C": "cup", "L": "l"}
_LOOKUP = {spelling: unit for unit, spellings in UNITS.items() for spelling in spellings}
METRIC = {"g", "kg", "mg", "ml", "cl", "dl", "l"}

_NUM = r"(?:\d+\s+\d+/\d+|\d+/\d+|\d+(?:\.\d+)?|\.\d+)"
_QUANTITY = re.compile(
    rf"^(?P<q>{_NUM})(?:\s*(?:-|–|to|or)\s*(?P<qmax>{_NUM}))?(?![\d/])", re.IGNORECASE
)
_ARTICLE = re.compile(r"^(?:an?)\s+(?=\S)", re.IGNORECASE)
_UNIT_WORD = re.compile(r"^(fl\.?\s*oz|fluid\s+ounces?|[A-Za-z]+)(\.?)(?=[\s,(]|$)")
_PARENS = re.compile(r"\s*\(([^()]*)\)")
_TRAILING_NOTE = re.compile(
    r"\s+((?:or\s+)?to taste|as needed|optional|for (?:serving|garnish(?:ing)?|dusting|"
    r"frying|greasing|the pan|decoration|drizzling|brushing)(?: .*)?|plus (?:more|extra) .*)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Ingredient:
    """One parsed ingredient line.

    ``quantity_span`` is where the quantity stands in ``line`` (start, end), so a
    scaled line can be rewritten without touching the rest of the text.
    """

    line: str
    quantity: Fraction | None
    quantity_max: Fraction | None
    unit: str | None
    item: str
    note: str | None
    quantity_span: tuple[int, int] | None = None
    unit_text: str | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: quantities as numbers (``1 1/2`` is ``1.5``)."""
        return {
            "line": self.line,
            "quantity": _number(self.quantity),
            "quantity_max": _number(self.quantity_max),
            "unit": self.unit,
            "item": self.item,
            "note": self.note,
        }


def _number(value: Fraction | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if value.denominator == 1 else float(value)


def parse_quantity(text: str) -> Fraction:
    """``"1 1/2"`` -> ``Fraction(3, 2)``; ``"0.25"`` -> ``Fraction(1, 4)``."""
    parts = text.split()
    return sum((Fraction(p) for p in parts), Fraction(0))


def _unit(rest: str) -> tuple[str | None, str, str]:
    """Split a leading unit off ``rest``: (canonical unit, its text, what follows)."""
    m = _UNIT_WORD.match(rest)
    if not m:
        return None, "", rest
    word = m.group(1)
    key = word.lower().replace(".", "")
    unit = _CASED.get(word) if len(word) == 1 else None
    unit = unit or _LOOKUP.get(" ".join(key.split())) or _LOOKUP.get(key.replace(" ", ""))
    if unit is None:
        return None, "", rest
    return unit, m.group(0), rest[m.end():].lstrip()


def parse_ingredient(line: str) -> Ingredient:
    """Parse one ingredient line.

    >>> i = parse_ingredient("2-3 cloves garlic, minced")
    >>> (float(i.quantity), float(i.quantity_max), i.unit, i.item, i.note)
    (2.0, 3.0, 'clove', 'garlic', 'minced')
    >>> parse_ingredient("salt to taste").to_dict()["note"]
    'to taste'
    """
    line = clean_text(line)
    rest, quantity, quantity_max, span, notes = line, None, None, None, []
    m = _QUANTITY.match(rest)
    article = _ARTICLE.match(rest) if not m else None
    if m:
        quantity = parse_quantity(m.group("q"))
        quantity_max = parse_quantity(m.group("qmax")) if m.group("qmax") else None
        span = (m.start(), m.end())
        rest = rest[m.end():].lstrip()
    elif article and _unit(rest[article.end():])[0] is not None:
        quantity = Fraction(1)  # "a pinch of salt" is one pinch
        rest = rest[article.end():]
    # a size in parentheses right after the quantity: "1 (400 g) can tomatoes"
    size = re.match(r"^\(([^()]*)\)\s*", rest) if quantity is not None else None
    if size:
        notes.append(size.group(1).strip())
        rest = rest[size.end():]
    unit, unit_text = None, None
    if quantity is not None:
        unit, unit_text, rest = _unit(rest)
        unit_text = unit_text or None
    rest = re.sub(r"^of\s+", "", rest, flags=re.IGNORECASE)
    notes.extend(n.strip() for n in _PARENS.findall(rest) if n.strip())
    rest = _PARENS.sub("", rest).strip()
    item, _, after = rest.partition(",")
    item = item.strip()
    trailing = _TRAILING_NOTE.search(item)
    if trailing and trailing.start() > 0:
        notes.append(trailing.group(1))
        item = item[: trailing.start()].strip()
    if after.strip():
        notes.append(after.strip())
    item = item.strip(" ,;:-") or line
    return Ingredient(
        line=line,
        quantity=quantity,
        quantity_max=quantity_max,
        unit=unit,
        item=item,
        note=", ".join(notes) or None,
        quantity_span=span,
        unit_text=unit_text,
    )
