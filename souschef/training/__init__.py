"""souschef.training: fine-tune a causal LM (or train a tiny one from scratch) into a cooking assistant.

>>> from souschef.training import TrainConfig, train             # doctest: +SKIP
>>> result = train(TrainConfig(from_scratch="tiny", out="models/tiny"))  # doctest: +SKIP
>>> result.val_loss                                       # doctest: +SKIP

``import souschef.training`` is light (no torch); ``train`` imports torch and transformers
when called. Data loading (``load_examples``) needs neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import TrainConfig
from .data import BadRecord, DataError, Example, LoadReport, load_examples, split_examples

if TYPE_CHECKING:
    from .trainer import TrainResult

__all__ = [
    "BadRecord",
    "DataError",
    "Example",
    "LoadReport",
    "TrainConfig",
    "TrainResult",
    "load_examples",
    "split_examples",
    "train",
]


def train(config: TrainConfig, callbacks: list[Any] | None = None) -> TrainResult:
    """Train as ``config`` says; see ``souschef.training.trainer.train``."""
    from .trainer import train as _train

    return _train(config, callbacks)


def __getattr__(name: str) -> Any:
    if name == "TrainResult":
        from .trainer import TrainResult

        return TrainResult
    raise AttributeError(f"module 'souschef.training' has no attribute {name!r}")
