"""The schema that generation is constrained to: a compact projection of ``Recipe``.

Constrained decoding compiles a JSON Schema to a regular expression and then to a
token automaton, and some JSON Schema keywords are ignored on the way
(``minimum``/``maximum``) or blow the automaton up (``maxLength`` x ``maxItems``).
So the projection says the same things in forms the compiler honours: servings as
an ``enum``, durations as a pattern that only admits valid ISO 8601, strings that
must start with a visible character. Lengths are bounded by the token budget, not
by the schema. Every document the projection admits is a valid ``Recipe`` (a test
checks it), with the keys in ``Recipe``'s field order: the order of training data.
"""
from __future__ import annotations

from typing import Any

from .recipe import Recipe

# A JSON string's content that starts with a visible character (not blank), and no
# \\u escapes: whatever the model writes decodes to the same visible text.
_CHAR = r'(?:[^"\\\x00-\x1F\x7F-\x9F]|\\["\\/bfnrt])'
_FIRST = r'[^"\\\s\x00-\x1F\x7F-\x9F]'
LINE_PATTERN = f"{_FIRST}{_CHAR}*"
_N = r"[1-9][0-9]{0,2}"
_TIME = rf"T(?:{_N}H(?:{_N}M)?|{_N}M)"
DURATION_PATTERN = rf"P(?:{_N}D(?:{_TIME})?|{_TIME})"

_LINE = {"type": "string", "pattern": LINE_PATTERN}
_FIELDS: dict[str, dict[str, Any]] = {
    "title": _LINE,
    "description": _LINE,
    "servings": {"enum": list(range(1, 101))},
    "prep_time": {"type": "string", "pattern": DURATION_PATTERN},
    "cook_time": {"type": "string", "pattern": DURATION_PATTERN},
    "cuisine": _LINE,
    "tags": {"type": "array", "items": _LINE},
    "ingredients": {"type": "array", "items": _LINE, "minItems": 1},
    "steps": {"type": "array", "items": _LINE, "minItems": 1},
}
REPLY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"reply": _LINE},
    "required": ["reply"],
    "additionalProperties": False,
}


def recipe_projection(fields: tuple[str, ...] | None = None) -> dict[str, Any]:
    """JSON Schema of a recipe for constrained decoding.

    Parameters
    ----------
    fields
        Optional fields to keep (``None``: all of them). Fewer optional fields make
        a smaller automaton; required fields are always kept.
    """
    required = [name for name, f in Recipe.model_fields.items() if f.is_required()]
    keep = [
        name for name in Recipe.model_fields
        if name in required or fields is None or name in fields
    ]
    unknown = set(fields or ()) - set(Recipe.model_fields)
    if unknown:
        raise ValueError(f"unknown recipe fields: {sorted(unknown)}")
    return {
        "type": "object",
        "properties": {name: _FIELDS[name] for name in keep},
        "required": required,
        "additionalProperties": False,
    }


def answer_projection(mode: str = "any", fields: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The schema an answer is decoded with.

    Parameters
    ----------
    mode
        ``"any"``: a recipe or a reply (the model chooses); ``"recipe"``; ``"reply"``.
    """
    if mode == "recipe":
        return recipe_projection(fields)
    if mode == "reply":
        return REPLY_SCHEMA
    if mode == "any":
        return {"anyOf": [recipe_projection(fields), REPLY_SCHEMA]}
    raise ValueError(f"unknown answer mode {mode!r}: use 'any', 'recipe' or 'reply'")
