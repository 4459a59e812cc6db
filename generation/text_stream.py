"""Token ids to text pieces as they are generated, for streaming.

A token may hold half of a UTF-8 character (byte-level BPE); the stream holds such
bytes back until the character is whole, so every piece it hands on is valid text.
"""
from __future__ import annotations

from collections.abc import Callable


class TextStream:
    """Turns token ids into text pieces, holding back incomplete UTF-8 characters."""

    def __init__(self, tokens: dict[int, bytes], sink: Callable[[str], None] | None):
        self.tokens, self.sink = tokens, sink
        self.pending = b""

    def push(self, token: int) -> None:
        self.pending += self.tokens.get(token, b"")
        for cut in range(len(self.pending), max(len(self.pending) - 4, -1), -1):
            try:
                text = self.pending[:cut].decode("utf-8")
            except UnicodeDecodeError:
                continue
            if text and self.sink:
                self.sink(text)
            self.pending = self.pending[cut:]
            return
