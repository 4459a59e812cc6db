"""``make demo``: what souschef does, end to end, on what the repository ships.

Each step prints a heading on stderr and the result on stdout; a failure stops
the demo with a one-line message and exit code 1.
"""
from __future__ import annotations

import sys
from importlib import resources

from recipe_schema import SouschefError

EXAMPLE = "examples/harissa-chickpeas.json"


def _step(title: str) -> None:
    print(f"\n==> {title}", file=sys.stderr, flush=True)


def run() -> None:
    """Validate, normalize, scale and render the shipped example recipe."""
    from postprocess import parse_ingredient, process, scale_recipe, to_markdown

    text = resources.files("corpus").joinpath(EXAMPLE).read_text(encoding="utf-8")
    _step(f"validate and normalize corpus/{EXAMPLE}")
    recipe = process(text, strict=True)
    print(f"valid: {recipe.title!r}, {len(recipe.ingredients)} ingredients, {len(recipe.steps)} steps")

    _step("parse its ingredient lines")
    for line in recipe.ingredients[:4]:
        print(parse_ingredient(line).to_dict())

    _step("render it as Markdown, scaled from 4 to 6 servings")
    print(to_markdown(scale_recipe(recipe, 6)))


def main() -> int:
    try:
        run()
    except SouschefError as e:
        print(f"demo failed: {e}", file=sys.stderr)
        return 1
    print("\ndemo finished", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
