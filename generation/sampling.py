"""Choosing the next token among those the grammar allows.

Greedy, temperature, top-k, top-p and repetition penalty. The random draw for the
token at position i of the answer comes from its own generator seeded with
``(seed, i)``, so a generation continued in another call or process draws exactly
what one uninterrupted run would have drawn. The draw happens on the CPU, so the
same seed gives the same choice from the same probabilities on any device.
"""
from __future__ import annotations

from typing import Any

import torch

from .state import GenerationConfig

_MIX = 0x9E3779B97F4A7C15  # golden-ratio constant: spreads (seed, step) over 64 bits


def step_generator(seed: int, step: int) -> torch.Generator:
    """The RNG for one step: a function of (seed, step) only."""
    return torch.Generator().manual_seed((seed * _MIX + step) % (1 << 63))


def repeated_ngram_tokens(generated: list[int], n: int) -> set[int]:
    """The tokens that would complete an ``n``-gram ``generated`` already holds.

    >>> sorted(repeated_ngram_tokens([5, 6, 7, 5, 6], 3))   # 5 6 was followed by 7
    [7]
    >>> repeated_ngram_tokens([5, 6, 7], 0)
    set()
    """
    if n < 1 or len(generated) < n - 1:
        return set()
    if n == 1:
        return set(generated)
    last = generated[-1]
    prefix = generated[len(generated) - n + 1:]
    return {generated[i + n - 1] for i in range(len(generated) - n + 1)
            if generated[i + n - 2] == last and generated[i:i + n - 1] == prefix}


def choose(logits: torch.Tensor, allowed: torch.Tensor, settings: GenerationConfig, step: int,
           context: torch.Tensor | None = None, generated: list[int] | None = None) -> int:
    """Pick one token id.

    Parameters
    ----------
    logits
        The model's next-token logits, (V,).
    allowed
        The allowed token ids, (n,) int64, on the logits' device; n >= 1.
    settings
        Temperature, top-k, top-p, repetition penalty and seed.
    step
        The position of the token in the answer (its RNG stream).
    context
        Token ids already in the context, for the repetition penalty.
    generated
        The answer's token ids so far, for ``no_repeat_ngram``.
    """
    scores = logits.index_select(0, allowed).float()
    if settings.repetition_penalty != 1.0 and context is not None and context.numel():
        seen = torch.isin(allowed, context)
        penalized = torch.where(scores > 0, scores / settings.repetition_penalty,
                                scores * settings.repetition_penalty)
        scores = torch.where(seen, penalized, scores)
    if settings.no_repeat_ngram and generated:
        banned = repeated_ngram_tokens(generated, settings.no_repeat_ngram)
        if banned:
            hit = torch.isin(allowed, torch.tensor(sorted(banned), device=allowed.device))
            if not bool(hit.all()):  # the schema's choice comes first: never ban every allowed token
                scores = scores.masked_fill(hit, float("-inf"))
    if settings.temperature == 0 or allowed.numel() == 1:
        return int(allowed[int(torch.argmax(scores))])
    scores = scores / settings.temperature
    if 0 < settings.top_k < scores.numel():
        kth = torch.topk(scores, settings.top_k).values[-1]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    probs = torch.softmax(scores, dim=0)
    if settings.top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        cumulative = torch.cumsum(sorted_probs, dim=0)
        drop = cumulative - sorted_probs >= settings.top_p  # keep the smallest set reaching top_p
        sorted_probs = sorted_probs.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter(0, order, sorted_probs)
    return int(allowed[_draw(probs.double().cpu(), step_generator(settings.seed, step))])


def _draw(probs: torch.Tensor, generator: Any) -> int:
    """Inverse-CDF draw: the same u and probabilities give the same index anywhere."""
    cumulative = torch.cumsum(probs, dim=0)
    u = torch.rand((), generator=generator, dtype=torch.float64) * cumulative[-1]
    return min(int(torch.searchsorted(cumulative, u, right=True)), probs.numel() - 1)
