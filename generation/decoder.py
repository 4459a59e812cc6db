"""The decode loop: a causal LM, a grammar, a KV cache, and a sliding window.

One call continues a ``GenerationState`` by up to N tokens. At each step the
logits are masked to the tokens the grammar allows (and, as the token budget runs
low, to those that keep an accepting state within reach), one is chosen, and the
grammar state advances. EOS is never fed to the grammar: the answer is finished
when EOS is chosen in an accepting state or when nothing but EOS is allowed.

Past the window: a model with absolute positions sees at most ``n_positions``
tokens. The context for the token at answer position g is the prompt plus the
generated tokens from ``Window.start(g)`` (``generation.window``), a function of g
alone, so where a call happens to begin or end never changes what the model sees.
Each window shift rebuilds the KV cache from the prompt and the last tokens (a
prefill), so the cost stays linear in the answer's length. Positions are those of
the rebuilt context (0 for the first prompt token), so learned absolute positions
(GPT-2) and rotary ones (Llama) both see a context laid out as in training.

Jump-forward (``Settings.jump_forward``): where the schema forces a run of text
(``Grammar.forced``) and the budget can still close the answer after it, its
canonical tokens are taken without sampling. With ``fuse_forced`` (the default) the
one-row loop appends the whole run and feeds it to the model in one forward pass;
without it, and in the batched decoder, the same tokens come one per step. Either
way the tokens, states and saved states are the same.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from .grammar import Grammar
from .kv_cache import append_in_place
from .loading import cache_arg
from .prefix import SharedPrefix
from .sampling import choose
from .state import GenerationState
from .window import Window, default_keep


@dataclass
class Timings:
    """Where a generation spent its time (for benchmarks)."""

    forward_s: float = 0.0
    prefill_s: float = 0.0
    mask_s: float = 0.0
    tokens: int = 0
    prefills: int = 0
    forced: int = 0      # tokens a forced run gave, not sampled
    forwards: int = 0    # incremental forward passes (prefills apart)

    def add(self, part: Timings) -> None:
        """Add another run's timings to these."""
        self.forward_s += part.forward_s
        self.prefill_s += part.prefill_s
        self.mask_s += part.mask_s
        self.tokens += part.tokens
        self.prefills += part.prefills
        self.forced += part.forced
        self.forwards += part.forwards


class Decoder:
    """Runs the constrained decode loop for one model and grammar."""

    def __init__(self, model: Any, grammar: Grammar, n_positions: int, keep: int | None = None,
                 stop_ids: tuple[int, ...] | None = None, fuse_forced: bool = True):
        self.model = model
        self.fuse_forced = fuse_forced
        self.grammar = grammar
        # ids that end the answer where the grammar accepts (the grammar's EOS first)
        self.stop_ids = torch.tensor(stop_ids or (grammar.eos_id,), dtype=torch.long)
        self._stop_set = {int(i) for i in self.stop_ids}
        self.n_positions = n_positions
        self.keep = keep
        self.device = next(model.parameters()).device
        self.timings = Timings()
        self._allowed_cache: dict[int, torch.Tensor] = {}
        self._cache_arg = cache_arg(model)
        # prompt passes made before decoding (by a guard reading the model): taken, not made again
        self.prompt_passes: dict[tuple[int, ...], tuple[torch.Tensor, Any]] = {}
        self.prefix: SharedPrefix | None = None  # the prompt format's shared prefix, read once

    # ------------------------------------------------------------------ model
    @torch.no_grad()
    def _forward(self, ids: list[int], cache: Any) -> tuple[torch.Tensor, Any]:
        # transformers 5.2x names the KV cache `cache`; 4.x and early 5.x `past_key_values`
        out = self.model(input_ids=torch.tensor([ids], device=self.device),
                         **{self._cache_arg: cache}, use_cache=True)
        return out.logits[0, -1], getattr(out, "cache", None) or out.past_key_values

    def prefill(self, ids: list[int]) -> tuple[torch.Tensor, Any]:
        """The next-token logits after ``ids`` read from scratch, and their KV cache (one row).

        A pass over the same ids already made (``prompt_passes``) is taken instead, once; the
        prompt format's shared prefix (``prefix``) is not read again."""
        made = self.prompt_passes.pop(tuple(ids), None)
        if made is not None:
            return made
        cache, rest = self.prefix.split(ids) if self.prefix is not None else (None, ids)
        return self._forward(rest, cache)

    @torch.no_grad()
    def forward_batch(self, ids: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor,
                      cache: Any) -> torch.Tensor:
        """One token for each of B rows: ``ids`` and ``positions`` (B, 1), ``mask`` (B, T + 1) over the
        shared cache's columns and the new one; returns the next-token logits (B, V)."""
        out = self.model(input_ids=ids.to(self.device), position_ids=positions.to(self.device),
                         attention_mask=mask.to(self.device), **{self._cache_arg: cache}, use_cache=True)
        return out.logits[:, -1]

    # ------------------------------------------------------------------ masks
    def _allowed(self, state: int, remaining: int) -> tuple[torch.Tensor, bool]:
        """Allowed token ids in ``state`` with ``remaining`` tokens of budget; and EOS?"""
        table = self.grammar.table(state)
        if remaining - 1 < self.grammar.max_next_dist:  # the budget may bite: steer
            keep = table.next_dist <= remaining - 1
            ids = torch.from_numpy(table.ids[keep]).to(self.device)
            return ids, table.final
        cached = self._allowed_cache.get(state)
        if cached is None:
            cached = torch.from_numpy(table.ids).to(self.device)
            self._allowed_cache[state] = cached
        return cached, table.final

    # ------------------------------------------------------------------ steps
    # One step of one generation, in three parts that the loop below and the batched
    # decoder (generation.batch) share, so both choose exactly the same tokens.
    def window_for(self, st: GenerationState) -> Window:
        """How ``st``'s context slides past the model's window."""
        room = self.n_positions - len(st.prompt_ids)
        return Window(len(st.prompt_ids), self.n_positions,
                      self.keep if self.keep is not None else default_keep(room))

    def options(self, st: GenerationState) -> tuple[torch.Tensor, bool] | None:
        """The token ids the next step may choose and whether the answer may end there;
        ``None`` (and ``st.finished``) when the answer is complete."""
        g = len(st.generated_ids)
        budget = st.settings.max_total_tokens
        t0 = time.perf_counter()
        allowed, eos_ok = self._allowed(st.grammar_state, budget - g)
        self.timings.mask_s += time.perf_counter() - t0
        if allowed.numel() == 0 or g >= budget:
            # Budget steering keeps an accepting state within reach, so here the
            # answer is complete: nothing but EOS is allowed, or the budget is spent.
            assert eos_ok, "no token allowed in a state that does not accept"
            st.finished = True
            return None
        return allowed, eos_ok

    def forced_run(self, st: GenerationState) -> tuple[int, ...]:
        """The forced run's tokens from ``st`` when jump-forward is on and the token budget
        still closes the answer after them; else empty."""
        if not st.settings.jump_forward:
            return ()
        run, end = self.grammar.forced(st.grammar_state)
        remaining = st.settings.max_total_tokens - len(st.generated_ids)
        return run if run and len(run) + self.grammar.distance(end) <= remaining else ()

    def take(self, st: GenerationState, token: int) -> None:
        """Append an allowed ``token`` to ``st`` and advance its grammar state."""
        nxt = self.grammar.next_state(st.grammar_state, token)
        assert nxt is not None, "the mask let through a token the grammar refuses"
        st.grammar_state = nxt
        st.generated_ids.append(token)
        self.timings.tokens += 1

    def pick(self, st: GenerationState, logits: torch.Tensor | None, allowed: torch.Tensor, eos_ok: bool,
             context_ids: list[int]) -> int | None:
        """Choose the next token from ``logits`` and advance ``st``; ``None`` when it ended the answer.
        In a forced run the run's next token is taken and ``logits`` are not read."""
        run = self.forced_run(st)
        if run:
            self.take(st, run[0])
            self.timings.forced += 1
            return run[0]
        assert logits is not None
        t0 = time.perf_counter()
        if eos_ok:  # the end competes with the grammar's tokens in an accepting state
            allowed = torch.cat([allowed, self.stop_ids.to(self.device)])
        context = (torch.tensor(context_ids, device=self.device)
                   if st.settings.repetition_penalty != 1.0 else None)
        token = choose(logits, allowed, st.settings, len(st.generated_ids), context, st.generated_ids)
        self.timings.mask_s += time.perf_counter() - t0
        if token in self._stop_set:
            st.finished = True
            return None
        self.take(st, token)
        return token

    def end_call(self, st: GenerationState) -> None:
        """A call that ends exactly where only EOS is left is finished without another step."""
        table = self.grammar.table(st.grammar_state)
        if table.final and table.ids.size == 0:
            st.finished = True

    # ------------------------------------------------------------------- loop
    def run(self, st: GenerationState, max_new_tokens: int) -> Iterator[int]:
        """Continue ``st`` in place by up to ``max_new_tokens``; yields each new token id.

        ``st.finished`` is set when the answer is complete.
        """
        window = self.window_for(st)
        cache, cache_start, logits = None, -1, None
        context_ids: list[int] = []
        made = 0
        while made < max_new_tokens:
            if st.finished:
                return
            options = self.options(st)
            if options is None:
                return
            g = len(st.generated_ids)
            run = self.forced_run(st) if self.fuse_forced else ()
            if run:  # jump forward: the whole run, then one forward pass over it
                run = run[:max_new_tokens - made]
                for forced in run:
                    self.take(st, forced)
                    yield forced
                self.timings.forced += len(run)
                made += len(run)
                if logits is not None and window.start(g + len(run)) == cache_start:
                    t2 = time.perf_counter()
                    logits, cache = self._forward(list(run), cache)
                    context_ids.extend(run)
                    self.timings.forward_s += time.perf_counter() - t2
                    self.timings.forwards += 1
                else:
                    logits = None  # the next step prefills
                continue
            start = window.start(g)
            if logits is None or start != cache_start:
                t1 = time.perf_counter()
                context_ids = st.prompt_ids + st.generated_ids[start:]
                logits, cache = self.prefill(context_ids)
                append_in_place(cache)
                cache_start = start
                self.timings.prefill_s += time.perf_counter() - t1
                self.timings.prefills += 1
            token = self.pick(st, logits, *options, context_ids)
            if token is None:
                return
            made += 1
            yield token
            if window.start(g + 1) == cache_start:
                t3 = time.perf_counter()
                logits, cache = self._forward([token], cache)
                context_ids.append(token)
                self.timings.forward_s += time.perf_counter() - t3
                self.timings.forwards += 1
            else:
                logits = None
        self.end_call(st)
