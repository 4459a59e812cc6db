"""The domain guard: cooking prompts become recipes, anything else a reply, decided before decoding."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from generation import DomainGuard, GenerationState, RecipeGenerator
from generation.embedding import DEFAULT_EMBEDDER, embedder
from generation.guard import (
    AnalyzerSettings,
    analyze,
    fit_sklearn,
    split_key,
    unknown_share,
    word_pairs,
    words_of,
)
from recipe_schema import ModelLoadError, Recipe, Reply, UsageError
from souschef import corpus


def exchanges() -> tuple[list[str], list[bool]]:
    text = corpus.path(corpus.EXCHANGES).read_text(encoding="utf-8")
    rows = [json.loads(line) for line in text.splitlines()]
    return [r["prompt"] for r in rows], ["reply" not in r["answer"] for r in rows]


BINARY_SEARCH = "How can I implement a binary search in Python?"
SHAKSHUKA = "How do I make shakshuka?"


@pytest.fixture(scope="module")
def guard() -> DomainGuard:
    return DomainGuard.default()


@pytest.fixture(scope="module")
def guarded(tiny, guard) -> RecipeGenerator:
    _, gen = tiny
    return RecipeGenerator(gen.model, gen.tokenizer, guard=guard)


def test_the_shipped_guard_says_binary_search_is_not_cooking_and_shakshuka_is(guard):
    assert guard.score(BINARY_SEARCH) < guard.threshold <= guard.score(SHAKSHUKA)
    assert not guard.is_cooking(BINARY_SEARCH) and guard.is_cooking(SHAKSHUKA)
    assert (guard.route(BINARY_SEARCH), guard.route(SHAKSHUKA)) == ("reply", "recipe")
    assert 0.0 <= guard.score("") <= 1.0  # no known feature: the intercept alone


def test_save_and_load_give_identical_scores(guard, tmp_path):
    path = tmp_path / "guard.json"
    guard.save(path)
    again = DomainGuard.load(path)
    prompts = [BINARY_SEARCH, SHAKSHUKA, "Ça va? Un gâteau au café ☕", "git rebase vs merge"]
    assert again.scores(prompts) == guard.scores(prompts)
    assert (again.threshold, again.settings, again.info) == (guard.threshold, guard.settings, guard.info)
    assert (again.known_words, again.unknown_weight) == (guard.known_words, guard.unknown_weight)
    assert (again.food_words, again.food_weight) == (guard.food_words, guard.food_weight)
    # the shipped guard has all three features
    assert guard.unknown_weight < 0 and "shakshuka" in guard.known_words
    assert guard.food_weight > 0 and "shakshuka" in guard.food_words and "door" not in guard.food_words
    assert (again.everyday_words, again.everyday_weight) == (guard.everyday_words, guard.everyday_weight)
    assert guard.everyday_weight < 0 and {"door", "car", "tax"} <= guard.everyday_words
    assert not {"oven", "shakshuka", "how"} & guard.everyday_words
    assert guard.embedding_model == again.embedding_model == DEFAULT_EMBEDDER
    assert len(guard.embedding_weights) == 256
    assert again.embedding_weights.tolist() == guard.embedding_weights.tolist()


@pytest.mark.parametrize("version, dropped", [
    (1, ("unknown_words", "food_words", "everyday_words", "unknown_pairs", "embedding")),
    (2, ("food_words", "everyday_words", "unknown_pairs", "embedding")),
    (3, ("everyday_words", "unknown_pairs", "embedding")),
    (4, ("unknown_pairs", "embedding")),
    (5, ("embedding",)),
])
def test_older_guard_files_without_the_later_features_still_load(guard, tmp_path, version, dropped):
    data = {k: v for k, v in guard.to_dict().items() if k not in dropped}
    path = tmp_path / "guard.json"
    path.write_text(json.dumps({**data, "version": version}), encoding="utf-8")
    old = DomainGuard.load(path)
    assert old.embedding_model == "" and not old.embedding_weights.size
    assert old.unknown_pair_weight == 0.0 and not old.known_pairs
    assert (old.everyday_weight == 0.0) == (version < 4)
    assert (old.food_weight == 0.0) == (version < 3)
    assert (old.unknown_weight == 0.0) == (version == 1)
    if any(k in guard.to_dict() for k in dropped):
        assert old.score(BINARY_SEARCH) != guard.score(BINARY_SEARCH)  # scored without the feature(s)


def _corrupt(data: dict) -> dict[str, str]:
    def edited(**changes) -> str:
        return json.dumps({**data, **changes})

    return {
        "not JSON": json.dumps(data)[:500],
        "not a souschef domain guard": json.dumps([1, 2]),
        "format version 99": edited(version=99),
        "missing 'weights'": json.dumps({k: v for k, v in data.items() if k != "weights"}),
        "differ in length": edited(idf=data["idf"][:-1]),
        "malformed guard": edited(weights=["x"] * len(data["weights"])),
        "finite numbers": edited(idf=[float("nan")] * len(data["idf"])),
        "threshold must be in": edited(threshold=1.5),
        "sublinear": edited(tf="raw"),
        "unknown_words.known": edited(unknown_words={"weight": -1.0, "known": [1, 2]}),
        "must be finite and come with known words": edited(unknown_words={"weight": -1.0, "known": []}),
        "missing 'weight'": edited(unknown_words={"known": ["a"]}),
        "everyday_words.words": edited(everyday_words={"weight": -1.0, "words": "door"}),
        "must be finite and come with its words": edited(everyday_words={"weight": -1.0, "words": []}),
        "unknown_pairs.known": edited(unknown_pairs={"weight": -1.0, "known": "oven door"}),
        "must be finite and come with known pairs": edited(unknown_pairs={"weight": -1.0, "known": []}),
        "needs a model name and finite weights": edited(embedding={"model": "", "weights": [0.5]}),
        "embedding must name its model": edited(embedding={"model": DEFAULT_EMBEDDER, "weights": "0.5"}),
        "malformed guard: could not convert": edited(embedding={"model": DEFAULT_EMBEDDER, "weights": ["x"]}),
        "unknown embedding model 'glove'": edited(embedding={"model": "glove", "weights": [0.5]}),
    }


def test_a_corrupt_guard_file_is_a_one_line_model_load_error(guard, tmp_path):
    cases = _corrupt(guard.to_dict())
    cases["No such file"] = ""
    for message, text in cases.items():
        path = tmp_path / "guard.json"
        if text:
            path.write_text(text, encoding="utf-8")
        else:
            path.unlink()
        with pytest.raises(ModelLoadError, match=message) as caught:
            DomainGuard.load(path)
        assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_numpy_inference_equals_sklearn_predict_proba():
    pytest.importorskip("sklearn")
    prompts, labels = exchanges()
    settings = AnalyzerSettings(word_ngrams=(1, 2), char_ngrams=(2, 5))
    vectorizer, classifier = fit_sklearn(prompts, labels, settings, C=10.0, min_df=1)
    guard = DomainGuard.from_sklearn(vectorizer, classifier, settings=settings)
    expected = classifier.predict_proba(vectorizer.transform(prompts))[:, 1]
    np.testing.assert_allclose(guard.scores(prompts), expected, rtol=0, atol=1e-12)
    assert set(analyze(prompts[0], settings)) <= set(vectorizer.vocabulary_)


def test_numpy_inference_equals_sklearn_with_the_unknown_food_everyday_word_and_pair_columns():
    pytest.importorskip("sklearn")
    from scipy.sparse import csr_matrix, hstack

    prompts, labels = exchanges()
    known = frozenset(w for p, y in zip(prompts, labels, strict=True) if y for w in words_of(p))
    food = frozenset({"egg", "eggs", "rice", "garlic", "bread", "soup", "bake", "oven"})
    everyday = frozenset({"door", "car", "code", "python", "tax", "job"})
    pairs = frozenset(q for p, y in zip(prompts, labels, strict=True) if y for q in word_pairs(words_of(p)))

    def dense(p: str) -> list[float]:
        words, two = words_of(p), word_pairs(words_of(p))
        food_share = sum(w in food for w in words) / len(words) if words else 0.0
        everyday_share = sum(w in everyday for w in words) / len(words) if words else 0.0
        pair_share = sum(q not in pairs for q in two) / len(two) if two else 0.0
        return [0.25 * unknown_share(p, known), 0.5 * food_share, 2.0 * everyday_share, 0.5 * pair_share]

    vectorizer, classifier = fit_sklearn(prompts, labels, extra=[dense(p) for p in prompts])
    guard = DomainGuard.from_sklearn(vectorizer, classifier, known_words=known, unknown_scale=0.25,
                                     food_words=food, food_scale=0.5, everyday_words=everyday,
                                     everyday_scale=2.0, known_pairs=pairs, unknown_pair_scale=0.5)
    assert guard.unknown_weight and guard.food_weight and guard.everyday_weight and guard.unknown_pair_weight
    tests = [*prompts[:20], "How do I braise a gasket on a carburetor?", "Bake bread in the oven", "", "42",
             "Fix the car door, then the oven door"]
    x = hstack([vectorizer.transform(tests), csr_matrix([dense(p) for p in tests])]).tocsr()
    np.testing.assert_allclose(guard.scores(tests), classifier.predict_proba(x)[:, 1], rtol=0, atol=1e-12)
    with pytest.raises(UsageError, match="columns beyond"):
        DomainGuard.from_sklearn(vectorizer, classifier, known_words=known, unknown_scale=0.25)


def test_numpy_inference_equals_sklearn_with_the_embedding_columns():
    pytest.importorskip("sklearn")
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
    pytest.importorskip("sklearn")
    from scipy.sparse import csr_matrix, hstack

    import generation.guard as module

    fitted = []

    def capture(texts, ys, settings, C, min_df, weights, extra, analyzer):
        fitted.append((list(texts), np.asarray(extra),
                       *fit_sklearn(texts, ys, settings, C, min_df, weights, extra, analyzer)))
        return fitted[-1][2:]

    monkeypatch.setattr(module, "fit_sklearn", capture)
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


def test_a_guard_whose_embedding_weights_do_not_fit_its_model_says_so(guard):
    data = guard.to_dict()
    wrong = DomainGuard.from_dict({**data, "embedding": {"model": DEFAULT_EMBEDDER, "weights": [0.1] * 3}})
    with pytest.raises(ModelLoadError, match="3 embedding weights, but wordllama-l2-supercat-256 has 256"):
        wrong.score(SHAKSHUKA)


def test_unknown_words_count_against_cooking_and_a_prompts_own_words_are_not_known_to_it():
    pytest.importorskip("sklearn")
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


def test_everyday_words_are_common_in_english_rare_in_cooking_and_count_against_it():
    pytest.importorskip("sklearn")
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


def test_unknown_word_pairs_are_words_in_a_context_no_cooking_text_has():
    pytest.importorskip("sklearn")
    prompts, labels = exchanges()
    texts = ["Close the oven door and bake the cookies until golden."]
    guard = DomainGuard.fit(prompts, labels, cooking_texts=texts, unknown_pair_scale=1.0,
                            validation_fraction=0.0)  # trained on every prompt
    assert {"oven door", "the cookies"} <= guard.known_pairs  # from the cooking texts
    cooking_pairs = {q for p, y in zip(prompts, labels, strict=True) if y for q in word_pairs(words_of(p))}
    other_pairs = {q for p, y in zip(prompts, labels, strict=True) if not y for q in word_pairs(words_of(p))}
    assert guard.known_pairs == cooking_pairs | set(word_pairs(words_of(texts[0])))
    assert other_pairs - guard.known_pairs  # an off-domain prompt's pairs are only known through cooking
    assert guard.unknown_pair_weight < 0  # off-domain prompts put words in contexts cooking never does
    assert guard.info["classifier"]["known_pairs"] == len(guard.known_pairs)
    again = DomainGuard.from_dict(json.loads(json.dumps(guard.to_dict())))
    assert (again.known_pairs, again.unknown_pair_weight) == (guard.known_pairs, guard.unknown_pair_weight)
    # the same words, in a context no cooking text has
    assert guard.score("clear the cookies in the browser") < guard.score("bake the cookies in the oven")
    assert word_pairs(words_of("Bake 2 cookies")) == ["bake cookies"]  # as the guard reads words
    plain = DomainGuard.fit(prompts, labels)
    assert not plain.known_pairs and "unknown_pairs" not in plain.to_dict()
    with pytest.raises(UsageError, match="unknown_pair_scale"):
        DomainGuard.fit(prompts, labels, unknown_pair_scale=-1.0)


def test_a_cooking_prompt_is_scored_in_training_as_if_its_own_word_pairs_were_unseen(monkeypatch):
    pytest.importorskip("sklearn")
    import generation.guard as guard_module

    seen: list[list] = []
    real = guard_module.fit_sklearn
    monkeypatch.setattr(guard_module, "fit_sklearn", lambda *a: seen.append(a[6]) or real(*a))
    prompts = ["braise the leeks", "braise the leeks slowly", "roast the leeks",
               "fix the door", "paint a door"]
    DomainGuard.fit(prompts, [True, True, True, False, False], validation_fraction=0.0,
                    cooking_texts=["roast the leeks"], unknown_pair_scale=1.0)
    shares = [row[0] for row in seen[0]]
    # "braise the", "the leeks" are in the other braise prompt: known; "leeks slowly" only in its own
    assert shares[:3] == [0.0, pytest.approx(1 / 3), 0.0]
    assert shares[3:] == [1.0, 1.0]  # off-domain prompts never add to the known pairs


def test_a_word_one_text_uses_stays_unknown_when_known_words_need_two_texts(monkeypatch):
    pytest.importorskip("sklearn")
    import generation.guard as guard_module

    seen: list[list] = []
    real = guard_module.fit_sklearn
    monkeypatch.setattr(guard_module, "fit_sklearn", lambda *a: seen.append(a[6]) or real(*a))
    prompts = ["braise the leeks", "roast the leeks", "fix the door", "paint a door"]
    labels = [True, True, False, False]
    texts = ["Braise the leeks.", "Close the oven door and roast the leeks."]  # "door": one text
    once = DomainGuard.fit(prompts, labels, validation_fraction=0.0, cooking_texts=texts, unknown_scale=1.0)
    twice = DomainGuard.fit(prompts, labels, validation_fraction=0.0, cooking_texts=texts, unknown_scale=1.0,
                            known_min_texts=2)
    assert {"door", "oven", "leeks"} <= once.known_words
    assert twice.known_words == {"braise", "the", "leeks", "roast"}  # each in two texts or prompts
    assert twice.info["classifier"]["known_words"] == 4 and twice.info["classifier"]["known_min_texts"] == 2
    # in training a cooking prompt leaves itself out: "braise", "roast" are then in one text only
    assert [row[0] for row in seen[1]] == pytest.approx([1 / 3, 1 / 3, 2 / 3, 1.0])
    with pytest.raises(UsageError, match="known_min_texts"):
        DomainGuard.fit(prompts, labels, known_min_texts=0)


def test_a_cooking_prompt_trained_on_does_not_make_its_own_words_cooking_words():
    from generation.guard import _Everyday

    texts = [["pan"] * 50 + ["stir"] * 950]  # the words of 1,000 words of cooking text
    counts = _Everyday({"door": 0.01, "pan": 0.01}, 1.0, texts)
    assert counts.words() == {"door"}  # expected 10 times in 1,000 words, seen never; "pan" 50 times
    # a cooking prompt trained on says "door" once: "door" is no longer everyday, except to that prompt
    with_prompt = counts.with_prompts([["fix", "the", "door"]])
    assert with_prompt.words() == frozenset()
    assert with_prompt.leaving_out(["fix", "the", "door"])("door")
    assert not with_prompt.leaving_out(["pan"])("door") and not with_prompt.leaving_out(["door"])("pan")


def test_fit_holds_out_prompts_by_hash_and_records_how_the_threshold_was_chosen():
    pytest.importorskip("sklearn")
    prompts, labels = exchanges()
    guard = DomainGuard.fit(prompts, labels)
    shuffled = DomainGuard.fit(prompts[::-1], labels[::-1])
    validation = guard.info["validation"]
    assert validation["cooking"] + validation["other"] + sum(guard.info["train"].values()) == len(prompts)
    assert validation == shuffled.info["validation"]  # the split does not depend on order
    assert guard.threshold == validation["threshold"] and 0.05 <= guard.threshold <= 0.95


def test_generated_prompts_are_trained_on_but_never_held_out_and_weigh_less():
    pytest.importorskip("sklearn")
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
    pytest.importorskip("sklearn")
    prompts, labels = exchanges()
    topics = [json.loads(line)["topic"] for line in
              corpus.path(corpus.EXCHANGES).read_text(encoding="utf-8").splitlines()]
    generated = [i % 5 == 0 for i in range(len(prompts))]
    groups = [None if y else t for y, t in zip(labels, topics, strict=True)]
    fits: list[set[str]] = []
    real = DomainGuard._fit_classifier.__func__

    def recording(cls, train, made, **options):
        fits.append({p for p, _ in train})
        return real(cls, train, made, **options)

    monkeypatch.setattr(DomainGuard, "_fit_classifier", classmethod(recording))
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


# ------------------------------------------------------------ routing in the generator
def test_without_a_mode_the_guard_decides(guarded, guard):
    reply = guarded.generate(BINARY_SEARCH, max_total_tokens=60)
    assert isinstance(reply.answer, Reply) and reply.state.settings.mode == "reply"
    assert reply.guard_score == pytest.approx(guard.score(BINARY_SEARCH))
    recipe = guarded.generate(SHAKSHUKA, mode="any", max_total_tokens=60)
    assert isinstance(recipe.answer, Recipe) and recipe.state.settings.mode == "recipe"
    assert recipe.guard_score is not None and recipe.guard_score >= guard.threshold


def test_an_explicit_mode_is_respected(guarded):
    result = guarded.generate(BINARY_SEARCH, mode="recipe", max_total_tokens=60)
    assert isinstance(result.answer, Recipe) and result.guard_score is None


def test_stream_and_batch_route_as_generate_does(guarded):
    settings = {"seed": 3, "temperature": 1.0, "max_total_tokens": 60}
    single = guarded.generate(BINARY_SEARCH, **settings)
    assert "".join(guarded.stream(BINARY_SEARCH, **settings)) == single.text
    batch = guarded.generate_batch([BINARY_SEARCH, SHAKSHUKA], **settings)
    assert [type(r.answer) for r in batch] == [Reply, Recipe]
    assert batch[0].text == single.text


def test_the_state_keeps_mode_and_score_and_resumes_without_a_guard(guarded, tiny):
    _, gen = tiny
    unguarded = RecipeGenerator(gen.model, gen.tokenizer)
    assert unguarded.guard is None
    whole = guarded.generate(BINARY_SEARCH, seed=1, temperature=1.0, max_total_tokens=80)
    state = guarded.step(guarded.start(BINARY_SEARCH, seed=1, temperature=1.0, max_total_tokens=80), 5)
    saved = GenerationState.from_json(state.to_json())
    assert saved.settings.mode == "reply" and saved.guard_score == whole.guard_score
    done = unguarded.continue_(saved, max_new_tokens_per_call=20)
    assert done.state.generated_ids == whole.state.generated_ids and isinstance(done.answer, Reply)
    assert done.guard_score == whole.guard_score


def test_a_state_saved_before_the_guard_existed_still_loads(guarded):
    from generation.state import _digest

    def saved(data: dict) -> str:  # as a writer of that time saved it: its digest over what it wrote
        data = {k: v for k, v in data.items() if k != "digest"}
        return json.dumps({**data, "digest": _digest(data)})

    data = json.loads(guarded.start(SHAKSHUKA, max_total_tokens=60).to_json())
    del data["guard_score"]
    assert GenerationState.from_json(saved(data)).guard_score is None
    data["guard_score"] = "high"
    with pytest.raises(Exception, match="guard_score"):
        GenerationState.from_json(saved(data))


def test_from_pretrained_prefers_the_model_directorys_guard(tiny, guard, tmp_path):
    path, _ = tiny
    copy = tmp_path / "model"
    shutil.copytree(path, copy)
    assert RecipeGenerator.from_pretrained(copy).guard.threshold == guard.threshold  # the shipped one
    assert RecipeGenerator.from_pretrained(copy, guard=False).guard is None
    own = DomainGuard.from_dict({**guard.to_dict(), "threshold": 1.0})  # refuses (nearly) everything
    own.save(copy / "guard.json")
    gen = RecipeGenerator.from_pretrained(copy)
    assert gen.guard is not None and gen.guard.threshold == 1.0
    assert gen.start(SHAKSHUKA, max_total_tokens=60).settings.mode == "reply"
    (copy / "guard.json").write_text("{", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="cannot load guard"):
        RecipeGenerator.from_pretrained(copy)
