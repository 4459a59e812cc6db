"""The evaluation suite: one model, held-out recipes and prompt sets in, a report out.

``run_suite(SuiteConfig(model="runs/tiny"))`` generates, as a user would get them
(through the domain guard unless ``guard=False``), answers to

- the held-out recipes, under two protocols: *title -> recipe* (the question "How do
  I make TITLE?") and *title + ingredients -> steps* (the same question, with the
  answer's title and ingredient lines forced as its beginning, so the model writes
  only the steps);
- the off-domain prompts (is the answer a recipe? per topic, and on topics absent
  from the training exchanges);
- the in-domain prompts (is a cooking question refused with a reply?);

and scores them: ROUGE per field with bootstrap intervals, contamination and
false-refusal rates with Wilson intervals, validity, completion, calls and tokens
per recipe, latency. Baselines on the same held-out recipes go in the same report:
the nearest training recipe by title (and by title + ingredients for the steps
protocol), and the ingredient lines copied as steps.

Every score is a fraction in [0, 1]. The report is a plain dict (``report.json``);
``evaluation.report.write_report`` writes it with the per-sample records, Markdown
and plots. With a fixed seed two runs differ only in their timings
(``TIMING_METRICS``, ``timings``, and each sample's ``latency_s``).
"""
from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from recipe_schema import Recipe, UsageError, to_compact_json

from .config import LABELS, QUESTION, REPORT_FORMAT, ROUGE_TYPES, SETS, TIMING_METRICS, SuiteConfig
from .intervals import rates_by
from .scoring import (
    baseline_scores,
    baselines,
    contamination_verdicts,
    differences,
    estimate,
    means,
    nearest,
    on_topic_verdicts,
    rate,
    rouge_scores,
)
from .sets import Sets, load_sets


class _Progress:
    """A stderr progress bar (tqdm), or nothing."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def bar(self, total: int, desc: str) -> Any:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit="answer", file=sys.stderr, disable=not self.enabled,
                    dynamic_ncols=True)


def _forced_prefix(recipe: Recipe) -> str:
    """The answer's beginning for the steps protocol: title and ingredients, then ``"steps":[``."""
    text = to_compact_json(Recipe(title=recipe.title, ingredients=recipe.ingredients, steps=["x"]))
    return text[: text.index('"steps":[') + len('"steps":[')]


def run_suite(config: SuiteConfig, *, progress: bool = True,
              generator: Any | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run the evaluation; returns ``(report, samples)``.

    Parameters
    ----------
    config
        What to evaluate.
    progress
        Show progress bars on stderr.
    generator
        A ``generation.RecipeGenerator`` to use instead of loading ``config.model``.

    Raises
    ------
    ModelLoadError, InputFileError, DataError, UsageError
        A model or data file that cannot be used.
    """
    started = time.perf_counter()
    sets = load_sets(config)
    if generator is None:
        from generation import RecipeGenerator

        generator = RecipeGenerator.from_pretrained(config.model, guard=config.guard, weights=config.weights)
    bars = _Progress(progress)
    settings: dict[str, Any] = {"temperature": config.temperature,
                                "max_total_tokens": config.max_total_tokens}
    for name in ("repetition_penalty", "no_repeat_ngram", "jump_forward"):  # else the model's own defaults
        if getattr(config, name) is not None:
            settings[name] = getattr(config, name)

    # One stream of jobs, so that a finished row's slot goes to the next job whatever its set:
    # recipes first, the short off-domain replies last to fill the batch's tail.
    # Job ``i`` of a set samples with seed ``config.seed + i``, as when each set ran alone.
    groups: list[list[tuple[str, str | None]]] = [
        [(QUESTION.format(title=r.title), None) for r in sets.heldout],  # 1. title -> recipe
        [(QUESTION.format(title=r.title), _forced_prefix(r)) for r in sets.heldout],  # 2. + ingredients
        [(item["prompt"], None) for item in sets.indomain],  # 3. in-domain prompts
        [(item["prompt"], None) for item in sets.offdomain],  # 4. off-domain prompts
    ]
    jobs = [(prompt, prefix, config.seed + i) for group in groups for i, (prompt, prefix) in enumerate(group)]
    with bars.bar(len(jobs), "answers") as bar:
        rows, generation_s = _answer_all(generator, config, settings, jobs, bar)
    title_rows, steps_rows, in_rows, off_rows = _split(rows, [len(g) for g in groups])

    title_preds = [r["_answer"] if r["answer_kind"] == "recipe" else None for r in title_rows]
    title_scores = rouge_scores(title_preds, sets.heldout)
    steps_preds = [r["_answer"] if r["answer_kind"] == "recipe" else None for r in steps_rows]
    steps_scores = {k.replace("steps_", "steps_given_ingredients_", 1): v
                    for k, v in rouge_scores(steps_preds, sets.heldout, ("steps",)).items()}

    verdicts = contamination_verdicts([row["output"] if row["finished"] else None for row in off_rows])
    for row, item, verdict in zip(off_rows, sets.offdomain, verdicts, strict=True):
        row["topic"] = item["topic"]
        row["contaminated"], row["rule"] = verdict

    for row, item in zip(in_rows, sets.indomain, strict=True):
        row["topic"] = item["topic"]
        row["refused"] = row["answer_kind"] != "recipe"
        if "dish" in item:
            row["dish"] = item["dish"]
    dish_rows = [row for row in in_rows if "dish" in row]
    for row, flag in zip(dish_rows, on_topic_verdicts([_title(r) for r in dish_rows],
                                                      [r["dish"] for r in dish_rows]), strict=True):
        row["on_topic"] = flag

    # on topic: only answers written freely (never the steps protocol, whose title is forced)
    written = [row["_answer"] if row["answer_kind"] == "recipe" else None for row in title_rows]
    flags = on_topic_verdicts([_title(row) for row in title_rows], [r.title for r in sets.heldout],
                              [w.ingredients if w else [] for w in written],
                              [r.ingredients for r in sets.heldout])
    for row, flag in zip(title_rows, flags, strict=True):
        row["on_topic"] = flag

    all_rows = title_rows + steps_rows + off_rows + in_rows
    latencies = [r["latency_s"] for r in all_rows]
    metrics: dict[str, Any] = {k: estimate(None, None, None, 0, "fraction", k) for k in _SCORED}
    metrics.update(means(title_scores, config))
    metrics.update(means(steps_scores, config))
    metrics["contamination"] = rate([r["contaminated"] for r in off_rows], "contamination")
    metrics["contamination_unseen"] = rate(
        [r["contaminated"] for r in off_rows if r["topic"] not in sets.seen_topics], "contamination_unseen")
    metrics["false_refusal"] = rate([r["refused"] for r in in_rows], "false_refusal")
    metrics["on_topic_heldout"] = rate([r["on_topic"] for r in title_rows], "on_topic_heldout")
    metrics["on_topic_dish"] = rate([r["on_topic"] for r in in_rows if "on_topic" in r], "on_topic_dish")
    metrics["validity"] = rate([r["valid"] for r in all_rows], "validity")
    metrics["completion"] = rate([r["finished"] for r in all_rows], "completion")
    recipes_made = [r for r in title_rows if r["answer_kind"] == "recipe"]
    metrics.update(means({"calls_per_recipe": [float(r["calls"]) for r in recipes_made],
                          "tokens_per_recipe": [float(r["tokens"]) for r in recipes_made]},
                         config, {"calls_per_recipe": "calls", "tokens_per_recipe": "tokens"}))
    n = len(latencies)
    metrics["latency_p50"] = estimate(_percentile(latencies, 50), None, None, n, "seconds", "latency_p50")
    metrics["latency_p95"] = estimate(_percentile(latencies, 95), None, None, n, "seconds", "latency_p95")
    total_tokens = sum(r["tokens"] for r in all_rows)
    metrics["tokens_per_second"] = estimate(total_tokens / generation_s if generation_s else 0.0, None, None,
                                             total_tokens, "tokens/s", "tokens_per_second")

    rates = rates_by([r["contaminated"] for r in off_rows], [r["topic"] for r in off_rows])
    by_topic = {topic: {**s, "recipes": round(s["rate"] * s["n"]),
                        "seen_in_training": topic in sets.seen_topics} for topic, s in rates.items()}

    samples = _samples(sets, title_rows, title_scores, steps_rows, steps_scores, off_rows, in_rows)
    base = baseline_scores(sets.heldout, sets.train)
    report = {
        "format": REPORT_FORMAT,
        "model": _model_info(config.model or "(the shipped assistant)", generator),
        "config": {**{k: v for k, v in asdict(config).items() if k not in ("model", "heldout", "offdomain",
                                                                            "indomain", "train")}},
        "data": sets.files,
        "versions": _versions(),
        "git_commit": _git_commit(),
        "metrics": metrics,
        "baselines": {name: means(scores, config) for name, scores in base.items()},
        "differences": differences({**title_scores, **steps_scores}, base, config),
        "contamination_by_topic": by_topic,
        "timings": {"total_s": time.perf_counter() - started, "generation_s": generation_s,
                    "started": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")},
    }
    return report, samples


def _answer_all(generator: Any, config: SuiteConfig, settings: dict[str, Any],
                jobs: list[tuple[str, str | None, int]], bar: Any) -> tuple[list[dict[str, Any]], float]:
    """Answers to ``(prompt, forced prefix or None, seed)`` jobs, in order, ``config.batch_size`` at
    a time, and the seconds they took (each prompt's start, its guard and prompt pass included).

    A forced prefix (the steps protocol) is the answer's beginning, its budget
    ``max_total_tokens`` beyond it; it is forced unless the schema refuses its tokenization
    (then the model writes the whole answer). Each job starts (its prompt pass, the guard's
    routing) only as a place in the batch frees up, and its ``latency_s`` is its time in the
    batch, from entering to leaving.
    """
    for prompt, _, _ in jobs:  # a prompt the model cannot answer fails now, not mid-run
        generator.check_prompt(prompt)
    forced: list[bool | None] = []

    def states() -> Iterator[Any]:
        for prompt, prefix, seed in jobs:
            state = generator.start(prompt, **{**settings, "seed": seed, **(
                {} if prefix is None else {"mode": "recipe"})})
            ok = None
            if prefix is not None:
                ids = generator.tokenizer(prefix, add_special_tokens=False)["input_ids"]
                state = generator.with_settings(state, max_total_tokens=config.max_total_tokens + len(ids))
                replayed = generator.check(state).replay(ids)
                ok = replayed is not None
                if replayed is not None:
                    state.generated_ids, state.grammar_state = list(ids), replayed
            forced.append(ok)
            yield state

    rows: list[dict[str, Any]] = [{} for _ in jobs]

    def done(i: int, result: Any, seconds: float) -> None:
        kind = None if result.answer is None else ("recipe" if isinstance(result.answer, Recipe) else "reply")
        rows[i] = {"prompt": jobs[i][0], "output": result.text, "answer_kind": kind,
                   "finished": result.finished, "valid": _valid(result.text), "calls": result.calls,
                   "tokens": result.tokens,
                   "latency_s": seconds, "guard_score": getattr(result, "guard_score", None),
                   **({} if forced[i] is None else {"forced_prefix": forced[i]}), "_answer": result.answer}
        bar.update()

    t0 = time.perf_counter()
    generator.continue_batch([], later=states(), batch_size=config.batch_size,
                             max_new_tokens_per_call=config.max_new_tokens_per_call, on_done=done)
    return rows, time.perf_counter() - t0


def _split(rows: list[dict[str, Any]], sizes: list[int]) -> list[list[dict[str, Any]]]:
    """``rows`` cut into consecutive parts of ``sizes``."""
    parts, start = [], 0
    for size in sizes:
        parts.append(rows[start:start + size])
        start += size
    return parts


def _valid(text: str) -> bool:
    """The answer text validates against the full schema (Recipe or Reply)."""
    from recipe_schema import InvalidRecipeError, validate_answer

    try:
        validate_answer(json.loads(text), raw=text)
        return True
    except (InvalidRecipeError, ValueError):
        return False


def _percentile(values: Sequence[float], q: float) -> float | None:
    """numpy's (linear) percentile, or None without values."""
    import numpy as np

    return float(np.percentile(values, q)) if len(values) else None


def _samples(sets: Sets, title_rows: list[dict[str, Any]], title_scores: dict[str, list[float]],
             steps_rows: list[dict[str, Any]], steps_scores: dict[str, list[float]],
             off_rows: list[dict[str, Any]], in_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for name, rows, scores, protocol in (("heldout", title_rows, title_scores, "title_to_recipe"),
                                         ("heldout", steps_rows, steps_scores, "title_ingredients_to_steps")):
        for i, row in enumerate(rows):
            clean = {k: v for k, v in row.items() if not k.startswith("_")}
            out.append({"set": name, "protocol": protocol, "index": i, **clean,
                        "reference": sets.heldout[i].model_dump(mode="json", exclude_none=True),
                        "scores": {k: v[i] for k, v in scores.items()}})
    for name, rows in (("offdomain", off_rows), ("indomain", in_rows)):
        for i, row in enumerate(rows):
            out.append({"set": name, "index": i, **{k: v for k, v in row.items() if not k.startswith("_")}})
    return out


def _model_info(path: str, generator: Any) -> dict[str, Any]:
    from generation.int8 import weight_count, weights_of

    model = generator.model
    return {"path": path, "id": generator.model_id,
            "parameters": weight_count(model), "weights": weights_of(model),
            "n_positions": generator.n_positions,
            "guard": getattr(generator, "guard", None) is not None}


def _versions() -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in ("souschef", "torch", "transformers", "outlines_core", "evaluate", "rouge_score", "numpy"):
        try:
            out[name] = metadata.version(name.replace("_", "-"))
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _git_commit() -> str | None:
    """The commit of the souschef checkout this runs from, if it is one."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                              capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def check_gates(report: dict[str, Any], under: dict[str, float], over: dict[str, float]) -> list[str]:
    """The failed gates, as lines: ``--fail-under`` needs value >= threshold, ``--fail-over`` value <= it.

    Gate names are keys of ``report["metrics"]``; an unknown name is a ``UsageError``.

    >>> report = {"metrics": {"rougeL": {"value": 0.1}, "contamination": {"value": 0.01}}}
    >>> check_gates(report, {"rougeL": 0.15}, {"contamination": 0.05})
    ['rougeL = 0.1000 is under 0.15']
    """
    metrics = report["metrics"]
    for name in [*under, *over]:
        if name not in metrics:
            known = ", ".join(sorted(metrics))
            raise UsageError(f"unknown gate {name!r}; gates are the report's metrics: {known}")
    failed = []
    for name, threshold in under.items():
        value = metrics[name]["value"]
        if value is None:
            failed.append(f"{name} has no samples to compare with {threshold:g}")
        elif not value >= threshold:
            failed.append(f"{name} = {value:.4f} is under {threshold:g}")
    for name, threshold in over.items():
        value = metrics[name]["value"]
        if value is None:
            failed.append(f"{name} has no samples to compare with {threshold:g}")
        elif not value <= threshold:
            failed.append(f"{name} = {value:.4f} is over {threshold:g}")
    return failed


def _title(row: dict[str, Any]) -> str | None:
    """The title of a row's answer when it is a recipe."""
    answer = row.get("_answer")
    return answer.title if row["answer_kind"] == "recipe" and answer is not None else None


# Metric keys that are in every report, with no samples when their set was not run.
_SCORED = ("contamination", "contamination_unseen", "false_refusal", "on_topic_heldout", "on_topic_dish",
           "validity", "completion")

__all__ = ["LABELS", "REPORT_FORMAT", "ROUGE_TYPES", "SETS", "TIMING_METRICS", "Sets", "SuiteConfig",
           "baselines", "check_gates", "load_sets", "nearest", "rouge_scores", "run_suite"]
