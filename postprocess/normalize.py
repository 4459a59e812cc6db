"""Normalize a recipe: the same recipe, written one way.

Trims and collapses whitespace, strips list numbering and bullets from steps
(``"1. Boil water"`` -> ``"Boil water"``) and bullets from ingredients, drops exact
duplicates and empty lines, and writes unicode fractions as plain ones
(``"1½ cups"`` -> ``"1 1/2 cups"``). Normalizing twice changes nothing.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from recipe_schema import Recipe

UNICODE_FRACTIONS = {
    "½": "1/2", "⅓": "1/3", "⅔": "2/3", "¼": "1/4", "¾": "3/4", "⅕": "1/5",
    "⅖": "2/5", "⅗": "3/5", "⅘": "4/5", "⅙": "1/6", "⅚": "5/6", "⅐": "1/7",
    "⅛": "1/8", "⅜": "3/8", "⅝": "5/8", "⅞": "7/8", "⅑": "1/9", "⅒": "1/10",
}
_VULGAR = re.compile(r"(?:(\d)\s*)?([" + "".join(UNICODE_FRACTIONS) + "])")
_FRACTION_SLASH = re.compile(r"(\d)\s*\u2044\s*(\d)")
_STEP_PREFIX = re.compile(
    r"^(?:step\s*\d{1,3}\s*[.):\-–—]?\s+|\d{1,3}\s*[.)]\s+|\(\d{1,3}\)\s*|[-*•·‣▪◦]\s+)",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^[-*•·‣▪◦]\s+")


def plain_fractions(text: str) -> str:
    """``"1½"`` -> ``"1 1/2"``, ``"¾"`` -> ``"3/4"``, ``"1⁄2"`` -> ``"1/2"``."""

    def vulgar(m: re.Match[str]) -> str:
        whole, frac = m.group(1), UNICODE_FRACTIONS[m.group(2)]
        return f"{whole} {frac}" if whole else frac

    return _FRACTION_SLASH.sub(r"\1/\2", _VULGAR.sub(vulgar, text))


def collapse_whitespace(text: str) -> str:
    r"""Runs of whitespace (newlines, tabs, non-breaking spaces) as one space, trimmed.

    >>> collapse_whitespace("  2 cups\u00a0flour\n")
    '2 cups flour'
    """
    return " ".join(text.split())


def clean_text(text: str) -> str:
    """Plain fractions, whitespace collapsed to single spaces, trimmed."""
    return collapse_whitespace(plain_fractions(text))


def _strip_prefix(text: str, pattern: re.Pattern[str]) -> str:
    while True:  # "1. - Boil" is stripped to "Boil"; looping keeps it idempotent
        stripped = pattern.sub("", text, count=1).strip()
        if stripped == text:
            return text
        text = stripped


def unique(lines: Iterable[str], key: Callable[[str], str] | None = None) -> list[str]:
    """The non-empty lines in order, each once; ``key`` says when two are the same.

    >>> unique(["Salt", "", "salt", "Salt"]), unique(["Salt", "salt"], key=str.lower)
    (['Salt', 'salt'], ['Salt'])
    """
    seen: set[str] = set()
    out = []
    for line in lines:
        k = key(line) if key else line
        if line and k not in seen:
            seen.add(k)
            out.append(line)
    return out


def normalize(recipe: Recipe) -> Recipe:
    """Return the normalized recipe.

    Raises
    ------
    InvalidRecipeError
        When nothing is left of the ingredients or steps (every line was empty).
    """
    from pydantic import ValidationError

    from recipe_schema.recipe import invalid_from_pydantic

    def optional(text: str | None) -> str | None:
        return (clean_text(text) or None) if text is not None else None

    tags = unique([clean_text(t) for t in recipe.tags or []])
    data = {
        "title": clean_text(recipe.title),
        "description": optional(recipe.description),
        "servings": recipe.servings,
        "prep_time": recipe.prep_time,
        "cook_time": recipe.cook_time,
        "cuisine": optional(recipe.cuisine),
        "tags": tags or None,
        "ingredients": unique([_strip_prefix(clean_text(i), _BULLET) for i in recipe.ingredients]),
        "steps": unique([_strip_prefix(clean_text(s), _STEP_PREFIX) for s in recipe.steps]),
    }
    try:
        return Recipe.model_validate(data)
    except ValidationError as e:
        raise invalid_from_pydantic(e) from e
