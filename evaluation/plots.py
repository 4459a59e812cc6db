"""Plots of an evaluation report: the metrics with their intervals, contamination by topic.

matplotlib is imported inside the functions, and only its object-oriented API is used
(a ``Figure`` rendered by Agg, never ``pyplot``), so importing this module is cheap and
plotting never changes the caller's backend or opens a window. Figures are drawn under
matplotlib's default style, whatever the user's ``matplotlibrc`` says, and saved without
the ``Software`` metadata, so the same report gives the same PNG bytes (with the same
matplotlib and fonts).
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recipe_schema import atomic_write

from .markdown import BASELINES, ordered_keys

if TYPE_CHECKING:
    from matplotlib.figure import Figure

METRICS_PNG = "metrics.png"
CONTAMINATION_PNG = "contamination_by_topic.png"
PLOTS = (METRICS_PNG, CONTAMINATION_PNG)

WIDTH = 8.0  # inches; the height grows with the number of rows, 0.3 inch each
ROW_HEIGHT = 0.3
DPI = 100
MODEL_STYLE: dict[str, Any] = {"marker": "o", "color": "black", "label": "model"}
# one marker per baseline, in the order the report table shows them; others cycle these
BASELINE_MARKERS = ("s", "^", "D", "v", "P")
BASELINE_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown")
SEEN_STYLE: dict[str, Any] = {"marker": "o", "color": "tab:red", "label": "topic seen in training"}
UNSEEN_STYLE: dict[str, Any] = {"marker": "s", "color": "tab:red", "markerfacecolor": "white",
                                "label": "unseen topic"}


def _errors(entries: list[dict[str, Any]]) -> list[list[float]]:
    """matplotlib's asymmetric ``xerr`` (x100), 0 where an entry has no interval."""
    lower, upper = [], []
    for e in entries:
        value, low, high = e.get("value"), e.get("low"), e.get("high")
        if value is None or low is None or high is None:
            lower.append(0.0)
            upper.append(0.0)
        else:
            lower.append(max(0.0, (value - low) * 100))
            upper.append(max(0.0, (high - value) * 100))
    return [lower, upper]


def _figure(rows: int) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(WIDTH, max(2.5, 1.5 + ROW_HEIGHT * rows)), dpi=DPI, layout="constrained")


def _save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    atomic_write(path, buf.getvalue())
    return Path(path)


def _default_style() -> Any:
    import matplotlib.style

    return matplotlib.style.context("default")


def plot_metrics(report: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Plot every fraction metric (x100) with its 95% interval; baselines beside ROUGE.

    Parameters
    ----------
    report
        A report dict (``evaluation.report`` format).
    path
        Where to write the PNG (atomically).

    Returns
    -------
    Path
        ``path``.
    """
    metrics = report.get("metrics", {})
    baselines = report.get("baselines", {})
    keys = [k for k in ordered_keys(metrics) if metrics[k].get("unit") == "fraction"]
    keys += [  # a fraction a baseline has and the model does not still gets a row
        k for k in ordered_keys({k: 0 for b in baselines.values() for k in b})
        if k not in metrics and _baselines_unit(baselines, k) == "fraction"
    ]
    with _default_style():
        fig = _figure(len(keys))
        ax = fig.subplots()
        rows = {k: len(keys) - 1 - i for i, k in enumerate(keys)}  # first key at the top
        series: list[tuple[str, dict[str, Any], dict[str, Any]]] = [("model", metrics, MODEL_STYLE)]
        for name in sorted(baselines, key=_baseline_rank):
            n = _baseline_rank(name)[0]  # a baseline keeps its marker whichever others are present
            style = {"marker": BASELINE_MARKERS[n % len(BASELINE_MARKERS)],
                     "color": BASELINE_COLORS[n % len(BASELINE_COLORS)],
                     "label": dict(BASELINES).get(name, name)}
            series.append((name, baselines[name], style))
        offset = 0.8 / max(1, len(series))
        for n, (_, entries, style) in enumerate(series):
            present = [k for k in keys if k in entries and entries[k].get("value") is not None]
            if not present:
                continue
            ys = [rows[k] + 0.4 - offset * (n + 0.5) for k in present]
            xs = [entries[k]["value"] * 100 for k in present]
            ax.errorbar(xs, ys, xerr=_errors([entries[k] for k in present]), linestyle="none",
                        capsize=2, markersize=4, clip_on=False, **style)
        ax.set_yticks(list(rows.values()), list(rows))
        ax.set_ylim(-0.6, len(keys) - 0.4)
        ax.set_xlim(0, 100)
        ax.set_xlabel("% (95% interval)")
        ax.grid(axis="x", alpha=0.3)
        ax.set_title("Metrics (fractions x100); baselines beside the model")
        if keys:
            fig.legend(loc="outside lower center", ncols=len(series), fontsize="small", frameon=False)
        return _save(fig, path)


def _baselines_unit(baselines: dict[str, dict[str, Any]], key: str) -> str | None:
    """The unit a baseline gives ``key`` (the first baseline that has it), or None."""
    for entries in baselines.values():
        if key in entries:
            return entries[key].get("unit")
    return None


def _baseline_rank(name: str) -> tuple[int, str]:
    names = [n for n, _ in BASELINES]
    return (names.index(name) if name in names else len(names), name)


def plot_contamination_by_topic(report: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Plot the per-topic contamination rate (x100) with its interval; unseen topics hollow.

    Parameters
    ----------
    report
        A report dict; reads ``contamination_by_topic`` (a report without topics gets a
        plot that says so, so that a report folder always holds the same files).
    path
        Where to write the PNG (atomically).

    Returns
    -------
    Path
        ``path``.
    """
    topics = report.get("contamination_by_topic") or {}
    names = sorted(topics)
    with _default_style():
        fig = _figure(len(names))
        ax = fig.subplots()
        if not names:
            ax.text(0.5, 0.5, "no off-domain topics in this report", ha="center", va="center")
            ax.set_axis_off()
            return _save(fig, path)
        rows = {t: len(names) - 1 - i for i, t in enumerate(names)}  # first topic at the top
        unseen = {t: topics[t].get("seen_in_training") is False for t in names}
        for group_unseen, style in ((False, SEEN_STYLE), (True, UNSEEN_STYLE)):
            group = [t for t in names if unseen[t] == group_unseen and topics[t].get("rate") is not None]
            if not group:
                continue
            entries = [{**topics[t], "value": topics[t]["rate"]} for t in group]
            ax.errorbar([e["value"] * 100 for e in entries], [rows[t] for t in group], xerr=_errors(entries),
                        linestyle="none", capsize=3, clip_on=False, **style)
        labels = [f"{t} (n={topics[t].get('n', '?')})" + (" [unseen]" if unseen[t] else "") for t in names]
        ax.set_yticks(list(rows.values()), labels)
        ax.set_ylim(-0.6, len(names) - 0.4)
        ax.set_xlim(0, 100)
        ax.set_xlabel("% of prompts answered with a recipe (95% interval)")
        ax.set_title("Contamination by off-domain topic")
        ax.grid(axis="x", alpha=0.3)
        fig.legend(loc="outside lower center", ncols=2, fontsize="small", frameon=False)
        return _save(fig, path)


__all__ = ["CONTAMINATION_PNG", "METRICS_PNG", "PLOTS", "plot_contamination_by_topic", "plot_metrics"]
