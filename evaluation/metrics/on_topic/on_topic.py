"""on_topic: the share of recipes that are the dish asked for, as an ``evaluate`` metric.

A model that learned only the recipe style answers "How do I make shakshuka?" with a
well-formed recipe for something else. This metric asks whether the answer is the dish:

- its **title names the dish**: at least two thirds (rounded up) of the dish name's
  content words appear among the title's words, compared as ROUGE compares them
  (NFKC, case-folded, Porter-stemmed; ``recipe_rouge.tokenize``), after dropping
  words that name no dish (``a``, ``with``, ``homemade``, ``easy``, ...);
- and, given the reference recipe's ingredient lines, **its ingredients are the
  dish's**: at least a third of the reference's ingredient items (by the
  post-processor's parser, ``postprocess.parse_ingredient``) appear in the answer's
  ingredient lines: half of the item's words (rounded up) do, once words that only
  say how it is cut or how big it is (``chopped``, ``large``, ``fresh``) are left out.

>>> names_dish("Classic Shakshuka with Feta", "shakshuka")
True
>>> names_dish("Chicken Curry", "Chicken Tikka Masala")
False
>>> ingredients_covered(["2 eggs", "1 tin tomatoes"], ["4 large eggs", "400 g chopped tomatoes", "1 onion"])
True
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import datasets
import evaluate

from evaluation.intervals import wilson_interval
from evaluation.metrics.recipe_rouge.recipe_rouge import tokenize
from postprocess import parse_ingredient

TITLE_SHARE = 2 / 3        # of the dish's content words, in the answer's title
INGREDIENT_SHARE = 1 / 3   # of the reference's ingredient items, in the answer's ingredients
# Words that say how or for whom, not what: they name no dish.
NOT_DISH = frozenset({
    "a", "an", "and", "the", "with", "without", "of", "in", "on", "for", "to", "at", "from", "or",
    "by", "de", "la", "le", "el", "del", "di", "da", "du", "au", "aux", "style", "recipe",
    "recipes", "easy", "simple", "quick", "homemade", "classic", "traditional", "authentic", "best",
    "perfect", "my", "our", "your", "home", "scratch", "proper", "good", "great", "healthy", "real",
    "old", "fashioned", "fashion", "made", "make",
})
# Words of an ingredient item that say how it is prepared or sized, not what it is.
PREPARATION = frozenset({
    "large", "small", "medium", "big", "extra", "fresh", "freshly", "dried", "chopped", "diced",
    "minced", "sliced", "grated", "shredded", "crushed", "ground", "peeled", "cubed", "finely",
    "roughly", "thinly", "thickly", "whole", "halved", "quartered", "softened", "melted", "beaten",
    "cooked", "uncooked", "raw", "boneless", "skinless", "optional", "divided", "packed", "plus",
    "more", "taste", "about",
})
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")

_DESCRIPTION = """\
On topic: of the recipes a model wrote freely, the share that are the dish asked for.
A recipe is on topic when its title names the dish (two thirds of the dish name's
content words, stemmed) and, when a reference recipe is given, at least a third of
the reference's ingredient items appear in its ingredient lines. Answers whose title
was forced (the steps-given-ingredients protocol) must not be counted.
"""

_KWARGS_DESCRIPTION = """
Args:
    titles (list of str or None): each answer's recipe title; "" or None for an answer
        that is not a recipe (a reply, an unfinished answer), which is off topic (evaluate
        refuses None as the first value of a string feature: "" works anywhere).
    dishes (list of str): the dish each question asked for (a reference title, or the
        dish a prompt names).
    answer_ingredients (list of list of str, optional): each answer's ingredient lines.
    reference_ingredients (list of list of str, optional): each reference recipe's
        ingredient lines; with answer_ingredients, the ingredient test applies too.
    use_aggregator (bool): False returns each answer's verdict instead: on_topic
        (list of bool) (default True).
Returns:
    on_topic_rate (float): on-topic answers / n, in [0, 1].
    on_topic_low, on_topic_high (float): Wilson 95% interval of the rate.
    n (float): the number of answers.
Examples:
    >>> from evaluation import load_metric
    >>> on_topic = load_metric("on_topic")
    >>> r = on_topic.compute(titles=["Shakshuka", "Pancakes", None], dishes=["shakshuka"] * 3)
    >>> round(r["on_topic_rate"], 4), r["n"]
    (0.3333, 3.0)
"""


def content_words(text: str, drop: frozenset[str] = NOT_DISH) -> list[str]:
    """The words of a dish name or title that can name a dish, stemmed, in order, once each.

    >>> content_words("Easy Homemade Banana Bread with Walnuts")
    ['banana', 'bread', 'walnut']
    """
    words = [w for w in _WORD.findall(text.casefold()) if w not in drop and not w.isdigit()]
    stemmed = [s for w in words for s in tokenize(w)]
    return list(dict.fromkeys(stemmed))


def names_dish(title: str | None, dish: str | Sequence[str]) -> bool:
    """Whether ``title`` names ``dish`` (or, given several spellings, any of them)."""
    if not title:
        return False
    if not isinstance(dish, str):
        return any(names_dish(title, d) for d in dish)
    wanted = content_words(dish)
    if not wanted:
        return False
    have = set(content_words(title))
    return sum(w in have for w in wanted) >= math.ceil(TITLE_SHARE * len(wanted))


def ingredients_covered(answer: Sequence[str], reference: Sequence[str]) -> bool:
    """Whether at least a third of ``reference``'s ingredient items appear in ``answer``'s lines."""
    items = [content_words(parse_ingredient(line).item or "", NOT_DISH | PREPARATION) for line in reference]
    items = [i for i in items if i]
    if not items:
        return True  # nothing to compare with: the title decides
    have = {w for line in answer for w in content_words(line, NOT_DISH | PREPARATION)}
    found = sum(sum(w in have for w in item) >= math.ceil(len(item) / 2) for item in items)
    return found >= math.ceil(INGREDIENT_SHARE * len(items))


def on_topic(title: str | None, dish: str | Sequence[str], ingredients: Sequence[str] | None = None,
             reference: Sequence[str] | None = None) -> bool:
    """One answer: the title names the dish and, given a reference, the ingredients are the dish's."""
    if not names_dish(title, dish):
        return False
    return reference is None or ingredients_covered(ingredients or [], reference)


class OnTopic(evaluate.Metric):
    """Share of freely written recipes that are the dish asked for, with a Wilson 95% interval.

    The module's helpers are methods too: ``names_dish``, ``ingredients_covered``,
    ``on_topic`` and ``content_words``.
    """

    names_dish = staticmethod(names_dish)
    ingredients_covered = staticmethod(ingredients_covered)
    on_topic = staticmethod(on_topic)
    content_words = staticmethod(content_words)

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"titles": datasets.Value("string"),
                                        "dishes": datasets.Value("string")}),
        )

    def _compute(self, titles: Sequence[str | None], dishes: Sequence[str],
                 answer_ingredients: Sequence[Sequence[str]] | None = None,
                 reference_ingredients: Sequence[Sequence[str]] | None = None,
                 use_aggregator: bool = True) -> dict[str, Any]:
        if not titles:
            raise ValueError("no answers to measure")
        if (answer_ingredients is None) != (reference_ingredients is None):
            raise ValueError("give answer_ingredients and reference_ingredients together, or neither")
        flags = [on_topic(t, d, None if answer_ingredients is None else answer_ingredients[i],
                          None if reference_ingredients is None else reference_ingredients[i])
                 for i, (t, d) in enumerate(zip(titles, dishes, strict=True))]
        if not use_aggregator:  # each answer's verdict
            return {"on_topic": flags}
        low, high = wilson_interval(sum(flags), len(flags))
        return {"on_topic_rate": sum(flags) / len(flags), "on_topic_low": low, "on_topic_high": high,
                "n": float(len(flags))}
