"""Find the JSON object in a model's text.

Models wrap JSON in code fences, or put prose before and after it. ``extract``
tries, in order: the whole text, each fenced block, then every ``{`` from left to
right, and returns the first JSON object that decodes (preferring one that looks
like an answer: with ``title`` or ``reply``).
"""
from __future__ import annotations

import json
import re
from typing import Any

from recipe_schema import ExtractionError

_FENCE = re.compile(r"```[a-zA-Z]*\s*\n?(.*?)```", re.DOTALL)
_ANSWER_KEYS = ("title", "reply", "ingredients", "steps")
MAX_CANDIDATES = 2000  # '{' positions tried; bounds the work on huge inputs


def _decode_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def extract(text: str) -> dict[str, Any]:
    """Return the answer object embedded in ``text``.

    >>> extract('Sure! ```json\\n{"reply": "hi"}\\n``` Enjoy.')
    {'reply': 'hi'}

    Raises
    ------
    ExtractionError
        When no JSON object can be found.
    """
    text = text.removeprefix("\ufeff")
    whole = _decode_object(text.strip())
    if whole is not None:
        return whole
    for block in _FENCE.findall(text):
        found = _decode_object(block.strip())
        if found is not None:
            return found
    decoder = json.JSONDecoder()
    first = None
    start = text.find("{")
    tried = 0
    while start != -1 and tried < MAX_CANDIDATES:
        tried += 1
        try:
            value, end = decoder.raw_decode(text, start)
        except (json.JSONDecodeError, RecursionError):
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict):
            if any(k in value for k in _ANSWER_KEYS):
                return value
            first = first if first is not None else value
        start = text.find("{", end)
    if first is not None:
        return first
    if "{" in text:
        raise ExtractionError("no complete JSON object found (truncated output?)", raw=text)
    raise ExtractionError("no JSON object found", raw=text)
