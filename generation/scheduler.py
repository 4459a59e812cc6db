"""Serving many users from one model: their generations share decoding steps.

A ``Scheduler`` owns the model from one background thread. Any thread may ``stream`` a
prompt; the request waits in a queue, joins the running batch at the next step where a
slot is free (``generation.batch.run_batch``, continuous batching) and leaves it when its
answer is complete. Each request gets its own text back piece by piece as its row grows,
and each row is its own generation (grammar state, budget, sampling settings and stream,
window), so a greedy answer is the one ``RecipeGenerator.generate`` gives for that prompt
alone (exactly in float64).

One row's failure (its start, its step, or a client that stops listening) ends that row
only; a failed forward pass ends the rows then in the batch, and the worker goes on with
the next requests. ``close`` stops the worker and fails whatever is still waiting.

>>> with Scheduler(generator, batch_size=8) as scheduler:             # doctest: +SKIP
...     text = "".join(scheduler.stream("Lentil soup?", temperature=0))
"""
from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

from recipe_schema import UsageError

from .decoder import Decoder
from .state import GenerationState
from .text_stream import TextStream

logger = logging.getLogger("souschef.generation")

POLL_S = 0.5  # how often a waiting client checks that the worker is still alive
ONE_CALL = 1 << 30  # a chat answer is one call: its budget, not the call, ends it


class SchedulerClosed(UsageError):
    """The scheduler was closed: it takes no more requests."""


@dataclass
class _Request:
    """One prompt in the scheduler, and the channel its text goes back on."""

    prompt: str
    settings: dict[str, Any]
    out: queue.Queue[tuple[str, Any]] = field(default_factory=queue.Queue)  # ("text"|"done"|"error", x)
    abandoned: threading.Event = field(default_factory=threading.Event)
    text: TextStream | None = None


class Scheduler:
    """Decodes the requests of many threads together, ``batch_size`` rows per forward pass.

    Parameters
    ----------
    generator
        A loaded ``RecipeGenerator``; from now on only the scheduler's worker may use its model.
    batch_size
        Rows decoded together (at least 1).
    """

    def __init__(self, generator: Any, batch_size: int):
        if batch_size < 1:
            raise UsageError(f"batch_size must be at least 1, not {batch_size}")
        self.generator = generator
        self.batch_size = batch_size
        self._inbox: queue.Queue[_Request | None] = queue.Queue()  # None: stop
        self._held: deque[_Request] = deque()  # taken from the inbox, not yet in the batch
        self._stopping = threading.Event()
        self._submit_lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name="souschef-batch", daemon=True)
        self._thread.start()

    # ---------------------------------------------------------------- clients
    @property
    def queued(self) -> int:
        """Requests waiting for a slot."""
        return self._inbox.qsize() + len(self._held)

    def stream(self, prompt: str, **settings: Any) -> Generator[str, None, None]:
        """Yield the answer's text piece by piece as its row is decoded (as ``RecipeGenerator.stream``).

        Closing the iterator early (a client gone) takes the row out of the batch at its next step.

        Raises
        ------
        SchedulerClosed
            After ``close``.
        recipe_schema.SouschefError, or any error of the row
            Raised here, in the caller's thread; other rows go on.
        """
        request = _Request(prompt, settings)
        with self._submit_lock:
            if self._stopping.is_set():
                raise SchedulerClosed("the model is shutting down")
            self._inbox.put(request)
        try:
            while True:
                try:
                    kind, value = request.out.get(timeout=POLL_S)
                except queue.Empty:
                    if not self._thread.is_alive():
                        raise SchedulerClosed("the model stopped") from None
                    continue
                if kind == "text":
                    yield value
                elif kind == "error":
                    raise value
                else:
                    return
        finally:
            request.abandoned.set()  # a no-op once it is done; else the worker drops its row

    def close(self, timeout: float = 10.0) -> None:
        """Stop the worker: rows in the batch end at their next step, waiting requests fail."""
        with self._submit_lock:
            self._stopping.set()
            self._inbox.put(None)
        self._thread.join(timeout)

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- worker
    def _work(self) -> None:
        while True:
            request = self._inbox.get()
            if request is None:
                break
            self._held.append(request)
            if self._stopping.is_set():
                break
            self._run()
        closed = SchedulerClosed("the model is shutting down")
        for request in [*self._held, *_drain(self._inbox)]:
            if request is not None:
                request.out.put(("error", closed))
        self._held.clear()

    def _run(self) -> None:
        """Decode until no row is left and no request waits (rows join as slots free up)."""
        from .batch import run_batch

        rows: list[_Request] = []  # run_batch numbers the rows in the order arrivals gives them
        live: dict[int, _Request] = {}

        def arrivals(n: int) -> list[tuple[GenerationState, Decoder]]:
            admitted: list[tuple[GenerationState, Decoder]] = []
            while len(admitted) < n and not self._stopping.is_set():
                request = self._next()
                if request is None:
                    break
                row = self._admit(request)
                if row is not None:
                    live[len(rows)] = request
                    rows.append(request)
                    admitted.append(row)
            return admitted

        def on_token(i: int, token: int) -> bool:
            request = rows[i]
            if request.abandoned.is_set() or self._stopping.is_set():
                return False
            assert request.text is not None
            request.text.push(token)
            return True

        def on_done(i: int, state: GenerationState, seconds: float) -> None:
            request = live.pop(i)
            if state.finished:
                request.out.put(("done", None))
            else:
                request.out.put(("error", SchedulerClosed("the answer was stopped")))

        def on_error(i: int, error: Exception) -> None:
            live.pop(i).out.put(("error", error))

        try:
            if self.batch_size > 1 and self.generator._batchable():
                run_batch([], [], self.batch_size, ONE_CALL, None, on_done, arrivals=arrivals,
                          on_token=on_token, on_error=on_error)
            else:  # one row at a time: batch 1, or a model whose KV cache cannot be shared
                while rows_in := arrivals(1):
                    state, decoder = rows_in[0]
                    i = len(rows) - 1
                    try:
                        state.calls += 1
                        for token in decoder.run(state, state.settings.max_total_tokens + 1):
                            if not on_token(i, token):
                                break
                    except Exception as e:
                        on_error(i, e)
                    else:
                        on_done(i, state, 0.0)
        except Exception as e:  # the shared forward pass failed: the rows in it end, the worker goes on
            logger.exception("a batched step failed")
            for request in [*live.values(), *self._held]:
                request.out.put(("error", e))
            self._held.clear()

    def _next(self) -> _Request | None:
        """The next request still wanted, without waiting; ``None`` when there is none."""
        while True:
            if self._held:
                request: _Request | None = self._held.popleft()
            else:
                try:
                    request = self._inbox.get_nowait()
                except queue.Empty:
                    return None
            if request is None:  # close() was called: the worker stops after this batch
                self._inbox.put(None)
                return None
            if not request.abandoned.is_set():
                return request

    def _admit(self, request: _Request) -> tuple[GenerationState, Decoder] | None:
        """The request's fresh state and decoder; ``None`` (and the request told) when it cannot start."""
        try:
            state = self.generator.start(request.prompt, **request.settings)
            decoder = self.generator._decoder(self.generator.check(state))
        except Exception as e:
            request.out.put(("error", e))
            return None
        request.text = TextStream(self.generator.tokens, lambda piece: request.out.put(("text", piece)))
        return state, decoder


def _drain(q: queue.Queue[Any]) -> Iterator[Any]:
    """What is in ``q`` now, without waiting."""
    while True:
        try:
            yield q.get_nowait()
        except queue.Empty:
            return
