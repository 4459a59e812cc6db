"""Batched decoding: up to B generations share one forward pass per step.

At batch 1 a CPU reads every weight once per token, so memory bandwidth bounds it;
a step for B rows reads them once for all B. Each row is its own generation: its
own grammar state, mask, token budget, sampling stream (``(seed, i)``), prompt
length and context window, and its state stays the plain-JSON ``GenerationState``
that ``RecipeGenerator.continue_`` resumes. A row that finishes leaves and a waiting
one takes its slot (continuous batching); once nobody waits, the slots of rows that
left are dropped, so a batch's tail computes only the rows still decoding (a lone last
row at the one-row cost, not a full batch's). Rows may also arrive while it runs, and
each row's tokens can be seen as they are chosen (``generation.scheduler`` serves
concurrent chat users so).

The rows share one KV cache whose time axis grows by one column per step. A row
occupies the columns of its own context (the mask says which): it enters, or
re-enters after its window slides, by a prefill of its context alone, whose keys and
values are written into its slot's last columns. Its tokens carry their own position
ids (0 for its first prompt token), so learned absolute positions (GPT-2) and rotary
ones (Llama) see what the row would see decoded alone; masked columns get exactly
zero attention. Each step every row chooses with ``Decoder.options`` / ``pick``, the
functions the one-row loop uses, so a row's tokens equal the one-row run's (exactly
in float64; in float32 batched and one-row matrix products round differently).
"""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from .decoder import Decoder
from .kv_cache import append_in_place
from .state import GenerationState
from .window import Window

COMPACT_AT = 256  # trim the shared cache's dead leading columns once there are this many


@dataclass
class _Row:
    """One generation in the batch, and where it stands."""

    index: int                         # its place in the caller's list
    state: GenerationState
    decoder: Decoder                   # its grammar's masks and the shared step functions
    window: Window
    slot: int = -1
    cache_start: int = -1              # the window start its slot's columns were prefilled for
    context_ids: list[int] = field(default_factory=list)
    logits: torch.Tensor | None = None
    in_call: int = 0                   # tokens chosen in the current call
    made: int = 0                      # calls made in this run (max_calls counts these, as continue_ does)
    feed: int | None = None            # the token to feed in this step's batched forward
    entered: float = 0.0               # when it took its slot (perf_counter)


class _SharedCache:
    """One KV cache for ``slots`` rows: keys/values ``(slots, heads, T, head_dim)`` per layer and a
    ``(slots, T)`` mask of the columns each row attends to."""

    def __init__(self, slots: int):
        self.slots = slots
        self.cache: Any = None
        self.mask = torch.zeros(slots, 0, dtype=torch.long)

    @property
    def length(self) -> int:
        return self.mask.shape[1]

    def place(self, slot: int, single: Any) -> None:
        """Write a one-row cache (a prefill of ``P`` tokens) into ``slot``'s last ``P`` columns."""
        layers = single.layers
        need = layers[0].keys.shape[2]
        if self.cache is None:
            self.cache = append_in_place(single)
            for layer in layers:  # grow the one-row cache into the shared one
                layer.keys = _slotted(layer.keys, self.slots, slot)
                layer.values = _slotted(layer.values, self.slots, slot)
            self.mask = torch.zeros(self.slots, need, dtype=torch.long)
        else:
            if need > self.length:  # widen on the left: older columns keep their place from the right
                self._pad_left(need - self.length)
            for mine, new in zip(self.cache.layers, layers, strict=True):
                mine.keys[slot, :, self.length - need:] = new.keys[0]
                mine.values[slot, :, self.length - need:] = new.values[0]
        self.mask[slot] = 0
        self.mask[slot, self.length - need:] = 1

    def release(self, slot: int) -> None:
        self.mask[slot] = 0

    def grow(self) -> int:
        """Add an empty slot; returns its number."""
        if self.cache is not None:
            for layer in self.cache.layers:
                layer.keys = torch.cat([layer.keys, layer.keys.new_zeros(1, *layer.keys.shape[1:])])
                layer.values = torch.cat([layer.values, layer.values.new_zeros(1, *layer.values.shape[1:])])
        self.mask = torch.cat([self.mask, torch.zeros(1, self.length, dtype=torch.long)])
        self.slots += 1
        return self.slots - 1

    def keep(self, slots: list[int]) -> None:
        """Keep only ``slots``, renumbered ``0, 1, ...`` in that order: a step then computes
        nothing for the rows that left."""
        self.slots = len(slots)
        if not slots:
            self.cache, self.mask = None, torch.zeros(0, 0, dtype=torch.long)
            return
        index = torch.tensor(slots, dtype=torch.long)
        self.mask = self.mask[index]
        if self.cache is not None:
            for layer in self.cache.layers:
                layer.keys = layer.keys[index]
                layer.values = layer.values[index]

    def step_mask(self) -> torch.Tensor:
        """The attention mask of a step that appends one column: every slot sees its new token
        (an empty slot only it, so no row attends to nothing)."""
        return torch.cat([self.mask, torch.ones(self.slots, 1, dtype=torch.long)], dim=1)

    def appended(self, fed: list[bool]) -> None:
        """Record the column the step appended: real for the rows that fed a token."""
        column = torch.tensor(fed, dtype=torch.long).unsqueeze(1)
        self.mask = torch.cat([self.mask, column], dim=1)
        dead = int(self.mask.any(dim=0).long().argmax()) if self.mask.any() else self.length
        if dead >= COMPACT_AT:
            self.mask = self.mask[:, dead:]
            for layer in self.cache.layers:
                layer.keys = layer.keys[:, :, dead:].contiguous()
                layer.values = layer.values[:, :, dead:].contiguous()

    def _pad_left(self, extra: int) -> None:
        for layer in self.cache.layers:
            layer.keys = torch.cat([layer.keys.new_zeros(*layer.keys.shape[:2], extra, layer.keys.shape[3]),
                                    layer.keys], dim=2)
            layer.values = torch.cat([layer.values.new_zeros(*layer.values.shape[:2], extra,
                                                             layer.values.shape[3]), layer.values], dim=2)
        self.mask = torch.cat([torch.zeros(self.slots, extra, dtype=torch.long), self.mask], dim=1)


def _slotted(tensor: torch.Tensor, slots: int, slot: int) -> torch.Tensor:
    out = tensor.new_zeros(slots, *tensor.shape[1:])
    out[slot] = tensor[0]
    return out


def batchable(cache: Any) -> bool:
    """Whether a model's KV cache is one the shared cache can hold (plain growing layers)."""
    layers = getattr(cache, "layers", None) or []
    return bool(layers) and all(type(layer).__name__ == "DynamicLayer" for layer in layers)


def run_batch(states: list[GenerationState], decoders: list[Decoder], batch_size: int,
              max_new_tokens_per_call: int, max_calls: int | None = None,
              on_done: Callable[[int, GenerationState, float], None] | None = None, *,
              arrivals: Callable[[int], list[tuple[GenerationState, Decoder]]] | None = None,
              on_token: Callable[[int, int], bool | None] | None = None,
              on_error: Callable[[int, Exception], None] | None = None) -> None:
    """Continue every state in place, ``batch_size`` rows at a time, until each is finished or
    has made ``max_calls`` calls of ``max_new_tokens_per_call`` tokens (counted as one-row
    ``continue_`` counts them). ``decoders[i]`` is the decoder of ``states[i]``'s grammar; all
    share one model. ``on_done(i, state, seconds)`` is called as each row leaves, with the
    seconds it spent in the batch.

    For a server whose rows arrive while it decodes: ``arrivals(n)`` is asked, before each step
    with ``n`` slots to fill, for at most ``n`` more ``(state, decoder)`` rows (numbered on from
    ``len(states)`` in the order given); the run ends when no row is left and it gives none.
    ``on_token(i, token)`` sees each token row ``i`` chooses; when it returns ``False`` the row
    leaves at once (its client is gone), unfinished. With ``on_error``, an exception in one row
    (its step, or its ``on_token``) ends that row only: ``on_error(i, exception)`` is called
    instead of ``on_done``. An exception in the shared forward pass still ends the run."""
    model_decoder = decoders[0] if decoders else None
    waiting = deque(_Row(i, st, d, d.window_for(st)) for i, (st, d) in enumerate(zip(states, decoders,
                                                                                      strict=True)))
    numbered = len(states)
    free: list[int] = []  # slots a row left while others wait for them
    active: list[_Row] = []
    shared = _SharedCache(0)  # as many slots as rows decoding, up to batch_size
    while True:
        if arrivals is not None and batch_size - len(active) > len(waiting):
            for st, d in arrivals(batch_size - len(active) - len(waiting)):
                waiting.append(_Row(numbered, st, d, d.window_for(st)))
                model_decoder = model_decoder or d
                numbered += 1
        if not (waiting or active):
            break
        while len(active) < batch_size and waiting:
            row = waiting.popleft()
            row.entered = time.perf_counter()
            if row.state.finished:
                _leave(row, on_done)
                continue
            row.state.calls += 1
            row.made = 1
            row.slot = free.pop() if free else shared.grow()
            active.append(row)
        if free and not waiting:  # nobody takes the freed slots: drop them (the batch's tail)
            shared.keep([row.slot for row in active])
            for slot, row in enumerate(active):
                row.slot = slot
            free = []
        for row in list(active):
            failed: Exception | None = None
            try:
                going = _advance(row, shared, max_new_tokens_per_call, max_calls)
                if going and on_token is not None:  # a chosen token is the state's last
                    going = on_token(row.index, row.state.generated_ids[-1]) is not False
            except Exception as e:
                if on_error is None:
                    raise
                going, failed = False, e
            if not going:
                active.remove(row)
                shared.release(row.slot)
                free.append(row.slot)
                row.feed = None
                if failed is None:
                    _leave(row, on_done)
                elif on_error is not None:
                    on_error(row.index, failed)
        fed = [False] * shared.slots
        feeding = [row for row in active if row.feed is not None]
        if not feeding:
            continue
        ids = torch.zeros(shared.slots, 1, dtype=torch.long)
        positions = torch.zeros(shared.slots, 1, dtype=torch.long)
        for row in feeding:
            ids[row.slot, 0] = int(row.feed or 0)
            positions[row.slot, 0] = len(row.context_ids) - 1
            fed[row.slot] = True
        t0 = time.perf_counter()
        assert model_decoder is not None  # a row is feeding, so some decoder came with it
        logits = model_decoder.forward_batch(ids, positions, shared.step_mask(), shared.cache)
        shared.appended(fed)
        for row in feeding:
            row.logits, row.feed = logits[row.slot], None
            row.decoder.timings.forward_s += (time.perf_counter() - t0) / len(feeding)


def _advance(row: _Row, shared: _SharedCache, per_call: int, max_calls: int | None) -> bool:
    """One step of one row: choose its next token (prefilling its slot first when needed).
    False when the row leaves the batch (finished, or out of calls)."""
    st, decoder = row.state, row.decoder
    if st.finished:
        return False
    if row.in_call == per_call:  # this call is over: as continue_ would start the next one
        decoder.end_call(st)
        if st.finished or (max_calls is not None and row.made >= max_calls):
            return False
        st.calls += 1
        row.made += 1
        row.in_call = 0
    options = decoder.options(st)
    if options is None:
        return False
    g = len(st.generated_ids)
    start = row.window.start(g)
    if row.logits is None or start != row.cache_start:
        t1 = time.perf_counter()
        row.context_ids = st.prompt_ids + st.generated_ids[start:]
        row.logits, single = decoder.prefill(row.context_ids)
        shared.place(row.slot, single)
        row.cache_start = start
        decoder.timings.prefill_s += time.perf_counter() - t1
        decoder.timings.prefills += 1
    token = decoder.pick(st, row.logits, *options, row.context_ids)
    if token is None:
        return False
    row.in_call += 1
    if row.window.start(g + 1) == row.cache_start:
        row.context_ids.append(token)
        row.feed = token
    else:
        row.logits = None  # the window slides: the next step prefills again
    return True


def _leave(row: _Row, on_done: Callable[[int, GenerationState, float], None] | None) -> None:
    if on_done:
        on_done(row.index, row.state, time.perf_counter() - row.entered)
