"""evaluation: how good souschef's answers are, measured.

The metrics are ``evaluate`` modules kept in this package, one folder each with
its metric card (``metrics/<name>/<name>.py`` and ``README.md``), and loaded by
absolute path so that nothing is fetched from a hub:

- ``recipe_rouge``: ROUGE-1/2/L/Lsum F1 against reference recipes, exact means with
  a seeded bootstrap 95% interval, on a tokenizer that keeps non-ASCII words.
- ``contamination``: the share of answers to off-domain prompts that are recipes,
  with a Wilson 95% interval and a per-topic breakdown.
- ``on_topic``: the share of freely written recipes that are the dish asked for
  (the title names it; with a reference, a third of its ingredients appear).

``evaluate`` is imported only when a metric is loaded.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evaluate import EvaluationModule

METRICS_DIR = Path(__file__).parent / "metrics"
METRICS = ("contamination", "on_topic", "recipe_rouge")


def load_metric(name: str, **kwargs: Any) -> EvaluationModule:
    """Load one of this package's metrics with ``evaluate.load``, offline.

    Parameters
    ----------
    name
        ``"recipe_rouge"``, ``"contamination"`` or ``"on_topic"``.
    **kwargs
        Passed to ``evaluate.load`` (``cache_dir``, ``experiment_id``, ``num_process``,
        ...). ``keep_in_memory`` defaults to True in a single process, so that no
        prediction cache files are written.

    Returns
    -------
    evaluate.EvaluationModule
        The metric; its module-level helpers are also methods of it (for instance
        ``load_metric("contamination").classify(text)``).

    Raises
    ------
    ValueError
        When ``name`` is not one of ``METRICS``.

    Notes
    -----
    Sets ``HF_EVALUATE_OFFLINE=1`` for the process (and in ``evaluate.config`` when
    ``evaluate`` was imported already): a local module never needs the network, and
    offline mode keeps ``evaluate`` from trying. The module is copied into
    ``evaluate``'s modules cache (``$HF_HOME/modules``), as ``evaluate`` always does.
    """
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; choose one of {', '.join(METRICS)}")
    os.environ["HF_EVALUATE_OFFLINE"] = "1"  # read by evaluate.config at import
    import evaluate

    evaluate.config.HF_EVALUATE_OFFLINE = True  # when evaluate was imported before
    if kwargs.get("num_process", 1) == 1:
        kwargs.setdefault("keep_in_memory", True)
    return evaluate.load(str(METRICS_DIR / name), **kwargs)


__all__ = ["METRICS", "METRICS_DIR", "load_metric"]
