"""The shared statistics are arithmetic alone, and the suite scores through the metrics' compute."""

from __future__ import annotations

import subprocess
import sys

import pytest

from evaluation.intervals import aggregate, proportion, rates_by, wilson_interval


def test_the_statistics_module_imports_neither_evaluate_nor_datasets():
    code = ("import sys, evaluation.intervals, evaluation.scoring\n"
            "print(sorted(m for m in ('evaluate', 'datasets', 'torch') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_a_rate_carries_its_wilson_interval_and_groups_come_sorted():
    assert proportion([True, False, False, False]) == {"rate": 0.25, **dict(zip(("low", "high"),
                                                        wilson_interval(1, 4), strict=True)), "n": 4}
    assert list(rates_by([True, False, True], ["b", "a", "b"])) == ["a", "b"]
    assert rates_by([True, False, True], ["b", "a", "b"])["b"]["rate"] == 1.0


def test_a_paired_bootstrap_resamples_pairs_together():
    same = aggregate({"d": [0.1, 0.1, 0.1]}, bootstrap_samples=200, seed=1)
    assert same["d_low"] == pytest.approx(0.1) and same["d_high"] == pytest.approx(0.1)


def test_the_suite_scores_through_each_metric_s_compute(monkeypatch):
    from evaluation import scoring

    calls = []
    for name in ("recipe_rouge", "contamination", "on_topic"):
        loaded = scoring.metric(name)
        original = loaded.compute

        def compute(*args, _name=name, _original=original, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(loaded, "compute", compute)
    from recipe_schema import Recipe

    toast = Recipe(title="Toast", ingredients=["2 slices bread"], steps=["Toast the bread."])
    assert scoring.rouge_scores([toast], [toast], ("steps",))["steps_rougeL"] == [1.0]
    assert scoring.contamination_verdicts(['{"reply": "No."}', None]) == [(False, None), (False, None)]
    dishes = ["toast", ["toast", "pain grillé"]]  # a dish given as several spellings
    assert scoring.on_topic_verdicts(["Buttered Toast", None], dishes) == [True, False]
    assert calls == ["recipe_rouge", "contamination", "on_topic"]
