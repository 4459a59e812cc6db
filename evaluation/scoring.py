"""Turning per-sample results into report entries: rates, means, baselines, differences.

Every entry is ``{"value", "low", "high", "n", "unit", "label"}``: a rate with its
Wilson 95% interval, or a mean with a seeded bootstrap 95% interval. The baselines
retrieve from training recipes; ``differences`` compares the model with the best of
them, recipe by recipe (a paired bootstrap).

Scores come from the package's ``evaluate`` metrics, through ``load(...).compute`` as the
library intends (``use_aggregator=False``: one score or verdict per sample, kept in the
report's samples); the intervals from ``intervals``, which is arithmetic alone.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from recipe_schema import Recipe

from .config import LABELS, SuiteConfig
from .intervals import aggregate, wilson_interval

if TYPE_CHECKING:
    from evaluate import EvaluationModule


@functools.cache
def metric(name: str) -> EvaluationModule:
    """One of the package's metrics, loaded once per process (``evaluation.load_metric``)."""
    from evaluation import load_metric

    return load_metric(name)


def estimate(value: float | None, low: float | None, high: float | None, n: int, unit: str,
              key: str) -> dict[str, Any]:
    return {"value": value, "low": low, "high": high, "n": n, "unit": unit, "label": LABELS.get(key, key)}


def rate(flags: Sequence[bool], key: str) -> dict[str, Any]:
    n = len(flags)
    if not n:
        return estimate(None, None, None, 0, "fraction", key)  # no samples: no estimate
    low, high = wilson_interval(sum(flags), n)
    return estimate(sum(flags) / n, low, high, n, "fraction", key)


def means(scores: dict[str, list[float]], config: SuiteConfig, units: dict[str, str] | None = None
          ) -> dict[str, Any]:
    """Exact means with seeded bootstrap 95% intervals, as metric entries."""
    if not scores or not next(iter(scores.values())):
        return {}
    agg = aggregate(scores, bootstrap_samples=config.bootstrap, seed=config.seed)
    n = len(next(iter(scores.values())))
    units = units or {}
    return {k: estimate(agg[k], agg.get(f"{k}_low"), agg.get(f"{k}_high"), n, units.get(k, "fraction"), k)
            for k in scores}


def rouge_scores(predictions: Sequence[Recipe | None], references: Sequence[Recipe],
                 fields: Sequence[str] = ("recipe", "ingredients", "steps"),
                 prefix: str = "") -> dict[str, list[float]]:
    """Per-sample ROUGE F1 by field; a missing prediction (a reply, an unfinished answer) scores 0.

    Keys: ``rouge1`` ... for the whole recipe, ``ingredients_rouge1`` ... and
    ``steps_rouge1`` ... for those fields, each behind ``prefix``.
    """
    rouge = metric("recipe_rouge")
    out: dict[str, list[float]] = {}
    for name in fields:
        preds = [rouge.recipe_fields(p)[name] if p is not None else "" for p in predictions]
        refs = [rouge.recipe_fields(r)[name] for r in references]
        if preds:
            per_sample = rouge.compute(predictions=preds, references=refs, use_aggregator=False)
        else:  # nothing to compute: the same keys, no scores
            per_sample = rouge.per_sample_scores(preds, refs)
        for rouge_type, values in per_sample.items():
            key = rouge_type if name == "recipe" else f"{name}_{rouge_type}"
            out[prefix + key] = values
    return out


def contamination_verdicts(answers: Sequence[str | None]) -> list[tuple[bool, str | None]]:
    """Each answer's ``(contaminated, rule)``, by the ``contamination`` metric (None: no answer)."""
    if not answers:
        return []
    # "" is no answer, as None is; evaluate refuses None as a string feature's first value
    result = metric("contamination").compute(answers=[a or "" for a in answers], use_aggregator=False)
    return list(zip(result["contaminated"], result["rule"], strict=True))


def on_topic_verdicts(titles: Sequence[str | None], dishes: Sequence[str | Sequence[str]],
                      answer_ingredients: Sequence[Sequence[str]] | None = None,
                      reference_ingredients: Sequence[Sequence[str]] | None = None) -> list[bool]:
    """Whether each answer is the dish asked for, by the ``on_topic`` metric.

    A dish given as several spellings is on topic when any spelling is: the metric scores
    each (answer, spelling) pair in one ``compute``.
    """
    if not titles:
        return []
    owner = [i for i, d in enumerate(dishes) for _ in ([d] if isinstance(d, str) else d)]
    spellings = [s for d in dishes for s in ([d] if isinstance(d, str) else d)]
    extra = {}
    if answer_ingredients is not None and reference_ingredients is not None:
        extra = {"answer_ingredients": [answer_ingredients[i] for i in owner],
                 "reference_ingredients": [reference_ingredients[i] for i in owner]}
    result = metric("on_topic").compute(titles=[titles[i] or "" for i in owner], dishes=spellings,
                                        use_aggregator=False, **extra)
    flags = [False] * len(titles)
    for i, flag in zip(owner, result["on_topic"], strict=True):
        flags[i] = flags[i] or bool(flag)
    return flags


# ---------------------------------------------------------------- baselines
def _words(text: str) -> set[str]:
    from evaluation.metrics.recipe_rouge.recipe_rouge import tokenize

    return set(tokenize(text))


def nearest(query: str, candidates: Sequence[str]) -> int:
    """Index of the candidate sharing the most words with ``query`` (Dice); ties: the first.

    >>> nearest("Lemon tart", ["Apple pie", "Lemon drizzle cake", "Lemon tart with meringue"])
    2
    """
    q = _words(query)
    best, best_score = 0, -1.0
    for i, text in enumerate(candidates):
        c = _words(text)
        score = 2 * len(q & c) / (len(q) + len(c)) if q or c else 0.0
        if score > best_score:
            best, best_score = i, score
    return best


def baseline_scores(heldout: Sequence[Recipe], train: Sequence[Recipe]) -> dict[str, dict[str, list[float]]]:
    """Per-sample ROUGE of each baseline: the nearest training recipe by title / by title +
    ingredients (steps protocol), and the ingredient lines copied as steps."""
    if not train:
        return {}
    titles = [r.title for r in train]
    with_ingredients = [r.title + "\n" + "\n".join(r.ingredients) for r in train]
    by_title = [train[nearest(r.title, titles)] for r in heldout]
    by_both = [train[nearest(r.title + "\n" + "\n".join(r.ingredients), with_ingredients)] for r in heldout]
    copied = [r.model_copy(update={"steps": list(r.ingredients)}) for r in heldout]
    given = "steps_given_ingredients_"

    def steps(predictions: list[Recipe]) -> dict[str, list[float]]:
        scores = rouge_scores(predictions, heldout, ("steps",))
        return {k.replace("steps_", given, 1): v for k, v in scores.items()}

    return {"nearest_title": rouge_scores(by_title, heldout), "nearest_title_ingredients": steps(by_both),
            "ingredients_as_steps": steps(copied)}


def baselines(heldout: Sequence[Recipe], train: Sequence[Recipe], config: SuiteConfig) -> dict[str, Any]:
    """The baselines' mean scores with bootstrap intervals (see ``baseline_scores``)."""
    return {name: means(scores, config) for name, scores in baseline_scores(heldout, train).items()}


COMPARED = ("rougeL", "steps_given_ingredients_rougeL")  # the model against its best baseline


def differences(model: dict[str, list[float]], base: dict[str, dict[str, list[float]]], config: SuiteConfig,
                keys: Sequence[str] = COMPARED) -> dict[str, Any]:
    """Model minus the best baseline on each key, with a paired bootstrap 95% interval.

    The best baseline is the one with the highest mean on that key. Each resample draws
    held-out recipes with replacement and keeps each recipe's pair of scores together,
    so the interval reflects the recipes, not two independent samples.
    """
    out: dict[str, Any] = {}
    for key in keys:
        candidates = {name: scores[key] for name, scores in base.items() if key in scores}
        if key not in model or not model[key] or not candidates:
            continue
        best = max(candidates, key=lambda name: sum(candidates[name]) / len(candidates[name]))
        diff = [m - b for m, b in zip(model[key], candidates[best], strict=True)]
        agg = aggregate({key: diff}, bootstrap_samples=config.bootstrap, seed=config.seed)
        out[key] = {"baseline": best, "difference": agg[key], "low": agg.get(f"{key}_low"),
                    "high": agg.get(f"{key}_high"), "n": len(diff)}
    return out
