"""Issue 22's test: the guards on the fresh set (scored once), the evaluation sets and real cookbook titles.

Routing decides the kind of answer: a prompt routed to ``"reply"`` is answered with a
reply (decoding is constrained to it), one routed to ``"recipe"`` with a recipe. So the
share of off-domain prompts answered with a recipe is the share the guard routes to
``"recipe"``, and the share of cooking prompts refused the share it routes to ``"reply"``.

Sets: ``corpus.FRESH_OFFDOMAIN`` / ``FRESH_COOKING`` (written after the guard's sets, on
topics none of them has, never tuned on), ``corpus.EVAL_OFFDOMAIN`` (its six unseen
topics apart) / ``EVAL_INDOMAIN``, and the titles of the public-domain recipes of
``../shared`` asked four ways (``experiments.guard_eval.TITLE_QUESTIONS``), where present.

Guards (``--model DIR`` repeatable, plus the shipped default): each model directory's own
``guard.json`` with that model loaded, so that a guard that reads its model gets its views
(``ViewReader``, batched: the prompt pass's view to float32 rounding); ``default`` is the
text guard shipped for models without one. Rates with Wilson 95% intervals.

    git show 7e178d6:generation/assistant/guard.json > runs/guard/assistant-text-guard.json
    .venv/bin/python -m experiments.guard_test --model generation/assistant \
        --model generation/assistant=runs/guard/assistant-text-guard.json --model runs/guard/user-run
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from experiments.guard_eval import TITLE_QUESTIONS, UNSEEN, rate, shared_recipe_titles
from generation.guard import DomainGuard
from souschef import corpus

TARGET_RECIPE_ANSWERS = 0.02   # off-domain prompts answered with a recipe
TARGET_REFUSALS = 0.03         # cooking prompts refused


def sets() -> dict[str, tuple[list[str], bool]]:
    """Each set's prompts and whether they are about cooking."""
    off = corpus.rows(corpus.EVAL_OFFDOMAIN)
    found = {
        "fresh off-domain": ([r["prompt"] for r in corpus.rows(corpus.FRESH_OFFDOMAIN)], False),
        "fresh cooking": ([r["prompt"] for r in corpus.rows(corpus.FRESH_COOKING)], True),
        "eval off-domain, unseen topics": ([r["prompt"] for r in off if r["topic"] in UNSEEN], False),
        "eval off-domain, other topics": ([r["prompt"] for r in off if r["topic"] not in UNSEEN], False),
        "eval cooking": ([r["prompt"] for r in corpus.rows(corpus.EVAL_INDOMAIN)], True),
    }
    titles = shared_recipe_titles()
    if titles:
        found["cookbook titles x4"] = ([t.format(title) for title in titles for t in TITLE_QUESTIONS], True)
    return found


def errors(guard: DomainGuard, prompts: list[str], cooking: bool, views: dict[str, Any] | None) -> list[bool]:
    """Per prompt, whether the guard routes it wrongly (refuses cooking, or lets another topic through)."""
    scores = guard.scores(prompts, [views[p] for p in prompts] if views is not None else None)
    return [(s < guard.threshold) if cooking else (s >= guard.threshold) for s in scores]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[],
                        help="a model directory with its guard (DIR=GUARD_FILE: with another guard)")
    parser.add_argument("--out", type=Path, default=Path("runs/guard/test.json"))
    args = parser.parse_args(argv)
    prompts = sets()
    results: dict[str, dict[str, Any]] = {}
    wrong: dict[str, dict[str, list[str]]] = {}
    guards: list[tuple[str, Any]] = [("default (text)", None), *[(m, m) for m in args.model]]
    for name, model in guards:
        views = None
        if model is None:
            guard = DomainGuard.default()
        else:
            from generation import RecipeGenerator
            from generation.guard.view import ViewReader

            folder, _, other = model.partition("=")
            own = DomainGuard.load(other) if other else True
            generator = RecipeGenerator.from_pretrained(folder, guard=own)
            guard = generator.guard
            if guard.reads_model:
                everything = list(dict.fromkeys(p for ps, _ in prompts.values() for p in ps))
                print(f"{name}: reading {len(everything)} views", file=sys.stderr)
                views = ViewReader(generator.model, generator.prompt_ids, guard.view_layer).views(everything)
        results[name], wrong[name] = {}, {}
        for label, (ps, cooking) in prompts.items():
            flags = errors(guard, ps, cooking, views)
            results[name][label] = rate(flags)
            wrong[name][label] = [p for p, f in zip(ps, flags, strict=True) if f]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"results": results, "wrong": wrong}, indent=1, ensure_ascii=False) + "\n")
    print("| guard | set | wrong | rate [95% interval] | target |")
    print("|---|---|---|---|---|")
    for name, by_set in results.items():
        for label, r in by_set.items():
            target = TARGET_REFUSALS if prompts[label][1] else TARGET_RECIPE_ANSWERS
            what = "refused" if prompts[label][1] else "answered with a recipe"
            print(f"| {name} | {label} ({what}) | {r['k']}/{r['n']} | {r['rate']:.1%} "
                  f"[{r['low']:.1%}, {r['high']:.1%}] | <= {target:.0%} |")
    print(f"prompts it got wrong: {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
