"""The domain guard's training data, and the guard itself.

The guard (``DomainGuard``) learns "is this prompt about cooking?"
from the prompts of chat exchanges (an answer that is a recipe: cooking; a reply:
not), from the guard's own prompt lists (``corpus.GUARD_COOKING``, ``corpus.GUARD_OFFDOMAIN``:
dishes of many cuisines, kitchen problems, and 42 other topics) and from cooking questions
made from recipes: ``questions_for(title)`` and
questions built from a recipe's ingredients ("I have chickpeas and spinach, what can
I cook?"), so that it knows the many ways people ask for food. The evaluation prompt
sets (``corpus.EVAL_OFFDOMAIN``, ``corpus.EVAL_INDOMAIN``) are never used.

The data is the shipped corpus (``souschef.corpus``: package data and where it is, nothing
more), the one package outside ``generation`` and ``recipe_schema`` that this module reads.
Training a model (``souschef.training``) builds its guard here (``guard_for_examples``).
Rebuild the shipped default guard (deterministic: same data, same file)::

    python -m generation.guard --out generation/guard/guard.json
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from recipe_schema.prompt import questions_for

from .classifier import GUARD_FILE, DomainGuard
from .features import split_key

if TYPE_CHECKING:
    from .view import ViewReader

TRAIN_EXTRA = "pip install 'souschef[train]'"  # scikit-learn and wordfreq: pyproject's train extra

QUESTIONS_PER_TITLE = 3
# The training weight of a generated question (a written prompt weighs 1). Without the
# unknown-word feature 0.3 was best (thousands of "recipe for X" questions taught that
# any "recipe" is cooking); with it, full weight: the questions are how the guard learns
# that "How do I make <a dish it has never heard of>?" is still cooking. Chosen by
# experiments/guard_select.py (cross-validation on unseen topics and unseen recipes).
GENERATED_WEIGHT = 1.0
# The scale of the unknown-word feature (``DomainGuard.fit``'s ``unknown_scale``): the share
# of a prompt's words that no training recipe or cooking prompt uses. Chosen by
# experiments/guard_select.py.
UNKNOWN_SCALE = 0.25
# The threshold is chosen by cross-validation over this many folds of the written prompts,
# off-domain ones grouped by topic: each is scored by a classifier that never saw its
# topic, as in use (``DomainGuard.fit``'s ``threshold_folds``). A single 20% validation
# split scored prompts of topics trained on, and set the threshold too low for new ones.
# Chosen by experiments/guard_select.py.
THRESHOLD_FOLDS = 10
# The scale of the food-word feature (``DomainGuard.fit``'s ``food_scale``): the share of a
# prompt's words that are words of the food lexicon. Positive evidence where the unknown-word
# share is negative: "Is it a good idea to buy a house with a friend?" has no unknown word and
# no food word.
# Chosen by experiments/guard_select.py.
FOOD_SCALE = 0.25
# The everyday-word feature (``DomainGuard.fit``'s ``everyday_scale``, ``everyday_margin``): the
# share of a prompt's words that general English (``english_frequencies``) uses at least
# 10 ** margin times as often as the cooking texts do: "door", "car", "tax", "close". World
# knowledge the corpus alone lacks: an unknown word may be a dish the corpus never named
# ("borscht") or a word cooking never needs ("door"); only general English tells them apart.
# 0: off. Chosen by experiments/guard_select.py.
EVERYDAY_SCALE = 0.25
EVERYDAY_MARGIN = 0.5
# The scale of the prompt's sentence embedding (``DomainGuard.fit``'s ``embedding_scale``;
# ``generation.embedding``'s WordLlama model): what a prompt is about, even in words no
# training prompt has ("earrings", "pulpo"). 0.2, 0.3 and 0.5 tied (cost 2.39 against
# 2.74 without); the middle one. 0: off. Chosen by experiments/guard_select.py.
EMBEDDING_SCALE = 0.3
# The scale of the model's view of a prompt (``DomainGuard.fit``'s ``view_scale``;
# ``generation.guard.view``): the hidden state of the model being guarded, for a model
# fine-tuned from a pretrained base. With it, the word shares and the WordLlama embedding
# stopped paying (TF-IDF + view matched or beat TF-IDF + all of them + view), so a guard
# that reads the model has only TF-IDF beside it. Chosen by experiments/guard_model.py.
VIEW_SCALE = 0.3
# A guard that reads its model reads at most this many training prompts (about 20 ms each
# on 2 cores): every written prompt, then generated questions in ``split_key`` order.
MAX_VIEWED_PROMPTS = 2400
INGREDIENT_QUESTIONS_PER_RECIPE = 1  # and one by description, one by cuisine and tag

# How people ask what to cook with what they have. {items} is "X and Y" or "X, Y and Z".
INGREDIENT_TEMPLATES = (
    "I have {items}. What can I cook?",
    "What can I make with {items}?",
    "Got {items} in the fridge, any dinner ideas?",
    "Something quick with {items}?",
    "what to cook with {items}",
    "Any ideas for a meal using {items}?",
    "I need to use up {items}, what should I make?",
    "Suggest a dish with {items}.",
)

# Asking for a dish by what it is like; {description} is a recipe's description, lowercased first letter.
DESCRIPTION_TEMPLATES = (
    "I'm looking for {description}.",
    "Can you suggest {description}?",
    "Looking for something to cook: {description}.",
    "I want to make {description}. Any recipe?",
)
# Asking by cuisine and kind of dish: {cuisine} and {tag} from a recipe.
KIND_TEMPLATES = (
    "Any good {cuisine} {tag} ideas?",
    "I need a {tag} {cuisine} dish for tonight.",
    "Give me a {cuisine} recipe that is {tag}.",
    "What's an easy {tag} {cuisine} meal I could cook?",
)

# Quantities, units and preparation words that are not the ingredient itself.
_UNITS = (
    r"(?:cups?|c|tablespoons?|tbsp|teaspoons?|tsp|grams?|g|kg|kilograms?|ml|millilit(?:er|re)s?|l|lit(?:er|re)s?|"
    r"ounces?|oz|pounds?|lbs?|lb|pinch(?:es)?|dash(?:es)?|cloves?|cans?|tins?|packets?|pieces?|slices?|"
    r"bunch(?:es)?|handfuls?|sprigs?|sticks?|large|medium|small|whole|heaped|level)"
)
_QUANTITY = re.compile(rf"^\s*(?:[\d/.,½¼¾⅓⅔-]+\s*)+(?:{_UNITS}\b\.?\s*)*(?:of\s+)?", re.IGNORECASE)


def ingredient_item(line: str) -> str | None:
    """The ingredient of a recipe's ingredient line, roughly: no quantity, unit or preparation.

    >>> ingredient_item("2 cloves garlic, thinly sliced"), ingredient_item("400 g tin of chickpeas")
    ('garlic', 'chickpeas')
    >>> ingredient_item("salt to taste")
    'salt'
    """
    item = _QUANTITY.sub("", line).split(",")[0].split("(")[0]
    item = re.sub(r"\b(?:to taste|for serving|optional|plus more.*)$", "", item.strip(), flags=re.I).strip()
    return item.lower() if 2 < len(item) <= 30 and re.search(r"[a-z]", item, re.I) else None


def ingredient_questions(title: str, ingredients: Sequence[str], count: int = 1) -> list[str]:
    """``count`` questions asking what to cook with two or three of a recipe's ingredients.

    Chosen by a hash of the title (as ``questions_for``): the same recipe always gives
    the same questions.

    >>> ingredient_questions("Toast", ["2 slices bread", "1 tbsp butter", "1 pinch salt"])
    ['I have butter, salt and bread. What can I cook?']
    """
    items = list(dict.fromkeys(i for i in map(ingredient_item, ingredients) if i))
    if len(items) < 2:
        return []
    digest = hashlib.sha256(("ingredients:" + title.strip().lower()).encode("utf-8")).digest()
    questions = []
    for k in range(count):
        pick = digest[4 * k:4 * k + 4]
        size = min(len(items), 2 + pick[0] % 2)
        start = pick[1] % len(items)
        chosen = [items[(start + j) % len(items)] for j in range(size)]
        joined = ", ".join(chosen[:-1]) + " and " + chosen[-1]
        template = INGREDIENT_TEMPLATES[(pick[2] + k) % len(INGREDIENT_TEMPLATES)]
        questions.append(template.format(items=joined))
    return questions


def description_questions(recipe: dict[str, Any]) -> list[str]:
    """A question asking for a recipe by its description, and one by its cuisine and a tag.

    >>> description_questions({"title": "Toast", "description": "Crisp bread with butter.",
    ...                        "cuisine": "British", "tags": ["breakfast"]})
    ['Can you suggest crisp bread with butter?', "What's an easy breakfast British meal I could cook?"]
    """
    digest = hashlib.sha256(("describe:" + recipe["title"].strip().lower()).encode("utf-8")).digest()
    questions = []
    description = (recipe.get("description") or "").strip()
    if description:
        description = description[0].lower() + description[1:].rstrip(".")
        template = DESCRIPTION_TEMPLATES[digest[0] % len(DESCRIPTION_TEMPLATES)]
        questions.append(template.format(description=description))
    tags = recipe.get("tags") or []
    if recipe.get("cuisine") and tags:
        questions.append(KIND_TEMPLATES[digest[1] % len(KIND_TEMPLATES)].format(
            cuisine=recipe["cuisine"], tag=tags[digest[2] % len(tags)]))
    return questions


def recipe_text(recipe: dict[str, Any]) -> str:
    """A recipe's words in one text: title, description, cuisine, tags, ingredients and steps.

    >>> recipe_text({"title": "Toast", "ingredients": ["1 slice bread"], "steps": ["Toast it."]})
    'Toast 1 slice bread Toast it.'
    """
    parts = [recipe.get("title"), recipe.get("description"), recipe.get("cuisine"),
             *(recipe.get("tags") or []), *(recipe.get("ingredients") or []), *(recipe.get("steps") or [])]
    return " ".join(str(p) for p in parts if p)


def guard_examples(
    extra_exchange_prompts: Iterable[tuple[str, bool]] = (),
    recipe_titles: Iterable[str] = (),
    recipes: Iterable[dict[str, Any]] = (),
    shipped: bool = True,
) -> list[tuple[str, bool]]:
    """The guard's training prompts, each with whether it is about cooking.

    Parameters
    ----------
    extra_exchange_prompts
        ``(prompt, is_cooking)`` pairs beyond the shipped exchanges: a user's own
        exchanges, labelled by their answer (a recipe: cooking).
    recipe_titles
        Titles of recipes beyond the shipped ones; each gives ``QUESTIONS_PER_TITLE``
        questions (``recipe_schema.prompt.questions_for``).
    recipes
        Recipes (dicts in the schema's shape) beyond the shipped ones, for questions from
        their ingredients (``ingredient_questions``) and description, cuisine and tags
        (``description_questions``); their titles go in ``recipe_titles``.
    shipped
        Include the shipped exchanges, guard prompts and recipes (``corpus.EXCHANGES``,
        ``corpus.GUARD_COOKING``, ``corpus.GUARD_OFFDOMAIN``, ``corpus.RECIPES``; never
        the held-out recipes nor the evaluation prompt sets).

    Returns
    -------
    list of (prompt, is_cooking)
        In a fixed order, each prompt once (the first label given to it wins).
    """
    pairs: list[tuple[str, bool]] = []
    titles: list[str] = []
    described: list[dict[str, Any]] = []
    if shipped:
        exchanges, shipped_recipes = shipped_guard_data()
        pairs += exchanges
        titles += [r["title"] for r in shipped_recipes]
        described += shipped_recipes
    pairs += [(p, bool(y)) for p, y in extra_exchange_prompts]
    titles += list(recipe_titles)
    described += list(recipes)
    for title in titles:
        pairs += [(q, True) for q in questions_for(title, QUESTIONS_PER_TITLE)]
    for recipe in described:
        questions = ingredient_questions(recipe["title"], recipe.get("ingredients") or [],
                                         INGREDIENT_QUESTIONS_PER_RECIPE)
        pairs += [(q, True) for q in questions + description_questions(recipe)]
    seen: dict[str, bool] = {}
    for prompt, label in pairs:
        if prompt.strip():
            seen.setdefault(prompt.strip(), label)
    return list(seen.items())


def build_guard(
    extra_exchange_prompts: Iterable[tuple[str, bool]] = (),
    recipe_titles: Iterable[str] = (),
    recipes: Iterable[dict[str, Any]] = (),
    shipped: bool = True,
    reader: ViewReader | None = None,
    **fit_options: Any,
) -> DomainGuard:
    """Train a guard on ``guard_examples(...)`` (see there); ``fit_options`` go to ``DomainGuard.fit``.

    The questions generated from recipes are only trained on: the threshold is chosen by
    cross-validation (``THRESHOLD_FOLDS``) on prompts that people wrote (exchanges, the
    guard's prompt lists, ``extra_exchange_prompts``), the shipped off-domain prompts
    grouped by topic (``shipped_topics``). The food lexicon (``food_words``) and the
    recipes (shipped and ``recipes``) are the cooking texts of the unknown-word feature;
    the lexicon alone gives the food-word feature its words.

    With a ``reader`` (``generation.guard.view.ViewReader``), the guard reads that model:
    TF-IDF and the model's view (``VIEW_SCALE``) of at most ``MAX_VIEWED_PROMPTS`` prompts,
    no word shares and no embedding.
    """
    extra = [(p, bool(y)) for p, y in extra_exchange_prompts]
    recipes = list(recipes)
    examples = guard_examples(extra, recipe_titles, recipes, shipped)
    written = {p.strip() for p, _ in [*(shipped_guard_data()[0] if shipped else ()), *extra]}
    if reader is not None:
        examples = viewed_examples(examples, written, MAX_VIEWED_PROMPTS)
        for option in ("unknown_scale", "food_scale", "everyday_scale", "embedding_scale"):
            fit_options.setdefault(option, 0.0)
        fit_options.setdefault("view_scale", VIEW_SCALE)
        views = reader.views([p for p, _ in examples], fit_options.pop("progress", None))
        examples = [(p, y) for p, y in examples if p in views]  # a prompt too long for the model: none
        fit_options.update(views=views, view_layer=reader.layer, view_prefix=reader.prefix)
    fit_options.setdefault("generated_weight", GENERATED_WEIGHT)
    fit_options.setdefault("unknown_scale", UNKNOWN_SCALE)
    fit_options.setdefault("threshold_folds", THRESHOLD_FOLDS)
    fit_options.setdefault("food_scale", FOOD_SCALE)
    fit_options.setdefault("food_texts", food_words())
    fit_options.setdefault("everyday_scale", EVERYDAY_SCALE)
    fit_options.setdefault("everyday_margin", EVERYDAY_MARGIN)
    fit_options.setdefault("embedding_scale", EMBEDDING_SCALE)
    if fit_options["everyday_scale"]:
        fit_options.setdefault("word_frequencies", english_frequencies())
    fit_options.setdefault("groups", topic_groups(examples))
    # each text once: a run on the shipped corpus brings the shipped recipes a second time, and
    # counting them twice would make its guard differ from the shipped one
    all_recipes = [*(shipped_guard_data()[1] if shipped else ()), *recipes]
    fit_options.setdefault("cooking_texts",
                           list(dict.fromkeys([*food_words(), *map(recipe_text, all_recipes)])))
    return DomainGuard.fit([p for p, _ in examples], [y for _, y in examples],
                           generated=[p not in written for p, _ in examples], **fit_options)


def viewed_examples(examples: Sequence[tuple[str, bool]], written: set[str], most: int
                    ) -> list[tuple[str, bool]]:
    """At most ``most`` of ``examples``: the written ones first, then generated ones by ``split_key``.

    >>> viewed_examples([("a", True), ("b", True), ("c", False)], {"c"}, 2)
    [('b', True), ('c', False)]
    """
    ranked = sorted(range(len(examples)),
                    key=lambda i: (examples[i][0] not in written, split_key(examples[i][0])))
    return [examples[i] for i in sorted(ranked[:most])]


def guard_for_examples(examples: Iterable[Any], reader: ViewReader | None = None) -> DomainGuard:
    """The guard for a training run: the shipped data plus the run's own examples.

    ``examples`` are ``souschef.training.data.Example``s: a prompt with a ``Recipe`` answer is
    cooking, with a ``Reply`` it is not; every recipe also gives questions from its
    title, ingredients and description. A prompt made from a recipe's title (a record
    without one) counts as such a question, not as a prompt someone wrote.
    """
    from recipe_schema.recipe import Recipe

    pairs: list[tuple[str, bool]] = []
    recipes: dict[str, dict[str, Any]] = {}
    for e in examples:
        cooking = isinstance(e.answer, Recipe)
        if not e.templated:
            pairs.append((e.prompt, cooking))
        if cooking:
            recipes.setdefault(e.answer.title, e.answer.model_dump(mode="json"))
    return build_guard(pairs, list(recipes), list(recipes.values()), reader=reader)


def guard_summary(guard: DomainGuard) -> dict[str, Any]:
    """What ``souschef.json`` records about a run's guard: its file, size and validation figures."""
    return {
        "file": GUARD_FILE,
        "features": len(guard.features),
        "threshold": guard.threshold,
        "train": guard.info.get("train"),
        "validation": guard.info.get("validation"),
    }


@functools.cache
def food_words() -> tuple[str, ...]:
    """The shipped food lexicon (``corpus.FOOD_WORDS``), one term a line: the guard's known cooking words."""
    from souschef import corpus
    text = corpus.path(corpus.FOOD_WORDS).read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def require_guard_libraries() -> None:
    """Fail early, with the install command, when a library that trains the guard is missing.

    A training run trains the guard after the model: without this check a missing
    scikit-learn or wordfreq would surface only once the model had trained.

    Raises
    ------
    ImportError
        ``pip install 'souschef[train]'``.
    """
    import importlib.util

    missing = []
    for module, package in (("sklearn", "scikit-learn"), ("wordfreq", "wordfreq")):
        try:
            found = importlib.util.find_spec(module) is not None  # without importing it (sklearn: 1 s)
        except (ImportError, ValueError):  # a module set to None, or a spec-less stand-in
            found = False
        if not found:
            missing.append(package)
    if missing:
        raise ImportError(f"training the domain guard needs {' and '.join(missing)}: {TRAIN_EXTRA}")


@functools.cache
def english_frequencies() -> dict[str, float]:
    """General English: each word's share of running text (``wordfreq``), the everyday-word yardstick.

    Needed to train a guard, not to use one (the everyday words are stored in the guard).
    """
    try:
        import wordfreq
    except ImportError:
        raise ImportError(f"training the domain guard needs wordfreq: {TRAIN_EXTRA}") from None
    return dict(wordfreq.get_frequency_dict("en"))


@functools.cache
def shipped_guard_data() -> tuple[tuple[tuple[str, bool], ...], tuple[dict[str, Any], ...]]:
    """The shipped exchanges and guard prompts as (prompt, is_cooking), and the training recipes.

    Read once per process (package data does not change under it); do not mutate the recipes.
    """
    from souschef import corpus
    prompts = [(e["prompt"], "reply" not in e["answer"]) for e in corpus.rows(corpus.EXCHANGES)]
    prompts += [(e["prompt"], True) for e in corpus.rows(corpus.GUARD_COOKING)]
    prompts += [(e["prompt"], False) for e in corpus.rows(corpus.GUARD_OFFDOMAIN)]
    return tuple(prompts), tuple(corpus.rows(corpus.RECIPES))


def topic_groups(examples: Iterable[tuple[str, bool]]) -> list[str | None]:
    """Per ``(prompt, is_cooking)``, its cross-validation group (``DomainGuard.fit``'s ``groups``).

    A shipped off-domain prompt falls with its topic (``shipped_topics``); any other prompt
    (a cooking one, a user's) is its own group (``None``).
    """
    topics = shipped_topics()
    return [None if y or p.strip() not in topics else "topic:" + topics[p.strip()] for p, y in examples]


@functools.cache
def shipped_topics() -> dict[str, str]:
    """The topic of each shipped exchange and off-domain guard prompt, by stripped prompt."""
    from souschef import corpus
    return {row["prompt"].strip(): row["topic"] for name in (corpus.EXCHANGES, corpus.GUARD_OFFDOMAIN)
            for row in corpus.rows(name) if row.get("topic")}
