"""What the chat app does, without Gradio: answer, remember each session's turns, show
them, and record ratings.

The model is not thread-safe. With ``batch_size`` above 1 one worker thread owns it
(``generation.scheduler.Scheduler``): the answers of concurrent users are decoded together,
one forward pass per step for all, each joining the batch at the next step where a slot is
free and streaming its own text; ``close`` stops the worker. With ``batch_size`` 1 ``ask``
holds a lock for a whole generation, one at a time. Ratings and re-renders never wait for
the model. A session's turns live here, on the server, keyed by
Gradio's session hash: a rating names a turn, and the prompt and answer stored with it
are the ones the model really produced, never text a client sent.
"""
from __future__ import annotations

import logging
import secrets
import tempfile
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recipe_schema import Answer, Recipe, SouschefError, UsageError

from .display import plain_text, render_answer, streaming_text, write_download
from .feedback import FeedbackEvent, FeedbackStore

logger = logging.getLogger("souschef.chat")

MAX_SESSIONS = 1000  # sessions remembered (least recently used forgotten first)
LIKED = {True: "like", False: "dislike"}  # Gradio's LikeData.liked -> our rating; anything else clears


@dataclass
class Turn:
    """One question and its answer, as it is being written and once it is done."""

    prompt: str
    settings: dict[str, Any]
    answer_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    text: str = ""  # the JSON written so far
    answer: Answer | None = None  # set when finished and valid
    error: str | None = None  # set when it failed

    def markdown(self, servings: int | None) -> str:
        """How the answer shows in the chat right now."""
        if self.answer is not None:
            return render_answer(self.answer, servings)
        if self.error is not None:
            return plain_text(f"Sorry, no answer: {self.error}")
        return streaming_text(self.text)


class ChatService:
    """The chat app's behaviour around one loaded model and one feedback store.

    Parameters
    ----------
    generator
        A ``generation.RecipeGenerator``, loaded once.
    store
        Where ratings go.
    max_total_tokens
        Each answer closes within this many tokens (default: the generator's).
    mode
        ``"recipe"``/``"reply"``/``"any"`` forces the kind of answer; ``None`` (default)
        lets the generator decide.
    download_dir
        Where recipe JSON downloads are written (default: a fresh temporary directory).
    batch_size
        Answers decoded together (default 1: one at a time, under a lock). Above 1 a worker
        thread serves them; call ``close`` when done.
    """

    def __init__(self, generator: Any, store: FeedbackStore, *, max_total_tokens: int | None = None,
                 mode: str | None = None, download_dir: str | Path | None = None, batch_size: int = 1):
        if batch_size < 1:
            raise UsageError(f"batch_size must be at least 1, not {batch_size}")
        self.generator = generator
        self.store = store
        self.max_total_tokens = max_total_tokens
        self.mode = mode
        self.download_dir = Path(download_dir or tempfile.mkdtemp(prefix="souschef-chat-"))
        self.batch_size = batch_size
        self._generate_lock = threading.Lock()  # batch 1: the model serves one generation at a time
        self._scheduler = None
        if batch_size > 1:
            from generation.scheduler import Scheduler

            self._scheduler = Scheduler(generator, batch_size)
        self._sessions: OrderedDict[str, list[Turn]] = OrderedDict()
        self._sessions_lock = threading.Lock()

    # ---------------------------------------------------------------- sessions
    def turns(self, session: str) -> list[Turn]:
        """The session's turns (a new session has none); marks it recently used."""
        with self._sessions_lock:
            turns = self._sessions.setdefault(session, [])
            self._sessions.move_to_end(session)
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
            return turns

    def reset(self, session: str) -> None:
        """Forget a session's turns (a new chat)."""
        with self._sessions_lock:
            self._sessions.pop(session, None)

    # -------------------------------------------------------------- answering
    def ask(self, session: str, prompt: str, temperature: float = 0.0) -> Iterator[Turn]:
        """Answer ``prompt``: yields the turn after each piece of text, and once more when done.

        Raises
        ------
        UsageError
            An empty prompt, or a temperature below 0.
        """
        prompt = prompt.strip()
        if not prompt:
            raise UsageError("type a question first")
        if temperature < 0:
            raise UsageError(f"temperature must be 0 or more, not {temperature}")
        settings: dict[str, Any] = {"temperature": float(temperature),
                                    "seed": secrets.randbelow(2**31) if temperature > 0 else 0}
        if self.max_total_tokens is not None:
            settings["max_total_tokens"] = self.max_total_tokens
        if self.mode is not None:
            settings["mode"] = self.mode
        turn = Turn(prompt, settings)
        self.turns(session).append(turn)
        yield turn
        from postprocess import process_answer

        try:
            for piece in self._pieces(prompt, settings):
                turn.text += piece
                yield turn
            turn.answer = process_answer(turn.text)
        except SouschefError as e:
            turn.error = str(e)
        except Exception as e:  # a bug: the user sees one line, the log the traceback
            logger.exception("generation failed for %r", prompt)
            turn.error = f"internal error ({type(e).__name__})"
        yield turn

    def _pieces(self, prompt: str, settings: dict[str, Any]) -> Iterator[str]:
        """The answer's text as it is written: in the shared batch, or alone under the lock."""
        if self._scheduler is not None:
            pieces = self._scheduler.stream(prompt, **settings)
            try:
                yield from pieces
            finally:
                pieces.close()  # a client gone: its row leaves the batch
            return
        with self._generate_lock:
            yield from self.generator.stream(prompt, **settings)

    def close(self) -> None:
        """Stop the batching worker (nothing to do at batch 1); later questions get an error."""
        if self._scheduler is not None:
            self._scheduler.close()

    # ----------------------------------------------------------------- showing
    def messages(self, session: str, servings: int | None = None) -> list[dict[str, str]]:
        """The chat as Gradio ``messages``: a user and an assistant message per turn."""
        out = []
        for turn in self.turns(session):
            out.append({"role": "user", "content": plain_text(turn.prompt)})
            out.append({"role": "assistant", "content": turn.markdown(servings)})
        return out

    def download(self, session: str, servings: int | None = None) -> Path | None:
        """The latest answer as a JSON file (scaled as shown), when it is a recipe."""
        turns = self.turns(session)
        if not turns or not isinstance(turns[-1].answer, Recipe):
            return None
        return write_download(turns[-1].answer, servings, self.download_dir, turns[-1].answer_id)

    # ------------------------------------------------------------------ rating
    def rate(self, session: str, turn: int, rating: str, comment: str | None = None) -> dict[str, Any]:
        """Record a rating of the session's answer number ``turn`` (0-based; -1 is the latest).

        Returns once the event is committed: ``{"id", "turn", "rating", "answer_id", "is_recipe"}``.

        Raises
        ------
        UsageError
            No such turn, or its answer is not finished (nothing to rate).
        """
        turns = self.turns(session)
        try:
            chosen = turns[turn]
        except (IndexError, TypeError):
            raise UsageError(f"no answer {turn} in this chat ({len(turns)} so far)") from None
        if chosen.answer is None:
            raise UsageError("that answer is not finished, so it cannot be rated yet")
        event = FeedbackEvent(answer_id=chosen.answer_id, prompt=chosen.prompt, answer=chosen.answer,
                              model_id=self.generator.model_id, rating=rating, comment=comment,
                              settings=chosen.settings)
        row = self.store.record(event)
        return {"id": row, "turn": turns.index(chosen), "rating": rating, "answer_id": chosen.answer_id,
                "is_recipe": isinstance(chosen.answer, Recipe)}
