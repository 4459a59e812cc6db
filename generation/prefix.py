"""The prompt format's shared prefix, read once.

Every prompt begins with the same tokens in a model's prompt format: the chat
template's system turn is 39 of the shipped assistant's 52 tokens for "What is the
capital of France?". ``SharedPrefix`` reads them once and keeps their keys and values;
a prompt pass or prefill that begins with them starts from a copy of that cache and
reads only the rest. The guard's view needs only the rest too (it averages the tokens
after the prefix), and fitting reads its views the same way (``guard.view.prompt_views``).
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import torch


def shared_prefix(prompt_ids: Callable[[str], list[int]]) -> int:
    """How many leading token ids every prompt has in a prompt format (its system turn)."""
    a, b = prompt_ids("Why?"), prompt_ids("How so, then?")
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


class SharedPrefix:
    """A prefix's ids and, once first needed, its KV cache for ``model``.

    ``SharedPrefix.of(model, prompt_ids)`` is the prefix of the prompt format ``prompt_ids`` applies.
    The cache is read again when the model's weights change dtype or device, not when they change
    in place (``load_state_dict``, an adapter merged into the live model): make a new one then."""

    def __init__(self, model: Any, ids: Sequence[int]):
        self.model = model
        self.ids = tuple(ids)
        self._cache: Any = None
        self._read_for: tuple[torch.dtype, torch.device] | None = None

    @classmethod
    def of(cls, model: Any, prompt_ids: Callable[[str], list[int]]) -> SharedPrefix:
        return cls(model, prompt_ids("Why?")[:shared_prefix(prompt_ids)])

    def split(self, ids: Sequence[int]) -> tuple[Any, list[int]]:
        """``(a copy of the prefix's KV cache, the ids after it)`` when ``ids`` begin with the prefix
        and go past it; else ``(None, ids)``: read them whole."""
        n = len(self.ids)
        if not n or len(ids) <= n or tuple(ids[:n]) != self.ids:
            return None, list(ids)
        return self.cache(), list(ids[n:])

    def cache(self) -> Any:
        """A copy of the prefix's KV cache (one row), for a pass that goes on from it."""
        return copy.deepcopy(self.read())

    @torch.no_grad()
    def read(self) -> Any:
        """The prefix's KV cache, read now if not yet (do not change it: ``cache`` gives a copy)."""
        weights = next(self.model.parameters())
        if self._cache is None or self._read_for != (weights.dtype, weights.device):  # read again after .to()
            out = self.model(input_ids=torch.tensor([list(self.ids)], device=weights.device), use_cache=True)
            self._cache = getattr(out, "cache", None) or out.past_key_values
            self._read_for = (weights.dtype, weights.device)
        return self._cache
