"""recipe_schema: what a recipe is, the answer form, and the project's errors.

This package imports nothing else of souschef; every other package imports it.
"""
from .errors import (
    ExtractionError,
    InputFileError,
    InvalidRecipeError,
    ModelLoadError,
    ScalingError,
    SchemaError,
    SouschefError,
    UsageError,
)
from .files import atomic_write, read_bytes
from .jsonschema import generate_schema, load_schema, schema_text
from .model import SCHEMA_VERSION, Answer, Recipe, Reply, parse_answer, to_compact_json

__all__ = [
    "Answer",
    "ExtractionError",
    "InputFileError",
    "InvalidRecipeError",
    "ModelLoadError",
    "Recipe",
    "Reply",
    "SCHEMA_VERSION",
    "SchemaError",
    "ScalingError",
    "SouschefError",
    "UsageError",
    "atomic_write",
    "generate_schema",
    "load_schema",
    "parse_answer",
    "read_bytes",
    "schema_text",
    "to_compact_json",
]
