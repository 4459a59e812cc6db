"""What a recipe is: the pydantic models every other package imports.

``Recipe`` is the single source of truth. ``recipe.schema.json`` is generated from
it (``python -m recipe_schema``) and a test fails when the committed file drifts.
An *answer* of the assistant is either a ``Recipe`` or a ``Reply`` (a short text
for questions that are not about cooking); both training data and constrained
decoding use one compact serialization of it (``to_compact_json``).
"""
from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .errors import InvalidRecipeError, SchemaError

SCHEMA_VERSION = "1.0.0"
SCHEMA_ID = f"urn:souschef:schema:recipe:{SCHEMA_VERSION}"

# ISO 8601 duration: P[nY][nM][nW][nD][T[nH][nM][n(.n)S]], at least one part.
ISO_DURATION = (
    r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?"
    r"(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$"
)

# A line of text with at least one non-space character.
Line = Annotated[str, StringConstraints(min_length=1, pattern=r"\S")]
Duration = Annotated[str, StringConstraints(pattern=ISO_DURATION)]


class Recipe(BaseModel):
    """A recipe: a title, ingredient lines and steps, with optional metadata."""

    # Field order is the serialization order, which is also the order in which a
    # model writes the fields: title and metadata first, then ingredients, steps.

    model_config = ConfigDict(
        extra="forbid",
        regex_engine="python-re",
        json_schema_extra={"$id": SCHEMA_ID, "version": SCHEMA_VERSION},
    )

    title: Line = Field(description="Name of the dish.")
    description: str | None = Field(default=None, description="One or two sentences about the dish.")
    servings: int | None = Field(default=None, ge=1, le=100, description="How many people it serves.")
    prep_time: Duration | None = Field(default=None, description="Preparation time, ISO 8601 (PT25M).")
    cook_time: Duration | None = Field(default=None, description="Cooking time, ISO 8601 (PT1H10M).")
    cuisine: Line | None = Field(default=None, description="Cuisine, for example Italian.")
    tags: list[Line] | None = Field(default=None, description="Keywords: meal, diet, method.")
    ingredients: list[Line] = Field(
        min_length=1, description="Ingredient lines, quantity first: '2 cups flour'."
    )
    steps: list[Line] = Field(min_length=1, description="Instructions in order, one step each.")


class Reply(BaseModel):
    """A non-recipe answer, for questions that are not about cooking."""

    model_config = ConfigDict(extra="forbid")

    reply: Line = Field(description="The assistant's short reply.")


Answer = Recipe | Reply


def to_compact_json(answer: Answer) -> str:
    """Serialize an answer the one way training and generation both use.

    Fixed key order (the model's field order), absent fields omitted, no spaces,
    non-ASCII kept as is.

    >>> to_compact_json(Reply(reply="I only cook."))
    '{"reply":"I only cook."}'
    """
    data = answer.model_dump(mode="json", exclude_none=True)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _pointer(loc: Any) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in loc)


def invalid_from_pydantic(exc: Any, raw: str | None = None, limit: int = 50) -> InvalidRecipeError:
    """Turn a pydantic ``ValidationError`` into an ``InvalidRecipeError`` with JSON pointers."""
    errors = [SchemaError(_pointer(e["loc"]), e["msg"][:200]) for e in exc.errors()]
    return InvalidRecipeError(errors[:limit], raw=raw, omitted=max(0, len(errors) - limit))


def validate_answer(data: Any, raw: str | None = None) -> Answer:
    """``parse_answer`` that raises ``InvalidRecipeError`` (with pointers) instead."""
    from pydantic import ValidationError

    try:
        return parse_answer(data)
    except ValidationError as e:
        raise invalid_from_pydantic(e, raw) from e


def parse_answer(data: Any) -> Answer:
    """Turn a decoded JSON object into a ``Recipe`` or a ``Reply``.

    Raises pydantic's ``ValidationError`` when it is neither; callers that want
    JSON pointers use ``postprocess.validate`` first.
    """
    if isinstance(data, dict) and "reply" in data:
        return Reply.model_validate(data)
    return Recipe.model_validate(data)
