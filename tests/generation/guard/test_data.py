"""The guard's training data, and the shipped guard: what a rebuild gives."""

from __future__ import annotations

import numpy as np
import pytest

from generation import DomainGuard
from generation.guard.data import (
    EMBEDDING_SCALE,
    EVERYDAY_MARGIN,
    EVERYDAY_SCALE,
    FOOD_SCALE,
    THRESHOLD_FOLDS,
    UNKNOWN_SCALE,
    build_guard,
    english_frequencies,
    food_words,
    guard_examples,
    guard_for_examples,
    recipe_text,
)
from recipe_schema import Recipe, Reply
from recipe_schema.prompt import questions_for
from souschef import corpus
from souschef.training.data import Example

pytest.importorskip("sklearn")
shipped = corpus.rows


def test_guard_examples_label_exchanges_by_answer_and_ask_for_every_recipe():
    examples = dict(guard_examples())
    for e in shipped(corpus.EXCHANGES):
        assert examples[e["prompt"].strip()] is ("reply" not in e["answer"])
    for r in shipped(corpus.RECIPES):
        assert all(examples[q] for q in questions_for(r["title"], 3))
    assert any(p.startswith(("What can I make with", "I have ")) for p in examples)  # from ingredients
    for e in shipped(corpus.GUARD_COOKING):
        assert examples[e["prompt"].strip()] is True
    for e in shipped(corpus.GUARD_OFFDOMAIN):
        assert examples[e["prompt"].strip()] is False


def test_guard_examples_never_include_the_evaluation_prompts_or_heldout_recipes():
    examples = dict(guard_examples())
    for name in (corpus.EVAL_OFFDOMAIN, corpus.EVAL_INDOMAIN):
        assert not {e["prompt"].strip() for e in shipped(name)} & set(examples)
    for r in shipped(corpus.HELDOUT):
        assert not any(r["title"] in p for p in examples)


def test_extra_prompts_and_titles_join_the_shipped_ones():
    base = set(guard_examples())
    more = guard_examples([("What's the offside rule in quidditch?", False)], ["Kedgeree"])
    added = dict(p for p in more if p not in base)
    assert added["What's the offside rule in quidditch?"] is False
    assert all(added[q] for q in questions_for("Kedgeree", 3))
    assert guard_examples([("Only mine?", False)], shipped=False) == [("Only mine?", False)]


def test_a_run_guard_learns_the_runs_own_prompts(monkeypatch):
    seen = {}

    options = {}

    def fit(cls, prompts, labels, **kwargs):
        seen.update(zip(prompts, labels, strict=True))
        options.update(kwargs)
        return "fitted"

    monkeypatch.setattr(DomainGuard, "fit", classmethod(fit))
    recipe = Recipe(title="Kedgeree", ingredients=["300 g smoked haddock", "200 g basmati rice"],
                    steps=["Cook it."])
    examples = [Example("Who wrote Hamlet, and when?", Reply(reply="Shakespeare."), "mine.jsonl:1"),
                Example("A smoky rice breakfast?", recipe, "mine.jsonl:2"),
                Example(questions_for("Kedgeree", 1)[0], recipe, "mine.jsonl:3", templated=True)]
    assert guard_for_examples(examples) == "fitted"
    assert seen["Who wrote Hamlet, and when?"] is False and seen["A smoky rice breakfast?"] is True
    # people's prompts choose the threshold; a prompt made from a title is a generated question
    made = dict(zip(seen, options["generated"], strict=True))
    assert not made["Who wrote Hamlet, and when?"] and not made["A smoky rice breakfast?"]
    assert made[questions_for("Kedgeree", 1)[0]]
    # cross-validated threshold, the shipped off-domain prompts grouped by topic
    assert options["threshold_folds"] == THRESHOLD_FOLDS >= 2
    groups = dict(zip(seen, options["groups"], strict=True))
    assert groups["Who wrote Hamlet, and when?"] is None
    assert groups["How do I reverse a linked list in Java?"] == "topic:programming"
    assert all(seen[q] for q in questions_for("Kedgeree", 3))
    assert any("smoked haddock" in p and y for p, y in seen.items())
    # the run's recipes and the food lexicon are the words the unknown-word feature knows
    assert options["unknown_scale"] == UNKNOWN_SCALE > 0
    assert any("smoked haddock" in t for t in options["cooking_texts"])
    assert set(food_words()) <= set(options["cooking_texts"])
    # the lexicon alone gives the food-word feature its words
    assert options["food_scale"] == FOOD_SCALE > 0 and list(options["food_texts"]) == list(food_words())
    # general English is the everyday-word feature's yardstick
    assert (options["everyday_scale"], options["everyday_margin"]) == (EVERYDAY_SCALE, EVERYDAY_MARGIN)
    assert EVERYDAY_SCALE > 0 and options["word_frequencies"] is english_frequencies()
    # and the sentence embedding, what a prompt is about in words no training prompt need have
    assert options["embedding_scale"] == EMBEDDING_SCALE > 0


def test_a_run_on_the_shipped_recipes_counts_each_cooking_text_once(monkeypatch):
    options = {}
    monkeypatch.setattr(DomainGuard, "fit", classmethod(lambda cls, p, y, **kw: options.update(kw)))
    row = corpus.rows(corpus.RECIPES)[0]
    recipe = Recipe.model_validate({k: row[k] for k in Recipe.model_fields if k in row})
    guard_for_examples([Example("Something good with it?", recipe, "mine.jsonl:1")])
    texts = options["cooking_texts"]
    assert recipe_text(recipe.model_dump(mode="json")) in texts
    assert len(texts) == len(set(texts))  # counted twice, it would weigh twice in the word counts


def test_the_shipped_guard_is_what_a_rebuild_gives():
    rebuilt, shipped_guard = build_guard(), DomainGuard.default()
    prompts = [e["prompt"] for name in (corpus.EVAL_OFFDOMAIN, corpus.EVAL_INDOMAIN) for e in shipped(name)]
    assert rebuilt.features == shipped_guard.features
    assert rebuilt.threshold == shipped_guard.threshold
    np.testing.assert_allclose(rebuilt.scores(prompts), shipped_guard.scores(prompts), rtol=0, atol=1e-9)


def test_python_m_generation_guard_writes_the_guard_it_builds(monkeypatch, tmp_path, capsys):
    from generation.guard import __main__ as cli

    guard = DomainGuard.default()
    monkeypatch.setattr(cli, "build_guard", lambda: guard)  # a rebuild costs 11 fits
    assert cli.main(["--out", str(tmp_path / "guard.json")]) == 0
    assert (tmp_path / "guard.json").read_bytes() == DomainGuard.default_path().read_bytes()
    assert f"wrote {tmp_path / 'guard.json'}: {len(guard.features)} features" in capsys.readouterr().err
