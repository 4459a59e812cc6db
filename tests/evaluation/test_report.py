"""Report folders: written atomically and reproducibly, read back strictly, rendered for people."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from evaluation.plots import PLOTS, plot_contamination_by_topic
from evaluation.report import (
    REPORT_FORMAT,
    REPORT_JSON,
    REPORT_MD,
    SAMPLES_JSONL,
    load_report,
    render_markdown,
    write_report,
)
from recipe_schema import InputFileError


def entry(value, low=None, high=None, n=23, unit="fraction", label="a score"):
    return {"value": value, "low": low, "high": high, "n": n, "unit": unit, "label": label}


def make_report() -> dict:
    return {
        "format": REPORT_FORMAT,
        "model": {"path": "runs/tiny", "id": "sha256:ab12cd", "parameters": 1412352, "n_positions": 256},
        "config": {"limit": 20, "seed": 0, "guard": True, "max_total_tokens": 2048,
                   "max_new_tokens_per_call": 256, "temperature": 0.0, "bootstrap": 1000},
        "data": {"heldout": {"path": "corpus/heldout.jsonl", "sha256": "d0e1", "records": 23},
                 "offdomain": {"path": "corpus/offdomain.jsonl", "sha256": "f2a3", "records": 132}},
        "versions": {"souschef": "0.1.0", "python": "3.11.9", "torch": "2.13.0"},
        "git_commit": "c128012",
        "metrics": {
            "rougeL": entry(0.213, 0.18, 0.24, label="ROUGE-L F1, title -> recipe"),
            "rouge1": entry(0.4, 0.35, 0.45),
            "steps_given_ingredients_rougeL": entry(0.3, 0.25, 0.35),
            "contamination": entry(0.02, 0.004, 0.07, n=132,
                                   label="off-domain prompts answered with a recipe"),
            "validity": entry(1.0, 0.85, 1.0),
            "tokens_per_recipe": entry(512.0, 480.1, 540.2, unit="tokens", label="tokens per recipe"),
            "latency_p50": entry(1.94, n=215, unit="seconds", label="median seconds per answer"),
        },
        "baselines": {
            "nearest_title": {"rougeL": entry(0.157, 0.12, 0.19), "rouge1": entry(0.33, 0.3, 0.36)},
            "ingredients_as_steps": {"steps_given_ingredients_rougeL": entry(0.111, 0.09, 0.13)},
        },
        "contamination_by_topic": {
            "programming": {"n": 7, "recipes": 1, "rate": 0.143, "low": 0.026, "high": 0.513,
                            "seen_in_training": True},
            "taxes": {"n": 5, "recipes": 0, "rate": 0.0, "low": 0.0, "high": 0.434,
                      "seen_in_training": False},
        },
        "timings": {"total_s": 93.2, "generation_s": 80.1, "started": "2026-11-25T09:00:00Z"},
    }


def make_samples() -> list[dict]:
    samples = []
    for i, score in enumerate([0.5, 0.1, 0.9, 0.3, 0.05, 0.7, 0.2]):
        samples.append({
            "set": "heldout", "protocol": "title_to_recipe", "index": i, "prompt": f"How do I make dish {i}?",
            "output": json.dumps({"title": f"Generated {i}", "ingredients": ["salt"] * 60,
                                  "steps": ["Cook."]}),
            "answer_kind": "recipe", "finished": True, "valid": True,
            "reference": {"title": f"Reference {i}", "ingredients": ["1 egg"], "steps": ["Boil it."]},
            "scores": {"rougeL": score}, "calls": 1, "tokens": 100, "latency_s": 0.5,
        })
    samples.append({"set": "offdomain", "index": 0, "prompt": "Sort a list?", "topic": "programming",
                     "output": '{"reply":"I only cook."}', "answer_kind": "reply", "contaminated": False,
                     "rule": None, "guard_score": 0.03})
    return samples


@pytest.fixture
def report() -> dict:
    return make_report()


@pytest.fixture
def samples() -> list[dict]:
    return make_samples()


def test_write_report_writes_every_file_and_returns_their_paths(tmp_path, report, samples):
    paths = write_report(tmp_path / "out" / "run", report, samples)
    names = {p.name for p in paths.values()}
    assert names == {REPORT_JSON, SAMPLES_JSONL, REPORT_MD, *PLOTS}
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths.values())
    assert sorted(p.name for p in (tmp_path / "out" / "run").iterdir()) == sorted(names)  # no temp files left
    for plot in PLOTS:
        assert (tmp_path / "out" / "run" / plot).read_bytes().startswith(b"\x89PNG")


def test_report_json_is_indented_sorted_and_round_trips(tmp_path, report, samples):
    paths = write_report(tmp_path, report, samples)
    text = paths["report"].read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert text == json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert load_report(tmp_path) == report
    assert load_report(paths["report"]) == report


def test_samples_jsonl_keeps_the_order_given(tmp_path, report, samples):
    paths = write_report(tmp_path, report, samples)
    lines = paths["samples"].read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == samples


def test_writing_twice_gives_identical_markdown_and_png_bytes(tmp_path, report, samples):
    first = write_report(tmp_path / "a", report, samples)
    second = write_report(tmp_path / "b", copy.deepcopy(report), copy.deepcopy(samples))
    for key in first:
        assert first[key].read_bytes() == second[key].read_bytes(), key


def test_png_files_do_not_record_software_or_dates(tmp_path, report, samples):
    paths = write_report(tmp_path, report, samples)
    data = paths["metrics_plot"].read_bytes()
    assert b"matplotlib" not in data.lower()
    assert b"tIME" not in data


def test_write_report_replaces_an_existing_report(tmp_path, report, samples):
    write_report(tmp_path, report, samples)
    report["metrics"]["rougeL"]["value"] = 0.5
    write_report(tmp_path, report, samples[:1])
    assert load_report(tmp_path)["metrics"]["rougeL"]["value"] == 0.5
    assert len((tmp_path / SAMPLES_JSONL).read_text(encoding="utf-8").splitlines()) == 1


def test_write_report_writes_nan_as_null_so_the_json_is_strict(tmp_path, report, samples):
    report["metrics"]["contamination_unseen"] = entry(float("nan"), n=0)  # a rate over no prompts
    samples[0]["scores"]["rougeL"] = float("inf")
    paths = write_report(tmp_path, report, samples)
    assert "NaN" not in paths["report"].read_text(encoding="utf-8")
    assert "Infinity" not in paths["samples"].read_text(encoding="utf-8")
    assert load_report(tmp_path)["metrics"]["contamination_unseen"]["value"] is None
    line = next(x for x in paths["markdown"].read_text(encoding="utf-8").splitlines()
                if x.startswith("| contamination_unseen "))
    assert [c.strip() for c in line.strip("|").split("|")][1:4] == ["-", "-", "0"]


def test_write_report_refuses_objects_json_cannot_hold_before_writing_anything(tmp_path, report, samples):
    report["config"]["train"] = {"a", "b"}
    with pytest.raises(ValueError, match="not plain JSON"):
        write_report(tmp_path / "out", report, samples)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_write_report_refuses_a_dict_that_is_not_a_report(tmp_path, samples):
    with pytest.raises(ValueError, match="format"):
        write_report(tmp_path, {"metrics": {}}, samples)


def test_markdown_shows_fractions_x100_and_other_units_plainly(report, samples):
    md = render_markdown(report, samples)
    assert "| rougeL " in md
    assert "21.3" in md and "[18.0, 24.0]" in md  # 0.213 with its interval, x100
    assert "| 2.0 " in md and "[0.4, 7.0]" in md  # contamination 0.02 (0.004-0.07)
    assert "512.0" in md and "[480.1, 540.2]" in md  # tokens are not x100
    assert "1.94" in md  # seconds are not x100
    assert "0.213" not in md


def test_markdown_summarises_model_data_versions_and_commit(report, samples):
    md = render_markdown(report, samples)
    for text in ("runs/tiny", "sha256:ab12cd", "1,412,352 parameters", "c128012", "torch 2.13.0",
                 "seed=0", "guard=true", "d0e1", "corpus/heldout.jsonl"):
        assert text in md, text


def test_markdown_rouge_table_puts_baselines_beside_the_model(report, samples):
    md = render_markdown(report, samples)
    header = next(line for line in md.splitlines() if line.startswith("| metric (%)"))
    assert [c.strip() for c in header.strip("|").split("|")] == [
        "metric (%)", "model", "nearest title", "nearest title+ingredients", "ingredients as steps"]
    row = next(line for line in md.splitlines() if line.startswith("| rougeL ") and "15.7" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells == ["rougeL", "21.3 [18.0, 24.0]", "15.7 [12.0, 19.0]", "", ""]
    row = next(line for line in md.splitlines() if line.startswith("| steps_given_ingredients_rougeL ")
               and "11.1" in line)
    assert [c.strip() for c in row.strip("|").split("|")][2:] == ["", "", "11.1 [9.0, 13.0]"]


def test_markdown_marks_unseen_topics(report, samples):
    md = render_markdown(report, samples)
    taxes = next(line for line in md.splitlines() if line.startswith("| taxes "))
    programming = next(line for line in md.splitlines() if line.startswith("| programming "))
    assert "unseen" in taxes and "unseen" not in programming
    assert "14.3" in programming and "[2.6, 51.3]" in programming


def test_markdown_shows_best_and_worst_three_heldout_examples(report, samples):
    md = render_markdown(report, samples)
    best = md.index("### Best 1: rougeL 90.0% (held-out #2)")
    assert best < md.index("### Best 2: rougeL 70.0% (held-out #5)") < md.index("### Best 3: rougeL 50.0%")
    assert md.index("### Worst 1: rougeL 5.0% (held-out #4)") < md.index("### Worst 3: rougeL 20.0%")
    assert "### Worst 4" not in md and "held-out #3)" not in md  # 0.3 is neither best 3 nor worst 3
    assert "Reference 2" in md and "How do I make dish 2?" in md
    assert "characters in all)" in md  # long outputs are shortened
    assert md.count("Generated 2") == 1


def test_markdown_is_deterministic_and_keeps_timings_at_the_end(report, samples):
    md = render_markdown(report, samples)
    assert md == render_markdown(copy.deepcopy(report), copy.deepcopy(samples))
    body, clock = md.split("\n---\n")
    assert "93.2" not in body and "1.94" not in body and "latency_p50" not in body
    assert "93.2" in clock and "latency_p50" in clock and "2026-11-25T09:00:00Z" in clock
    report["timings"]["total_s"] = 1.0
    report["metrics"]["latency_p50"]["value"] = 9.0
    assert render_markdown(report, samples).split("\n---\n")[0] == body


def test_markdown_lists_the_plots(report, samples):
    md = render_markdown(report, samples)
    for plot in PLOTS:
        assert f"({plot})" in md


def test_markdown_of_a_sparse_report_does_not_fail():
    sparse = {"format": REPORT_FORMAT, "metrics": {}}
    md = render_markdown(sparse, [])
    assert "No ROUGE scores" in md and "No off-domain topics" in md and "No scored held-out samples" in md
    assert "Commit:** not recorded" in md


def test_contamination_plot_without_topics_is_still_written(tmp_path):
    path = plot_contamination_by_topic({"format": REPORT_FORMAT, "metrics": {}}, tmp_path / "c.png")
    assert path.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "no such file"),
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "not a souschef report"),
        (b'{"format": "other/1"}', "not a souschef report"),
        (b'{"format": "souschef-report/9", "metrics": {}}', "not supported"),
        (b'{"format": "souschef-report/1"}', "no \"metrics\""),
        # a metric `report compare` and the Markdown compute with, edited into something else
        (b'{"format": "souschef-report/1", "metrics": {"rougeL": {"value": "0.3"}}}',
         'metrics.rougeL.value is "0.3", not a number'),
        (b'{"format": "souschef-report/1", "metrics": {"rougeL": "high"}}',
         'metrics.rougeL is "high", not an object'),
        (b'{"format": "souschef-report/1", "metrics": {"rougeL": {"value": 0.3, "low": true}}}',
         "metrics.rougeL.low is true, not a number"),
        (b'{"format": "souschef-report/1", "metrics": {"rougeL": {"value": NaN}}}',
         "metrics.rougeL.value is NaN, not a number"),
        (b'{"format": "souschef-report/1", "metrics": {"rougeL": {"value": 0.3, "n": 2.5}}}',
         "metrics.rougeL.n is 2.5, not a whole number"),
        (b'{"format": "souschef-report/1", "metrics": {"rougeL": {"value": 0.3, "unit": ["%"]}}}',
         'metrics.rougeL.unit is ["%"], not text'),
    ],
)
def test_load_report_errors_are_one_line_input_file_errors(tmp_path, content, reason):
    path = tmp_path / "report.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputFileError) as info:
        load_report(path)
    message = str(info.value)
    assert reason in message and "\n" not in message and message.startswith(str(path))
    assert info.value.exit_code == 2


def test_load_report_of_a_folder_without_report_json_says_so(tmp_path):
    with pytest.raises(InputFileError, match="no report.json"):
        load_report(tmp_path)


def test_load_report_accepts_a_string_path(tmp_path, report, samples):
    write_report(tmp_path, report, samples)
    assert load_report(str(tmp_path))["model"]["id"] == "sha256:ab12cd"


def test_write_report_into_a_path_under_a_file_is_an_input_file_error(tmp_path, report, samples):
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(InputFileError):
        write_report(blocker / "out", report, samples)


def test_markdown_keeps_backticks_in_outputs_inside_the_code_block(report, samples):
    samples[2]["output"] = "```json\n{}\n```"
    md = render_markdown(report, samples)
    assert "````\n```json\n{}\n```\n````" in md


def test_report_path_objects_are_paths(tmp_path, report, samples):
    paths = write_report(str(tmp_path), report, samples)
    assert all(isinstance(p, Path) for p in paths.values())
