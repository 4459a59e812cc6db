"""Choose the guard's classifier settings by cross-validation on its training data alone.

Five folds, repeated with four different splits (the figures are their means: one
split's cost moves by about 0.3 from split to split). Off-domain prompts are split by
topic (a fold's topics are never seen in training: what the guard meets in use),
cooking prompts by a hash of the prompt, and
the training recipes by a hash of their title: a fold's recipes give no generated
question and no word to the training folds. Each fold fits ``DomainGuard.fit``, which
picks its own threshold on the training folds' written prompts (by an inner
cross-validation grouped by topic, or on one 20% validation split: the candidates'
``threshold_folds``), and counts, in the fold held out:

- off-domain prompts classified as cooking (contamination on unseen topics);
- written cooking prompts refused;
- questions asking for the held-out recipes by title, four ways (as
  ``experiments/guard_eval.py`` asks for the shared cookbook titles), refused: dishes
  the guard never saw, named in words it may never have seen.

The evaluation prompt sets are not read. Settings are ranked by the threshold rule's
own cost, contamination/0.02 + false refusals/0.05, false refusals pooled over written
prompts and title questions.

From the repository root:

    .venv/bin/python -m experiments.guard_select          # a Markdown table, best first (~40 min on 2 cores)
    .venv/bin/python -m experiments.guard_select everyday # one group of candidates (unknown, threshold,
                                                          # food, everyday, classifier, embedding)
    JOBS=1 .venv/bin/python -m experiments.guard_select   # one candidate at a time (default: one per core)
    .venv/bin/python -m experiments.guard_select unknown --data mine.jsonl   # as a run on a user's
                                                          # recipes trains it: theirs join the shipped ones

The unknown-pair share and known-in-two-texts candidates of session 7 were measured here and
never paid (docs/EXPERIMENTS.md); the options are gone from ``DomainGuard.fit``, and so are
their candidate groups.

A user's recipes (``--data``) are folded by title like the shipped ones: a fold's recipes
give no word and no question to the training folds, and their titles are asked for too.
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import os
import statistics
import sys
from typing import Any

from experiments.guard_eval import TITLE_QUESTIONS
from generation.guard import TARGET_CONTAMINATION, TARGET_FALSE_REFUSAL, AnalyzerSettings
from generation.guard.data import build_guard, food_words, recipe_text, shipped_guard_data, shipped_topics
from recipe_schema import SouschefError

FOLDS = 5
REPEATS = 4
_SETTINGS = AnalyzerSettings((1, 2), (3, 5))
# session 5's guard: the best of the groups before "everyday"
_SESSION5 = {"C": 10.0, "settings": _SETTINGS, "generated_weight": 1.0, "unknown_scale": 0.25,
            "lexicon": True, "threshold_folds": 10, "food_scale": 0.25}
# session 6's guard: the best of the groups before "classifier"
_SESSION6 = {**_SESSION5, "everyday_scale": 0.25, "everyday_margin": 0.5}
GROUPS: dict[str, list[dict[str, Any]]] = {"unknown": [
    {"C": 10.0, "settings": _SETTINGS, "generated_weight": weight, "unknown_scale": scale,
     "lexicon": lexicon, "threshold_folds": 5}
    for scale in (0.0, 0.1, 0.15, 0.25, 0.5) for weight in (0.3, 1.0) for lexicon in (False, True)
    if scale or not lexicon  # the lexicon only feeds the unknown-word feature
], "threshold": [  # how the threshold is chosen: one 20% validation split (0), or cross-validation by topic
    {"C": 10.0, "settings": _SETTINGS, "generated_weight": 1.0, "unknown_scale": 0.25, "lexicon": True,
     "threshold_folds": folds}
    for folds in (0, 3, 10)
], "food": [  # the food-word share (session 5), on the best of the above
    {"C": 10.0, "settings": _SETTINGS, "generated_weight": 1.0, "unknown_scale": 0.25, "lexicon": True,
     "threshold_folds": 10, "food_scale": food}
    for food in (0.1, 0.15, 0.25, 0.5, 1.0)
], "everyday": [  # the everyday-word share (session 6), on the best of the above (scale 0: that guard)
    {**_SESSION5, "everyday_scale": scale, "everyday_margin": margin}
    for scale in (0.0, 0.1, 0.25, 0.5, 1.0) for margin in (0.5, 1.0) if scale or margin == 1.0
], "classifier": [  # regularization and n-gram ranges (session 7), last chosen before any dense feature
    *({**_SESSION6, "C": C} for C in (3.0, 30.0, 100.0)),
    *({**_SESSION6, "settings": AnalyzerSettings(word, _SETTINGS.char_ngrams)} for word in ((1, 1), (1, 3))),
    *({**_SESSION6, "settings": AnalyzerSettings(_SETTINGS.word_ngrams, char)}
      for char in ((2, 5), (3, 6), (0, 0))),
], "embedding": [  # the prompt's sentence embedding (session 8), on session 6's guard
    {**_SESSION6, "embedding_scale": scale} for scale in (0.1, 0.2, 0.3, 0.5, 1.0)
]}
CANDIDATES = [c for group in GROUPS.values() for c in group]


def fold_of(key: str, repeat: int = 0) -> int:
    return hashlib.sha256(f"{repeat}:{key}".encode()).digest()[0] % FOLDS


def repeated(**candidate: Any) -> dict[str, Any]:
    """``cross_validate`` over ``REPEATS`` splits: the mean of each figure, and the cost's spread."""
    runs = [cross_validate(**candidate, repeat=r) for r in range(REPEATS)]
    # the candidate's own settings are the same in every run: their mean is themselves
    mean = {k: statistics.mean(r[k] for r in runs) for k in runs[0] if isinstance(runs[0][k], float)}
    return {**runs[0], **mean, "cost_sd": statistics.stdev(r["cost"] for r in runs)}


def cross_validate(C: float, settings: AnalyzerSettings, generated_weight: float = 1.0,
                   unknown_scale: float = 0.0, lexicon: bool = False, threshold_folds: int = 0,
                   food_scale: float = 0.0, everyday_scale: float = 0.0, everyday_margin: float = 1.0,
                   embedding_scale: float = 0.0, data: str | None = None,
                   repeat: int = 0, reader: Any = None) -> dict[str, Any]:
    """One split's figures for a candidate; ``reader``: a ``generation.guard.view.ViewReader`` (or
    anything with its ``views``, ``layer`` and ``prefix``): the guards read that model too."""
    topic_of = shipped_topics()
    written, recipes = shipped_guard_data()
    recipes = (*recipes, *user_recipes(data)) if data else recipes
    written = [(p.strip(), y) for p, y in written]
    leaked = refused = other = cooking = titles_refused = titles = 0
    def fold(prompt: str, is_cooking: bool) -> int:
        return fold_of(prompt if is_cooking else "topic:" + topic_of.get(prompt, prompt), repeat)

    for k in range(FOLDS):

        train_recipes = [dict(r) for r in recipes if fold_of("recipe:" + r["title"], repeat) != k]
        test_titles = [r["title"] for r in recipes if fold_of("recipe:" + r["title"], repeat) == k]
        train_written = [(p, y) for p, y in written if fold(p, y) != k]
        # trained as the shipped guard is (generated flags, topic groups, food words), on the folds'
        # data only, with the candidate's settings
        guard = build_guard(train_written, [r["title"] for r in train_recipes], train_recipes,
                            shipped=False, C=C, settings=settings, generated_weight=generated_weight,
                            unknown_scale=unknown_scale, threshold_folds=threshold_folds,
                            food_scale=food_scale, everyday_scale=everyday_scale,
                            everyday_margin=everyday_margin, embedding_scale=embedding_scale,
                            reader=reader, cooking_texts=[*(food_words() if lexicon else ()),
                                           *(recipe_text(r) for r in train_recipes)])
        for prompt, y in written:
            if fold(prompt, y) == k:
                ok = guard.is_cooking(prompt, _view(reader, guard, prompt))
                cooking += y
                other += not y
                refused += y and not ok
                leaked += (not y) and ok
        for title in test_titles:
            for template in TITLE_QUESTIONS:
                titles += 1
                question = template.format(title)
                titles_refused += not guard.is_cooking(question, _view(reader, guard, question))
    contamination, false_refusal = leaked / other, (refused + titles_refused) / (cooking + titles)
    return {"generated_weight": generated_weight, "C": C, "unknown_scale": unknown_scale, "lexicon": lexicon,
            "threshold_folds": threshold_folds, "food_scale": food_scale,
            "everyday_scale": everyday_scale, "everyday_margin": everyday_margin,
            "embedding_scale": embedding_scale,
            "word": settings.word_ngrams, "char": settings.char_ngrams,
            "contamination": contamination, "false_refusal": false_refusal,
            "false_refusal_written": refused / cooking, "false_refusal_titles": titles_refused / titles,
            "cost": contamination / TARGET_CONTAMINATION + false_refusal / TARGET_FALSE_REFUSAL,
            "n_other": other, "n_cooking": cooking, "n_titles": titles}


def _view(reader: Any, guard: Any, prompt: str) -> Any:
    """The model's view of ``prompt`` for a guard that reads it (``None`` for one that does not)."""
    return reader.views([prompt])[prompt] if guard.reads_model else None


@functools.cache
def user_recipes(path: str) -> tuple[dict[str, Any], ...]:
    """The recipes of a user's training file, each title once (as ``guard_for_examples`` takes them)."""
    from recipe_schema.recipe import Recipe
    from souschef.training.data import load_examples

    recipes: dict[str, dict[str, Any]] = {}
    for e in load_examples([path]).examples:
        if isinstance(e.answer, Recipe):
            recipes.setdefault(e.answer.title, e.answer.model_dump(mode="json"))
    return tuple(recipes.values())


def _repeated(candidate: dict[str, Any]) -> dict[str, Any]:
    return repeated(**candidate)


def main(argv: list[str] | None = None) -> int:
    from concurrent.futures import ProcessPoolExecutor

    parser = argparse.ArgumentParser(prog="python -m experiments.guard_select",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="*", help=f"candidate groups (default: all): {', '.join(GROUPS)}")
    parser.add_argument("--data", help="a user's training file: its recipes join the shipped ones")
    args = parser.parse_args(argv)
    names = args.groups or list(GROUPS)
    unknown = [n for n in names if n not in GROUPS]
    if unknown:
        parser.error(f"no candidate group {unknown[0]!r} (groups: {', '.join(GROUPS)})")
    if args.data:
        try:
            print(f"with {len(user_recipes(args.data))} recipes of {args.data}", file=sys.stderr)
        except SouschefError as e:
            print(f"guard_select: {e}", file=sys.stderr)
            return 2
    candidates = [{**c, "data": args.data} for n in names for c in GROUPS[n]]
    jobs = int(os.environ.get("JOBS", os.cpu_count() or 1))
    with ProcessPoolExecutor(jobs) as pool:  # candidates are independent; each is deterministic
        results = sorted(pool.map(_repeated, candidates), key=lambda r: r["cost"])
    print("| unknown-word scale | food lexicon | generated weight | threshold folds | food-word scale "
          "| everyday-word scale (margin) | embedding scale | C "
          "| word n-grams | char n-grams | contamination (unseen topics) | false refusals: written "
          "| : title questions | cost (sd over splits) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        everyday = f"{r['everyday_scale']:g} ({r['everyday_margin']:g})" if r["everyday_scale"] else "0"
        print(f"| {r['unknown_scale']:g} | {'yes' if r['lexicon'] else 'no'} | {r['generated_weight']:g} | "
              f"{r['threshold_folds'] or 'split'} | {r['food_scale']:g} | {everyday} | "
              f"{r['embedding_scale']:g} | "
              f"{r['C']:g} | "
              f"{r['word']} | "
              f"{r['char']} | "
              f"{r['contamination']:.3f} ({r['n_other']}) | "
              f"{r['false_refusal_written']:.3f} ({r['n_cooking']}) | "
              f"{r['false_refusal_titles']:.3f} ({r['n_titles']}) | {r['cost']:.2f} ({r['cost_sd']:.2f}) |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
