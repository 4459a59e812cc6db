"""contamination: the share of off-domain prompts answered with a recipe, as an ``evaluate`` metric.

An answer is judged on the text a user would see. It is contaminated when it is a
recipe: a JSON object that validates as a ``Recipe`` (``schema_valid_recipe``), a
recipe in JSON that does not validate or was cut off (``recipe_json``), or free
text with a recipe's shape: an ingredient list and numbered cooking steps
(``recipe_shape``). ``classify`` judges one answer; the metric gives the rate with
a Wilson 95% interval; ``by_topic`` breaks it down.

>>> classify('{"reply": "I am a cooking assistant, so I cannot help with binary search."}')
(False, None)
>>> classify('{"title":"Toast","ingredients":["2 slices bread"],"steps":["Toast the bread."]}')
(True, 'schema_valid_recipe')
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import datasets
import evaluate

from evaluation.intervals import proportion, rates_by, wilson_interval
from postprocess import extract, parse_ingredient, validate
from recipe_schema import InvalidRecipeError

RULES = ("schema_valid_recipe", "recipe_json", "recipe_shape")
COOKING_VERBS = (
    "add", "bake", "beat", "blend", "boil", "braise", "broil", "brown", "brush", "caramelize",
    "chill", "chop", "combine", "cook", "cover", "crack", "cream", "crush", "cut", "deglaze",
    "dice", "drain", "drizzle", "flip", "fold", "fry", "garnish", "grate", "grease", "grill",
    "heat", "knead", "marinate", "mash", "melt", "mince", "mix", "peel", "poach", "pour",
    "preheat", "puree", "refrigerate", "reheat", "rinse", "roast", "saute", "sauté", "scatter",
    "sear", "season", "serve", "shake", "shred", "simmer", "slice", "soak", "spread", "sprinkle",
    "squeeze", "steam", "stir", "strain", "taste", "toast", "toss", "whip", "whisk",
)

_CITATION = """\
@article{wilson1927probable,
    title = {Probable Inference, the Law of Succession, and Statistical Inference},
    author = {Wilson, Edwin B.},
    journal = {Journal of the American Statistical Association},
    volume = {22},
    number = {158},
    pages = {209--212},
    year = {1927},
    doi = {10.1080/01621459.1927.10502953},
}
"""

_DESCRIPTION = """\
Off-domain contamination: of the answers a user gets to prompts that are not about
cooking, the share that are recipes, with a Wilson 95% interval. An answer is a
recipe when it contains JSON that validates as a souschef Recipe, recipe JSON that
does not validate or was cut off (an "ingredients" list), or free text with an
ingredient list (quantities with units, or an "Ingredients:" heading with list
lines) and at least two numbered or bulleted steps with a cooking verb.
"""

_KWARGS_DESCRIPTION = """
Args:
    answers (list of str): the raw text of each answer, as the user sees it: compact
        Recipe JSON, {"reply": ...} JSON, or free text; "" for no answer (an
        unfinished one), which is clean.
    topics (list of str, optional): the topic of each prompt; adds per-topic keys.
    use_aggregator (bool): False returns each answer's verdict instead: contaminated
        (list of bool) and rule (list of str or None) (default True).
Returns:
    contamination_rate (float): contaminated answers / n, in [0, 1].
    contamination_low, contamination_high (float): Wilson 95% interval of the rate.
    n (float): the number of answers.
    With topics, also contamination_rate/<topic>, contamination_low/<topic>,
    contamination_high/<topic> and n/<topic> for every topic.
Examples:
    >>> from evaluation import load_metric
    >>> contamination = load_metric("contamination")
    >>> results = contamination.compute(answers=[
    ...     '{"reply": "I only help with cooking."}',
    ...     '{"title":"Binary Search Bake","ingredients":["1 sorted array"],"steps":["Bake it."]}'])
    >>> results["contamination_rate"], results["n"], round(results["contamination_high"], 4)
    (0.5, 2.0, 0.9055)
    >>> contamination.classify('{"reply": "I only help with cooking."}')
    (False, None)
"""


def _verb_forms(verb: str) -> set[str]:
    """Inflections of a verb, generously: extra non-words match nothing."""
    forms = {verb, verb + "s", verb + "es", verb + "ed", verb + "d", verb + "ing"}
    if verb.endswith("e"):
        forms.add(verb[:-1] + "ing")
    if re.search(r"[^aeiou]y$", verb):
        forms |= {verb[:-1] + "ies", verb[:-1] + "ied"}
    if re.search(r"(?:^|[^aeiou])[aeiou][bdgmnpt]$|ir$", verb):  # stir -> stirring, chop -> chopped
        forms |= {verb + verb[-1] + "ing", verb + verb[-1] + "ed"}
    return forms


_VERB = re.compile(
    r"\b(?:" + "|".join(sorted({f for v in COOKING_VERBS for f in _verb_forms(v)}, key=len, reverse=True))
    + r")\b",
    re.IGNORECASE,
)
# A list item: a bullet, "1." / "1)" / "(1)", or "Step 1:"; then its text.
_ITEM = re.compile(
    r"^\s*(?:[-*•·–+]|\d{1,2}[.)]|\(\d{1,2}\)|step\s+\d{1,2}\s*[:.)-]?)\s+(?P<body>\S.*)$",
    re.IGNORECASE,
)
_LABEL_WORDS = r"ingredients|you(?:'ll| will) need|what you(?:'ll| will) need"
# An ingredients heading or label: "Ingredients:", "## Ingredients", "**Ingredients:** 2 eggs, ..."
_LABEL = re.compile(rf"^[#*_\s]*(?:{_LABEL_WORDS})[*_\s]*(?::[*_\s]*(?P<rest>.*))?$", re.IGNORECASE)
# Answers written as one paragraph: break before "2. Mix", "Step 2:" and section labels.
_INLINE_BREAK = re.compile(
    rf"\s+(?=\d{{1,2}}[.)]\s+[^\W\d]|step\s+\d{{1,2}}\s*:|(?:{_LABEL_WORDS}|steps|instructions|directions|method)\s*:)",
    re.IGNORECASE,
)
_COMMAS = re.compile(r"[,;](?![^()]*\))")  # separators outside parentheses
_RECIPE_JSON = re.compile(r'"ingredients"\s*:\s*\[\s*"')


def _lines(text: str) -> list[str]:
    return [part.strip() for line in text.splitlines() for part in _INLINE_BREAK.split(line)]


def _measured(text: str) -> bool:
    """An ingredient with a quantity and a unit: "2 cups flour", "1 tsp salt"."""
    ingredient = parse_ingredient(text)
    return ingredient.quantity is not None and ingredient.unit is not None


def _listed(line: str) -> bool:
    """A line of an ingredient list: a list item, or one starting with a quantity."""
    return bool(_ITEM.match(line)) or parse_ingredient(line).quantity is not None


def _has_ingredient_list(lines: list[str]) -> bool:
    bodies = [(m.group("body") if (m := _ITEM.match(line)) else line) for line in lines]
    if sum(_measured(b) for b in bodies if b) >= 2:
        return True
    for i, line in enumerate(lines):
        label = _LABEL.match(line)
        if not label:
            continue
        rest = (label.group("rest") or "").strip()
        if rest and len([p for p in _COMMAS.split(rest) if p.strip(" .")]) >= 2:
            return True  # "Ingredients: 1 sorted array, 2 pointers, a pinch of patience"
        following = [x for x in lines[i + 1:] if x][:3]
        if sum(_listed(x) for x in following) >= 2:
            return True  # "Ingredients:" then list lines
    return False


def _has_cooking_steps(lines: list[str]) -> bool:
    steps = 0
    for line in lines:
        m = _ITEM.match(line)
        # an item that is an ingredient ("- 1 onion, chopped") is not a step
        if m and _VERB.search(m.group("body")) and parse_ingredient(m.group("body")).quantity is None:
            steps += 1
    return steps >= 2


def has_recipe_shape(text: str) -> bool:
    """Free text with an ingredient list and at least two numbered or bulleted cooking steps.

    >>> has_recipe_shape("Ingredients:\\n- 2 cups flour\\n- 1 tsp salt\\n1. Mix them.\\n2. Bake.")
    True
    >>> has_recipe_shape("1. Add the package to your project.\\n2. Mix in the config.")
    False
    """
    lines = _lines(text)
    return _has_ingredient_list(lines) and _has_cooking_steps(lines)


def classify(answer: str | None) -> tuple[bool, str | None]:
    """Whether one answer is a recipe, and by which rule.

    Parameters
    ----------
    answer
        The text the user sees: compact Recipe JSON, ``{"reply": ...}`` JSON, or free text.

    Returns
    -------
    contaminated, rule
        ``rule`` is the first of ``RULES`` that matched, or None when clean. The
        text of a ``{"reply": ...}`` object is checked for a recipe's shape.
    """
    text = answer or ""
    try:
        data = extract(text)
    except InvalidRecipeError:  # no complete JSON object: free text, or cut-off JSON
        data = None
    reply = data.get("reply") if isinstance(data, dict) else None
    if isinstance(data, dict) and not isinstance(reply, str):
        try:
            validate(data)
            return True, "schema_valid_recipe"
        except InvalidRecipeError:
            pass
    if _RECIPE_JSON.search(text):
        return True, "recipe_json"
    if has_recipe_shape(text) or (isinstance(reply, str) and has_recipe_shape(reply)):
        return True, "recipe_shape"
    return False, None


def by_topic(answers: Sequence[str | None], topics: Sequence[str]) -> dict[str, dict[str, float]]:
    """Contamination per topic, topics in sorted order.

    Returns
    -------
    dict
        ``{topic: {"rate", "low", "high", "n"}}``: the rate, its Wilson 95% interval
        and the number of answers (an int).

    >>> by_topic(['{"reply": "No."}', "Ingredients: 2 cups flour, 1 egg\\n1. Mix.\\n2. Bake."],
    ...          ["music", "music"])["music"]["rate"]
    0.5
    """
    if len(answers) != len(topics):
        raise ValueError(f"{len(answers)} answers but {len(topics)} topics")
    return rates_by_topic([classify(a)[0] for a in answers], topics)


def rates_by_topic(flags: Sequence[bool], topics: Sequence[str]) -> dict[str, dict[str, float]]:
    """``by_topic`` for flags already computed (``{topic: {"rate", "low", "high", "n"}}``)."""
    return rates_by(flags, topics)


class Contamination(evaluate.Metric):
    """Share of off-domain answers that are recipes, with a Wilson 95% interval.

    The module's helpers are methods too: ``classify``, ``by_topic``,
    ``has_recipe_shape`` and ``wilson_interval``.
    """

    classify = staticmethod(classify)
    by_topic = staticmethod(by_topic)
    has_recipe_shape = staticmethod(has_recipe_shape)
    wilson_interval = staticmethod(wilson_interval)

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"answers": datasets.Value("string")}),
            reference_urls=["https://doi.org/10.1080/01621459.1927.10502953"],
        )

    def _compute(
        self, answers: Sequence[str | None], topics: Sequence[str] | None = None, use_aggregator: bool = True
    ) -> dict[str, Any]:
        if not answers:
            raise ValueError("no answers to measure")
        judged = [classify(a) for a in answers]
        if not use_aggregator:  # each answer's verdict and the rule that gave it
            return {"contaminated": [c for c, _ in judged], "rule": [r for _, r in judged]}
        flags = [c for c, _ in judged]
        overall = proportion(flags)
        result = {
            "contamination_rate": overall["rate"],
            "contamination_low": overall["low"],
            "contamination_high": overall["high"],
            "n": float(overall["n"]),
        }
        if topics is not None:
            if len(topics) != len(answers):
                raise ValueError(f"{len(answers)} answers but {len(topics)} topics")
            for topic, s in rates_by_topic(flags, topics).items():
                result[f"contamination_rate/{topic}"] = s["rate"]
                result[f"contamination_low/{topic}"] = s["low"]
                result[f"contamination_high/{topic}"] = s["high"]
                result[f"n/{topic}"] = float(s["n"])
        return result
