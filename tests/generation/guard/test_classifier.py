"""The domain guard: cooking prompts become recipes, anything else a reply, decided before decoding.

Scoring, the guard file and routing in the generator; training is ``test_fitting``.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generation import DomainGuard, GenerationState, RecipeGenerator
from generation.embedding import DEFAULT_EMBEDDER
from recipe_schema import ModelLoadError, Recipe, Reply

ROOT = Path(__file__).resolve().parents[3]
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
    (1, ("unknown_words", "food_words", "everyday_words", "embedding")),
    (2, ("food_words", "everyday_words", "embedding")),
    (3, ("everyday_words", "embedding")),
    (4, ("embedding",)),
    (5, ("embedding",)),
])
def test_older_guard_files_without_the_later_features_still_load(guard, tmp_path, version, dropped):
    data = {k: v for k, v in guard.to_dict().items() if k not in dropped}
    path = tmp_path / "guard.json"
    path.write_text(json.dumps({**data, "version": version}), encoding="utf-8")
    old = DomainGuard.load(path)
    assert old.embedding_model == "" and not old.embedding_weights.size
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
        "malformed guard: 'str' object has no attribute 'get'": edited(unknown_pairs="oven door"),
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


RETRAIN = "unknown-pair feature.*retrain the guard with `souschef train`"


@pytest.mark.parametrize("version", [5, 6])
def test_a_guard_file_using_the_removed_unknown_pair_feature_says_to_retrain(guard, tmp_path, version):
    path = tmp_path / "guard.json"
    pairs = {"weight": -0.5, "known": ["oven door", "the cookies"]}
    data = {**guard.to_dict(), "version": version}
    path.write_text(json.dumps({**data, "unknown_pairs": pairs}), encoding="utf-8")
    with pytest.raises(ModelLoadError, match=RETRAIN) as e:
        DomainGuard.load(path)
    assert "\n" not in str(e.value) and str(path) in str(e.value)
    # a block of weight 0 is no such feature: nothing to refuse, nothing scored differently
    path.write_text(json.dumps({**data, "unknown_pairs": {"weight": 0.0, "known": []}}), encoding="utf-8")
    prompts = [SHAKSHUKA, BINARY_SEARCH]
    assert DomainGuard.load(path).scores(prompts) == guard.scores(prompts)


def test_importing_and_scoring_with_the_guard_loads_no_scikit_learn_torch_or_transformers():
    code = ("import sys, generation.guard as g; g.DomainGuard.default().score('How do I make toast?'); "
            "heavy = {'sklearn', 'scipy', 'torch', 'transformers'}; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_guard_whose_embedding_weights_do_not_fit_its_model_says_so(guard):
    data = guard.to_dict()
    wrong = DomainGuard.from_dict({**data, "embedding": {"model": DEFAULT_EMBEDDER, "weights": [0.1] * 3}})
    with pytest.raises(ModelLoadError, match="3 embedding weights, but wordllama-l2-supercat-256 has 256"):
        wrong.score(SHAKSHUKA)


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
