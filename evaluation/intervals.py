"""The statistics every score shares: a rate's Wilson interval, a mean's bootstrap interval.

Arithmetic only (``math`` and ``numpy``): the metrics, the suite's scoring and the report
read it without importing ``evaluate`` or ``datasets``. A paired comparison is a bootstrap
of per-sample differences (``aggregate({key: a - b})``): resampling the samples keeps each
pair together.

>>> [round(x, 4) for x in wilson_interval(5, 10)]
[0.2366, 0.7634]
>>> aggregate({"rouge1": [0.5, 0.5]})
{'rouge1': 0.5, 'rouge1_low': 0.5, 'rouge1_high': 0.5}
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

Z95 = 1.959964  # two-sided 95% normal quantile


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n`` (Wilson 1927).

    >>> [round(x, 4) for x in wilson_interval(5, 10)]
    [0.2366, 0.7634]
    >>> wilson_interval(0, 10)[0], round(wilson_interval(0, 10)[1], 4)
    (0.0, 0.2775)
    """
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    p = k / n
    denominator = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # at k = 0 and k = n the bound is exactly 0 or 1; avoid rounding noise there
    low = 0.0 if k == 0 else max(0.0, center - half)
    high = 1.0 if k == n else min(1.0, center + half)
    return low, high


def proportion(flags: Sequence[bool]) -> dict[str, Any]:
    """The share of true flags with its Wilson 95% interval: ``{"rate", "low", "high", "n"}``.

    >>> proportion([True, False])["rate"]
    0.5
    """
    k, n = sum(flags), len(flags)
    low, high = wilson_interval(k, n)
    return {"rate": k / n, "low": low, "high": high, "n": n}


def rates_by(flags: Sequence[bool], groups: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``proportion`` per group, groups in sorted order: ``{group: {"rate", "low", "high", "n"}}``."""
    grouped: dict[str, list[bool]] = {}
    for flag, group in zip(flags, groups, strict=True):
        grouped.setdefault(group, []).append(flag)
    return {group: proportion(grouped[group]) for group in sorted(grouped)}


def bootstrap_means(values: np.ndarray, samples: int, seed: int) -> np.ndarray:
    """Means of ``samples`` resamples (with replacement) of the rows of ``values`` (n, k) -> (samples, k)."""
    rng = np.random.default_rng(seed)
    n = values.shape[0]
    rows = max(1, 2**20 // n)  # resamples per chunk: bounds memory to ~(2**20, k) floats
    out = []
    for start in range(0, samples, rows):
        idx = rng.integers(0, n, size=(min(rows, samples - start), n))  # (chunk, n)
        out.append(values[idx].mean(axis=1))  # (chunk, n, k) -> (chunk, k)
    return np.concatenate(out)


def aggregate(
    scores: Mapping[str, Sequence[float]], bootstrap_samples: int = 1000, seed: int = 0
) -> dict[str, float]:
    """Exact means of per-sample scores and their percentile bootstrap 95% intervals.

    Parameters
    ----------
    scores
        ``{name: per-sample values}``, all of one length. The samples are resampled
        together, so per-sample differences of two systems give a paired interval.
    bootstrap_samples
        Resamples drawn; 0 leaves the ``_low``/``_high`` keys out.
    seed
        Seed of ``numpy.random.default_rng``; numpy's global state is neither read nor changed.

    Returns
    -------
    dict
        ``name``, ``name_low``, ``name_high`` for every name.

    >>> aggregate({"rouge1": [0.5, 0.5]})
    {'rouge1': 0.5, 'rouge1_low': 0.5, 'rouge1_high': 0.5}
    """
    if isinstance(bootstrap_samples, bool) or not isinstance(bootstrap_samples, int) or bootstrap_samples < 0:
        raise ValueError(f"bootstrap_samples must be an integer >= 0, not {bootstrap_samples!r}")
    names = list(scores)
    if len({len(scores[k]) for k in names}) > 1:
        raise ValueError("per-sample score lists of different lengths")
    values = np.array([scores[k] for k in names], dtype=float).T  # (n, k)
    if values.size == 0:
        raise ValueError("no samples to aggregate")
    means = values.mean(axis=0)  # (k,)
    if bootstrap_samples:
        low, high = np.percentile(bootstrap_means(values, bootstrap_samples, seed), [2.5, 97.5], axis=0)
    result: dict[str, float] = {}
    for i, k in enumerate(names):
        result[k] = float(means[i])
        if bootstrap_samples:
            result[f"{k}_low"], result[f"{k}_high"] = float(low[i]), float(high[i])
    return result


__all__ = ["Z95", "aggregate", "bootstrap_means", "proportion", "rates_by", "wilson_interval"]
