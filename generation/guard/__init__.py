"""The domain guard: is a prompt about cooking? Decided before constrained decoding.

One concept a module, each importing only those listed above it (``DomainGuard.fit`` and
``DomainGuard.from_sklearn`` alone reach down, into ``fitting``, when called):

- ``features``: how a prompt is read (``analyze``, ``words_of``, ``unknown_share``, ``split_key``).
- ``classifier``: ``DomainGuard``, scoring with numpy and the JSON file format (``FORMAT``,
  ``GUARD_FILE``); the shipped guard is the package data ``guard.json``.
- ``word_shares`` and ``fitting``: training one with scikit-learn (``fit_sklearn``,
  ``choose_threshold``, ``TARGET_CONTAMINATION``, ``TARGET_FALSE_REFUSAL``).
- ``view``: the loaded model's own view of a prompt (a block's hidden states, from the
  prompt pass generation makes anyway), for a guard that reads its model
  (``DomainGuard.reads_model``: what ``souschef train`` fits for a model tuned from a
  pretrained base, the shipped assistant's included). Needs torch; imported only by such a guard.
- ``data``: what the shipped guard and a training run's guard are trained on (the shipped
  corpus, ``souschef.corpus``), and the constants chosen by ``experiments/guard_select.py``
  and ``experiments/guard_model.py``.
- ``__main__``: ``python -m generation.guard --out generation/guard/guard.json`` rebuilds the
  shipped guard.

``import generation.guard`` is light (numpy, no scikit-learn, torch or transformers): the
training names are imported when first used.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .classifier import FORMAT, FORMAT_VERSION, GUARD_FILE, DomainGuard
from .features import AnalyzerSettings, analyze, split_key, unknown_share, words_of

if TYPE_CHECKING:
    from .fitting import TARGET_CONTAMINATION, TARGET_FALSE_REFUSAL, choose_threshold, fit_sklearn

_LAZY = {  # name -> its module: these need scikit-learn to be of use, so they load on first use
    "TARGET_CONTAMINATION": ".fitting",
    "TARGET_FALSE_REFUSAL": ".fitting",
    "choose_threshold": ".fitting",
    "fit_sklearn": ".fitting",
}
__all__ = ["FORMAT", "FORMAT_VERSION", "GUARD_FILE", "TARGET_CONTAMINATION", "TARGET_FALSE_REFUSAL",
           "AnalyzerSettings", "DomainGuard", "analyze", "choose_threshold", "fit_sklearn", "split_key",
           "unknown_share", "words_of"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'generation.guard' has no attribute {name!r}")
