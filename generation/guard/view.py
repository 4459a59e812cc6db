"""The loaded language model's own view of a prompt, for the domain guard.

Generation reads the prompt once before it answers (the prompt pass). A guard that reads
the model (``DomainGuard.reads_model``) takes, from that same pass, the hidden states that
one transformer block outputs, averaged over the prompt's own tokens: those after the
prefix every prompt shares in the model's prompt format (its system turn). A linear
classifier on that vector is the model's judgment of what a prompt is about, in words no
training prompt need have; it works for any causal LM with a list of blocks (SmolLM2,
GPT-2, the tiny models, a user's own), each guard fitted for its model.

``prompt_pass`` is what generation runs (one prompt, the shared prefix's keys and values
taken from ``generation.prefix.SharedPrefix``, the KV cache kept for decoding);
``prompt_views`` is what fitting runs over thousands of prompts: the shared prefix read
once, the pass stopped after the block, rows right-padded. Both read the block's output
through the same forward hook, so they give the same vector (to float32 rounding).
Needs torch; only a guard that reads the model imports this module.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import numpy as np
import torch

from generation.loading import block_count, cache_arg, context_length
from generation.prefix import SharedPrefix, shared_prefix
from recipe_schema import ModelLoadError


def default_layer(n_blocks: int) -> int:
    """Which block's output a guard reads for a model with ``n_blocks``: just past the middle.

    Counted from 1 (``hidden_states[layer]`` in transformers' numbering). 16 of SmolLM2's 30:
    chosen by cross-validation grouped by topic (``experiments/guard_model.py``).
    """
    return n_blocks // 2 + 1


def blocks(model: Any) -> Any:
    """The model's transformer blocks: its ``ModuleList`` with one entry per layer of its config."""
    n = block_count(model)
    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == n:
            return module
    raise ModelLoadError(f"the guard reads the model's hidden states, but no list of {n} blocks was found")


def check_model(model: Any, layer: int, dim: int) -> None:
    """Refuse a model whose blocks cannot give a guard's view (another layer count or width)."""
    n = block_count(model)
    width = getattr(model.config, "hidden_size", None) or getattr(model.config, "n_embd", None)
    if not 1 <= layer <= n or (width is not None and width != dim):
        raise ModelLoadError(f"the guard reads block {layer} ({dim} wide) of its model, but this model "
                             f"has {n} blocks {width} wide: use the guard fitted for this model")


class _Stop(Exception):
    """Raised by the hook once the block read has run: fitting needs nothing after it."""


@contextmanager
def _reading(model: Any, layer: int, stop: bool) -> Iterator[dict[str, torch.Tensor]]:
    """While open, each forward pass leaves block ``layer``'s output in the yielded dict."""
    seen: dict[str, torch.Tensor] = {}

    def hook(_module: Any, _args: Any, output: Any) -> None:
        seen["hidden"] = output[0] if isinstance(output, tuple) else output
        if stop:
            raise _Stop

    handle = blocks(model)[layer - 1].register_forward_hook(hook)
    try:
        yield seen
    finally:
        handle.remove()


def _mean(hidden: torch.Tensor) -> np.ndarray:
    return hidden.double().mean(0).cpu().numpy()


@torch.no_grad()
def prompt_pass(model: Any, ids: Sequence[int], layer: int, prefix: int, shared: SharedPrefix | None = None
                ) -> tuple[np.ndarray, torch.Tensor, Any]:
    """One prompt's pass: the guard's view, and the next-token logits and KV cache decoding goes on from.
    With ``shared`` (the prompt format's prefix, read once) only the ids after it are read."""
    device = next(model.parameters()).device
    # a shared prefix longer than the view's would drop tokens the view averages: read whole then
    cache, rest = (shared.split(ids) if shared is not None and len(shared.ids) <= prefix
                   else (None, list(ids)))
    kwargs = {cache_arg(model): cache} if cache is not None else {}
    with _reading(model, layer, stop=False) as seen:
        out = model(input_ids=torch.tensor([rest], device=device), use_cache=True, **kwargs)
    # the view averages the tokens after the prefix (a prompt is never all prefix: at least its last)
    start = max(min(prefix, len(ids) - 1) - (len(ids) - len(rest)), 0)
    cache = getattr(out, "cache", None) or out.past_key_values
    return _mean(seen["hidden"][0, start:]), out.logits[0, -1], cache


@torch.no_grad()
def prompt_views(model: Any, ids: Sequence[Sequence[int]], layer: int, prefix: int, batch_size: int = 32,
                 progress: Callable[[int], None] | None = None) -> np.ndarray:
    """The view ``prompt_pass`` gives of each prompt (token ids), ``(len(ids), width)``, for fitting.

    The shared ``prefix`` is read once and its keys and values copied to every batch (a
    prompt whose first ids differ, where a tokenizer merged its first word into the prompt
    format's text, is read whole); the pass stops after the block read. ``progress(done)`` is
    called after each batch.
    """
    device = next(model.parameters()).device
    cache_name = cache_arg(model)
    prefix = min(prefix, *(len(i) - 1 for i in ids)) if ids else 0
    shared = SharedPrefix(model, ids[0][:prefix]) if prefix else None
    if shared is not None:
        shared.read()  # now: inside the hook below, a pass stops after the block read
    views: list[np.ndarray | None] = [None] * len(ids)
    for k, one in enumerate(ids):  # a prompt whose first word merged into the prefix: read whole
        if list(one[:prefix]) != list(ids[0][:prefix]):
            views[k] = prompt_pass(model, one, layer, prefix)[0]
    # like lengths together: less padding
    order = sorted((k for k in range(len(ids)) if views[k] is None), key=lambda k: len(ids[k]))
    with _reading(model, layer, stop=True) as seen:
        for s in range(0, len(order), batch_size):
            rows = order[s:s + batch_size]
            tails = [list(ids[k][prefix:]) for k in rows]
            n, width = len(tails), max(map(len, tails))
            x = torch.zeros((n, width), dtype=torch.long)
            mask = torch.zeros((n, prefix + width), dtype=torch.long)
            mask[:, :prefix] = 1
            for r, tail in enumerate(tails):
                x[r, :len(tail)] = torch.tensor(tail)
                mask[r, prefix:prefix + len(tail)] = 1
            positions = torch.arange(prefix, prefix + width).expand(n, -1)
            kwargs: dict[str, Any] = {"position_ids": positions.to(device)}
            if shared is not None:
                cache = shared.cache()
                cache.batch_repeat_interleave(n)
                kwargs[cache_name] = cache
            with suppress(_Stop):  # raised once the block read has run
                model(input_ids=x.to(device), attention_mask=mask.to(device), use_cache=shared is not None,
                      **kwargs)
            for r, k in enumerate(rows):
                views[k] = _mean(seen["hidden"][r, :len(tails[r])])
            if progress:
                progress(len(ids) - len(order) + min(s + batch_size, len(order)))
    return np.stack([v for v in views if v is not None]) if ids else np.zeros((0, 0))


class ViewReader:
    """Reads a model's views of prompts for fitting its guard: which block, which prefix, how.

    ``prompt_ids`` turns a prompt into the ids the model reads before answering
    (``RecipeGenerator.prompt_ids``, or training's prompt format); ``layer`` defaults to
    ``default_layer`` of the model.
    """

    def __init__(self, model: Any, prompt_ids: Callable[[str], list[int]], layer: int | None = None):
        self.model, self.prompt_ids = model, prompt_ids
        self.layer = layer or default_layer(block_count(model))
        self.prefix = shared_prefix(prompt_ids)

    def views(self, prompts: Sequence[str], progress: Callable[[int], None] | None = None
              ) -> dict[str, np.ndarray]:
        """Each prompt's view (``prompt_views``), the model in eval mode while it reads them.

        A prompt that leaves the model no room to answer (``generation.window.MIN_ROOM``),
        which generation refuses, gets none.
        """
        from generation.window import MIN_ROOM

        most = context_length(self.model) - MIN_ROOM
        ids = {p: self.prompt_ids(p) for p in prompts}
        fitting = [p for p in prompts if len(ids[p]) <= most]
        training = self.model.training
        self.model.eval()
        try:
            found = prompt_views(self.model, [ids[p] for p in fitting], self.layer, self.prefix,
                                 progress=progress)
        finally:
            self.model.train(training)
        return dict(zip(fitting, found, strict=True))
