"""Two evaluation reports side by side: every metric, the difference, and what else differs.

``compare_reports`` gives a plain-JSON dict (what ``souschef report compare --json``
prints); ``format_comparison`` the aligned table for people. A difference is ``b - a``.
Whether the two 95% intervals overlap is a quick screen, not a test: intervals that do
not overlap mean a difference beyond noise, but overlapping ones can still hide one.

When both reports' samples are given (``samples.jsonl``), ``paired_differences`` is the
test: the same prompts answered by both, score by score, ``b - a`` per prompt with a
paired bootstrap 95% interval, and how many answers are the same text.
"""
from __future__ import annotations

from typing import Any

from .intervals import aggregate
from .markdown import format_interval, format_number, is_timed, markdown_table, ordered_keys, unit_label

COMPARISON_FORMAT = "souschef-comparison/1"
FORMAT = COMPARISON_FORMAT  # the old name, kept for one release
# What else must match for a difference to be the model's: (section, which fields; None = all).
SETTINGS = (
    ("model", None),
    ("config", None),
    ("data", ("sha256", "records")),
    ("versions", None),
)


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool | None:
    """Whether two entries' intervals overlap; None when either has no interval."""
    a_low, a_high, b_low, b_high = a.get("low"), a.get("high"), b.get("low"), b.get("high")
    if a_low is None or a_high is None or b_low is None or b_high is None:
        return None
    return bool(a_low <= b_high and b_low <= a_high)


def _metric(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any]:
    both = [e for e in (a, b) if e is not None]
    a_value = a.get("value") if a else None
    b_value = b.get("value") if b else None
    return {
        "a": a_value,
        "b": b_value,
        "a_interval": [a["low"], a["high"]] if a and a.get("low") is not None else None,
        "b_interval": [b["low"], b["high"]] if b and b.get("low") is not None else None,
        "difference": b_value - a_value if a_value is not None and b_value is not None else None,
        "overlap": _overlap(a, b) if a and b else None,
        "present": "both" if a and b else ("a" if a else "b"),
        "unit": next((e.get("unit") for e in both if e.get("unit")), None),
        "label": next((e.get("label") for e in both if e.get("label")), None),
    }


def _flatten(section: Any, prefix: str, fields: tuple[str, ...] | None) -> dict[str, Any]:
    """``{"data.heldout.sha256": ...}``: nested dicts flattened to dotted names, sorted."""
    if not isinstance(section, dict):
        return {prefix: section}
    out: dict[str, Any] = {}
    for key, value in sorted(section.items()):
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}.{key}", fields))
        elif fields is None or key in fields:
            out[f"{prefix}.{key}"] = value
    return out


def _settings(report: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {"git_commit": report.get("git_commit")}
    for section, fields in SETTINGS:
        flat.update(_flatten(report.get(section, {}), section, fields))
    return flat


def compare_reports(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Compare two reports metric by metric, and list the settings that differ.

    Parameters
    ----------
    a, b
        Report dicts (``evaluation.report.load_report``); differences are ``b - a``.

    Returns
    -------
    dict
        ``{"format", "metrics", "differs"}``, plain JSON. ``metrics`` maps every metric key
        of either report (in display order) to ``{"a", "b", "difference", "a_interval",
        "b_interval", "overlap", "present", "unit", "label"}``; a metric one report lacks has
        ``None`` there and ``present`` ``"a"`` or ``"b"``; ``overlap`` is None when an
        interval is missing. ``differs`` lists ``{"field", "a", "b"}`` for every model,
        config, data hash, library version or commit that is not the same in both
        (``field`` dotted: ``config.seed``, ``data.heldout.sha256``); timings are left out.

    Examples
    --------
    >>> a = {"metrics": {"rougeL": {"value": 0.2, "low": 0.1, "high": 0.3, "unit": "fraction"}},
    ...      "config": {"seed": 0}}
    >>> b = {"metrics": {"rougeL": {"value": 0.5, "low": 0.4, "high": 0.6, "unit": "fraction"}},
    ...      "config": {"seed": 1}}
    >>> result = compare_reports(a, b)
    >>> round(result["metrics"]["rougeL"]["difference"], 3), result["metrics"]["rougeL"]["overlap"]
    (0.3, False)
    >>> result["differs"]
    [{'field': 'config.seed', 'a': 0, 'b': 1}]
    """
    ma, mb = a.get("metrics", {}), b.get("metrics", {})
    metrics = {k: _metric(ma.get(k), mb.get(k)) for k in ordered_keys({**ma, **mb})}
    sa, sb = _settings(a), _settings(b)
    names = list(sa) + [k for k in sb if k not in sa]
    differs = [{"field": k, "a": sa.get(k), "b": sb.get(k)} for k in names if sa.get(k) != sb.get(k)]
    return {"format": COMPARISON_FORMAT, "metrics": metrics, "differs": differs}


def _sample_key(sample: dict[str, Any]) -> tuple[Any, ...]:
    return (sample.get("set"), sample.get("protocol"), sample.get("index"), sample.get("prompt"))


def _is_score(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def paired_differences(a: list[dict[str, Any]], b: list[dict[str, Any]], bootstrap: int = 1000,
                       seed: int = 0) -> dict[str, Any]:
    """Per-prompt score differences ``b - a`` over the prompts both runs answered.

    Parameters
    ----------
    a, b
        The two runs' samples (``samples.jsonl``); a sample pairs with the one of the other
        run that has its set, protocol, index and prompt.
    bootstrap, seed
        Resamples of the pairs and their seed (``evaluation.intervals.aggregate``).

    Returns
    -------
    dict
        ``{"pairs", "same_output", "scores"}``: how many prompts pair (scored or not: the
        guard's sets carry no scores), how many of those got the same text from both, and
        for every per-sample score both carry ``{"difference", "low", "high", "n"}`` (mean
        of ``b - a`` over the ``n`` pairs that have it, its paired 95% interval).

    Examples
    --------
    >>> a = [{"set": "heldout", "index": i, "prompt": "p", "output": "x", "scores": {"rougeL": 0.2}}
    ...      for i in range(3)]
    >>> b = [dict(s, scores={"rougeL": 0.3}) for s in a]
    >>> result = paired_differences(a, b, bootstrap=0)
    >>> result["pairs"], result["same_output"], round(result["scores"]["rougeL"]["difference"], 3)
    (3, 3, 0.1)
    """
    theirs = {_sample_key(s): s for s in b}
    pairs = [(s, theirs[_sample_key(s)]) for s in a if _sample_key(s) in theirs]
    diffs: dict[str, list[float]] = {}
    for x, y in pairs:
        sx, sy = x.get("scores"), y.get("scores")
        if isinstance(sx, dict) and isinstance(sy, dict):
            for name in sx.keys() & sy.keys():
                if _is_score(sx[name]) and _is_score(sy[name]):
                    diffs.setdefault(name, []).append(float(sy[name]) - float(sx[name]))
    scores = {}
    for name in ordered_keys(diffs):
        agg = aggregate({name: diffs[name]}, bootstrap_samples=bootstrap, seed=seed)
        scores[name] = {"difference": agg[name], "low": agg.get(f"{name}_low"),
                        "high": agg.get(f"{name}_high"), "n": len(diffs[name])}
    same = sum(1 for x, y in pairs if x.get("output") == y.get("output"))
    return {"pairs": len(pairs), "same_output": same, "scores": scores}


def format_paired(paired: dict[str, Any], name_a: str, name_b: str) -> str:
    """``paired_differences`` as a Markdown table (x100, like the fractions above it)."""
    out = [f"Paired, on the {paired['pairs']} prompts both answered ({paired['same_output']} "
           f"with the same text): {name_b} - {name_a}, per prompt, over the n that have the score, "
           "with a paired bootstrap 95% interval (an interval holding 0 shows no difference "
           "at this size; it does not show there is none).", ""]
    rows = [[name, f"{_signed(d['difference'], 'fraction')}",
             format_interval({"low": d["low"], "high": d["high"], "unit": "fraction"}),
             "-" if d["low"] is None else ("yes" if d["low"] <= 0 <= d["high"] else "no"), str(d["n"])]
            for name, d in paired["scores"].items()]
    header = ["score", "difference", "95% interval", "interval holds 0", "n"]
    out += markdown_table(header, rows) if rows else ["No per-prompt scores in both."]
    return "\n".join(out) + "\n"


def _signed(value: float, unit: str | None) -> str:
    text = format_number(value, unit)
    return text if text.startswith("-") else "+" + text


def _row(key: str, m: dict[str, Any]) -> list[str]:
    unit = m["unit"]

    def side(which: str) -> str:
        if m[which] is None:
            return "missing" if m["present"] != "both" and m["present"] != which else "-"
        interval = m[f"{which}_interval"]
        entry = {"low": interval[0], "high": interval[1], "unit": unit} if interval else {}
        shown = format_interval(entry)
        return format_number(m[which], unit) + ("" if shown == "-" else f" {shown}")

    diff = "-" if m["difference"] is None else _signed(m["difference"], unit)
    overlap = {True: "yes", False: "no", None: "-"}[m["overlap"]]
    return [key, unit_label(unit), side("a"), side("b"), diff, overlap]


def format_comparison(result: dict[str, Any], name_a: str, name_b: str) -> str:
    """The comparison as an aligned Markdown table, then the settings that differ.

    Parameters
    ----------
    result
        What ``compare_reports`` returned.
    name_a, name_b
        Column headings for the two reports (for instance their paths).

    Returns
    -------
    str
        Text ending with a newline; fractions x100 (unit ``%``), differences in the same
        unit (percentage points for fractions), ``missing`` where a report lacks a metric.
    """
    metrics = result["metrics"]
    header = ["metric", "unit", name_a, name_b, f"{name_b} - {name_a}", "intervals overlap"]
    rows = [_row(k, m) for k, m in metrics.items()]
    out = markdown_table(header, rows) if rows else ["No metrics in either report."]
    out += ["", "Fractions x100; differences in the same unit. Intervals that do not overlap mark a "
            "difference beyond the 95% intervals' noise."]
    timed = [k for k, m in metrics.items() if is_timed(k, {"unit": m["unit"]})]
    if timed:
        out.append(f"Measured on the clock, vary between runs: {', '.join(timed)}.")
    out.append("")
    if result["differs"]:
        out += ["Settings that differ:", ""]
        out += markdown_table(["field", name_a, name_b],
                      [[d["field"], _setting(d["a"]), _setting(d["b"])] for d in result["differs"]])
    else:
        out.append("Same model, config, data, library versions and commit.")
    return "\n".join(out) + "\n"


def _setting(value: Any) -> str:
    return "missing" if value is None else str(value)


__all__ = ["COMPARISON_FORMAT", "FORMAT", "compare_reports", "format_comparison", "format_paired",
           "paired_differences"]
