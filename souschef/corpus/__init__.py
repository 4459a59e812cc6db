"""souschef.corpus: the small corpus souschef ships, written for the project.

Package data, installed with souschef, so that ``make demo`` and
``souschef train`` work on a fresh machine with no download. Files:

- ``recipes.jsonl``: training recipes, one ``Recipe`` object per line.
- ``heldout.jsonl``: a fixed ~10% of the recipes, never trained on by default.
- ``exchanges.jsonl``: chat exchanges ``{"prompt", "answer", "topic"}``; the answer
  is a ``Recipe`` (in-domain questions phrased many ways) or a ``Reply``
  (off-domain questions: programming, mathematics, history, ...).
- ``guard_cooking.jsonl`` / ``guard_offdomain.jsonl``: prompts ``{"prompt", "topic"}``
  for the domain guard alone (no answers): cooking questions naming dishes of 69
  cuisines, techniques, equipment and kitchen problems; and questions of 45 other
  topics, many using food words in another sense ("the recipe for a good CV",
  browser cookies, "cooking the books"). None of the six topics the evaluation keeps
  unseen (automotive, pets, film, philosophy, home repair, gaming) is among them.
- ``food_words.txt``: a food lexicon, one term a line (ingredients, dishes of many
  cuisines, old cookbook terms, techniques, equipment): words the domain guard knows
  as cooking words beyond those of the recipes.
- ``eval_offdomain.jsonl`` / ``eval_indomain.jsonl``: evaluation prompts
  ``{"prompt", "topic"}``, disjoint from everything above.
- ``fresh_offdomain.jsonl`` / ``fresh_cooking.jsonl``: a test set written after the guard's
  sets, on topics none of them has, scored once at the end; never tuned on.
- ``examples/``: single recipe documents for the CLI and the demo.
"""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

RECIPES = "recipes.jsonl"
HELDOUT = "heldout.jsonl"
EXCHANGES = "exchanges.jsonl"
GUARD_COOKING = "guard_cooking.jsonl"
GUARD_OFFDOMAIN = "guard_offdomain.jsonl"
FOOD_WORDS = "food_words.txt"
EVAL_OFFDOMAIN = "eval_offdomain.jsonl"
EVAL_INDOMAIN = "eval_indomain.jsonl"
FRESH_OFFDOMAIN = "fresh_offdomain.jsonl"
FRESH_COOKING = "fresh_cooking.jsonl"


def path(name: str) -> Path:
    """Absolute path of a shipped corpus file, e.g. ``path(RECIPES)``."""
    found = resources.files(__name__).joinpath(name)
    if not found.is_file():
        raise FileNotFoundError(f"corpus file {name!r} is not shipped with souschef")
    return Path(str(found))


def rows(name: str) -> list[dict[str, Any]]:
    """The records of a shipped JSONL corpus file, in order, e.g. ``rows(EXCHANGES)``."""
    text = path(name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]
