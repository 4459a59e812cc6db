"""recipe_schema: what a recipe is, the answer form, and the project's errors.

This package imports nothing else of souschef; every other package imports it.
"""
from .chat import SYSTEM_PROMPT, answer_text, format_prompt
from .errors import (
    DataError,
    ExtractionError,
    InputFileError,
    InvalidRecipeError,
    ModelLoadError,
    ScalingError,
    SchemaError,
    SouschefError,
    StateError,
    UnfinishedGenerationError,
    UsageError,
)
from .files import atomic_write, read_bytes, refuse_overwriting_inputs
from .jsonschema import generate_schema, load_schema, schema_text
from .model import (
    SCHEMA_VERSION,
    Answer,
    Recipe,
    Reply,
    parse_answer,
    to_compact_json,
    validate_answer,
)

__all__ = [
    "Answer",
    "DataError",
    "ExtractionError",
    "InputFileError",
    "InvalidRecipeError",
    "ModelLoadError",
    "Recipe",
    "Reply",
    "SCHEMA_VERSION",
    "SYSTEM_PROMPT",
    "SchemaError",
    "ScalingError",
    "SouschefError",
    "StateError",
    "UnfinishedGenerationError",
    "UsageError",
    "answer_text",
    "atomic_write",
    "format_prompt",
    "generate_schema",
    "load_schema",
    "parse_answer",
    "read_bytes",
    "refuse_overwriting_inputs",
    "schema_text",
    "to_compact_json",
    "validate_answer",
]
