"""What every ``souschef`` command shares: its name, and how it reads inputs and writes outputs.

A public module of its own, so that ``cli`` (the entry point) and the modules that register
commands (``model_cli``, ``chat_cli``) import it and not each other. Only the standard library
and ``recipe_schema`` are imported at module level (``souschef --help`` stays fast).
"""
from __future__ import annotations

import json
import sys
from typing import Any

from recipe_schema.errors import InvalidRecipeError

PROG = "souschef"


def emit(text: str) -> None:
    """One line of machine or table output on stdout (a newline added when missing)."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def read_text(path: str) -> str:
    """A whole input file as text; bytes that are not UTF-8 make it an invalid recipe."""
    from recipe_schema import SchemaError, read_bytes

    raw = read_bytes(path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidRecipeError([SchemaError("/", f"not UTF-8 text (byte {e.start})")]) from None


def render_answer(answer: Any, fmt: str) -> str:
    """A recipe (normalized) or a reply, as markdown, json or jsonld text."""
    from postprocess import normalize, to_jsonld, to_markdown
    from recipe_schema import Reply

    if isinstance(answer, Reply):
        if fmt == "markdown":
            return answer.reply + "\n"
        return json.dumps({"reply": answer.reply}, ensure_ascii=False) + "\n"
    recipe = normalize(answer)
    if fmt == "markdown":
        return to_markdown(recipe)
    if fmt == "jsonld":
        return json.dumps(to_jsonld(recipe), indent=2, ensure_ascii=False) + "\n"
    return recipe.model_dump_json(indent=2, exclude_none=True) + "\n"


def write_output(text: str, path: str | None) -> None:
    """To ``path`` atomically when given, else to stdout."""
    from recipe_schema import atomic_write

    if path:
        atomic_write(path, text)
        print(f"wrote {path}", file=sys.stderr)
    else:
        sys.stdout.write(text)
