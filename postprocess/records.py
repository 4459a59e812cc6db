"""What a record means: a recipe (schema or schema.org names) or a chat exchange.

A record with ``prompt``/``answer`` is an exchange; anything else is a recipe. Recipes
may use the schema's field names (``souschef schema``) or schema.org's (``name``,
``recipeIngredient``, ``recipeInstructions``, ``recipeYield``, ``prepTime``, ...).
Fields the schema does not know (``source``, ``license``, ``url``) are kept as
metadata and are never a reason to reject a record. Text gets light cleanup
(whitespace collapsed, blank lines dropped) and the result is validated with the
schema itself: a record whose *required* fields are unusable is rejected with the
reason, an optional field that does not validate is dropped with a note. A text
longer than ``MAX_FIELD_CHARS`` rejects its record: it would be trained on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from recipe_schema import Recipe, Reply
from recipe_schema.limits import MAX_FIELD_CHARS, too_long
from recipe_schema.recipe import Answer

from .formats import read_records
from .normalize import collapse_whitespace, unique

# schema.org name -> schema field. Targets are checked against Recipe.model_fields
# (tests/training/test_data.py), so the schema stays the one list of names.
SCHEMA_ORG = {
    "name": "title",
    "headline": "title",
    "recipeIngredient": "ingredients",
    "ingredient": "ingredients",  # schema.org's superseded spelling
    "recipeInstructions": "steps",
    "directions": "steps",
    "instructions": "steps",
    "recipeYield": "servings",
    "yield": "servings",
    "prepTime": "prep_time",
    "cookTime": "cook_time",
    "recipeCuisine": "cuisine",
    "keywords": "tags",
    "recipeCategory": "tags",
}

# A yield is servings only when it counts people: "4", "4 servings", "serves 4",
# "4 people". "1 loaf", "24 cookies" or "4-6" are kept as metadata, not guessed at.
_SERVINGS = re.compile(
    r"^(?:serves\s+)?(\d{1,3})(?:\s+(?:servings?|people|persons|portions))?$", re.IGNORECASE
)


@dataclass(frozen=True)
class BadRecord:
    """A record that was not used, and why."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


class RecordError(ValueError):
    """A record that cannot become a training example; the message says why."""


@dataclass
class Converted:
    """A record turned into an answer, plus what was set aside on the way."""

    answer: Answer
    prompt: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def convert(data: dict[str, Any]) -> Converted:
    """Turn one decoded record into an answer (and a prompt, for an exchange).

    Raises
    ------
    RecordError
        When the record is neither a usable recipe nor a usable exchange.

    >>> record = {"name": "Toast", "recipeIngredient": ["bread"], "recipeInstructions": "Toast it."}
    >>> convert(record).answer.title
    'Toast'
    """
    if "prompt" in data or "answer" in data:
        converted = _exchange(data)
        _check_sizes({"prompt": converted.prompt}, "")
        _check_sizes(converted.answer.model_dump(exclude_none=True), "/answer")
        return converted
    converted = _recipe(data)
    _check_sizes(converted.answer.model_dump(exclude_none=True), "")
    return converted


def _check_sizes(fields: dict[str, Any], prefix: str) -> None:
    """Refuse a text longer than ``MAX_FIELD_CHARS``: the tokenizer and the guard train on it."""
    for name, value in fields.items():
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            if isinstance(item, str) and len(item) > MAX_FIELD_CHARS:
                where = f"{prefix}/{name}" + (f"/{i}" if isinstance(value, list) else "")
                raise RecordError(f"{where}: {too_long(len(item), MAX_FIELD_CHARS)}")


def _exchange(data: dict[str, Any]) -> Converted:
    prompt, answer = data.get("prompt"), data.get("answer")
    if not isinstance(prompt, str) or not prompt.strip():
        raise RecordError("exchange has no prompt (a non-empty string)")
    if isinstance(answer, str):
        try:
            answer = json.loads(answer)
        except json.JSONDecodeError:
            raise RecordError("exchange answer is a string that is not JSON") from None
    if not isinstance(answer, dict):
        raise RecordError('exchange has no answer (a recipe or {"reply": ...} object)')
    metadata = {k: v for k, v in data.items() if k not in ("prompt", "answer")}
    if "reply" in answer:
        reply = answer["reply"]
        try:
            parsed = Reply.model_validate(
                {**answer, "reply": collapse_whitespace(reply) if isinstance(reply, str) else reply}
            )
        except ValidationError as e:
            raise RecordError(f"answer{_first_error(e)}") from None
        return Converted(parsed, prompt=collapse_whitespace(prompt), metadata=metadata)
    converted = _recipe(answer)
    converted.prompt = collapse_whitespace(prompt)
    converted.metadata = {**metadata, **{f"answer.{k}": v for k, v in converted.metadata.items()}}
    return converted


def _recipe(data: dict[str, Any]) -> Converted:
    fields: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    notes: list[str] = []
    # Schema names first so that they win over a schema.org synonym of the same field.
    ordered = sorted(data.items(), key=lambda kv: kv[0] not in Recipe.model_fields)
    origins: dict[str, tuple[str, Any]] = {}  # schema field -> the record's key and value
    for key, value in ordered:
        target = key if key in Recipe.model_fields else SCHEMA_ORG.get(key)
        if value is None and target is not None:
            continue  # null is absence
        if target is None:
            metadata[key] = value
            continue
        try:
            cleaned = _FIELD_CLEANERS[target](value)
        except RecordError as e:
            if Recipe.model_fields[target].is_required():
                raise RecordError(f"{key}: {e}") from None
            metadata[key] = value
            notes.append(f"dropped {key} {_short(value)} ({e})")
            continue
        if cleaned is None:
            if value not in (None, "", []):
                metadata[key] = value
            continue
        if target in fields:
            if target == "tags":  # keywords and recipeCategory both become tags
                fields["tags"] = unique(fields["tags"] + cleaned, key=str.lower)
            else:
                metadata[key] = value
            continue
        fields[target] = cleaned
        origins[target] = (key, value)
    for name, info in Recipe.model_fields.items():
        if info.is_required() and name not in fields:
            synonyms = [k for k, v in SCHEMA_ORG.items() if v == name][:2]
            raise RecordError(f"no {name} (or {' / '.join(synonyms)})")
    return Converted(_validate(fields, origins, metadata, notes), metadata=metadata, notes=notes)


def _validate(
    fields: dict[str, Any], origins: dict[str, tuple[str, Any]], metadata: dict[str, Any], notes: list[str]
) -> Recipe:
    """Validate with the schema; drop optional fields that fail, reject on required ones."""
    while True:
        try:
            return Recipe.model_validate(fields)
        except ValidationError as e:
            bad = {err["loc"][0] for err in e.errors() if err["loc"]}
            required = [name for name in bad if Recipe.model_fields[str(name)].is_required()]
            if required or not bad:
                raise RecordError(_first_error(e)) from None
            for name in bad:
                fields.pop(str(name))
                key, value = origins[str(name)]
                metadata.setdefault(key, value)
                notes.append(f"dropped {key} {_short(value)} ({_error_for(e, name)})")


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    pointer = "/".join(str(p) for p in err["loc"])
    return f"/{pointer}: {_message(err)}"


def _error_for(e: ValidationError, name: Any) -> str:
    return next(_message(err) for err in e.errors() if err["loc"] and err["loc"][0] == name)


def _message(err: Any) -> str:
    if err["type"] == "string_pattern_mismatch" and err["loc"][0] in ("prep_time", "cook_time"):
        return "not an ISO 8601 duration (like PT25M)"
    return str(err["msg"])


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, str):
        raise RecordError(f"expected text, got {type(value).__name__}")
    return collapse_whitespace(value) or None


def _lines(value: Any) -> list[str] | None:
    """A list of text lines from a list, or from one string with a line per item."""
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, list):
        raise RecordError(f"expected a list of lines, got {type(value).__name__}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise RecordError(f"item {i} is {type(item).__name__}, not text")
        if collapse_whitespace(item):
            out.append(collapse_whitespace(item))
    return out or None


def _steps(value: Any) -> list[str] | None:
    """Instructions: lines, HowToStep objects (``text``) and HowToSections of them."""
    if isinstance(value, str):
        return _lines(value)
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise RecordError(f"expected a list of steps, got {type(value).__name__}")
    out: list[str] = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            text = collapse_whitespace(item)
        elif isinstance(item, dict) and "itemListElement" in item:  # HowToSection
            text = ""
            out.extend(_steps(item["itemListElement"]) or [])
        elif isinstance(item, dict) and isinstance(item.get("text") or item.get("name"), str):
            text = collapse_whitespace(item.get("text") or item["name"])
        else:
            raise RecordError(f"step {i} is neither text nor a HowToStep with text")
        if text:
            out.append(text)
    return out or None


def _tags(value: Any) -> list[str] | None:
    if isinstance(value, str):
        value = value.split(",")
    lines = _lines(value)
    return unique(lines, key=str.lower) if lines else None


def _servings(value: Any) -> int | None:
    if isinstance(value, bool):
        raise RecordError("a yield is not true or false")
    if isinstance(value, int):
        return value
    candidates = value if isinstance(value, list) else [value]
    for item in candidates:
        if isinstance(item, int) and not isinstance(item, bool):
            return item
        if isinstance(item, str) and (match := _SERVINGS.match(item.strip())):
            return int(match.group(1))
    raise RecordError("not a number of servings")


def _cuisine(value: Any) -> str | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = ", ".join(v.strip() for v in value if v.strip())
    return _text(value)


def _duration(value: Any) -> str | None:
    text = _text(value)
    return text.upper() if text else None  # "pt10m" is a valid ISO 8601 duration written in lower case


_FIELD_CLEANERS = {
    "title": _text,
    "description": _text,
    "servings": _servings,
    "prep_time": _duration,
    "cook_time": _duration,
    "cuisine": _cuisine,
    "tags": _tags,
    "ingredients": _lines,
    "steps": _steps,
}


def read_file(path: str, payload: bytes) -> Iterator[tuple[int, Converted | BadRecord]]:
    """Every record of one recipe file: ``(line, what it means)``, or why it is unusable.

    Parameters
    ----------
    path
        The file's name: its extension gives the format (``formats.file_format``), and it
        names the file in each ``BadRecord`` (``FILE:LINE: why``).
    payload
        The file's bytes (``recipe_schema.read_bytes(path)``).

    Raises
    ------
    UsageError
        An unknown file extension (exit 2).
    """
    for raw in read_records(path, payload):
        try:
            if raw.error is not None:
                raise RecordError(raw.error)
            assert raw.data is not None
            converted = convert(raw.data)
        except RecordError as e:
            yield raw.line, BadRecord(path, raw.line, str(e))
            continue
        yield raw.line, converted
