"""Comparing two reports: differences are b - a, missing metrics are shown, settings listed."""
from __future__ import annotations

import copy
import json

import pytest

from evaluation.compare import compare_reports, format_comparison, paired_differences
from evaluation.report import REPORT_FORMAT, load_report, write_report


def entry(value, low=None, high=None, unit="fraction", label="a score", n=20):
    return {"value": value, "low": low, "high": high, "n": n, "unit": unit, "label": label}


@pytest.fixture
def a() -> dict:
    return {
        "format": REPORT_FORMAT,
        "model": {"path": "runs/tiny", "id": "sha256:aaaa", "parameters": 1000, "n_positions": 128},
        "config": {"limit": 20, "seed": 0, "guard": True},
        "data": {"heldout": {"path": "/home/a/heldout.jsonl", "sha256": "h1", "records": 23}},
        "versions": {"souschef": "0.1.0", "torch": "2.13.0"},
        "git_commit": "c128012",
        "metrics": {
            "rougeL": entry(0.20, 0.18, 0.22),
            "contamination": entry(0.10, 0.05, 0.15),
            "tokens_per_recipe": entry(500.0, 480.0, 520.0, unit="tokens"),
            "latency_p50": entry(2.0, unit="seconds"),
            "validity": entry(0.9, 0.8, 0.95),
        },
        "timings": {"total_s": 10.0, "generation_s": 9.0, "started": "2026-11-25T09:00:00Z"},
    }


@pytest.fixture
def b(a) -> dict:
    b = copy.deepcopy(a)
    b["model"].update(path="runs/other", id="sha256:bbbb")
    b["config"]["seed"] = 1
    b["data"]["heldout"]["path"] = "/home/b/heldout.jsonl"  # another machine, same file
    b["metrics"]["rougeL"] = entry(0.25, 0.23, 0.27)
    b["metrics"]["contamination"] = entry(0.08, 0.04, 0.13)
    b["metrics"]["tokens_per_recipe"] = entry(450.0, 430.0, 470.0, unit="tokens")
    b["metrics"]["latency_p50"] = entry(1.5, unit="seconds")
    del b["metrics"]["validity"]
    b["metrics"]["completion"] = entry(0.95, 0.9, 1.0)
    b["timings"]["total_s"] = 99.0
    return b


def test_differences_are_b_minus_a(a, b):
    metrics = compare_reports(a, b)["metrics"]
    assert metrics["rougeL"]["difference"] == pytest.approx(0.05)
    assert metrics["contamination"]["difference"] == pytest.approx(-0.02)
    assert metrics["tokens_per_recipe"]["difference"] == pytest.approx(-50.0)
    assert (metrics["rougeL"]["a"], metrics["rougeL"]["b"]) == (0.20, 0.25)


def test_overlap_says_whether_the_intervals_meet(a, b):
    metrics = compare_reports(a, b)["metrics"]
    assert metrics["rougeL"]["overlap"] is False  # [0.18, 0.22] vs [0.23, 0.27]
    assert metrics["contamination"]["overlap"] is True
    assert metrics["latency_p50"]["overlap"] is None  # no intervals


def test_a_metric_in_one_report_only_is_missing_on_the_other_side(a, b):
    metrics = compare_reports(a, b)["metrics"]
    assert metrics["validity"] | {"a_interval": None} == {
        "a": 0.9, "b": None, "difference": None, "overlap": None, "present": "a", "a_interval": None,
        "b_interval": None, "unit": "fraction", "label": "a score"}
    assert metrics["completion"]["present"] == "b" and metrics["completion"]["a"] is None
    text = format_comparison(compare_reports(a, b), "A", "B")
    validity = next(line for line in text.splitlines() if line.startswith("| validity "))
    completion = next(line for line in text.splitlines() if line.startswith("| completion "))
    assert [c.strip() for c in validity.strip("|").split("|")] == [
        "validity", "%", "90.0 [80.0, 95.0]", "missing", "-", "-"]
    assert [c.strip() for c in completion.strip("|").split("|")][2:4] == ["missing", "95.0 [90.0, 100.0]"]


def test_every_metric_of_either_report_is_listed_in_display_order(a, b):
    keys = list(compare_reports(a, b)["metrics"])
    assert keys == ["rougeL", "contamination", "validity", "completion", "tokens_per_recipe", "latency_p50"]


def test_differs_lists_model_config_and_data_hashes_but_not_paths_of_data_or_timings(a, b):
    differs = compare_reports(a, b)["differs"]
    assert differs == [
        {"field": "model.id", "a": "sha256:aaaa", "b": "sha256:bbbb"},
        {"field": "model.path", "a": "runs/tiny", "b": "runs/other"},
        {"field": "config.seed", "a": 0, "b": 1},
    ]


def test_differs_notices_a_changed_data_hash_version_and_commit(a):
    b = copy.deepcopy(a)
    b["data"]["heldout"]["sha256"] = "h2"
    b["versions"]["torch"] = "2.11.0"
    b["git_commit"] = None
    fields = [d["field"] for d in compare_reports(a, b)["differs"]]
    assert fields == ["git_commit", "data.heldout.sha256", "versions.torch"]


def test_a_report_compared_with_itself_has_zero_differences(a):
    result = compare_reports(a, copy.deepcopy(a))
    assert result["differs"] == []
    assert all(m["difference"] == 0 for m in result["metrics"].values())
    assert "Same model, config, data, library versions and commit." in format_comparison(result, "A", "B")


def test_comparison_is_plain_json(a, b):
    result = compare_reports(a, b)
    assert json.loads(json.dumps(result, allow_nan=False)) == result


def test_format_comparison_shows_fractions_x100_and_signed_differences(a, b):
    text = format_comparison(compare_reports(a, b), "runs/a", "runs/b")
    lines = text.splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == ["metric", "unit", "runs/a", "runs/b", "runs/b - runs/a", "intervals overlap"]
    rouge_line = next(line for line in lines if line.startswith("| rougeL "))
    rouge = [c.strip() for c in rouge_line.strip("|").split("|")]
    assert rouge == ["rougeL", "%", "20.0 [18.0, 22.0]", "25.0 [23.0, 27.0]", "+5.0", "no"]
    tokens = next(line for line in lines if line.startswith("| tokens_per_recipe "))
    assert "-50.0" in tokens and "| tokens " in tokens
    assert "| model.id " in text and "sha256:bbbb" in text
    assert "latency_p50" in next(line for line in lines if line.startswith("Measured on the clock"))


def test_format_comparison_columns_line_up(a, b):
    text = format_comparison(compare_reports(a, b), "A", "B")
    table = [line for line in text.splitlines() if line.startswith("|")][:8]
    assert len({len(line) for line in table}) == 1


def test_reports_with_no_metrics_compare_without_failing():
    empty = {"format": REPORT_FORMAT, "metrics": {}}
    result = compare_reports(empty, dict(empty))
    assert result["metrics"] == {}
    assert "No metrics in either report." in format_comparison(result, "A", "B")


def test_compare_works_on_reports_read_back_from_disk(tmp_path, a, b):
    write_report(tmp_path / "a", a, [])
    write_report(tmp_path / "b", b, [])
    result = compare_reports(load_report(tmp_path / "a"), load_report(tmp_path / "b" / "report.json"))
    assert result == compare_reports(a, b)


def test_cli_compare_of_a_report_whose_metric_is_text_is_one_line_exit_2(cli, tmp_path, a):
    write_report(tmp_path / "a", a, [])
    broken = copy.deepcopy(a)
    broken["metrics"]["rougeL"]["value"] = "0.25"
    (tmp_path / "b.json").write_text(json.dumps(broken))
    code, out, err = cli(["report", "compare", str(tmp_path / "a"), str(tmp_path / "b.json")])
    assert (code, out) == (2, "")
    assert err == (f'souschef: error: {tmp_path / "b.json"}: not a souschef report '
                   '(metrics.rougeL.value is "0.25", not a number)\n')


def _samples(scores, outputs=None):
    outputs = outputs or ["x"] * len(scores)
    return [{"set": "heldout", "protocol": "title_to_recipe", "index": i, "prompt": f"p{i}", "output": o,
             "scores": {"rougeL": s}} for i, (s, o) in enumerate(zip(scores, outputs, strict=True))]


def test_paired_differences_pair_the_same_prompts_and_test_their_differences():
    a = _samples([0.1, 0.2, 0.3, 0.4], ["x", "y", "z", "w"])
    b = _samples([0.2, 0.3, 0.4, 0.5], ["x", "y", "other", "w"])
    b.append({"set": "heldout", "protocol": "title_to_recipe", "index": 9, "prompt": "only b",
              "scores": {"rougeL": 1.0}})  # answered by one run only: not a pair
    b[3]["prompt"] = "another question"  # same index, another prompt (other data): not a pair
    a[0]["scores"]["valid"] = b[0]["scores"]["valid"] = True  # a flag, not a score
    result = paired_differences(a, b, bootstrap=200)
    assert (result["pairs"], result["same_output"]) == (3, 2) and "valid" not in result["scores"]
    d = result["scores"]["rougeL"]
    assert d["n"] == 3 and d["difference"] == pytest.approx(0.1)
    assert d["low"] == pytest.approx(0.1) and d["high"] == pytest.approx(0.1)  # every pair moved by 0.1
    noisy = paired_differences(_samples([0.1, 0.5, 0.2, 0.6]), _samples([0.3, 0.2, 0.4, 0.5]), bootstrap=500)
    n = noisy["scores"]["rougeL"]
    assert n["low"] < 0 < n["high"] and n["low"] < n["difference"] < n["high"]


def test_cli_compare_pairs_the_prompts_when_both_folders_hold_samples(cli, tmp_path, a, b):
    write_report(tmp_path / "a", a, _samples([0.1, 0.2, 0.3]))
    write_report(tmp_path / "b", b, _samples([0.2, 0.3, 0.35]))
    code, out, _ = cli(["report", "compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json"])
    paired = json.loads(out)["paired"]
    assert code == 0 and paired["pairs"] == 3
    assert paired["scores"]["rougeL"]["difference"] == pytest.approx(0.25 / 3)
    code, out, _ = cli(["report", "compare", str(tmp_path / "a"), str(tmp_path / "b")])
    assert "Paired, on the 3 prompts both answered (3 with the same text)" in out
    (tmp_path / "b" / "samples.jsonl").unlink()
    code, out, err = cli(["report", "compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json"])
    assert code == 0 and "paired" not in json.loads(out)
    assert f"no paired differences: {tmp_path / 'b'} has no samples.jsonl" in err


def test_cli_compare_with_a_broken_samples_line_is_one_line_exit_2(cli, tmp_path, a, b):
    write_report(tmp_path / "a", a, _samples([0.1]))
    write_report(tmp_path / "b", b, _samples([0.2]))
    with open(tmp_path / "b" / "samples.jsonl", "a") as f:
        f.write("[1, 2]\n")
    code, out, err = cli(["report", "compare", str(tmp_path / "a"), str(tmp_path / "b")])
    assert (code, out) == (2, "")
    assert err == f'souschef: error: {tmp_path / "b" / "samples.jsonl"}:2: not a sample (not a JSON object)\n'
