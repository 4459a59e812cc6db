"""The one error hierarchy of souschef.

Library code raises these; only the CLI turns them into a message and an exit
code. ``exit_code`` follows the CLI convention: 1 when the input or the result is
not good (an invalid recipe, a failed gate, an unfinished generation), 2 for usage
errors (bad flags, missing files, a model that cannot be loaded).
"""
from __future__ import annotations

from dataclasses import dataclass


class SouschefError(Exception):
    """Base class of every error souschef raises on purpose."""

    exit_code = 1


class UsageError(SouschefError):
    """The caller asked for something that cannot be done as asked (exit 2)."""

    exit_code = 2


class InputFileError(UsageError):
    """A file could not be read or written (missing, a directory, no permission)."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class ModelLoadError(UsageError):
    """A model or tokenizer directory could not be loaded."""


@dataclass(frozen=True)
class SchemaError:
    """One validation error: where (a JSON pointer, ``/`` for the root) and what."""

    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer}: {self.message}"


class InvalidRecipeError(SouschefError):
    """A document is not a valid recipe.

    Parameters
    ----------
    errors
        Every error found (possibly capped), each with its JSON pointer.
    raw
        The text that failed, for callers that want to show or log it.
    omitted
        How many further errors were found but not listed.
    """

    def __init__(self, errors: list[SchemaError], raw: str | None = None, omitted: int = 0):
        self.errors = list(errors)
        self.raw = raw
        self.omitted = omitted
        first = str(self.errors[0]) if self.errors else "invalid recipe"
        more = len(self.errors) - 1 + omitted
        super().__init__(first + (f" (and {more} more)" if more else ""))


class ExtractionError(InvalidRecipeError):
    """No JSON object could be found in a model's text."""

    def __init__(self, message: str, raw: str | None = None):
        super().__init__([SchemaError("/", message)], raw=raw)


class ScalingError(SouschefError):
    """A recipe cannot be scaled as asked (for instance it has no servings)."""


class DataError(SouschefError):
    """Training data that cannot be used as asked (exit code 1: the input is not good).

    Raised for the first bad record under ``on_bad_record="fail"`` and when no usable
    example is left. ``bad_records`` lists every problem found so far.
    """

    def __init__(self, message: str, bad_records: list | None = None):
        super().__init__(message)
        self.bad_records = list(bad_records or [])


class StateError(UsageError):
    """A saved generation state cannot be continued: another model or schema, or tampered."""


class UnfinishedGenerationError(SouschefError):
    """Generation stopped on purpose (``max_calls``) before the answer was complete.

    ``state`` is the resumable state (a ``generation.GenerationState``).
    """

    def __init__(self, message: str, state: object = None):
        super().__init__(message)
        self.state = state
