"""Validate a decoded JSON document against the recipe schema.

Every error is reported, not only the first, each with its JSON pointer
(``/steps/2``; ``/`` for the root). Lists are capped so that a 50 MB file with a
million bad lines still gives a short, readable answer.
"""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from recipe_schema import InvalidRecipeError, Recipe, Reply, SchemaError, load_schema
from recipe_schema.recipe import ISO_DURATION, invalid_from_pydantic

MAX_ERRORS = 50
MAX_MESSAGE = 200
KEEP_FOR_SORTING = 10_000


def json_pointer(path: Any) -> str:
    """RFC 6901 pointer for a jsonschema path (``deque(['steps', 2])`` -> ``/steps/2``)."""
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts)


def _shorten(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 3] + "..."


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema())


def _explain(error: Any) -> list[Any]:
    """Replace an ``anyOf`` failure by the errors of its non-null branch.

    Optional fields are ``anyOf: [X, null]``; "is not valid under any of the
    given schemas" says less than X's own error ("0 is less than the minimum of 1").
    """
    if error.validator == "anyOf" and error.context:
        branch = [e for e in error.context if e.schema != {"type": "null"}]
        if branch:
            return branch
    return [error]


def _sort_key(path: Any) -> list[tuple[int, str]]:
    """Document order: fields in the schema's order, list items by index."""
    fields = list(load_schema()["properties"])
    return [
        (p, "") if isinstance(p, int) else (fields.index(p) if p in fields else len(fields), str(p))
        for p in path
    ]


def _message(error: Any) -> str:
    if error.validator == "pattern" and error.validator_value == r"\S":
        return "is blank (only whitespace)"
    if error.validator == "pattern" and error.validator_value == ISO_DURATION:
        return _shorten(f"{error.instance!r} is not an ISO 8601 duration (like PT25M or PT1H30M)")
    return _shorten(error.message)


def schema_errors(data: Any) -> tuple[list[SchemaError], int]:
    """All schema errors of ``data``, capped at ``MAX_ERRORS``.

    Returns
    -------
    errors, omitted
        The errors in document order, and how many more were found.
    """
    found: list[Any] = []
    extra = 0
    for error in _validator().iter_errors(data):
        if len(found) >= KEEP_FOR_SORTING:  # a huge bad file: count, do not hold, the rest
            extra += 1
            continue
        found.extend(_explain(error))
    empty = {tuple(e.absolute_path) for e in found if e.validator == "minLength"}
    found = [e for e in found if not (e.validator == "pattern" and tuple(e.absolute_path) in empty)]
    found.sort(key=lambda e: (_sort_key(e.absolute_path), e.validator))
    errors = [SchemaError(json_pointer(e.absolute_path), _message(e)) for e in found]
    return errors[:MAX_ERRORS], max(0, len(errors) - MAX_ERRORS) + extra


def answer_errors(data: Any) -> tuple[list[SchemaError], int]:
    """``schema_errors`` for anything ``souschef generate`` may write: an object with a
    ``reply`` key is checked as a ``Reply`` (as ``recipe_schema.parse_answer`` reads it),
    anything else as a recipe.

    >>> answer_errors({"reply": "I only cook."})
    ([], 0)
    >>> answer_errors({"reply": ""})[0][0].pointer
    '/reply'
    """
    if isinstance(data, dict) and "reply" in data:
        from pydantic import ValidationError

        try:
            Reply.model_validate(data)
        except ValidationError as e:
            invalid = invalid_from_pydantic(e, limit=MAX_ERRORS)
            return invalid.errors, invalid.omitted
        return [], 0
    return schema_errors(data)


def validate(data: Any, raw: str | None = None) -> Recipe:
    """Check a decoded document and return it as a ``Recipe``.

    Raises
    ------
    InvalidRecipeError
        With every error (capped) and its JSON pointer.
    """
    errors, omitted = schema_errors(data)
    if errors:
        raise InvalidRecipeError(errors, raw=raw, omitted=omitted)
    from pydantic import ValidationError

    try:
        return Recipe.model_validate(data)
    except ValidationError as e:  # the schema and the model agree; this is a safety net
        raise invalid_from_pydantic(e, raw, limit=MAX_ERRORS) from e


def loads_strict(text: str) -> Any:
    """Strict JSON (a leading UTF-8 BOM is accepted); errors as ``InvalidRecipeError``."""
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise InvalidRecipeError([SchemaError("/", "empty document")], raw=text)
    try:
        return json.loads(text)
    except RecursionError:
        raise InvalidRecipeError([SchemaError("/", "not JSON: nested too deeply")], raw=text) from None
    except json.JSONDecodeError as e:
        raise InvalidRecipeError([SchemaError("/", f"not JSON: {e}")], raw=text) from None
