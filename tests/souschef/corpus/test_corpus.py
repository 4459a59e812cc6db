"""The shipped corpus is what its data card says, and evaluation stays unseen."""
import json
import re

import pytest

from postprocess import normalize
from recipe_schema import Recipe, Reply, parse_answer, to_compact_json
from souschef import corpus

rows = corpus.rows


@pytest.mark.parametrize("name", [corpus.RECIPES, corpus.HELDOUT, corpus.EXCHANGES, corpus.GUARD_COOKING,
                                  corpus.GUARD_OFFDOMAIN, corpus.EVAL_OFFDOMAIN, corpus.EVAL_INDOMAIN])
def test_rows_reads_every_line_of_a_shipped_file_in_order(name):
    lines = corpus.path(name).read_text(encoding="utf-8").splitlines()
    assert all(line.strip() for line in lines)  # no blank line for rows() to pass over
    assert rows(name) == [json.loads(line) for line in lines]


def words(text):
    return set(re.findall(r"[a-z0-9']+", text.lower()))


@pytest.mark.parametrize("name", [corpus.RECIPES, corpus.HELDOUT])
def test_every_shipped_recipe_is_valid_and_already_normalized(name):
    for row in rows(name):
        recipe = Recipe.model_validate(row)
        assert normalize(recipe) == recipe, recipe.title
        assert 3 <= len(recipe.ingredients) <= 20 and 2 <= len(recipe.steps) <= 15


def test_the_corpus_is_as_large_as_promised():
    recipes, heldout = rows(corpus.RECIPES), rows(corpus.HELDOUT)
    assert len(recipes) + len(heldout) >= 200
    assert 0.08 <= len(heldout) / (len(recipes) + len(heldout)) <= 0.12
    long = [r for r in recipes if len(to_compact_json(Recipe.model_validate(r))) > 2200]
    assert len(long) >= 20  # JSON longer than 512 GPT-2 tokens
    exchanges = rows(corpus.EXCHANGES)
    offdomain = [e for e in exchanges if "reply" in e["answer"]]
    assert len(offdomain) >= 200 and len({e["topic"] for e in offdomain}) >= 10
    evaluation = rows(corpus.EVAL_OFFDOMAIN)
    assert len(evaluation) >= 100 and len({e["topic"] for e in evaluation}) >= 10
    assert len(rows(corpus.EVAL_INDOMAIN)) >= 50


def test_exchanges_have_a_valid_answer():
    for e in rows(corpus.EXCHANGES):
        answer = parse_answer(e["answer"])
        assert isinstance(answer, Reply) == (e["topic"] != "cooking"), e["prompt"]


def test_heldout_recipes_are_not_in_training():
    held = {r["title"] for r in rows(corpus.HELDOUT)}
    assert not held & {r["title"] for r in rows(corpus.RECIPES)}
    assert not held & {e["answer"].get("title") for e in rows(corpus.EXCHANGES)}


def test_evaluation_prompts_are_disjoint_from_training_prompts():
    train = [words(e["prompt"]) for e in rows(corpus.EXCHANGES)]
    for e in rows(corpus.EVAL_OFFDOMAIN) + rows(corpus.EVAL_INDOMAIN):
        w = words(e["prompt"])
        overlap = max(len(w & t) / len(w | t) for t in train)
        assert overlap < 0.55, e["prompt"]


UNSEEN_TOPICS = {"automotive", "pets", "film", "philosophy", "home-repair", "gaming"}


def test_the_guard_prompt_lists_are_well_formed_and_broad():
    cooking, other = rows(corpus.GUARD_COOKING), rows(corpus.GUARD_OFFDOMAIN)
    for row in cooking + other:
        assert set(row) == {"prompt", "topic"} and row["prompt"].strip(), row
    assert len(cooking) >= 500 and {r["topic"] for r in cooking} == {"cooking"}
    assert len(other) >= 500 and len({r["topic"] for r in other}) >= 40
    prompts = [r["prompt"].strip() for r in cooking + other]
    assert len(set(prompts)) == len(prompts)


def test_the_topics_the_evaluation_keeps_unseen_stay_unseen():
    trained = {e["topic"] for e in rows(corpus.EXCHANGES) + rows(corpus.GUARD_OFFDOMAIN)}
    evaluated = {e["topic"] for e in rows(corpus.EVAL_OFFDOMAIN)}
    assert evaluated - trained == UNSEEN_TOPICS


def test_evaluation_prompts_are_disjoint_from_the_guard_prompts():
    train = [words(e["prompt"]) for e in rows(corpus.GUARD_COOKING) + rows(corpus.GUARD_OFFDOMAIN)]
    for e in rows(corpus.EVAL_OFFDOMAIN) + rows(corpus.EVAL_INDOMAIN):
        w = words(e["prompt"])
        assert max(len(w & t) / len(w | t) for t in train) < 0.55, e["prompt"]


def test_the_seed_question_is_in_the_evaluation_set():
    prompts = [e["prompt"] for e in rows(corpus.EVAL_OFFDOMAIN)]
    assert "How can I implement a binary search algorithm in Python?" in prompts


def test_the_food_lexicon_is_one_lowercase_term_a_line_without_repeats():
    terms = corpus.path(corpus.FOOD_WORDS).read_text(encoding="utf-8").splitlines()
    assert len(terms) >= 2000 and len(set(terms)) == len(terms)
    assert all(t == t.strip().lower() and t and len(t.split()) <= 4 for t in terms)
    assert {"shakshuka", "blancmange", "braise"} <= set(terms)
    assert not {"python", "algorithm", "mortgage", "engine", "gasket", "make", "good"} & set(terms)
