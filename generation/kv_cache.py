"""A KV cache that appends in place: decoding without copying the whole cache every token.

transformers' ``DynamicLayer`` appends a step's keys and values with ``torch.cat``, which
copies the layer's whole cache: per token, every layer's keys and values once more. At
batch 8 with contexts of a thousand tokens that copy was a fifth of a decoding step's
time on the CPU (cProfile of ``souschef evaluate --limit 8``; ``bench/kv_cache.py``
measures the difference). ``AppendInPlaceLayer`` keeps the
keys and values in buffers with room to grow (a quarter as much again, at least
``ROOM_MIN`` columns) and writes each step's columns into them; ``keys`` and ``values``
are views of the filled part, so attention reads the same numbers as before.

Code that replaces ``keys`` or ``values`` with a tensor of its own (the batched
decoder's shared cache does, to add or drop rows) keeps working: the layer notices
at its next update and moves the new tensor into a fresh buffer, once.
"""
from __future__ import annotations

from typing import Any

import torch

try:
    from transformers.cache_utils import DynamicLayer
except ImportError:  # transformers before 4.54 keeps no layer objects: nothing to convert
    DynamicLayer = object  # type: ignore[misc,assignment]

ROOM_MIN = 64  # columns added at least when a buffer grows


class AppendInPlaceLayer(DynamicLayer):
    """A ``DynamicLayer`` whose update writes into preallocated room instead of concatenating."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        # "keys" / "values" -> (the buffer, the view of it last handed out)
        self._buffers: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
               ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.keys is None or self.keys.dim() != 4:  # the first update: what DynamicLayer's sets
            self.is_initialized, self.device = True, key_states.device
        self.keys = self._append("keys", self.keys, key_states)
        self.values = self._append("values", self.values, value_states)
        return self.keys, self.values

    def _append(self, name: str, current: torch.Tensor | None, new: torch.Tensor) -> torch.Tensor:
        filled = current.shape[-2] if current is not None and current.dim() == 4 else 0
        need = filled + new.shape[-2]
        buffer, handed = self._buffers.get(name, (None, None))
        if (buffer is None or current is not handed or need > buffer.shape[-2]
                or buffer.shape[:2] != new.shape[:2]):
            # first use, a tensor set from outside, or no room left: a fresh buffer with room
            self._buffers.pop(name, None)  # a buffer replaced from outside is freed before the new one
            buffer = new.new_empty(*new.shape[:2], need + max(ROOM_MIN, need // 4), new.shape[-1])
            if current is not None and filled:
                buffer[:, :, :filled] = current
        buffer[:, :, filled:need] = new
        view = buffer[:, :, :need]
        self._buffers[name] = (buffer, view)
        return view


def append_in_place(cache: Any) -> Any:
    """Make ``cache``'s plain dynamic layers append in place (the same cache, returned); the
    tensors it holds stay as they are."""
    for i, layer in enumerate(getattr(cache, "layers", None) or []):
        if type(layer) is DynamicLayer:
            roomy = AppendInPlaceLayer()
            roomy.__dict__.update({k: v for k, v in layer.__dict__.items() if k != "_buffers"})
            cache.layers[i] = roomy
    return cache
