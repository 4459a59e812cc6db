"""The JSON Schema of a recipe, generated from the pydantic model."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

SCHEMA_FILE = "recipe.schema.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def generate_schema() -> dict[str, Any]:
    """Build the JSON Schema (draft 2020-12) from ``Recipe``."""
    from .recipe import Recipe

    schema = Recipe.model_json_schema()
    return {"$schema": DRAFT, **schema}


def schema_text() -> str:
    """The schema as the text committed in ``recipe.schema.json``."""
    return json.dumps(generate_schema(), indent=2, ensure_ascii=False) + "\n"


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    """The committed schema, read from package data."""
    text = resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)
