"""What a model answers when left to choose (no guard, mode ``any``): a recipe or a reply.

Greedy decoding of each prompt's first few tokens through the union schema: the first
key decides (``{"reply"`` or a recipe's). Counts per prompt set:

- ``offdomain``: ``corpus.EVAL_OFFDOMAIN`` (a recipe is contamination);
- ``indomain``: ``corpus.EVAL_INDOMAIN`` (a reply is a false refusal);
- ``titles``: the 370 titles of ``../shared/data/public-domain-recipes`` asked four ways,
  as ``experiments/guard_eval.py`` asks them (skipped where that data is absent).

From the repository root:

    .venv/bin/python -m experiments.model_choice --model runs/mine
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter


def prompt_sets() -> dict[str, list[str]]:
    from experiments.guard_eval import TITLE_QUESTIONS, shared_recipe_titles
    from souschef import corpus

    sets = {name: [e["prompt"] for e in corpus.rows(file)]
            for name, file in (("offdomain", corpus.EVAL_OFFDOMAIN), ("indomain", corpus.EVAL_INDOMAIN))}
    titles = shared_recipe_titles()
    if titles is not None:
        sets["titles"] = [t.format(title) for t in TITLE_QUESTIONS for title in titles]
    return sets


def choice(gen, prompt: str) -> str:
    """``"recipe"`` or ``"reply"``: what the model starts to write for ``prompt``."""
    state = gen.step(gen.start(prompt, mode="any"), 6)
    return "reply" if gen.decode(state.generated_ids).lstrip().startswith('{"reply') else "recipe"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.model_choice",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a model directory (souschef train --out)")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    args = parser.parse_args(argv)
    from generation import RecipeGenerator

    gen = RecipeGenerator.from_pretrained(args.model, guard=False)
    counts = {}
    for name, prompts in prompt_sets().items():
        print(f"{name}: {len(prompts)} prompts", file=sys.stderr, flush=True)
        counts[name] = dict(Counter(choice(gen, p) for p in prompts))
    if args.json:
        print(json.dumps(counts, indent=2))
    else:
        for name, c in counts.items():
            total = sum(c.values())
            print(f"{name}: {c.get('recipe', 0)}/{total} recipe, {c.get('reply', 0)}/{total} reply")
    return 0


if __name__ == "__main__":
    sys.exit(main())
