"""Training a domain guard with scikit-learn: what it scores is what scikit-learn would, and
each word share, the embedding and the threshold are fitted as documented."""
from __future__ import annotations

import json

import numpy as np
import pytest

import generation.guard.fitting as fitting
from generation import DomainGuard
from generation.embedding import DEFAULT_EMBEDDER, embedder
from generation.guard import AnalyzerSettings, analyze, fit_sklearn, split_key, unknown_share, words_of
from generation.guard.word_shares import Everyday
from recipe_schema import UsageError
from souschef import corpus

pytest.importorskip("sklearn")


def exchanges() -> tuple[list[str], list[bool]]:
    rows = corpus.rows(corpus.EXCHANGES)
    return [r["prompt"] for r in rows], ["reply" not in r["answer"] for r in rows]


def test_numpy_inference_equals_sklearn_predict_proba():
    prompts, labels = exchanges()
    settings = AnalyzerSettings(word_ngrams=(1, 2), char_ngrams=(2, 5))
    vectorizer, classifier = fit_sklearn(prompts, labels, settings, C=10.0, min_df=1)
    guard = DomainGuard.from_sklearn(vectorizer, classifier, settings=settings)
    expected = classifier.predict_proba(vectorizer.transform(prompts))[:, 1]
    np.testing.assert_allclose(guard.scores(prompts), expected, rtol=0, atol=1e-12)
    assert set(analyze(prompts[0], settings)) <= set(vectorizer.vocabulary_)


def test_numpy_inference_equals_sklearn_with_the_unknown_food_and_everyday_word_columns():
    from scipy.sparse import csr_matrix, hstack

    prompts, labels = exchanges()
    known = frozenset(w for p, y in zip(prompts, labels, strict=True) if y for w in words_of(p))
    food = frozenset({"egg", "eggs", "rice", "garlic", "bread", "soup", "bake", "oven"})
    everyday = frozenset({"door", "car", "code", "python", "tax", "job"})

    def dense(p: str) -> list[float]:
        words = words_of(p)
        food_share = sum(w in food for w in words) / len(words) if words else 0.0
        everyday_share = sum(w in everyday for w in words) / len(words) if words else 0.0
        return [0.25 * unknown_share(p, known), 0.5 * food_share, 2.0 * everyday_share]

    vectorizer, classifier = fit_sklearn(prompts, labels, extra=[dense(p) for p in prompts])
    guard = DomainGuard.from_sklearn(vectorizer, classifier, known_words=known, unknown_scale=0.25,
                                     food_words=food, food_scale=0.5, everyday_words=everyday,
                                     everyday_scale=2.0)
    assert guard.unknown_weight and guard.food_weight and guard.everyday_weight
    tests = [*prompts[:20], "How do I braise a gasket on a carburetor?", "Bake bread in the oven", "", "42",
             "Fix the car door, then the oven door"]
    x = hstack([vectorizer.transform(tests), csr_matrix([dense(p) for p in tests])]).tocsr()
    np.testing.assert_allclose(guard.scores(tests), classifier.predict_proba(x)[:, 1], rtol=0, atol=1e-12)
    with pytest.raises(UsageError, match="columns beyond"):
        DomainGuard.from_sklearn(vectorizer, classifier, known_words=known, unknown_scale=0.25)


def test_numpy_inference_equals_sklearn_with_the_embedding_columns():
    from scipy.sparse import csr_matrix, hstack

    prompts, labels = exchanges()
    model = embedder()
    vectorizer, classifier = fit_sklearn(prompts, labels, extra=0.3 * model.embed(prompts))
    guard = DomainGuard.from_sklearn(vectorizer, classifier, embedding_scale=0.3,
                                     embedding_model=DEFAULT_EMBEDDER)
    assert len(guard.embedding_weights) == model.dim and guard.embedding_weights.any()
    tests = [*prompts[:20], "Pulpo a la gallega", "Can I shape polymer clay with a cookie cutter?", ""]
    x = hstack([vectorizer.transform(tests), csr_matrix(0.3 * model.embed(tests))]).tocsr()
    np.testing.assert_allclose(guard.scores(tests), classifier.predict_proba(x)[:, 1], rtol=0, atol=1e-12)
    with pytest.raises(UsageError, match="columns beyond"):
        DomainGuard.from_sklearn(vectorizer, classifier)  # the embedding's columns, unaccounted for


def test_a_guard_fitted_with_the_embedding_scores_what_it_trained_on_as_sklearn_does(monkeypatch):
    from scipy.sparse import csr_matrix, hstack

    fitted = []

    def capture(texts, ys, settings, C, min_df, weights, extra, analyzer):
        fitted.append((list(texts), np.asarray(extra),
                       *fit_sklearn(texts, ys, settings, C, min_df, weights, extra, analyzer)))
        return fitted[-1][2:]

    monkeypatch.setattr(fitting, "fit_sklearn", capture)
    prompts, labels = exchanges()
    guard = DomainGuard.fit(prompts, labels, validation_fraction=0, unknown_scale=0.25, embedding_scale=0.3)
    texts, extra, vectorizer, classifier = fitted[-1]
    assert extra.shape == (len(prompts), 1 + 256)  # the unknown-word share, then the embedding
    assert guard.embedding_model == guard.info["classifier"]["embedding_model"] == DEFAULT_EMBEDDER
    # off-domain prompts: their features in training are what scoring computes (no leave-one-out)
    other = [i for i, y in enumerate(labels) if not y]
    x = hstack([vectorizer.transform([texts[i] for i in other]), csr_matrix(extra[other])]).tocsr()
    np.testing.assert_allclose(guard.scores([texts[i] for i in other]), classifier.predict_proba(x)[:, 1],
                               rtol=0, atol=1e-12)
    with pytest.raises(UsageError, match="embedding_model needs embedding_scale > 0"):
        DomainGuard.fit(prompts, labels, embedding_model=DEFAULT_EMBEDDER)


def test_unknown_words_count_against_cooking_and_a_prompts_own_words_are_not_known_to_it():
    prompts, labels = exchanges()
    guard = DomainGuard.fit(prompts, labels, unknown_scale=0.25,
                            cooking_texts=["Braise the zucchini slowly."])
    assert guard.unknown_weight < 0
    assert {"braise", "zucchini"} <= guard.known_words  # from the cooking texts
    cooking_words = {w for p, y in zip(prompts, labels, strict=True) if y for w in words_of(p)}
    other_words = {w for p, y in zip(prompts, labels, strict=True) if not y for w in words_of(p)}
    assert not (other_words - cooking_words - {"braise", "zucchini", "slowly", "the"}) & guard.known_words
    known, unknown = "How do I make shakshuka?", "How do I make gasketry?"
    assert guard.score(unknown) < guard.score(known)
    plain = DomainGuard.fit(prompts, labels)
    assert plain.unknown_weight == 0.0 and not plain.known_words and "unknown_words" not in plain.to_dict()
    with pytest.raises(UsageError, match="unknown_scale"):
        DomainGuard.fit(prompts, labels, unknown_scale=float("nan"))


def test_a_cooking_prompt_is_scored_in_training_as_if_its_own_words_were_unseen(monkeypatch):
    seen: list[list] = []
    real = fitting.fit_sklearn
    monkeypatch.setattr(fitting, "fit_sklearn", lambda *a: seen.append(a[6]) or real(*a))
    prompts = ["braise the kohlrabi", "roast the leeks", "fix the door", "paint a door"]
    texts = ["Braise the leeks.", "Close the oven door and roast the leeks."]
    guard = DomainGuard.fit(prompts, [True, True, False, False], validation_fraction=0.0, cooking_texts=texts,
                            unknown_scale=1.0)
    assert guard.known_words == {*words_of(" ".join(texts)), "kohlrabi"}  # off-domain prompts add none
    # "kohlrabi" is in its own prompt alone: unknown to it in training; "braise" is in a text too
    assert [row[0] for row in seen[0]] == pytest.approx([1 / 3, 0.0, 1 / 3, 2 / 3])


def test_everyday_words_are_common_in_english_rare_in_cooking_and_count_against_it():
    prompts, labels = exchanges()
    texts = ["Braise the zucchini slowly in the oven, then serve it with bread."] * 20
    frequencies = {"door": 0.01, "car": 0.01, "tax": 0.01,  # everyday English, never in cooking texts
                   "the": 0.05, "oven": 0.01,  # everyday, and cooking texts use them as much
                   "borscht": 1e-7,  # never in cooking texts, but rare anywhere: no evidence
                   "don't": 0.01, "1,000": 0.01}  # never a prompt's word (``words_of``)
    guard = DomainGuard.fit(prompts, labels, cooking_texts=texts, word_frequencies=frequencies,
                            everyday_scale=1.0)
    assert {"door", "car", "tax"} <= guard.everyday_words
    assert not {"the", "oven", "borscht", "don't", "1,000"} & guard.everyday_words
    assert guard.everyday_weight < 0  # the exchanges' off-domain prompts use them, cooking ones do not
    assert guard.info["classifier"]["everyday_words"] == len(guard.everyday_words)
    again = DomainGuard.from_dict(json.loads(json.dumps(guard.to_dict())))
    assert (again.everyday_words, again.everyday_weight) == (guard.everyday_words, guard.everyday_weight)
    # a stricter margin: a word must be rarer in cooking still
    strict = DomainGuard.fit(prompts, labels, cooking_texts=texts, word_frequencies=frequencies,
                             everyday_scale=1.0, everyday_margin=3.0)
    assert strict.everyday_words < guard.everyday_words
    with pytest.raises(UsageError, match="word_frequencies"):
        DomainGuard.fit(prompts, labels, everyday_scale=1.0)
    with pytest.raises(UsageError, match="everyday_margin"):
        DomainGuard.fit(prompts, labels, word_frequencies=frequencies, everyday_scale=1.0,
                        everyday_margin=-1.0)


def test_a_cooking_prompt_trained_on_does_not_make_its_own_words_cooking_words():
    texts = [["pan"] * 50 + ["stir"] * 950]  # the words of 1,000 words of cooking text
    counts = Everyday({"door": 0.01, "pan": 0.01}, 1.0, texts)
    assert counts.words() == {"door"}  # expected 10 times in 1,000 words, seen never; "pan" 50 times
    # a cooking prompt trained on says "door" once: "door" is no longer everyday, except to that prompt
    with_prompt = counts.with_prompts([["fix", "the", "door"]])
    assert with_prompt.words() == frozenset()
    assert with_prompt.leaving_out(["fix", "the", "door"])("door")
    assert not with_prompt.leaving_out(["pan"])("door") and not with_prompt.leaving_out(["door"])("pan")


def test_fit_holds_out_prompts_by_hash_and_records_how_the_threshold_was_chosen():
    prompts, labels = exchanges()
    guard = DomainGuard.fit(prompts, labels)
    shuffled = DomainGuard.fit(prompts[::-1], labels[::-1])
    validation = guard.info["validation"]
    assert validation["cooking"] + validation["other"] + sum(guard.info["train"].values()) == len(prompts)
    assert validation == shuffled.info["validation"]  # the split does not depend on order
    assert guard.threshold == validation["threshold"] and 0.05 <= guard.threshold <= 0.95


def test_generated_prompts_are_trained_on_but_never_held_out_and_weigh_less():
    prompts, labels = exchanges()
    generated = [i % 2 == 0 for i in range(len(prompts))]
    guard = DomainGuard.fit(prompts, labels, generated=generated, generated_weight=0.5)
    held = [split_key(p) < 0.2 and not g for p, g in zip(prompts, generated, strict=True)]
    validation = guard.info["validation"]
    assert validation["cooking"] + validation["other"] == sum(held)
    assert sum(guard.info["train"].values()) == len(prompts) - sum(held)
    assert guard.info["classifier"]["generated"] == sum(generated)
    lighter = DomainGuard.fit(prompts, labels, generated=generated, generated_weight=0.1)
    assert lighter.scores(prompts[:5]) != guard.scores(prompts[:5])  # the weights reach the classifier
    with pytest.raises(UsageError, match="generated flags"):
        DomainGuard.fit(prompts, labels, generated=generated[:-1])


def test_a_cross_validated_threshold_scores_every_written_prompt_out_of_fold(monkeypatch):
    prompts, labels = exchanges()
    topics = [json.loads(line)["topic"] for line in
              corpus.path(corpus.EXCHANGES).read_text(encoding="utf-8").splitlines()]
    generated = [i % 5 == 0 for i in range(len(prompts))]
    groups = [None if y else t for y, t in zip(labels, topics, strict=True)]
    fits: list[set[str]] = []
    real = fitting._fit_classifier

    def recording(train, made, **options):
        fits.append({p for p, _ in train})
        return real(train, made, **options)

    monkeypatch.setattr(fitting, "_fit_classifier", recording)
    guard = DomainGuard.fit(prompts, labels, generated=generated, groups=groups, threshold_folds=4)
    written = [p for p, g in zip(prompts, generated, strict=True) if not g]
    validation = guard.info["validation"]
    assert validation["cooking"] + validation["other"] == len(written)  # every written prompt, once
    assert sum(guard.info["train"].values()) == len(prompts)  # the kept classifier saw them all
    assert validation["threshold_folds"] == 4 and guard.threshold == validation["threshold"]
    assert len(fits) == 5 and fits[-1] == set(prompts)
    for fold in fits[:-1]:
        assert set(prompts) - set(written) <= fold  # generated prompts are always trained on
        for topic in set(filter(None, groups)):  # a topic is wholly in a fold's training or wholly out
            members = {p for p, g in zip(prompts, groups, strict=True) if g == topic} & set(written)
            assert members <= fold or not members & fold, topic
    again = DomainGuard.fit(prompts[::-1], labels[::-1], generated=generated[::-1], groups=groups[::-1],
                            threshold_folds=4)
    assert again.threshold == guard.threshold  # the folds do not depend on order
    with pytest.raises(UsageError, match="threshold_folds"):
        DomainGuard.fit(prompts, labels, threshold_folds=1)
    with pytest.raises(UsageError, match="groups"):
        DomainGuard.fit(prompts, labels, threshold_folds=4, groups=groups[:-1])
