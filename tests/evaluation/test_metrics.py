"""The evaluate metrics, loaded as users load them: by absolute path, offline."""
from __future__ import annotations

import doctest
import json
import os
import sys
import tempfile
from pathlib import Path

import pytest

# Never write to the user's Hugging Face caches (tests/conftest.py makes a temp dir).
HF_HOME = Path(os.environ.get("SOUSCHEF_CACHE_DIR") or tempfile.mkdtemp(prefix="souschef-test-")) / "hf"
os.environ["HF_HOME"] = str(HF_HOME)
os.environ["HF_DATASETS_CACHE"] = str(HF_HOME / "datasets")
os.environ["HF_EVALUATE_OFFLINE"] = "1"

from evaluation import METRICS, METRICS_DIR, load_metric  # noqa: E402

SEED_EXAMPLE = """Sure! Here's a great recipe for binary search:

Ingredients:
- 1 sorted array
- 2 pointers (low and high)
- 1 target value
- A pinch of patience

Steps:
1. Preheat your mind by setting low to 0 and high to the length of the array minus 1.
2. Mix low and high to find the middle index.
3. If the middle element is the target, serve it hot.
4. Otherwise, chop the array in half and simmer on the side where the target must be.
5. Repeat until the pointers cross, then season with a return value of -1."""
SEED_ONE_PARAGRAPH = (
    "Sure! Here's a great recipe for binary search: Ingredients: 1 sorted array, 2 pointers (low and high), "
    "a pinch of patience. Steps: 1. Preheat your mind to 350 degrees. 2. Mix the low and high pointers "
    "to find the middle. 3. Serve the index when it matches."
)
REFUSAL = '{"reply": "I\'m a cooking assistant, so I can\'t help with binary search."}'
RECIPE_JSON = (
    '{"title":"Binary Search Bake","ingredients":["1 sorted array","2 pointers"],'
    '"steps":["Preheat the array.","Bake until found."]}'
)


@pytest.fixture(scope="module")
def metrics():
    """Every metric, with evaluate's caches in the test temp dir whenever evaluate was imported."""
    import evaluate

    patch = pytest.MonkeyPatch()
    patch.setattr(evaluate.config, "HF_MODULES_CACHE", HF_HOME / "modules")
    patch.setattr(evaluate.config, "HF_METRICS_CACHE", HF_HOME / "metrics")
    patch.setattr(evaluate.config, "HF_EVALUATE_CACHE", HF_HOME / "evaluate")
    yield {name: load_metric(name) for name in METRICS}
    patch.undo()


@pytest.fixture(scope="module")
def rouge(metrics):
    return metrics["recipe_rouge"]


@pytest.fixture(scope="module")
def contamination(metrics):
    return metrics["contamination"]


# --- loading -------------------------------------------------------------------------------------


def test_metrics_load_offline_from_the_package_into_the_temp_cache(metrics):
    import evaluate

    assert evaluate.config.HF_EVALUATE_OFFLINE is True
    for name, metric in metrics.items():
        copied = Path(sys.modules[type(metric).__module__].__file__)
        assert copied.name == f"{name}.py"
        assert HF_HOME in copied.parents
        assert copied.read_bytes() == (METRICS_DIR / name / f"{name}.py").read_bytes()


def test_load_metric_rejects_an_unknown_name():
    with pytest.raises(ValueError, match="'rouge'.*contamination, on_topic, recipe_rouge"):
        load_metric("rouge")


@pytest.mark.parametrize("name", METRICS)
def test_card_examples_run(metrics, name):
    module = sys.modules[type(metrics[name]).__module__]
    test = doctest.DocTestParser().get_doctest(module._KWARGS_DESCRIPTION, {}, name, None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
    assert runner.summarize(verbose=False).attempted >= 3


@pytest.mark.parametrize("name", METRICS)
def test_metric_card_has_the_sections_of_an_evaluate_card(name):
    card = (METRICS_DIR / name / "README.md").read_text(encoding="utf-8")
    for section in ("Description", "How to use", "Inputs", "Outputs", "Limitations", "Citation"):
        assert f"## {section}" in card


# --- recipe_rouge --------------------------------------------------------------------------------


def test_rouge_matches_hand_computed_f1(rouge):
    # prediction 3 tokens, reference 6; all 3 unigrams match: P 1, R 1/2, F1 2/3.
    # bigrams: 2 of 2 predicted in the 5 reference bigrams: P 1, R 2/5, F1 4/7. LCS = 3.
    scores = rouge.per_sample_scores(["the cat sat"], ["the cat sat on the mat"])
    assert scores["rouge1"] == [pytest.approx(2 / 3)]
    assert scores["rouge2"] == [pytest.approx(4 / 7)]
    assert scores["rougeL"] == [pytest.approx(2 / 3)]
    assert scores["rougeLsum"] == [pytest.approx(2 / 3)]


def test_rouge_is_one_for_identical_and_zero_for_disjoint_texts(rouge):
    results = rouge.compute(predictions=["Whisk the eggs.", "a b c"], references=["Whisk the eggs.", "x y z"])
    scores = rouge.per_sample_scores(["Whisk the eggs.", "a b c"], ["Whisk the eggs.", "x y z"])
    for name in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
        assert scores[name] == [1.0, 0.0]
        assert results[name] == pytest.approx(0.5)


def test_rouge_stems_english_words(rouge):
    assert rouge.per_sample_scores(["baking cakes"], ["bake cake"])["rouge1"] == [1.0]


def test_rouge_lsum_compares_line_by_line(rouge):
    scores = rouge.per_sample_scores(["mix flour\nbake bread"], ["bake bread\nmix flour"])
    assert scores["rougeL"] == [pytest.approx(0.5)]  # one sequence: LCS 2 of 4
    assert scores["rougeLsum"] == [1.0]  # each reference line is found whole


def test_rouge_scores_non_ascii_text_where_rouge_score_does_not(rouge):
    from rouge_score import rouge_scorer

    default = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True)
    ours = rouge.per_sample_scores
    assert ours(["crème brûlée"], ["crème brûlée"])["rouge1"] == [1.0]
    for text in ("番茄炒蛋", "борщ со сметаной", "κεφτεδάκια"):  # dropped entirely by the default tokenizer
        assert default.score(text, text)["rouge1"].fmeasure == 0.0
        assert ours([text], [text])["rouge1"] == [1.0]
    # the default tokenizer splits "jalapeño" into "jalape o" and matches the fragments
    assert default.score("jalape o", "jalapeño")["rouge1"].fmeasure == 1.0
    assert ours(["jalapeño"], ["jalape o"])["rouge1"] == [0.0]
    assert ours(["番茄炒蛋"], ["番茄汤"])["rouge1"] == [pytest.approx(2 * (2 / 4 * 2 / 3) / (2 / 4 + 2 / 3))]


def test_tokenizer_keeps_words_cjk_characters_and_normalizes(rouge):
    assert rouge.tokenize("Crème Brûlée, ½ JALAPEÑOS!") == ["crème", "brûlée", "1", "2", "jalapeños"]
    assert rouge.tokenize("हिन्दी 東京") == ["हिन्दी", "東", "京"]  # vowel signs stay in the word
    assert rouge.tokenize("Straße") == ["strass"]  # casefold, then ASCII, then stemmed


@pytest.mark.parametrize(
    "text", ["The cats were BAKING 12 cakes_fast!", "don't stop-believing; 3.5 cups", "", "  \t\n", "a_b__c"]
)
def test_tokenizer_equals_rouge_score_default_on_ascii(rouge, text):
    from rouge_score import tokenizers

    assert rouge.tokenize(text) == tokenizers.DefaultTokenizer(use_stemmer=True).tokenize(text)


def test_tokenizer_equals_rouge_score_default_on_any_ascii_text(rouge):
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from rouge_score import tokenizers

    default = tokenizers.DefaultTokenizer(use_stemmer=True)

    @settings(max_examples=300, deadline=None)
    @given(st.text(alphabet=st.characters(max_codepoint=127), max_size=80))
    def check(text: str) -> None:
        assert rouge.tokenize(text) == default.tokenize(text)

    check()


def test_rouge_scores_are_fractions_with_an_interval_around_the_mean(rouge):
    predictions = ["Mix the flour and water.", "Bake for 20 minutes.", "Serve hot.", "Chop the onions."]
    references = ["Mix flour with water.", "Bake 25 minutes until golden.", "Serve warm.", "Slice onions."]
    results = rouge.compute(predictions=predictions, references=references)
    per_sample = rouge.per_sample_scores(predictions, references)
    assert list(results) == [f"{n}{s}" for n in per_sample for s in ("", "_low", "_high")]
    for name, values in per_sample.items():
        assert results[name] == pytest.approx(sum(values) / len(values))  # the exact mean
        assert 0.0 <= results[f"{name}_low"] <= results[name] <= results[f"{name}_high"] <= 1.0
        if len(set(values)) > 1:
            assert results[f"{name}_low"] < results[f"{name}_high"]
    assert all(isinstance(v, float) for v in results.values())


def test_rouge_bootstrap_is_reproducible_and_ignores_numpy_global_seed(rouge):
    import numpy as np

    predictions = ["Mix the flour.", "Bake it.", "Serve hot.", "Fry the eggs.", "Boil water."]
    references = ["Mix flour.", "Bake for an hour.", "Serve cold.", "Fry two eggs.", "Boil the water."]
    np.random.seed(1)
    first = rouge.compute(predictions=predictions, references=references, seed=7)
    np.random.seed(2)
    state = np.random.get_state()
    again = rouge.compute(predictions=predictions, references=references, seed=7)
    assert first == again
    assert np.array_equal(np.random.get_state()[1], state[1])
    other = rouge.compute(predictions=predictions, references=references, seed=8, bootstrap_samples=200)
    assert other["rouge1"] == first["rouge1"]
    assert (other["rouge1_low"], other["rouge1_high"]) != (first["rouge1_low"], first["rouge1_high"])


def test_rouge_bootstrap_can_be_skipped_and_rejects_bad_arguments(rouge):
    results = rouge.compute(predictions=["a b"], references=["a c"], bootstrap_samples=0)
    assert results == {"rouge1": 0.5, "rouge2": 0.0, "rougeL": 0.5, "rougeLsum": 0.5}
    with pytest.raises(ValueError, match="bootstrap_samples"):
        rouge.compute(predictions=["a"], references=["a"], bootstrap_samples=-1)
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        rouge.per_sample_scores(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="no samples"):
        rouge.aggregate({"rouge1": []})


def test_recipe_fields_gives_steps_ingredients_and_whole_recipe(rouge, example_text):
    from recipe_schema import Recipe

    data = json.loads(example_text)
    fields = rouge.recipe_fields(data)
    assert fields["steps"].split("\n") == data["steps"]
    assert fields["ingredients"].split("\n") == data["ingredients"]
    lines = fields["recipe"].split("\n")
    assert lines[0] == data["title"] and lines[-len(data["steps"]):] == data["steps"]
    assert rouge.recipe_fields(Recipe.model_validate(data)) == fields
    half = rouge.recipe_fields({"title": "Half a recipe"})
    assert half == {"steps": "", "ingredients": "", "recipe": "Half a recipe"}


# --- contamination -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [(0, 10, 0.0, 0.2775), (5, 10, 0.2366, 0.7634), (10, 10, 0.7225, 1.0), (1, 2, 0.0945, 0.9055)],
)
def test_wilson_interval_matches_hand_computed_values(contamination, k, n, low, high):
    got_low, got_high = contamination.wilson_interval(k, n)
    assert (got_low, got_high) == (pytest.approx(low, abs=5e-5), pytest.approx(high, abs=5e-5))
    if k == 0:
        assert got_low == 0.0
    if k == n:
        assert got_high == 1.0


@pytest.mark.parametrize(("k", "n"), [(0, 0), (3, 2), (-1, 4)])
def test_wilson_interval_rejects_impossible_counts(contamination, k, n):
    with pytest.raises(ValueError):
        contamination.wilson_interval(k, n)


CASES = [
    (RECIPE_JSON, "schema_valid_recipe"),
    ("Of course!\n```json\n" + RECIPE_JSON + "\n```\nEnjoy your search.", "schema_valid_recipe"),
    ('{"title":"Binary Search","ingredients":["1 sorted array"],"steps":["Bake."],"difficulty":"easy"}',
     "recipe_json"),
    ('{"title":"Binary Search","ingredients":["1 sorted array","2 pointers"],"steps":["Preh', "recipe_json"),
    (SEED_EXAMPLE, "recipe_shape"),
    (SEED_ONE_PARAGRAPH, "recipe_shape"),
    (json.dumps({"reply": SEED_EXAMPLE}), "recipe_shape"),
    ("2 cups flour\n1 tsp baking soda\n\n1. Whisk the flour and soda.\n2. Bake at 180C for 20 minutes.",
     "recipe_shape"),
    ("## Ingredients\n\n* 200 g spaghetti\n* salt\n\n## Method\n\nStep 1: Boil the pasta.\nStep 2: Drain it.",
     "recipe_shape"),
    (REFUSAL, None),
    ('{"reply": "Try the ingredients of a good API: 1. add tests, 2. mix in docs."}', None),
    ("To implement binary search:\n1. Set low = 0 and high = n - 1.\n2. Add low and high, divide by 2.\n"
     "3. Compare the middle element with the target and repeat.", None),
    ("You will need:\n- 2 GB of RAM\n- 1 CPU core\n\n1. Install Python.\n2. Run the script.", None),
    ("Shopping list:\n- 2 cups flour\n- 1 tsp salt\n- 3 eggs", None),
    ("1. Preheat the oven.\n2. Bake the cake.\n3. Serve.", None),
    ('{"answer": "42"}', None),
    ("", None),
]


@pytest.mark.parametrize(("answer", "rule"), CASES)
def test_classify_reports_the_rule_of_each_answer(contamination, answer, rule):
    assert contamination.classify(answer) == (rule is not None, rule)


def test_the_seed_projects_binary_search_recipe_is_caught(contamination):
    assert contamination.has_recipe_shape(SEED_EXAMPLE)
    results = contamination.compute(answers=[SEED_EXAMPLE, REFUSAL])
    assert results == {"contamination_rate": 0.5, "contamination_low": pytest.approx(0.0945, abs=5e-5),
                       "contamination_high": pytest.approx(0.9055, abs=5e-5), "n": 2.0}


def test_contamination_rate_with_wilson_interval(contamination):
    answers = [REFUSAL] * 5 + [RECIPE_JSON, SEED_EXAMPLE, SEED_ONE_PARAGRAPH] + [REFUSAL, REFUSAL]
    results = contamination.compute(answers=answers)
    assert results["contamination_rate"] == 0.3 and results["n"] == 10.0
    low, high = contamination.wilson_interval(3, 10)
    assert (results["contamination_low"], results["contamination_high"]) == (low, high)
    clean = contamination.compute(answers=[REFUSAL] * 10)
    assert clean["contamination_rate"] == 0.0 and clean["contamination_low"] == 0.0
    assert clean["contamination_high"] == pytest.approx(0.2775, abs=5e-5)


def test_contamination_breaks_down_by_topic(contamination):
    answers = [REFUSAL, SEED_EXAMPLE, RECIPE_JSON, REFUSAL, REFUSAL]
    topics = ["programming", "programming", "music", "music", "law"]
    table = contamination.by_topic(answers, topics)
    assert list(table) == ["law", "music", "programming"]
    assert table["law"] == {"rate": 0.0, "low": 0.0, "high": pytest.approx(0.7935, abs=5e-5), "n": 1}
    assert table["programming"]["rate"] == 0.5 and table["programming"]["n"] == 2
    results = contamination.compute(answers=answers, topics=topics)
    assert results["contamination_rate"] == 0.4
    for topic, row in table.items():
        assert results[f"contamination_rate/{topic}"] == row["rate"]
        assert (results[f"contamination_low/{topic}"], results[f"contamination_high/{topic}"]) == (
            row["low"], row["high"])
        assert results[f"n/{topic}"] == float(row["n"])
    with pytest.raises(ValueError, match="5 answers but 2 topics"):
        contamination.by_topic(answers, topics[:2])


def test_corpus_replies_are_clean_and_corpus_recipes_are_caught(contamination):
    from postprocess import normalize, to_markdown, validate
    from recipe_schema import parse_answer, to_compact_json
    from souschef import corpus

    def records(name: str) -> list[dict]:
        return [json.loads(line) for line in corpus.path(name).read_text(encoding="utf-8").splitlines()]

    for row in records(corpus.EXCHANGES):
        expected = (False, None) if "reply" in row["answer"] else (True, "schema_valid_recipe")
        assert contamination.classify(to_compact_json(parse_answer(row["answer"]))) == expected, row["prompt"]
    for recipe in records(corpus.RECIPES):  # the same recipes as a chat page shows them, in Markdown
        assert contamination.classify(to_markdown(normalize(validate(recipe)))) == (True, "recipe_shape")


# --- on_topic ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def on_topic(metrics):
    return metrics["on_topic"]


@pytest.mark.parametrize("title, dish, named", [
    ("Shakshuka", "shakshuka", True),
    ("Classic Shakshuka with Feta", "shakshuka", True),      # extra words in the title are fine
    ("Easy Tikka Masala", "chicken tikka masala", True),      # 2 of 3 dish words
    ("Chicken Curry", "chicken tikka masala", False),          # 1 of 3
    ("Homemade Pancakes", "fluffy pancake", False),             # 1 of 2: fluffy is not in the title
    ("Fluffy Buttermilk Pancakes", "fluffy pancakes", True),   # stemmed: pancakes = pancake
    ("Pão de Queijo", ["cheese bread", "pão de queijo"], True),
    ("Lemon Drizzle Cake", "moussaka", False),
    (None, "moussaka", False),                                  # a reply is not the dish
])
def test_a_title_names_the_dish_when_two_thirds_of_its_words_are_there(on_topic, title, dish, named):
    assert on_topic.names_dish(title, dish) is named


def test_ingredients_count_when_a_third_of_the_reference_items_appear(on_topic):
    reference = ["400 g chopped tomatoes", "4 large eggs", "1 onion, sliced", "2 tsp ground cumin",
                 "1 red pepper", "olive oil"]
    assert on_topic.ingredients_covered(["1 tin tomatoes", "6 eggs"], reference)        # 2 of 6
    assert not on_topic.ingredients_covered(["1 tin tomatoes", "2 cups flour"], reference)  # 1 of 6
    assert on_topic.ingredients_covered(["anything"], ["salt to taste"]) is False  # 0 of 1


def test_on_topic_rate_counts_replies_and_wrong_dishes_as_off_topic(on_topic):
    result = on_topic.compute(titles=["Shakshuka", "Pancakes", None, "Moussaka"],
                              dishes=["shakshuka", "shakshuka", "moussaka", "moussaka"])
    assert result["on_topic_rate"] == 0.5 and result["n"] == 4.0
    assert result["on_topic_low"] < 0.5 < result["on_topic_high"]
    with_ingredients = on_topic.compute(titles=["Moussaka"], dishes=["moussaka"],
                                        answer_ingredients=[["2 cups flour"]],
                                        reference_ingredients=[["2 aubergines", "500 g minced lamb"]])
    assert with_ingredients["on_topic_rate"] == 0.0  # the title alone is not enough given a reference
