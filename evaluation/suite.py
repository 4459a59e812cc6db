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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from recipe_schema import Recipe, UsageError, to_compact_json
from recipe_schema.limits import SETTINGS

from .sets import Sets, load_sets  # the inputs (sets imports this module only to type-check)

REPORT_FORMAT = "souschef-report/1"
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
TIMING_METRICS = ("latency_p50", "latency_p95", "tokens_per_second")
QUESTION = "How do I make {title}?"

# Where a metric key comes from, for the Markdown report and the docs.
LABELS = {
    "rouge1": "ROUGE-1 F1, title -> recipe (whole recipe)",
    "rouge2": "ROUGE-2 F1, title -> recipe (whole recipe)",
    "rougeL": "ROUGE-L F1, title -> recipe (whole recipe)",
    "rougeLsum": "ROUGE-Lsum F1, title -> recipe (whole recipe)",
    **{f"{f}_{t}": f"{t} F1 of the {f}, title -> recipe"
       for f in ("ingredients", "steps") for t in ROUGE_TYPES},
    **{f"steps_given_ingredients_{t}": f"{t} F1 of the steps, title + ingredients -> steps"
       for t in ROUGE_TYPES},
    "contamination": "off-domain prompts answered with a recipe",
    "contamination_unseen": "off-domain prompts answered with a recipe, topics absent from training",
    "false_refusal": "in-domain prompts answered with a reply instead of a recipe",
    "validity": "answers that validate against the recipe schema (all sets)",
    "completion": "answers finished within the token budget (all sets)",
    "calls_per_recipe": "generation calls per held-out recipe (title -> recipe)",
    "tokens_per_recipe": "tokens per held-out recipe (title -> recipe)",
    "latency_p50": "seconds per answer, median (all sets)",
    "latency_p95": "seconds per answer, 95th percentile (all sets)",
    "tokens_per_second": "generated tokens per second of generation (all sets)",
}


@dataclass
class SuiteConfig:
    """What to evaluate and how. Paths left ``None`` use the sets souschef ships.

    ``limit`` caps each set (the first N records); ``seed`` seeds sampling (when
    ``temperature`` > 0) and the bootstrap; ``train`` lists the recipe files the
    nearest-recipe baselines retrieve from (default: the shipped training recipes).
    """

    model: str
    heldout: str | None = None
    offdomain: str | None = None
    indomain: str | None = None
    train: list[str] = field(default_factory=list)
    limit: int | None = None
    seed: int = 0
    guard: bool = True
    temperature: float = 0.0
    max_total_tokens: int = 1024
    max_new_tokens_per_call: int = 256
    bootstrap: int = 1000

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise UsageError(f"limit must be at least 1, not {self.limit}")
        SETTINGS["temperature"].check("temperature", self.temperature)  # the range generate's flag has
        if self.max_total_tokens < 16 or self.max_new_tokens_per_call < 1:
            raise UsageError("max_total_tokens must be at least 16 and max_new_tokens_per_call at least 1")
        if self.bootstrap < 0:
            raise UsageError(f"bootstrap must be >= 0, not {self.bootstrap}")


# ------------------------------------------------------------------ scoring
def _estimate(value: float | None, low: float | None, high: float | None, n: int, unit: str,
              key: str) -> dict[str, Any]:
    return {"value": value, "low": low, "high": high, "n": n, "unit": unit, "label": LABELS.get(key, key)}


def _rate(flags: Sequence[bool], key: str) -> dict[str, Any]:
    from evaluation.metrics.contamination.contamination import wilson_interval

    n = len(flags)
    if not n:
        return _estimate(None, None, None, 0, "fraction", key)  # no samples: no estimate
    low, high = wilson_interval(sum(flags), n)
    return _estimate(sum(flags) / n, low, high, n, "fraction", key)


def _means(scores: dict[str, list[float]], config: SuiteConfig, units: dict[str, str]) -> dict[str, Any]:
    """Exact means with seeded bootstrap 95% intervals, as metric entries."""
    from evaluation.metrics.recipe_rouge.recipe_rouge import aggregate

    if not scores or not next(iter(scores.values())):
        return {}
    agg = aggregate(scores, bootstrap_samples=config.bootstrap, seed=config.seed)
    n = len(next(iter(scores.values())))
    return {k: _estimate(agg[k], agg.get(f"{k}_low"), agg.get(f"{k}_high"), n, units.get(k, "fraction"), k)
            for k in scores}


def rouge_scores(predictions: Sequence[Recipe | None], references: Sequence[Recipe],
                 fields: Sequence[str] = ("recipe", "ingredients", "steps"),
                 prefix: str = "") -> dict[str, list[float]]:
    """Per-sample ROUGE F1 by field; a missing prediction (a reply, an unfinished answer) scores 0.

    Keys: ``rouge1`` ... for the whole recipe, ``ingredients_rouge1`` ... and
    ``steps_rouge1`` ... for those fields, each behind ``prefix``.
    """
    from evaluation.metrics.recipe_rouge.recipe_rouge import per_sample_scores, recipe_fields

    out: dict[str, list[float]] = {}
    for name in fields:
        preds = [recipe_fields(p)[name] if p is not None else "" for p in predictions]
        refs = [recipe_fields(r)[name] for r in references]
        for rouge_type, values in per_sample_scores(preds, refs).items():
            key = rouge_type if name == "recipe" else f"{name}_{rouge_type}"
            out[prefix + key] = values
    return out


# ---------------------------------------------------------------- baselines
def _words(text: str) -> set[str]:
    from evaluation.metrics.recipe_rouge.recipe_rouge import tokenize

    return set(tokenize(text))


def nearest(query: str, candidates: Sequence[str]) -> int:
    """Index of the candidate sharing the most words with ``query`` (Dice); ties: the first.

    >>> nearest("Lemon tart", ["Apple pie", "Lemon drizzle cake", "Lemon tart with meringue"])
    2
    """
    q = _words(query)
    best, best_score = 0, -1.0
    for i, text in enumerate(candidates):
        c = _words(text)
        score = 2 * len(q & c) / (len(q) + len(c)) if q or c else 0.0
        if score > best_score:
            best, best_score = i, score
    return best


def baselines(heldout: Sequence[Recipe], train: Sequence[Recipe], config: SuiteConfig) -> dict[str, Any]:
    """Nearest training recipe by title / by title + ingredients, and ingredients copied as steps."""
    if not train:
        return {}
    titles = [r.title for r in train]
    with_ingredients = [r.title + "\n" + "\n".join(r.ingredients) for r in train]
    by_title = [train[nearest(r.title, titles)] for r in heldout]
    by_both = [train[nearest(r.title + "\n" + "\n".join(r.ingredients), with_ingredients)] for r in heldout]
    copied = [r.model_copy(update={"steps": list(r.ingredients)}) for r in heldout]
    steps_only = ("steps",)
    given = "steps_given_ingredients_"
    return {
        "nearest_title": _means(rouge_scores(by_title, heldout), config, {}),
        "nearest_title_ingredients": _means(
            {k.replace("steps_", given, 1): v for k, v in rouge_scores(by_both, heldout, steps_only).items()},
            config, {}),
        "ingredients_as_steps": _means(
            {k.replace("steps_", given, 1): v for k, v in rouge_scores(copied, heldout, steps_only).items()},
            config, {}),
    }


# ---------------------------------------------------------------- the run
class _Progress:
    """One stderr progress bar per set (tqdm), or nothing."""

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

        generator = RecipeGenerator.from_pretrained(config.model, guard=config.guard)
    bars = _Progress(progress)
    settings: dict[str, Any] = {"temperature": config.temperature,
                                "max_total_tokens": config.max_total_tokens}
    generation_s = 0.0

    def answer(prompt: str, index: int, prefix: str | None = None) -> dict[str, Any]:
        nonlocal generation_s
        t0 = time.perf_counter()
        seed = config.seed + index
        forced = None
        if prefix is None:
            result = generator.generate(prompt, max_new_tokens_per_call=config.max_new_tokens_per_call,
                                        seed=seed, **settings)
        else:
            result, forced = _generate_with_prefix(generator, prompt, prefix, config, seed)
        elapsed = time.perf_counter() - t0
        generation_s += elapsed
        kind = None if result.answer is None else ("recipe" if isinstance(result.answer, Recipe) else "reply")
        return {"prompt": prompt, "output": result.text, "answer_kind": kind, "finished": result.finished,
                "valid": _valid(result.text), "calls": result.calls, "tokens": result.tokens,
                "latency_s": elapsed, "guard_score": getattr(result, "guard_score", None),
                **({} if forced is None else {"forced_prefix": forced}), "_answer": result.answer}

    # 1. held-out recipes, title -> recipe
    title_rows = []
    with bars.bar(len(sets.heldout), "held-out recipes") as bar:
        for i, recipe in enumerate(sets.heldout):
            title_rows.append(answer(QUESTION.format(title=recipe.title), i))
            bar.update()
    title_preds = [r["_answer"] if r["answer_kind"] == "recipe" else None for r in title_rows]
    title_scores = rouge_scores(title_preds, sets.heldout)

    # 2. held-out recipes, title + ingredients -> steps
    steps_rows = []
    with bars.bar(len(sets.heldout), "held-out steps") as bar:
        for i, recipe in enumerate(sets.heldout):
            steps_rows.append(answer(QUESTION.format(title=recipe.title), i, _forced_prefix(recipe)))
            bar.update()
    steps_preds = [r["_answer"] if r["answer_kind"] == "recipe" else None for r in steps_rows]
    steps_scores = {k.replace("steps_", "steps_given_ingredients_", 1): v
                    for k, v in rouge_scores(steps_preds, sets.heldout, ("steps",)).items()}

    # 3. off-domain prompts
    from evaluation.metrics.contamination.contamination import classify, rates_by_topic

    off_rows = []
    with bars.bar(len(sets.offdomain), "off-domain prompts") as bar:
        for i, item in enumerate(sets.offdomain):
            row = answer(item["prompt"], i)
            row["topic"] = item["topic"]
            row["contaminated"], row["rule"] = classify(row["output"] if row["finished"] else None)
            off_rows.append(row)
            bar.update()

    # 4. in-domain prompts
    in_rows = []
    with bars.bar(len(sets.indomain), "in-domain prompts") as bar:
        for i, item in enumerate(sets.indomain):
            row = answer(item["prompt"], i)
            row["topic"] = item["topic"]
            row["refused"] = row["answer_kind"] != "recipe"
            in_rows.append(row)
            bar.update()

    all_rows = title_rows + steps_rows + off_rows + in_rows
    latencies = [r["latency_s"] for r in all_rows]
    metrics: dict[str, Any] = {}
    metrics.update(_means(title_scores, config, {}))
    metrics.update(_means(steps_scores, config, {}))
    metrics["contamination"] = _rate([r["contaminated"] for r in off_rows], "contamination")
    metrics["contamination_unseen"] = _rate(
        [r["contaminated"] for r in off_rows if r["topic"] not in sets.seen_topics], "contamination_unseen")
    metrics["false_refusal"] = _rate([r["refused"] for r in in_rows], "false_refusal")
    metrics["validity"] = _rate([r["valid"] for r in all_rows], "validity")
    metrics["completion"] = _rate([r["finished"] for r in all_rows], "completion")
    recipes_made = [r for r in title_rows if r["answer_kind"] == "recipe"]
    metrics.update(_means({"calls_per_recipe": [float(r["calls"]) for r in recipes_made],
                           "tokens_per_recipe": [float(r["tokens"]) for r in recipes_made]},
                          config, {"calls_per_recipe": "calls", "tokens_per_recipe": "tokens"}))
    n = len(latencies)
    metrics["latency_p50"] = _estimate(_percentile(latencies, 50), None, None, n, "seconds", "latency_p50")
    metrics["latency_p95"] = _estimate(_percentile(latencies, 95), None, None, n, "seconds", "latency_p95")
    total_tokens = sum(r["tokens"] for r in all_rows)
    metrics["tokens_per_second"] = _estimate(total_tokens / generation_s if generation_s else 0.0, None, None,
                                             total_tokens, "tokens/s", "tokens_per_second")

    rates = rates_by_topic([r["contaminated"] for r in off_rows], [r["topic"] for r in off_rows])
    by_topic = {topic: {**s, "recipes": round(s["rate"] * s["n"]),
                        "seen_in_training": topic in sets.seen_topics} for topic, s in rates.items()}

    samples = _samples(sets, title_rows, title_scores, steps_rows, steps_scores, off_rows, in_rows)
    report = {
        "format": REPORT_FORMAT,
        "model": _model_info(config.model, generator),
        "config": {**{k: v for k, v in asdict(config).items() if k not in ("model", "heldout", "offdomain",
                                                                            "indomain", "train")}},
        "data": sets.files,
        "versions": _versions(),
        "git_commit": _git_commit(),
        "metrics": metrics,
        "baselines": baselines(sets.heldout, sets.train, config),
        "contamination_by_topic": by_topic,
        "timings": {"total_s": time.perf_counter() - started, "generation_s": generation_s,
                    "started": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")},
    }
    return report, samples


def _generate_with_prefix(generator: Any, prompt: str, prefix: str, config: SuiteConfig,
                          seed: int) -> tuple[Any, bool]:
    """Generate a recipe whose answer begins with ``prefix`` (forced, then continued).

    The budget is ``max_total_tokens`` beyond the prefix. Returns the result and whether
    the prefix was forced (False only if the schema refused its tokenization; the model
    then writes the whole answer).
    """
    ids = generator.tokenizer(prefix, add_special_tokens=False)["input_ids"]
    state = generator.start(prompt, mode="recipe", seed=seed, temperature=config.temperature,
                            max_total_tokens=config.max_total_tokens + len(ids))
    grammar_state = generator.check(state).replay(ids)
    if grammar_state is not None:
        state.generated_ids = list(ids)
        state.grammar_state = grammar_state
    return generator.continue_(state, config.max_new_tokens_per_call), grammar_state is not None


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
    model = generator.model
    return {"path": path, "id": generator.model_id,
            "parameters": sum(p.numel() for p in model.parameters()),
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


__all__ = ["LABELS", "REPORT_FORMAT", "TIMING_METRICS", "SuiteConfig", "baselines", "check_gates",
           "load_sets",
           "nearest", "rouge_scores", "run_suite"]
