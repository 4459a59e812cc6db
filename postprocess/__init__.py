"""postprocess: model text -> validated, normalized, rendered recipe.

Imports only ``recipe_schema``. The usual path is ``process(text)``: extract the
JSON object, validate it (every error, with JSON pointers), normalize it.
"""
from __future__ import annotations

from typing import Any

from recipe_schema import Answer, InvalidRecipeError, Recipe, Reply

from .extract import extract
from .ingredients import Ingredient, parse_ingredient
from .normalize import clean_text, normalize, plain_fractions
from .render import human_duration, to_jsonld, to_markdown
from .scale import format_quantity, scale_recipe
from .validate import answer_errors, loads_strict, schema_errors, validate


def process(text: str, *, strict: bool = False) -> Recipe:
    """Model text (or a JSON document) -> a valid, normalized ``Recipe``.

    Parameters
    ----------
    text
        The text to read. Unless ``strict``, the recipe may be wrapped in code
        fences or prose.
    strict
        Require the whole text to be one JSON document.

    Raises
    ------
    InvalidRecipeError
        When no recipe can be found or it does not validate.
    """
    data = loads_strict(text) if strict else extract(text)
    return normalize(validate(data, raw=text))


def process_answer(text: str) -> Answer:
    """Like ``process``, but a ``{"reply": ...}`` object gives a ``Reply``.

    Raises
    ------
    InvalidRecipeError
        When the text holds neither a valid recipe nor a valid reply (a reply's errors
        point into the reply: ``/reply``).
    """
    data: Any = extract(text)
    if isinstance(data, dict) and "reply" in data:
        errors, omitted = answer_errors(data)
        if errors:
            raise InvalidRecipeError(errors, raw=text, omitted=omitted)
        return Reply(reply=clean_text(data["reply"]))
    return normalize(validate(data, raw=text))


__all__ = [
    "Ingredient",
    "answer_errors",
    "clean_text",
    "extract",
    "format_quantity",
    "human_duration",
    "loads_strict",
    "normalize",
    "parse_ingredient",
    "plain_fractions",
    "process",
    "process_answer",
    "scale_recipe",
    "schema_errors",
    "to_jsonld",
    "to_markdown",
    "validate",
]
