"""The evaluation suite end to end on a tiny model, its baselines, gates and determinism."""
from __future__ import annotations

import json
import math

import pytest

from evaluation.suite import (
    LABELS,
    TIMING_METRICS,
    SuiteConfig,
    _forced_prefix,
    _percentile,
    baselines,
    check_gates,
    load_sets,
    nearest,
    rouge_scores,
    run_suite,
)
from recipe_schema import DataError, InputFileError, Recipe, UsageError

TOAST = Recipe(title="Butter toast", ingredients=["2 slices bread", "1 tbsp butter"],
               steps=["Toast the bread.", "Spread the butter."])
SOUP = Recipe(title="Tomato soup", ingredients=["6 tomatoes", "1 onion"],
              steps=["Chop the onion.", "Simmer with the tomatoes."])


def test_a_missing_prediction_scores_zero_and_an_exact_one_scores_one():
    scores = rouge_scores([TOAST, None], [TOAST, TOAST])
    assert scores["rougeL"] == [1.0, 0.0] and scores["steps_rouge2"] == [1.0, 0.0]
    assert set(scores) == {k for k in LABELS if k.startswith(("rouge", "ingredients_", "steps_rouge"))}


def test_nearest_recipe_baseline_retrieves_by_title_and_copying_ingredients_scores_their_overlap():
    config = SuiteConfig(model="unused", bootstrap=0)
    result = baselines([TOAST], [SOUP, TOAST.model_copy(update={"title": "Toast with butter"})], config)
    assert result["nearest_title"]["rougeL"]["value"] < 1  # the title differs, the rest matches
    assert result["nearest_title"]["steps_rougeL"]["value"] == 1.0
    assert result["nearest_title_ingredients"]["steps_given_ingredients_rougeL"]["value"] == 1.0
    copied = result["ingredients_as_steps"]["steps_given_ingredients_rouge1"]["value"]
    # by hand: 6 tokens each ("2 slices bread 1 tbsp butter" / "toast the bread spread the butter"),
    # 2 shared ("bread", "butter"): P = R = F1 = 1/3
    assert copied == pytest.approx(1 / 3)


def test_nearest_breaks_ties_by_order():
    assert nearest("pancakes", ["waffles", "crepes"]) == 0
    assert nearest("lemon cake", ["apple cake", "lemon cake"]) == 1


def test_percentile_interpolates_like_numpy():
    assert _percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert math.isclose(_percentile([1.0, 2.0, 3.0, 4.0], 95), 3.85)


def test_gates_compare_point_estimates_and_reject_unknown_names():
    report = {"metrics": {"rougeL": {"value": 0.2}, "contamination": {"value": 0.06}}}
    assert check_gates(report, {"rougeL": 0.15}, {}) == []
    assert check_gates(report, {}, {"contamination": 0.05}) == ["contamination = 0.0600 is over 0.05"]
    with pytest.raises(UsageError, match="unknown gate"):
        check_gates(report, {"bleu": 0.1}, {})


def test_the_forced_prefix_is_the_answer_up_to_its_steps():
    prefix = _forced_prefix(TOAST.model_copy(update={"servings": 2}))
    assert prefix == '{"title":"Butter toast","ingredients":["2 slices bread","1 tbsp butter"],"steps":['


def test_bad_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        run_suite(SuiteConfig(model="unused", offdomain=str(tmp_path / "missing.jsonl")), progress=False,
                  generator=object())
    bad = tmp_path / "off.jsonl"
    bad.write_text('{"prompt": "ok", "topic": "x"}\n{"topic": "x"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"off.jsonl:2: missing key 'prompt'"):
        run_suite(SuiteConfig(model="unused", offdomain=str(bad)), progress=False, generator=object())
    long = tmp_path / "long.jsonl"
    long.write_text(json.dumps({"prompt": "why " * 3000}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"long.jsonl:1: prompt is too long \(12000 characters; the limit is"):
        run_suite(SuiteConfig(model="unused", indomain=str(long)), progress=False, generator=object())
    with pytest.raises(UsageError):
        SuiteConfig(model="x", limit=0)


def test_invalid_held_out_records_are_named_not_dropped_in_silence(tmp_path, caplog):
    heldout = tmp_path / "heldout.jsonl"
    heldout.write_text(json.dumps(TOAST.model_dump(exclude_none=True)) + "\n"
                       + json.dumps({"title": "No steps", "ingredients": ["x"]}) + "\n{not json\n",
                       encoding="utf-8")
    with caplog.at_level("WARNING", logger="souschef.evaluation"):
        sets = load_sets(SuiteConfig(model="unused", heldout=str(heldout)))
    assert [r.title for r in sets.heldout] == ["Butter toast"]
    assert [r.getMessage() for r in caplog.records] == [
        f"skipped {heldout}:2: no steps (or recipeInstructions / directions)",
        f"skipped {heldout}:3: invalid JSON: Expecting property name enclosed in double quotes (column 2)"]


def _quick(tiny_path: str, **more) -> SuiteConfig:
    return SuiteConfig(**{"model": tiny_path, "limit": 2, "max_total_tokens": 48,
                          "max_new_tokens_per_call": 32, "bootstrap": 50, **more})


def _without_timings(report: dict, samples: list[dict]) -> tuple[dict, list[dict]]:
    report = json.loads(json.dumps(report))
    report.pop("timings")
    for key in TIMING_METRICS:
        report["metrics"].pop(key)
    return report, [{k: v for k, v in s.items() if k != "latency_s"} for s in samples]


@pytest.mark.slow
def test_the_suite_runs_end_to_end_and_twice_gives_the_same_report(tiny):
    path, generator = tiny
    report, samples = run_suite(_quick(str(path)), progress=False, generator=generator)
    metrics = report["metrics"]
    assert set(metrics) == set(LABELS)
    for key, entry in metrics.items():
        if entry["unit"] == "fraction" and entry["n"]:
            assert 0 <= entry["value"] <= 1, key
            assert entry["low"] is None or entry["low"] <= entry["value"] <= entry["high"], key
    assert metrics["completion"]["value"] == 1.0 and metrics["validity"]["value"] == 1.0
    assert metrics["contamination"]["n"] == 2 and metrics["false_refusal"]["n"] == 2
    assert metrics["on_topic_heldout"]["n"] == 2 and metrics["on_topic_dish"]["n"] == 2  # both name a dish
    assert set(report["differences"]) == {"rougeL", "steps_given_ingredients_rougeL"}
    assert {"nearest_title", "nearest_title_ingredients", "ingredients_as_steps"} <= set(report["baselines"])
    assert [s["set"] for s in samples] == ["heldout"] * 4 + ["offdomain"] * 2 + ["indomain"] * 2
    steps = [s for s in samples if s.get("protocol") == "title_ingredients_to_steps"]
    # the steps protocol hands the model the reference's title and ingredients
    assert all(s["forced_prefix"] and s["output"].startswith(_forced_prefix(Recipe(**s["reference"])))
               for s in steps)
    assert report["data"]["heldout"]["sha256"] and report["versions"]["torch"]
    again = run_suite(_quick(str(path)), progress=False, generator=generator)
    assert _without_timings(report, samples) == _without_timings(*again)


def test_a_run_with_int8_weights_says_so_in_its_report(tiny):
    report, samples = run_suite(_quick(str(tiny[0]), weights="int8", guard=False, sets=("heldout",)),
                                progress=False)
    assert report["model"]["weights"] == "int8" and report["config"]["weights"] == "int8"
    assert report["model"]["parameters"] == sum(p.numel() for p in tiny[1].model.parameters())
    assert report["metrics"]["validity"]["value"] == 1.0 and len(samples) == 4
    again = run_suite(_quick(str(tiny[0]), weights="int8", guard=False, sets=("heldout",)), progress=False)
    assert _without_timings(report, samples) == _without_timings(*again)  # the same flags, the same run


@pytest.mark.slow
def test_batched_answers_give_the_report_of_one_after_another(tiny64):
    # one stream over all four sets: at batch 3 rows of different sets share forward passes,
    # each sampling from its own seed
    serial, batched = (run_suite(_quick("tiny", batch_size=size, limit=3, temperature=0.8), progress=False,
                                 generator=tiny64) for size in (1, 3))
    (a, a_samples), (b, b_samples) = _without_timings(*serial), _without_timings(*batched)
    assert a["config"].pop("batch_size") == 1 and b["config"].pop("batch_size") == 3
    assert a == b and a_samples == b_samples
    assert a["metrics"]["validity"]["n"] == 12 and a["metrics"]["validity"]["value"] == 1.0


@pytest.mark.slow
def test_a_set_run_alone_gives_the_answers_it_gets_among_all(tiny64):
    # answer i of a set samples with seed + i, wherever the set sits in the stream
    config = {"limit": 2, "batch_size": 3, "temperature": 0.8}
    _, alone = run_suite(_quick("tiny", sets=("offdomain",), **config), progress=False, generator=tiny64)
    _, among = run_suite(_quick("tiny", **config), progress=False, generator=tiny64)
    off = [s for s in among if s["set"] == "offdomain"]
    assert [s["output"] for s in alone] == [s["output"] for s in off] and len(off) == 2


def test_a_prompt_the_model_cannot_read_is_refused_before_any_decoding(tiny, tmp_path, monkeypatch):
    _, generator = tiny
    monkeypatch.setattr(generator, "continue_batch", lambda *a, **k: pytest.fail("it decoded"))
    off = tmp_path / "off.jsonl"
    off.write_text(json.dumps({"prompt": "what is " * 100, "topic": "x"}) + "\n", encoding="utf-8")
    with pytest.raises(UsageError, match="no room left for an answer"):
        run_suite(_quick("tiny", offdomain=str(off)), progress=False, generator=generator)


@pytest.mark.slow
def test_the_cli_writes_the_report_and_gates_set_the_exit_code(tiny, cli, tmp_path):
    path, _ = tiny
    out = tmp_path / "report"
    common = ["evaluate", "--model", str(path), "--out", str(out), "--limit", "1", "--max-total-tokens", "40",
              "--no-guard", "-q"]
    code, stdout, stderr = cli([*common, "--fail-over", "contamination=1", "--fail-under", "validity=1"])
    assert code == 0, stderr
    assert all((out / name).is_file() for name in ("report.json", "samples.jsonl", "report.md"))
    assert "contamination" in stdout
    code, _, stderr = cli([*common, "--fail-under", "rougeL=1.01", "--json"])
    assert code == 1 and "gate failed: rougeL" in stderr
    code, _, stderr = cli([*common, "--fail-under", "bleu=0.1"])
    assert code == 2 and "unknown metric 'bleu'" in stderr
    code, stdout, _ = cli(["report", "compare", str(out), str(out / "report.json")])
    assert code == 0 and "rougeL" in stdout


def test_the_difference_to_the_best_baseline_is_paired_recipe_by_recipe():
    from evaluation.scoring import differences

    config = SuiteConfig(model=None, bootstrap=200)
    model = {"rougeL": [0.5, 0.6, 0.7]}
    base = {"weak": {"rougeL": [0.1, 0.1, 0.1]}, "strong": {"rougeL": [0.4, 0.5, 0.6]}}
    d = differences(model, base, config)["rougeL"]
    assert d["baseline"] == "strong" and d["n"] == 3
    assert abs(d["difference"] - 0.1) < 1e-12
    assert abs(d["low"] - 0.1) < 1e-12 and abs(d["high"] - 0.1) < 1e-12  # every pair differs by 0.1


def test_a_prompt_set_may_name_each_prompts_dish(tmp_path):
    from evaluation.sets import _load_prompts

    good = tmp_path / "in.jsonl"
    good.write_text('{"prompt": "Moussaka?", "dish": "moussaka"}\n{"prompt": "Dinner?"}\n'
                    '{"prompt": "Pao?", "dish": ["cheese bread", "pão de queijo"]}\n', encoding="utf-8")
    rows = _load_prompts(str(good), "cooking")
    assert [r.get("dish") for r in rows] == ["moussaka", None, ["cheese bread", "pão de queijo"]]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "Soup?", "dish": ""}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.jsonl:1: dish must be"):
        _load_prompts(str(bad), "cooking")


def test_the_shipped_in_domain_set_names_the_dish_of_most_prompts():
    from souschef import corpus
    rows = corpus.rows(corpus.EVAL_INDOMAIN)
    assert sum("dish" in r for r in rows) >= 40


@pytest.mark.slow
def test_a_run_of_some_sets_leaves_the_others_without_samples(tiny):
    path, generator = tiny
    report, samples = run_suite(_quick(str(path), sets=("offdomain",)), progress=False, generator=generator)
    metrics = report["metrics"]
    assert metrics["contamination"]["n"] == 2
    assert metrics["false_refusal"]["n"] == 0 and metrics["false_refusal"]["value"] is None
    assert metrics["on_topic_heldout"]["n"] == 0 and "rougeL" not in metrics
    assert {s["set"] for s in samples} == {"offdomain"} and report["differences"] == {}
    assert "heldout" not in report["data"] and "train" not in report["data"]
    with pytest.raises(UsageError, match="sets must be some of"):
        SuiteConfig(model=None, sets=("heldout", "recipes"))
