"""``RecipeGenerator``: prompt in, a complete and valid recipe (or reply) out.

>>> gen = RecipeGenerator.from_pretrained("runs/tiny")          # doctest: +SKIP
>>> result = gen.generate("How do I make shakshuka?")           # doctest: +SKIP
>>> result.finished, result.recipe.title                        # doctest: +SKIP
(True, 'Shakshuka')

Generation runs call after call (each at most ``max_new_tokens_per_call`` tokens)
until the answer is complete; after every call the state is plain JSON that
``continue_`` resumes, in this process or another, with exactly the tokens one
uninterrupted run would have given.

About 460 lines, past the ~400 rule on purpose: this is the one class users call, and
its methods (start, check, step, continue_, the batched and streaming paths) are thin
over ``decoder``, ``batch``, ``loading`` and ``text_stream``; splitting the class would
scatter one API across modules.
"""
from __future__ import annotations

import itertools
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from recipe_schema import (
    Answer,
    ModelLoadError,
    Recipe,
    Reply,
    StateError,
    UsageError,
    default_prompt_format,
    end_of_answer_id,
    prompt_text,
    validate_answer,
)
from recipe_schema.limits import MAX_PROMPT_CHARS, too_long
from recipe_schema.projection import answer_projection

from .decoder import Decoder, Timings
from .grammar import Grammar
from .guard import GUARD_FILE, DomainGuard
from .loading import context_length, model_identity, stop_ids
from .prefix import SharedPrefix
from .state import GenerationState, Settings
from .text_stream import TextStream
from .vocabulary import token_bytes
from .window import Window

DEFAULT_CALL_TOKENS = 256
DEFAULT_BATCH = 8  # rows per forward pass (bench/generation_overhead.py measures what it buys)
# Prompt passes kept for decoding (a guard that reads the model makes them before a prompt is
# decoded). ``generate_batch`` starts all its prompts first, so that a bad one fails before any
# decoding; an older pass is read again when decoded. ``continue_batch(later=...)`` starts each
# prompt just before it decodes, so its pass is kept while ``batch_size`` is at most this.
PROMPT_PASSES_KEPT = 64


@dataclass
class GenerationResult:
    """What one generation gave.

    ``answer`` is the validated ``Recipe`` or ``Reply`` when ``finished``, else ``None``;
    ``text`` is the raw JSON text generated so far; ``state`` resumes it.
    """

    text: str
    finished: bool
    calls: int
    tokens: int
    state: GenerationState
    answer: Answer | None = None
    timings: Timings = field(default_factory=Timings)

    @property
    def guard_score(self) -> float | None:
        """The domain guard's probability that the prompt is about cooking, when it chose the mode."""
        return self.state.guard_score

    @property
    def recipe(self) -> Recipe | None:
        return self.answer if isinstance(self.answer, Recipe) else None

    @property
    def reply(self) -> str | None:
        return self.answer.reply if isinstance(self.answer, Reply) else None


class RecipeGenerator:
    """Schema-constrained, resumable generation with a causal language model.

    Parameters
    ----------
    model, tokenizer
        A Hugging Face causal LM and its tokenizer.
    model_id
        Names the model in saved states (default: a hash of config, vocabulary and weights).
    fields
        Optional recipe fields the schema admits (``None``: all).
    keep
        Generated tokens kept when the context window slides (default: half the room, at
        most 512; ``generation.window.default_keep``).
    cache
        Cache compiled grammars on disk (``$SOUSCHEF_CACHE_DIR`` or ``~/.cache/souschef``).
    guard
        Routes each prompt before decoding (``generation.guard.DomainGuard``): a prompt
        started without a mode (or with ``"any"``) is answered in mode ``"recipe"`` when the
        guard finds it is about cooking, else ``"reply"``; an explicit mode is respected.
        ``True``: the guard shipped with souschef; ``None`` / ``False`` (the default here):
        no guard, the model chooses. ``from_pretrained`` defaults to ``True`` (the model
        directory's own ``guard.json`` first): a model built by hand, as in tests, decodes
        unguarded unless asked, a model loaded as users load it is guarded.
    prompt_format
        ``recipe_schema.PLAIN`` or ``CHAT_TEMPLATE`` (default: the tokenizer's chat template
        when it has one). An answer ends with the template's end-of-turn token, or EOS.
    defaults
        Decoding settings used when a call does not give them (``from_pretrained`` reads
        them from the model's ``souschef.json``, ``"decoding"``).
    """

    def __init__(self, model: Any, tokenizer: Any, model_id: str | None = None,
                 fields: tuple[str, ...] | None = None, keep: int | None = None, cache: bool = True,
                 guard: DomainGuard | bool | None = None, prompt_format: str | None = None,
                 defaults: dict[str, Any] | None = None):
        if tokenizer.eos_token_id is None:
            raise ModelLoadError("the tokenizer has no EOS token, so an answer could never end")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.prompt_format = prompt_format or default_prompt_format(tokenizer)
        self.defaults = dict(defaults or {})
        Settings(**self.defaults)  # a bad default fails here, not at the first prompt
        # The grammar's end is the token training ends answers with (the chat template's
        # end-of-turn); any id the model's generation config calls EOS ends an answer too.
        self.eos_id = end_of_answer_id(tokenizer, self.prompt_format)
        self.stop_ids = stop_ids(self.eos_id, model)
        self.tokens = token_bytes(tokenizer)
        self.fields = fields
        self.keep = keep
        self.cache = cache
        self.fuse_forced = True  # jump-forward feeds a forced run in one pass (False: one per step)
        self.n_positions = context_length(model)
        self.model_id = model_id or model_identity(model, tokenizer)
        self._prefix: SharedPrefix | None = None  # read once, when first needed
        self.guard: DomainGuard | None = DomainGuard.default() if guard is True else guard or None
        if self.guard is not None and self.guard.reads_model:
            from .guard.view import check_model

            check_model(model, self.guard.view_layer, self.guard.view_weights.size)
            prefix = len(self._shared_prefix().ids)
            if prefix != self.guard.view_prefix:
                raise ModelLoadError(f"the guard was fitted for another prompt format (its shared prefix is "
                                     f"{self.guard.view_prefix} tokens, this model's {prefix}): use the "
                                     "guard fitted for this model")
        # prompt passes the guard made, by prompt ids: the logits and KV cache decoding starts from
        self._prompt_passes: OrderedDict[tuple[int, ...], tuple[Any, Any]] = OrderedDict()
        self._grammars: dict[str, Grammar] = {}
        self._decoders: dict[str, Decoder] = {}
        self._can_batch: bool | None = None

    # ---------------------------------------------------------------- loading
    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, device: str | None = None,
                        guard: DomainGuard | bool | None = True, base: str | None = None,
                        weights: str = "fp32", **kwargs: Any) -> RecipeGenerator:
        """Load a model: the shipped assistant (``path=None``), a model or LoRA adapter folder
        from ``souschef train``, a named base (``smollm2-135m-instruct``), a ``.gguf`` file or
        a hub id (see ``generation.loading``).

        ``guard=True`` (the default) loads the folder's ``guard.json`` (written by
        ``souschef train``) when it has one, else the guard shipped with souschef;
        ``False`` / ``None``: no guard; a ``DomainGuard``: that one. ``base`` loads an
        adapter onto another copy of its base (the same weights, or it is refused).
        ``weights="int8"`` gives it int8 weights for CPU decoding (``generation.int8``).

        Raises
        ------
        ModelLoadError
            When the model, its tokenizer or its guard cannot be loaded.
        """
        from .loading import load_model

        loaded = load_model(path, base=base, device=device, weights=weights)
        if guard is True:
            own = loaded.directory / GUARD_FILE if loaded.directory else None
            guard = DomainGuard.load(own) if own is not None and own.is_file() else DomainGuard.default()
        decoding = (loaded.record or {}).get("decoding") or {}
        kwargs.setdefault("defaults", {k: v for k, v in decoding.items() if k in _DECODING})
        return cls(loaded.model, loaded.tokenizer, guard=guard, prompt_format=loaded.prompt_format, **kwargs)

    def grammar(self, mode: str) -> Grammar:
        """The compiled grammar for an answer mode (``any``, ``recipe``, ``reply``)."""
        if mode not in self._grammars:
            schema = answer_projection(mode, self.fields)
            self._grammars[mode] = Grammar.from_schema(schema, self.tokens, self.eos_id, cache=self.cache)
        return self._grammars[mode]

    # ---------------------------------------------------------------- calling
    def start(self, prompt: str, **settings: Any) -> GenerationState:
        """A fresh state for ``prompt`` (nothing generated yet).

        Without a ``mode`` (or with ``"any"``) and with a guard, the guard chooses the mode;
        the state keeps the chosen mode and the guard's score, so resuming needs no guard.
        """
        settings = {**self.defaults, **settings}
        guard_score = None
        ids = self.check_prompt(prompt)
        if self.guard is not None and settings.get("mode", "any") == "any":
            guard_score = self.guard.score(prompt, self._view(ids) if self.guard.reads_model else None)
            settings = {**settings, "mode": self.guard.mode_for(guard_score)}
        config = Settings(**settings)
        grammar = self.grammar(config.mode)
        if grammar.distance(grammar.initial_state) > config.max_total_tokens:
            raise UsageError(
                f"max_total_tokens={config.max_total_tokens} is too small: the shortest "
                f"complete answer needs {grammar.distance(grammar.initial_state)} tokens"
            )
        return GenerationState(prompt=prompt, prompt_ids=ids, generated_ids=[],
                               grammar_state=grammar.initial_state, settings=config,
                               grammar=grammar.fingerprint, model=self.model_id, guard_score=guard_score)

    def _view(self, ids: list[int]) -> Any:
        """The model's view of a prompt for the guard, from the prompt pass generation needs anyway:
        its logits and KV cache are kept (the last ``PROMPT_PASSES_KEPT``) for the decoder's first step."""
        from .guard.view import prompt_pass

        assert self.guard is not None
        view, logits, cache = prompt_pass(self.model, ids, self.guard.view_layer, self.guard.view_prefix,
                                          self._shared_prefix())
        self._prompt_passes[tuple(ids)] = (logits, cache)
        while len(self._prompt_passes) > PROMPT_PASSES_KEPT:
            self._prompt_passes.popitem(last=False)
        return view

    def check_prompt(self, prompt: str) -> list[int]:
        """The prompt's ids (``prompt_ids``) once it is known that this model can answer it: the
        check ``start`` makes, for a caller that starts its prompts later but wants a bad one
        refused before any decoding.

        Raises
        ------
        UsageError
            The prompt is empty, too long, not text, or leaves no room in the model's window.
        """
        ids = self.prompt_ids(prompt)
        Window(len(ids), self.n_positions, 1)
        return ids

    def prompt_ids(self, prompt: str) -> list[int]:
        """The token ids the model reads before its answer to ``prompt``, in its prompt format.

        The one place a prompt becomes ids: ``start`` uses it, and ``check`` re-derives a
        saved state's ids with it.

        Raises
        ------
        UsageError
            The prompt is empty, too long, or not text (bytes that are not UTF-8).
        """
        _check_prompt(prompt)
        return list(self.tokenizer(prompt_text(prompt, self.tokenizer, self.prompt_format))["input_ids"])

    def check(self, state: GenerationState) -> Grammar:
        """Refuse a state from another model or schema, one that was tampered with, or one
        whose budget can no longer close its answer."""
        if state.model != self.model_id:
            raise StateError(f"the state was made with another model ({state.model}, not {self.model_id})")
        grammar = self.grammar(state.settings.mode)
        if state.grammar != grammar.fingerprint:
            raise StateError("the state was made with another schema or vocabulary")
        if state.prompt_ids != self.prompt_ids(state.prompt):
            raise StateError("the state's prompt ids are not those of its prompt (tampered?)")
        replayed = grammar.replay(state.generated_ids)
        if replayed is None:
            raise StateError("the state's tokens are not accepted by the schema (tampered?)")
        if replayed != state.grammar_state:
            raise StateError("the state's grammar state does not match its tokens (tampered?)")
        if state.finished and not grammar.table(state.grammar_state).final:
            raise StateError("the state says finished but its answer is incomplete (tampered?)")
        need = len(state.generated_ids) + grammar.distance(state.grammar_state)
        if not state.finished and state.settings.max_total_tokens < need:
            raise UsageError(
                f"max_total_tokens={state.settings.max_total_tokens} is too small for this generation: it "
                f"has {len(state.generated_ids)} tokens and needs at least {need} to close"
            )
        return grammar

    def step(self, state: GenerationState, max_new_tokens: int = DEFAULT_CALL_TOKENS,
             on_token: Callable[[int], None] | None = None) -> GenerationState:
        """One call: continue ``state`` (a copy) by up to ``max_new_tokens`` tokens."""
        state = GenerationState.from_json(state.to_json())
        decoder = self._decoder(self.check(state))
        if not state.finished:
            state.calls += 1
            for token in decoder.run(state, max_new_tokens):
                if on_token:
                    on_token(token)
        self.last_timings = decoder.timings
        return state

    def continue_(self, state: GenerationState, max_new_tokens_per_call: int = DEFAULT_CALL_TOKENS,
                  max_calls: int | None = None, on_call: Callable[[GenerationState], None] | None = None,
                  on_text: Callable[[str], None] | None = None) -> GenerationResult:
        """Run calls until the answer is complete (or ``max_calls`` calls were made).

        Parameters
        ----------
        on_call
            Called with the state after every call (``--save-state`` writes it).
        on_text
            Called with each new piece of text as it is generated (streaming).
        """
        if max_new_tokens_per_call < 1:
            raise UsageError("max_new_tokens_per_call must be at least 1")
        self.check(state)  # a finished state too: its answer is read without another step
        timings = Timings()
        made = 0
        stream = TextStream(self.tokens, on_text)
        while not state.finished and (max_calls is None or made < max_calls):
            state = self.step(state, max_new_tokens_per_call, stream.push if on_text else None)
            made += 1
            timings.add(self.last_timings)
            if on_call:
                on_call(state)
        return self._result(state, timings)

    def generate(self, prompt: str, *, max_new_tokens_per_call: int = DEFAULT_CALL_TOKENS,
                 max_calls: int | None = None, on_call: Callable[[GenerationState], None] | None = None,
                 on_text: Callable[[str], None] | None = None, **settings: Any) -> GenerationResult:
        """Generate an answer to ``prompt``.

        ``settings``: ``temperature``, ``top_k``, ``top_p``, ``repetition_penalty``,
        ``seed``, ``max_total_tokens``, ``mode`` (see ``generation.Settings``).
        """
        return self.continue_(self.start(prompt, **settings), max_new_tokens_per_call,
                              max_calls, on_call, on_text)

    def generate_batch(self, prompts: list[str], *, batch_size: int = DEFAULT_BATCH,
                       max_new_tokens_per_call: int = DEFAULT_CALL_TOKENS, max_calls: int | None = None,
                       **settings: Any) -> list[GenerationResult]:
        """Answers for several prompts, in order, ``batch_size`` decoded together (one forward pass
        per step for all of them; see ``continue_batch``). ``settings`` apply to every prompt."""
        states = [self.start(p, **settings) for p in prompts]
        return self.continue_batch(states, batch_size=batch_size,
                                   max_new_tokens_per_call=max_new_tokens_per_call, max_calls=max_calls)

    def continue_batch(self, states: list[GenerationState], *, batch_size: int = DEFAULT_BATCH,
                       max_new_tokens_per_call: int = DEFAULT_CALL_TOKENS, max_calls: int | None = None,
                       on_done: Callable[[int, GenerationResult, float], None] | None = None,
                       later: Iterable[GenerationState] = ()) -> list[GenerationResult]:
        """Continue several generations, up to ``batch_size`` rows per forward pass.

        Each row keeps its own grammar state, budget, sampling stream and window, and ends
        with the state ``continue_`` would have given it (the same tokens: exactly in float64,
        in float32 but for the rounding of batched matrix products); a finished row leaves and
        a waiting one takes its slot. ``on_done(i, result, seconds)`` is called as row ``i``
        leaves, with the seconds it spent decoding.
        ``later``: more generations, numbered on after ``states`` and taken from the iterable
        only as slots free up. A generator of ``start(...)`` calls so starts each prompt just
        before it decodes, while its prompt pass (which the guard may read) is still kept.
        With ``batch_size`` 1, or a model whose KV cache cannot be shared, rows run one after
        another through ``continue_``, each result with its own timings; batched, every result
        carries the whole run's (complete once the call returns).
        """
        from .batch import run_batch

        if max_new_tokens_per_call < 1:
            raise UsageError("max_new_tokens_per_call must be at least 1")
        if batch_size < 1:
            raise UsageError(f"batch_size must be at least 1, not {batch_size}")
        results: list[GenerationResult | None] = []
        if batch_size == 1 or not self._batchable():
            for i, state in enumerate(itertools.chain(states, later)):
                t0 = time.perf_counter()
                results.append(result := self.continue_(state, max_new_tokens_per_call, max_calls))
                if on_done:
                    on_done(i, result, time.perf_counter() - t0)
            return [r for r in results if r is not None]
        decoders: dict[str, Decoder] = {}  # this run's, one a grammar: fresh timings once

        def row(state: GenerationState) -> tuple[GenerationState, Decoder]:
            copy = GenerationState.from_json(state.to_json())  # the caller's states stay as given
            grammar = self.check(copy)
            if grammar.fingerprint not in decoders:
                decoders[grammar.fingerprint] = self._decoder(grammar)
            results.append(None)
            return copy, decoders[grammar.fingerprint]

        rows = [row(s) for s in states]
        waiting = iter(later)
        timings = Timings()

        def done(i: int, state: GenerationState, seconds: float) -> None:
            results[i] = result = self._result(state, timings)
            if on_done:
                on_done(i, result, seconds)

        run_batch([r[0] for r in rows], [r[1] for r in rows], batch_size, max_new_tokens_per_call, max_calls,
                  done, arrivals=lambda n: [row(s) for s in itertools.islice(waiting, n)])
        for decoder in decoders.values():
            timings.add(decoder.timings)
        return [r for r in results if r is not None]

    def _batchable(self) -> bool:
        """Whether this model's KV cache can be shared by rows (plain growing layers)."""
        if self._can_batch is None:
            from .batch import batchable

            _, cache = self._decoder(self.grammar("reply")).prefill([self.eos_id])
            self._can_batch = batchable(cache)
        return self._can_batch

    def stream(self, prompt: str, **settings: Any) -> Iterator[str]:
        """Yield the answer's text piece by piece as it is generated."""
        state = self.start(prompt, **settings)
        pieces: list[str] = []
        stream = TextStream(self.tokens, pieces.append)
        decoder = self._decoder(self.check(state))
        state.calls += 1
        for token in decoder.run(state, settings.get("max_total_tokens", Settings().max_total_tokens) + 1):
            stream.push(token)
            yield from pieces
            pieces.clear()

    # ---------------------------------------------------------------- helpers
    def _decoder(self, grammar: Grammar) -> Decoder:
        """The decoder for a grammar, kept across calls with its cached masks; fresh timings."""
        decoder = self._decoders.get(grammar.fingerprint)
        if decoder is None:
            decoder = self._decoders[grammar.fingerprint] = Decoder(self.model, grammar, self.n_positions,
                                                                    self.keep, self.stop_ids)
        decoder.timings = Timings()
        decoder.fuse_forced = self.fuse_forced
        decoder.prompt_passes = self._prompt_passes
        decoder.prefix = self._shared_prefix()
        return decoder

    def _shared_prefix(self) -> SharedPrefix:
        """The ids every prompt begins with in this prompt format, their keys and values read once."""
        if self._prefix is None or self._prefix.model is not self.model:
            self._prefix = SharedPrefix.of(self.model, self.prompt_ids)
        return self._prefix

    def decode(self, ids: list[int]) -> str:
        """The text of generated ids, from the exact bytes the grammar checked."""
        return b"".join(self.tokens.get(i, b"") for i in ids).decode("utf-8", errors="replace")

    def _result(self, state: GenerationState, timings: Timings) -> GenerationResult:
        text = self.decode(state.generated_ids)
        answer = None
        if state.finished:
            # The grammar only admits valid answers; validating again is the guarantee's test.
            answer = validate_answer(json.loads(text), raw=text)
        return GenerationResult(text=text, finished=state.finished, calls=state.calls,
                                tokens=len(state.generated_ids), state=state, answer=answer,
                                timings=timings)

    def with_settings(self, state: GenerationState, **changes: Any) -> GenerationState:
        """A copy of ``state`` with other settings that do not change its grammar."""
        if "mode" in changes and changes["mode"] != state.settings.mode:
            raise UsageError("the answer mode of a started generation cannot change")
        copy = GenerationState.from_json(state.to_json())
        copy.settings = replace(state.settings, **changes)
        return copy


def _check_prompt(prompt: str) -> None:
    """Refuse a prompt no model should read: empty, too long, or not text."""
    if not prompt.strip():
        raise UsageError("the prompt is empty")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise UsageError(f"the prompt is {too_long(len(prompt), MAX_PROMPT_CHARS)}")
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError as e:  # a command line's bytes that are not UTF-8 arrive as surrogates
        raise UsageError(f"the prompt is not UTF-8 text (an undecodable byte at character {e.start + 1})"
                         ) from None


# Decoding settings a model's souschef.json may recommend ("decoding": {...}), chosen
# for it on a development split; a setting given to a call wins.
_DECODING = ("temperature", "top_k", "top_p", "repetition_penalty", "no_repeat_ngram", "max_total_tokens",
             "jump_forward")
