"""An evaluation report for people: ``report.md``, and the number formats ``compare`` shares.

Fractions are shown x100 with one decimal, other units plainly; tables are Markdown whose
columns line up in plain text too. ``render_markdown`` is deterministic: the same report
and samples give the same text, and what is measured on the clock is in its last section.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .config import LABELS, TIMING_METRICS

# Display order of the suite's metric keys; keys not listed follow, sorted.
METRIC_ORDER = tuple(LABELS)
# Measured on the clock, so they vary between runs of the same seed: shown apart.
TIMED_METRICS = frozenset(TIMING_METRICS)
# (report key, column heading) in the order of the ROUGE table; unknown baselines follow.
BASELINES = (
    ("nearest_title", "nearest title"),
    ("nearest_title_ingredients", "nearest title+ingredients"),
    ("ingredients_as_steps", "ingredients as steps"),
)
EXAMPLES = 3  # best and worst held-out examples shown
EXCERPT_CHARS = 300  # generated text shown per example
UNIT_LABELS = {"fraction": "%", "seconds": "s"}


# -- formatting, shared with evaluation.compare ------------------------------------------


def ordered_keys(metrics: dict[str, Any]) -> list[str]:
    """The keys of ``metrics`` in display order: ``METRIC_ORDER`` first, then the rest sorted.

    >>> ordered_keys({"zeta": 1, "validity": 1, "rouge1": 1})
    ['rouge1', 'validity', 'zeta']
    """
    known = [k for k in METRIC_ORDER if k in metrics]
    return known + sorted(k for k in metrics if k not in METRIC_ORDER)


def is_rouge(key: str) -> bool:
    """Whether a metric key is a ROUGE score (``rougeL``, ``steps_rouge2``, ...)."""
    return key.startswith("rouge") or "_rouge" in key


def is_timed(key: str, entry: dict[str, Any]) -> bool:
    """Whether a metric is measured on the clock (varies between runs of one seed)."""
    return key in TIMED_METRICS or entry.get("unit") == "seconds"


def format_number(value: float | None, unit: str | None) -> str:
    """A metric value for people: fractions x100 to one decimal, other units plainly.

    >>> format_number(0.213, "fraction"), format_number(1.94, "seconds"), format_number(512.0, "tokens")
    ('21.3', '1.94', '512.0')
    >>> format_number(None, "fraction")
    '-'
    """
    if value is None:
        return "-"
    if unit == "fraction":
        return f"{value * 100:.1f}"
    return f"{value:#.3g}" if abs(value) < 10 else f"{value:.1f}"


def format_interval(entry: dict[str, Any]) -> str:
    """``[low, high]`` in the entry's unit, or ``-`` when the entry has no interval."""
    low, high, unit = entry.get("low"), entry.get("high"), entry.get("unit")
    if low is None or high is None:
        return "-"
    return f"[{format_number(low, unit)}, {format_number(high, unit)}]"


def unit_label(unit: str | None) -> str:
    """The unit as a table shows it: ``%`` for fractions (values x100)."""
    return UNIT_LABELS.get(unit or "", unit or "")


# -- Markdown -----------------------------------------------------------------------------


def _cell(text: Any) -> str:
    """Text that stays inside one Markdown table cell (or one line), read as plain text.

    >>> _cell("ROUGE-L F1, title -> recipe | *all*")
    'ROUGE-L F1, title -> recipe \\\\| \\\\*all\\\\*'
    """
    return re.sub(r"([\\`*\[\]<|])", r"\\\1", " ".join(str(text).split()))


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table whose columns line up in plain text too.

    >>> print("\\n".join(markdown_table(["key", "value"], [["seed", "0"]])))
    | key  | value |
    |------|-------|
    | seed | 0     |
    """
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)]


def _value_and_interval(entry: dict[str, Any] | None) -> str:
    if not entry:
        return ""
    interval = format_interval(entry)
    value = format_number(entry.get("value"), entry.get("unit"))
    return value if interval == "-" else f"{value} {interval}"


def _metric_rows(metrics: dict[str, Any], keys: list[str]) -> list[list[str]]:
    return [[k, format_number(m.get("value"), m.get("unit")), format_interval(m), str(m.get("n", "")),
             unit_label(m.get("unit")), _cell(m.get("label", ""))]
            for k, m in ((k, metrics[k]) for k in keys)]


def _summary(report: dict[str, Any]) -> list[str]:
    model = report.get("model", {})
    facts = [f"`{_cell(model.get('path', '?'))}`", f"id `{model.get('id', '?')}`"]
    if model.get("parameters") is not None:
        facts.append(f"{model['parameters']:,} parameters")
    if model.get("n_positions") is not None:
        facts.append(f"context {model['n_positions']} tokens")
    known = ("path", "id", "parameters", "n_positions")
    facts += [f"{k}={json.dumps(v)}" for k, v in sorted(model.items()) if k not in known]
    config = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(report.get("config", {}).items()))
    versions = ", ".join(f"{k} {v}" for k, v in sorted(report.get("versions", {}).items()))
    out = [f"- **Model:** {', '.join(facts)}",
           f"- **Commit:** {report.get('git_commit') or 'not recorded'}",
           f"- **Config:** {config or 'not recorded'}",
           f"- **Versions:** {versions or 'not recorded'}", "", "## Data", ""]
    data = report.get("data", {})
    rows = [[name, str(d.get("records", "")), f"`{d.get('sha256', '')}`", f"`{_cell(d.get('path', ''))}`"]
            for name, d in sorted(data.items())]
    out += markdown_table(["set", "records", "sha256", "path"], rows) if data else ["No data recorded."]
    return out


def _rouge_table(report: dict[str, Any]) -> list[str]:
    metrics, baselines = report.get("metrics", {}), report.get("baselines", {})
    names = [n for n, _ in BASELINES] + sorted(n for n in baselines if n not in dict(BASELINES))
    heads = dict(BASELINES)
    every = [*metrics, *(k for b in baselines.values() for k in b)]
    keys = ordered_keys({k: 0 for k in every if is_rouge(k)})
    if not keys:
        return ["No ROUGE scores in this report."]
    rows = [[k, _value_and_interval(metrics.get(k)),
             *(_value_and_interval(baselines.get(n, {}).get(k)) for n in names)] for k in keys]
    header = ["metric (%)", "model", *(heads.get(n, n.replace("_", " ")) for n in names)]
    note = "Values x100 with their 95% intervals; blank: the baseline does not answer that protocol."
    return markdown_table(header, rows) + ["", note]


def _difference_table(report: dict[str, Any]) -> list[str]:
    differences = report.get("differences") or {}
    if not differences:
        return ["No held-out recipes and baselines in this report."]
    rows = [[key, d["baseline"].replace("_", " "),
             _value_and_interval({"value": d["difference"], "low": d.get("low"), "high": d.get("high"),
                                  "unit": "fraction"}), str(d.get("n", ""))]
            for key, d in sorted(differences.items())]
    note = ("Model minus the best baseline on the same held-out recipes, x100, with a paired bootstrap "
            "95% interval (recipes resampled with their pair of scores).")
    return markdown_table(["metric", "best baseline", "difference (%)", "n"], rows) + ["", note]


def _topic_table(report: dict[str, Any]) -> list[str]:
    topics = report.get("contamination_by_topic") or {}
    if not topics:
        return ["No off-domain topics in this report."]
    rows = []
    for name in sorted(topics):
        t = topics[name]
        entry = {"low": t.get("low"), "high": t.get("high"), "unit": "fraction"}
        seen = {True: "yes", False: "**no (unseen)**"}.get(t.get("seen_in_training"), "?")
        rows.append([_cell(name), str(t.get("n", "")), str(t.get("recipes", "")),
                     format_number(t.get("rate"), "fraction"), format_interval(entry), seen])
    return markdown_table(["topic", "n", "recipes", "rate (%)", "95% interval", "seen in training"], rows) + [
        "", "Unseen: no prompt of that topic is in the training data."]


def _reference_title(reference: Any) -> str:
    from pydantic import ValidationError

    from recipe_schema import Recipe

    try:
        return Recipe.model_validate(reference).title
    except ValidationError:
        return "(reference is not a valid recipe)"


def _excerpt(text: str) -> str:
    if len(text) <= EXCERPT_CHARS:
        return text
    return text[:EXCERPT_CHARS] + f"… ({len(text)} characters in all)"


def _example(rank: str, sample: dict[str, Any]) -> list[str]:
    text = _excerpt(str(sample.get("output", "")))
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", text)), default=0))
    return [f"### {rank}: rougeL {format_number(sample['scores']['rougeL'], 'fraction')}%"
            f" (held-out #{sample.get('index', '?')})", "",
            f"- **Prompt:** {_cell(sample.get('prompt', ''))}",
            f"- **Reference:** {_cell(_reference_title(sample.get('reference')))}", "",
            fence, text, fence, ""]


def _examples(samples: list[dict[str, Any]]) -> list[str]:
    scored = [s for s in samples if s.get("set") == "heldout"
              and s.get("protocol", "title_to_recipe") == "title_to_recipe"
              and isinstance(s.get("scores", {}).get("rougeL"), (int, float))]
    if not scored:
        return ["No scored held-out samples."]
    ranked = sorted(scored, key=lambda s: (-s["scores"]["rougeL"], s.get("index", 0)))
    best = ranked[:EXAMPLES]
    worst = [s for s in reversed(ranked) if not any(s is b for b in best)][:EXAMPLES]
    out: list[str] = []
    for n, s in enumerate(best, 1):
        out += _example(f"Best {n}", s)
    for n, s in enumerate(worst, 1):
        out += _example(f"Worst {n}", s)
    return out[:-1]


def render_markdown(report: dict[str, Any], samples: list[dict[str, Any]]) -> str:
    """The report for people: summary, metrics, ROUGE against baselines, topics, examples, plots.

    Deterministic: the same report and samples give the same text. What is measured on
    the clock (latency, throughput, wall-clock timings) is in the last section alone, so
    two runs of one seed differ only there.

    Parameters
    ----------
    report
        The report dict.
    samples
        The per-sample records (the best and worst held-out answers by rougeL are shown).

    Returns
    -------
    str
        Markdown text, ending with a newline.
    """
    from .plots import PLOTS

    metrics = report.get("metrics", {})
    keys = ordered_keys(metrics)
    fixed = [k for k in keys if not is_timed(k, metrics[k])]
    timed = [k for k in keys if is_timed(k, metrics[k])]
    header = ["metric", "value", "95% interval", "n", "unit", "what"]
    out = ["# souschef evaluation report", ""]
    out += _summary(report)
    out += ["", "## Metrics", "", "Fractions are shown x100 (unit %).", ""]
    out += markdown_table(header, _metric_rows(metrics, fixed)) if fixed else ["No metrics."]
    out += ["", "## ROUGE against baselines", ""] + _rouge_table(report)
    out += ["", "## Difference to the best baseline", ""] + _difference_table(report)
    out += ["", "## Contamination by topic", ""] + _topic_table(report)
    out += ["", "## Held-out examples (title -> recipe)", ""] + _examples(samples)
    out += ["", "## Plots", ""] + [f"- ![{Path(p).stem}]({p})" for p in PLOTS]
    out += ["", "---", "", "## Measured on the clock (varies between runs)", ""]
    if timed:
        out += markdown_table(header, _metric_rows(metrics, timed)) + [""]
    t = report.get("timings", {})
    out.append(f"Timings: total {format_number(t.get('total_s'), 'seconds')} s, generation "
               f"{format_number(t.get('generation_s'), 'seconds')} s, started {t.get('started', '-')}.")
    return "\n".join(out) + "\n"


__all__ = [
    "BASELINES",
    "METRIC_ORDER",
    "format_interval",
    "format_number",
    "is_rouge",
    "is_timed",
    "markdown_table",
    "ordered_keys",
    "render_markdown",
    "unit_label",
]
