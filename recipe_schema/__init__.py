"""recipe_schema: what a recipe is, the answer form, and the project's errors.

This package imports nothing else of souschef; every other package imports it.
"""
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
from .prompt import (
    CHAT_TEMPLATE,
    PLAIN,
    PROMPT_FORMATS,
    SYSTEM_PROMPT,
    answer_text,
    default_prompt_format,
    end_of_answer_id,
    format_prompt,
    prompt_text,
)
from .recipe import (
    SCHEMA_VERSION,
    Answer,
    Recipe,
    Reply,
    parse_answer,
    to_compact_json,
    validate_answer,
)

__all__ = [
    "CHAT_TEMPLATE",
    "PLAIN",
    "PROMPT_FORMATS",
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
    "default_prompt_format",
    "end_of_answer_id",
    "format_prompt",
    "generate_schema",
    "load_schema",
    "parse_answer",
    "prompt_text",
    "read_bytes",
    "refuse_overwriting_inputs",
    "schema_text",
    "to_compact_json",
    "validate_answer",
]
