"""How answers look in the chat: a recipe rendered as Markdown (scaled on request), a
reply as plain text, a half-written answer as the JSON it is so far. No Gradio here."""
from __future__ import annotations

import re
from pathlib import Path

from recipe_schema import Answer, Recipe, Reply, ScalingError, atomic_write

# Characters that start Markdown (or HTML) structure anywhere in a line ...
_INLINE = re.compile(r"([\\`*_\[\]<>|~#!])")
# ... and at the start of a line: list items, numbered lists, block quotes, rules.
_LINE_START = re.compile(r"^(\s*)([-+=>]|\d+[.)])", re.MULTILINE)


def plain_text(text: str) -> str:
    """``text`` escaped so that a Markdown renderer shows it as written.

    >>> plain_text("1. use *two* <b>eggs</b>")
    '1\\\\. use \\\\*two\\\\* \\\\<b\\\\>eggs\\\\</b\\\\>'
    """
    escaped = _INLINE.sub(r"\\\1", text)
    return _LINE_START.sub(lambda m: m.group(1) + re.sub(r"([-+=>.)])", r"\\\1", m.group(2)), escaped)


def streaming_text(partial: str) -> str:
    """An answer still being written: the JSON so far, in a code block."""
    return "```json\n" + partial.replace("```", "`\u200b``") + "\n```"


def scaled(recipe: Recipe, servings: int | None) -> tuple[Recipe, str | None]:
    """``recipe`` scaled to ``servings`` (``None``: as written), and a note when it cannot be."""
    if servings is None or servings == recipe.servings:
        return recipe, None
    from postprocess import scale_recipe

    try:
        return scale_recipe(recipe, servings), None
    except ScalingError as e:
        return recipe, f"Shown as written: {e}."


def render_answer(answer: Answer, servings: int | None = None) -> str:
    """Chat Markdown for a finished answer: a rendered recipe, or a reply as plain text."""
    if isinstance(answer, Reply):
        return plain_text(answer.reply)
    from postprocess import to_markdown

    recipe, note = scaled(answer, servings)
    text = to_markdown(recipe)
    return text + (f"\n*{plain_text(note)}*\n" if note else "")


def slug(title: str) -> str:
    """A file name stem from a recipe title: ``"Pad Thai (easy)"`` -> ``"pad-thai-easy"``."""
    stem = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return stem[:60].rstrip("-") or "recipe"


def write_download(recipe: Recipe, servings: int | None, directory: Path, answer_id: str) -> Path:
    """The recipe as shown (scaled), as indented JSON in ``directory/<answer_id>/<slug>.json``."""
    shown, _ = scaled(recipe, servings)
    path = directory / answer_id / f"{slug(shown.title)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, shown.model_dump_json(indent=2, exclude_none=True) + "\n")
    return path
