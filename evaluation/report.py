"""An evaluation report on disk: ``report.json``, ``samples.jsonl``, ``report.md`` and plots.

The report dict is what ``evaluation.suite`` returns (``format`` ``souschef-report/1``):
the model, the resolved config, the data files with their hashes, library versions, the
git commit, ``metrics`` (each an entry ``{"value", "low", "high", "n", "unit", "label"}``,
fractions in [0, 1]), ``baselines`` (entries of the same shape), ``contamination_by_topic``
and ``timings``. The samples are one dict per generated answer, in a fixed order.

Everything but the timings is deterministic for a fixed seed, and so is ``report.md``
above its last section, which holds what varies between runs (latency, throughput,
wall-clock times).
"""
from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from recipe_schema import InputFileError, UsageError, atomic_write, read_bytes, refuse_overwriting_inputs
from recipe_schema.files import PathArg

from .suite import LABELS, REPORT_FORMAT, TIMING_METRICS

FORMAT = REPORT_FORMAT
REPORT_JSON = "report.json"
SAMPLES_JSONL = "samples.jsonl"
REPORT_MD = "report.md"

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


# -- files --------------------------------------------------------------------------------


def _finite(obj: Any) -> Any:
    """``obj`` with every NaN or infinity replaced by None (JSON has no NaN)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _dumps(obj: Any, **kwargs: Any) -> str:
    try:
        return json.dumps(_finite(obj), ensure_ascii=False, allow_nan=False, **kwargs)
    except (TypeError, ValueError) as e:  # a Path, a set, an object: a bug in the caller
        raise ValueError(f"report is not plain JSON: {e}") from e


def report_files(out_dir: str | os.PathLike[str]) -> list[Path]:
    """Every file ``write_report`` writes into ``out_dir`` (and nothing else there is touched)."""
    from .plots import PLOTS

    out = Path(out_dir)
    return [out / REPORT_JSON, out / SAMPLES_JSONL, out / REPORT_MD, *(out / name for name in PLOTS)]


def check_report_dir(out_dir: str | os.PathLike[str],
                     inputs: Mapping[str, PathArg | Iterable[PathArg] | None] | None = None) -> None:
    """Refuse, before any work, a folder whose files a report must not replace.

    The folder may be absent, hold none of the report's files, or be a report folder
    souschef wrote (its ``report.json`` loads): then its report files are replaced and
    nothing else in it is touched. A ``report.md`` (or any file of the report's names)
    that is not beside a souschef ``report.json`` is someone else's and stays.

    Parameters
    ----------
    out_dir
        Where the report will go.
    inputs
        Name -> path(s) of what the evaluation reads (model, data sets): none may be a
        file the report writes.

    Raises
    ------
    UsageError
        Naming the files that would be lost; nothing has been written.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"out: {out} exists and is not a directory")
    files = report_files(out)
    present = [p.name for p in files if p.exists() or p.is_symlink()]
    if present and not _is_report(out / REPORT_JSON):
        raise UsageError(f"out: {out} holds {', '.join(present)} that souschef did not write (no souschef "
                         "report.json beside them); choose another directory")
    refuse_overwriting_inputs({"out": files}, inputs or {})


def _is_report(path: Path) -> bool:
    try:
        load_report(path)
    except InputFileError:
        return False
    return True


def write_report(out_dir: str | os.PathLike[str], report: dict[str, Any],
                 samples: list[dict[str, Any]]) -> dict[str, Path]:
    """Write a report folder: ``report.json``, ``samples.jsonl``, ``report.md`` and the plots.

    Each file is written atomically, ``report.json`` last, so an interrupted write leaves
    the previous complete files (or none) in place, never a half-written one. The JSON is
    strict: a NaN or infinite value (a rate over no samples) is written as ``null``.

    Parameters
    ----------
    out_dir
        The folder; created (with its parents) when missing.
    report
        The report dict (``format`` must be ``souschef-report/1``).
    samples
        The per-sample records, written in the order given.

    Returns
    -------
    dict[str, Path]
        ``{"report", "samples", "markdown", "metrics_plot", "contamination_plot"}`` -> path.

    Raises
    ------
    ValueError
        When ``report`` is not a souschef report or holds values JSON cannot (objects, sets);
        nothing is written then.
    InputFileError
        When the folder cannot be created or written.
    UsageError
        When the folder holds files of the report's names that souschef did not write
        (``check_report_dir``).
    """
    from .plots import CONTAMINATION_PNG, METRICS_PNG, plot_contamination_by_topic, plot_metrics

    if report.get("format") != FORMAT:
        raise ValueError(f"report format is {report.get('format')!r}, expected {FORMAT!r}")
    check_report_dir(out_dir)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputFileError(str(out), e.strerror or str(e)) from None
    report_text = _dumps(report, indent=2, sort_keys=True) + "\n"  # checked before anything is written
    samples_text = "".join(_dumps(s, sort_keys=True) + "\n" for s in samples)
    report, samples = _finite(report), _finite(samples)  # the Markdown and plots show what the JSON holds
    paths = {
        "metrics_plot": plot_metrics(report, out / METRICS_PNG),
        "contamination_plot": plot_contamination_by_topic(report, out / CONTAMINATION_PNG),
        "samples": out / SAMPLES_JSONL,
        "markdown": out / REPORT_MD,
        "report": out / REPORT_JSON,
    }
    atomic_write(paths["samples"], samples_text)
    atomic_write(paths["markdown"], render_markdown(report, samples))
    atomic_write(paths["report"], report_text)
    return paths


def load_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a report written by ``write_report``.

    Parameters
    ----------
    path
        A report folder or its ``report.json``.

    Returns
    -------
    dict
        The report dict.

    Raises
    ------
    InputFileError
        When the file is missing or unreadable, is not JSON, or is not a souschef report
        (the message is one line: the path and the reason).
    """
    p = Path(path)
    if p.is_dir():
        if not (p / REPORT_JSON).is_file():
            raise InputFileError(str(p), f"not a report folder (no {REPORT_JSON})")
        p = p / REPORT_JSON
    data = read_bytes(str(p))
    try:
        report = json.loads(data.decode("utf-8"))  # bytes would let json guess UTF-16 from a BOM
    except UnicodeDecodeError:
        raise InputFileError(str(p), "not a report (not UTF-8 text)") from None
    except json.JSONDecodeError as e:
        raise InputFileError(str(p), f"not a report (not JSON: {e.msg} at line {e.lineno})") from None
    fmt = report.get("format") if isinstance(report, dict) else None
    if not isinstance(fmt, str) or not fmt.startswith("souschef-report/"):
        raise InputFileError(str(p), "not a souschef report (no \"format\": \"souschef-report/...\")")
    if fmt != FORMAT:
        raise InputFileError(str(p), f"report format {fmt} is not supported (this souschef reads {FORMAT})")
    if not isinstance(report.get("metrics"), dict):
        raise InputFileError(str(p), "not a souschef report (no \"metrics\" object)")
    for key, entry in report["metrics"].items():  # what compare and the Markdown compute with
        problem = _entry_problem(entry)
        if problem:
            raise InputFileError(str(p), f"not a souschef report (metrics.{key}{problem})")
    return report


def _entry_problem(entry: Any) -> str | None:
    """What makes a metric entry unusable (``.value is "high", not a number``), or ``None``."""
    if not isinstance(entry, dict):
        return f" is {_shown(entry)}, not an object"
    for name in ("value", "low", "high"):
        value = entry.get(name)
        if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                      and math.isfinite(value)):
            return f".{name} is {_shown(value)}, not a number"
    n = entry.get("n")
    if n is not None and not (isinstance(n, int) and not isinstance(n, bool)):
        return f".n is {_shown(n)}, not a whole number"
    for name in ("unit", "label"):
        if entry.get(name) is not None and not isinstance(entry[name], str):
            return f".{name} is {_shown(entry[name])}, not text"
    return None


def _shown(value: Any) -> str:
    text = json.dumps(value, allow_nan=True)
    return text if len(text) <= 40 else text[:37] + "..."


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
    "FORMAT",
    "METRIC_ORDER",
    "REPORT_JSON",
    "REPORT_MD",
    "SAMPLES_JSONL",
    "check_report_dir",
    "format_interval",
    "format_number",
    "is_rouge",
    "is_timed",
    "load_report",
    "markdown_table",
    "ordered_keys",
    "render_markdown",
    "report_files",
    "unit_label",
    "write_report",
]
