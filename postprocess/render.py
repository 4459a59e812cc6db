"""Render a recipe: Markdown for people, schema.org JSON-LD for machines."""
from __future__ import annotations

import re
from typing import Any

from recipe_schema import Recipe

_DURATION = re.compile(
    r"^P(?:(?P<D>\d+)D)?(?:T(?:(?P<H>\d+)H)?(?:(?P<M>\d+)M)?(?:(?P<S>\d+(?:\.\d+)?)S)?)?$"
)


def human_duration(iso: str) -> str:
    """``PT1H30M`` -> ``1 h 30 min``; durations with years or weeks stay as written."""
    m = _DURATION.match(iso)
    if not m:
        return iso
    units = (("D", "d"), ("H", "h"), ("M", "min"), ("S", "s"))
    parts = [f"{m.group(k)} {label}" for k, label in units if m.group(k) and float(m.group(k))]
    return " ".join(parts) or "0 min"


def _escape(text: str) -> str:
    """Keep a line of text from being read as Markdown structure."""
    return re.sub(r"([\\`*_\[\]<>|])", r"\\\1", text)


def to_markdown(recipe: Recipe) -> str:
    """Title heading, meta line, ``## Ingredients`` bullets, ``## Steps`` numbered."""
    out = [f"# {_escape(recipe.title)}", ""]
    if recipe.description:
        out += [_escape(recipe.description), ""]
    meta = []
    if recipe.servings is not None:
        meta.append(f"**Serves:** {recipe.servings}")
    if recipe.prep_time:
        meta.append(f"**Prep:** {human_duration(recipe.prep_time)}")
    if recipe.cook_time:
        meta.append(f"**Cook:** {human_duration(recipe.cook_time)}")
    if recipe.cuisine:
        meta.append(f"**Cuisine:** {_escape(recipe.cuisine)}")
    if meta:
        out += [" · ".join(meta), ""]
    out += ["## Ingredients", ""]
    out += [f"- {_escape(line)}" for line in recipe.ingredients]
    out += ["", "## Steps", ""]
    out += [f"{n}. {_escape(step)}" for n, step in enumerate(recipe.steps, 1)]
    if recipe.tags:
        out += ["", "*Tags: " + ", ".join(_escape(t) for t in recipe.tags) + "*"]
    return "\n".join(out) + "\n"


def to_jsonld(recipe: Recipe) -> dict[str, Any]:
    """A schema.org ``Recipe`` object (https://schema.org/Recipe)."""
    doc: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Recipe",
        "name": recipe.title,
    }
    if recipe.description:
        doc["description"] = recipe.description
    if recipe.servings is not None:
        doc["recipeYield"] = f"{recipe.servings} servings"
    if recipe.prep_time:
        doc["prepTime"] = recipe.prep_time
    if recipe.cook_time:
        doc["cookTime"] = recipe.cook_time
    if recipe.cuisine:
        doc["recipeCuisine"] = recipe.cuisine
    if recipe.tags:
        doc["keywords"] = ", ".join(recipe.tags)
    doc["recipeIngredient"] = list(recipe.ingredients)
    doc["recipeInstructions"] = [{"@type": "HowToStep", "text": s} for s in recipe.steps]
    return doc
