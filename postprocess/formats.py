"""Reading recipe files: JSON Lines, RecipeNLG-style CSV and schema.org JSON-LD.

Each reader turns a file's bytes into ``RawRecord``s: the line a record starts
on and either its decoded JSON object or why it could not be decoded. What a
record *means* (a recipe, an exchange) is decided in ``records``; here we only
find records and keep their line numbers so that every problem can be reported
as ``FILE:LINE: why``. A record longer than ``MAX_RECORD_CHARS`` is refused here, before
it is parsed (``FILE:LINE: too long (N characters; the limit is M)``).
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import json.decoder
import json.scanner
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recipe_schema import UsageError
from recipe_schema.limits import MAX_RECORD_CHARS, too_long

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".json": "jsonld", ".jsonld": "jsonld"}

# RecipeNLG columns (title, ingredients, directions as JSON-encoded lists).
CSV_REQUIRED = ("title", "ingredients", "directions")
CSV_LIST_COLUMNS = ("ingredients", "directions", "NER")


@dataclass(frozen=True)
class RawRecord:
    """One record found in a file: where it starts and its JSON object, or why not."""

    line: int
    data: dict[str, Any] | None = None
    error: str | None = None


def file_format(path: str) -> str:
    """The reader a file needs, from its extension.

    >>> file_format("recipes.JSONL")
    'jsonl'
    """
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise UsageError(f"{path}: unknown data format {suffix or '(no extension)'!r} (expected {known})")
    return FORMATS[suffix]


def read_records(path: str, payload: bytes) -> Iterator[RawRecord]:
    """Every record of one file, in file order.

    Parameters
    ----------
    path
        The file's name; its extension chooses the reader.
    payload
        The file's bytes (read by the caller, which also hashes them).
    """
    reader: Callable[[bytes], Iterator[RawRecord]] = {
        "jsonl": _read_jsonl,
        "csv": _read_csv,
        "jsonld": _read_jsonld,
    }[file_format(path)]
    return reader(payload)


def _read_jsonl(payload: bytes) -> Iterator[RawRecord]:
    if payload.startswith(b"\xef\xbb\xbf"):
        payload = payload[3:]
    for number, raw in enumerate(payload.split(b"\n"), start=1):
        # Decode line by line so that one bad byte costs one record, not the file.
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError as e:
            yield RawRecord(number, error=f"not UTF-8 text (byte {e.start + 1})")
            continue
        if not text:
            continue
        if len(text) > MAX_RECORD_CHARS:  # refused before it is parsed, let alone tokenized
            yield RawRecord(number, error=too_long(len(text), MAX_RECORD_CHARS))
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            yield RawRecord(number, error=f"invalid JSON: {e.msg} (column {e.colno})")
            continue
        except RecursionError:
            yield RawRecord(number, error="invalid JSON: nested too deeply")
            continue
        if isinstance(obj, dict):
            yield RawRecord(number, data=obj)
        else:
            yield RawRecord(number, error=f"expected a JSON object, got {type(obj).__name__}")


def _read_csv(payload: bytes) -> Iterator[RawRecord]:
    try:
        text = payload.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        yield RawRecord(text_line(payload, e.start), error="not UTF-8 text")
        return
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [c for c in CSV_REQUIRED if c not in header]
    if missing:
        yield RawRecord(
            1, error=f"CSV header lacks column(s) {', '.join(missing)} (RecipeNLG: {CSV_REQUIRED})"
        )
        return
    while True:
        # A quoted field may span lines: the record starts after the previous one ended.
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            yield RawRecord(start, error=f"malformed CSV: {e}")
            return
        yield _csv_row(start, row)


def _csv_row(line: int, row: dict[str | None, Any]) -> RawRecord:
    if None in row:  # more cells than header columns
        return RawRecord(line, error=f"{len(row[None])} more cells than the header has columns")
    size = sum(len(v) for v in row.values() if isinstance(v, str))
    if size > MAX_RECORD_CHARS:
        return RawRecord(line, error=too_long(size, MAX_RECORD_CHARS))
    data: dict[str, Any] = {}
    for key, value in row.items():
        assert key is not None
        if key == "" or key.startswith("Unnamed"):
            continue  # pandas' index column
        if value is None:
            return RawRecord(line, error=f"missing cell for column {key!r}")
        if key in CSV_LIST_COLUMNS:
            try:
                value = json.loads(value, strict=False)  # tolerate raw newlines inside the strings
            except json.JSONDecodeError:
                if key == "NER":
                    data[key] = value
                    continue
                return RawRecord(line, error=f"column {key!r} is not a JSON list: {value[:40]!r}")
            if not isinstance(value, list):
                return RawRecord(line, error=f"column {key!r} is not a JSON list")
        data[key] = value  # "directions" is read as steps, like schema.org's synonyms
    return RawRecord(line, data=data)


class _LineDict(dict):  # type: ignore[type-arg]
    """A JSON object that remembers the line its ``{`` is on."""

    line = 0


def _read_jsonld(payload: bytes) -> Iterator[RawRecord]:
    try:
        text = payload.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        yield RawRecord(text_line(payload, e.start), error="not UTF-8 text")
        return
    try:
        document = _decode_with_lines(text)
    except json.JSONDecodeError as e:
        yield RawRecord(e.lineno, error=f"invalid JSON: {e.msg} (column {e.colno})")
        return
    except RecursionError:
        yield RawRecord(1, error="invalid JSON: nested too deeply")
        return
    if not isinstance(document, (dict, list)):
        yield RawRecord(1, error=f"expected a JSON object or list, got {type(document).__name__}")
        return
    for node in _recipe_nodes(document):
        line = getattr(node, "line", 1)
        size = len(json.dumps(node, ensure_ascii=False))
        if size > MAX_RECORD_CHARS:
            yield RawRecord(line, error=too_long(size, MAX_RECORD_CHARS))
        else:
            yield RawRecord(line, data=dict(node))


def _recipe_nodes(document: Any) -> Iterator[Any]:
    """The nodes that are recipes: the document itself, list items or ``@graph`` members.

    Nodes typed as something else (``WebPage``, ``Person``) are not recipes and are
    passed over, not reported; untyped objects are records in the schema's shape.
    """
    if isinstance(document, list):
        for item in document:
            yield from _recipe_nodes(item)
        return
    if not isinstance(document, dict):
        return
    if "@graph" in document and "@type" not in document:
        yield from _recipe_nodes(document["@graph"])
        return
    kind = document.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    if kind is None or any(str(k).rsplit("/", 1)[-1] == "Recipe" for k in kinds):
        yield document


def _decode_with_lines(text: str) -> Any:
    """``json.loads`` whose objects carry the line they start on.

    The C scanner offers no positions, so this uses the pure-Python scanner with a
    wrapped object parser; JSON-LD files are small, the slowdown does not matter.
    """
    decoder = json.JSONDecoder()
    newlines = [i for i, ch in enumerate(text) if ch == "\n"]

    def parse_object(s_and_end: tuple[str, int], *args: Any) -> tuple[Any, int]:
        obj, end = json.decoder.JSONObject(s_and_end, *args)  # type: ignore[attr-defined]
        tagged = _LineDict(obj)
        tagged.line = bisect.bisect_left(newlines, s_and_end[1] - 1) + 1  # newlines before the "{"
        return tagged, end

    decoder.parse_object = parse_object  # type: ignore[attr-defined]
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    return decoder.decode(text)


def text_line(payload: bytes, offset: int) -> int:
    """The 1-based line of a byte offset."""
    return payload.count(b"\n", 0, offset) + 1
