"""How the context slides past a model's window: a function of the answer position alone.

A model sees at most ``n_positions`` tokens. The context for the token at answer
position g is the prompt plus the generated tokens from ``Window.start(g)``: where a
call happens to begin or end never changes what the model sees, and training learns
long answers in exactly these windows (``souschef.training.packing.windows``). Each shift
rebuilds the KV cache from the prompt and the ``keep`` last tokens, so ``keep`` is
what a slide re-reads: half the room, at most ``MAX_KEEP`` tokens (a model with an
8k context would otherwise re-read 4,000 tokens at every slide).
"""
from __future__ import annotations

from dataclasses import dataclass

from recipe_schema import UsageError

MIN_ROOM = 8     # fewest answer tokens a window must leave room for
MAX_KEEP = 512   # most generated tokens a slide keeps (and re-reads)


def default_keep(room: int) -> int:
    """Generated tokens kept when the window slides: half the ``room``, at most ``MAX_KEEP``.

    >>> default_keep(200), default_keep(8000)
    (100, 512)
    """
    return min(room // 2, MAX_KEEP)


@dataclass
class Window:
    """How the context slides: prompt length P, positions n, keep K tokens on a shift."""

    prompt_len: int
    n_positions: int
    keep: int

    def __post_init__(self) -> None:
        room = self.n_positions - self.prompt_len
        if room < MIN_ROOM:
            raise UsageError(
                f"the prompt is {self.prompt_len} tokens and the model's context is "
                f"{self.n_positions}: no room left for an answer (shorten the prompt)"
            )
        self.room = room
        self.keep = max(1, min(self.keep, room - 1))
        self.stride = room - self.keep

    def start(self, g: int) -> int:
        """First generated token in the context for answer position ``g``."""
        if g <= self.room - 1:
            return 0
        k = -(-(g - self.room + 1) // self.stride)  # ceil
        return k * self.stride
