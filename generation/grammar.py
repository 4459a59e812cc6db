"""A JSON Schema compiled to a token automaton, cached on disk.

schema -> regular expression (outlines_core) -> ``Index``: for each automaton state
the tokens allowed and the state each leads to. The whole grammar state of a
generation is one state id. The compiled grammar is cached on disk under a
fingerprint of regex + vocabulary + outlines_core version, with a per-state table
(allowed ids, next states, each next state's distance to an accepting state) that
the decoder uses to mask logits and to steer to the end within a token budget.

Forced runs (jump-forward): where every token the grammar allows starts with the
same byte and the answer may not end, that byte is forced; following such bytes
gives the text the schema forces from a state (``","steps":["`` after a list of
ingredients closes). ``Grammar.forced`` returns it in one canonical tokenization, the
longest allowed token at each point, so a decoder can append it without sampling
and feed it to the model in one forward pass. Any tokenization of the run ends in
the same state: the automaton is deterministic over bytes.
"""
from __future__ import annotations

import hashlib
import json
import logging
import pickle
from collections import deque
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from recipe_schema import atomic_write

from .cache import cache_root

log = logging.getLogger(__name__)
CACHE_VERSION = 1
UNREACHABLE = 1 << 30


def cache_dir() -> Path:
    """Where compiled grammars are kept: ``$SOUSCHEF_CACHE_DIR`` or ``~/.cache/souschef``."""
    return cache_root() / "grammar"


@dataclass
class StateTable:
    """What the decoder needs of one automaton state (arrays aligned by position)."""

    ids: np.ndarray         # allowed token ids, EOS excluded      (n,) int64
    next: np.ndarray        # the state each of them leads to      (n,) int64
    next_dist: np.ndarray   # tokens from there to an accept state (n,) int64
    final: bool             # EOS may end the answer here


class Grammar:
    """A compiled schema for one vocabulary.

    Build with ``Grammar.from_schema``; ``fingerprint`` names it in saved states.
    """

    def __init__(self, regex: str, index: Any, eos_id: int, fingerprint: str,
                 tables: dict[int, StateTable], dist: dict[int, int],
                 tokens: dict[int, bytes] | None = None):
        self.regex = regex
        self.index = index
        self.eos_id = eos_id
        self.fingerprint = fingerprint
        self.tables = tables
        self.dist = dist
        self.initial_state: int = index.get_initial_state()
        self.max_next_dist = max((int(t.next_dist.max()) for t in tables.values() if len(t.ids)), default=0)
        self._forced: dict[int, tuple[tuple[int, ...], int]] = {}
        self._tokens = tokens or {}
        self._byte_vocab: _ByteVocab | None = None  # built at the first forced-run query

    # ---------------------------------------------------------------- building
    @classmethod
    def from_schema(cls, schema: dict[str, Any], tokens: dict[int, bytes], eos_id: int,
                    cache: bool = True) -> Grammar:
        """Compile ``schema`` for a vocabulary, or load it from the disk cache.

        Parameters
        ----------
        schema
            A JSON Schema (``recipe_schema.projection.answer_projection()``).
        tokens
            Token id -> bytes, from ``generation.vocabulary.token_bytes``.
        eos_id
            The end-of-sequence token id.
        cache
            Read and write the on-disk cache.
        """
        from outlines_core.json_schema import build_regex_from_schema

        # No whitespace between tokens: the compact layout training data is written in.
        regex = build_regex_from_schema(json.dumps(schema), "")
        fp = fingerprint(regex, tokens, eos_id)
        path = cache_dir() / f"{fp}.pkl"
        if cache and path.is_file():
            try:
                with path.open("rb") as f:
                    data = pickle.load(f)
                if data.get("version") == CACHE_VERSION and data.get("fingerprint") == fp:
                    return cls(regex, data["index"], eos_id, fp, data["tables"], data["dist"], tokens)
            except Exception as e:  # a corrupt or foreign cache file is rebuilt, not fatal
                log.warning("ignoring unreadable grammar cache %s: %s", path, e)
        grammar = cls._build(regex, tokens, eos_id, fp)
        if cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            payload = {"version": CACHE_VERSION, "fingerprint": fp, "index": grammar.index,
                       "tables": grammar.tables, "dist": grammar.dist}
            atomic_write(path, pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
        return grammar

    @classmethod
    def _build(cls, regex: str, tokens: dict[int, bytes], eos_id: int, fp: str) -> Grammar:
        from outlines_core import Index, Vocabulary

        by_bytes: dict[bytes, list[int]] = {}
        for i, b in tokens.items():
            if i != eos_id and b:
                by_bytes.setdefault(b, []).append(i)
        index = Index(regex, Vocabulary(eos_id, by_bytes))
        transitions: dict[int, dict[int, int]] = index.get_transitions()
        finals = set(index.get_final_states())
        dist = _distances(transitions, finals)
        tables = {}
        for state, edges in transitions.items():
            pairs = [(t, s) for t, s in edges.items() if t != eos_id]
            ids = np.fromiter((t for t, _ in pairs), dtype=np.int64, count=len(pairs))
            nxt = np.fromiter((s for _, s in pairs), dtype=np.int64, count=len(pairs))
            nd = np.fromiter((dist.get(s, UNREACHABLE) for s in nxt.tolist()), dtype=np.int64,
                             count=len(pairs))
            tables[state] = StateTable(ids, nxt, nd, state in finals)
        for state in finals - set(tables):
            empty = np.zeros(0, dtype=np.int64)
            tables[state] = StateTable(empty, empty, empty, True)
        return cls(regex, index, eos_id, fp, tables, dist, tokens)

    # ----------------------------------------------------------------- queries
    def table(self, state: int) -> StateTable:
        return self.tables[state]

    def next_state(self, state: int, token: int) -> int | None:
        """The state after ``token``, or ``None`` when the token is not allowed."""
        if token == self.eos_id:
            return None
        nxt = self.index.get_next_state(state, token)
        return None if nxt is None else int(nxt)

    def distance(self, state: int) -> int:
        """Fewest tokens from ``state`` to an accepting state."""
        return self.dist.get(state, UNREACHABLE)

    def forced(self, state: int) -> tuple[tuple[int, ...], int]:
        """The text the schema forces from ``state`` as canonical token ids (empty if none),
        and the state after them.

        Canonical: at each point the longest token whose bytes start the rest of the run
        and that the grammar allows there (the lowest id among equals). The run from the
        state after its first token is the rest of the run, tokenized alike, so taking a
        run token by token or at once gives the same ids.
        """
        cached = self._forced.get(state)
        if cached is None:
            cached = self._forced[state] = self._canonical(state, self._forced_bytes(state))
        return cached

    @property
    def _vocab(self) -> _ByteVocab:
        if self._byte_vocab is None:
            self._byte_vocab = _ByteVocab(self._tokens, self.eos_id)
        return self._byte_vocab

    def _forced_bytes(self, state: int) -> bytes:
        vocab, run = self._vocab, bytearray()
        while vocab.ids_of:  # empty when built without its vocabulary: nothing is forced
            table = self.tables.get(state)
            if table is None or table.final or table.ids.size == 0:
                return bytes(run)
            first = vocab.first_byte[table.ids]
            single = vocab.single[int(first[0])]
            if first[0] < 0 or not (first == first[0]).all() or single < 0:
                return bytes(run)
            nxt = self.next_state(state, single)
            if nxt is None:
                return bytes(run)
            run.append(int(first[0]))
            state = nxt
        return b""

    def _canonical(self, state: int, run: bytes) -> tuple[tuple[int, ...], int]:
        ids: list[int] = []
        at = 0
        while at < len(run):
            for end in range(min(len(run), at + self._vocab.longest), at, -1):
                step = self._allowed_id(state, run[at:end])
                if step is not None:
                    token, state = step
                    ids.append(token)
                    at = end
                    break
            else:  # unreachable: each forced byte's single-byte token is allowed
                raise AssertionError(f"no token for forced bytes {run[at:]!r}")
        return tuple(ids), state

    def _allowed_id(self, state: int, piece: bytes) -> tuple[int, int] | None:
        for token in self._vocab.ids_of.get(piece, ()):
            nxt = self.next_state(state, token)
            if nxt is not None:
                return token, nxt
        return None

    def replay(self, token_ids: list[int]) -> int | None:
        """The state after ``token_ids`` from the start; ``None`` if any is not allowed."""
        state: int | None = self.initial_state
        for t in token_ids:
            state = self.next_state(state, t) if state is not None else None
            if state is None:
                return None
        return state


class _ByteVocab:
    """What forced runs need of a vocabulary: each token's first byte, the single-byte
    tokens, and the ids of each byte string (lowest first)."""

    def __init__(self, tokens: dict[int, bytes], eos_id: int):
        size = max(tokens, default=0) + 1
        self.first_byte = np.full(size, -1, dtype=np.int16)
        self.single = np.full(256, -1, dtype=np.int64)
        self.ids_of: dict[bytes, list[int]] = {}
        for i in sorted(tokens):
            b = tokens[i]
            if not b or i == eos_id:
                continue
            self.first_byte[i] = b[0]
            self.ids_of.setdefault(b, []).append(i)
            if len(b) == 1 and self.single[b[0]] < 0:
                self.single[b[0]] = i
        self.longest = max((len(b) for b in self.ids_of), default=1)


def fingerprint(regex: str, tokens: dict[int, bytes], eos_id: int) -> str:
    """Names a compiled grammar: regex, vocabulary, EOS and outlines_core version."""
    h = hashlib.sha256()
    h.update(f"v{CACHE_VERSION} outlines_core {metadata.version('outlines_core')}\n".encode())
    h.update(regex.encode())
    h.update(f"\neos {eos_id}\n".encode())
    for i in sorted(tokens):
        h.update(i.to_bytes(4, "little"))
        h.update(len(tokens[i]).to_bytes(2, "little"))
        h.update(tokens[i])
    return h.hexdigest()[:24]


def _distances(transitions: dict[int, dict[int, int]], finals: set[int]) -> dict[int, int]:
    """BFS over the reversed token graph: fewest tokens from each state to a final one."""
    reverse: dict[int, set[int]] = {}
    for src, edges in transitions.items():
        for dst in set(edges.values()):
            reverse.setdefault(dst, set()).add(src)
    dist = {s: 0 for s in finals}
    queue = deque(finals)
    while queue:
        s = queue.popleft()
        for prev in reverse.get(s, ()):
            if prev not in dist:
                dist[prev] = dist[s] + 1
                queue.append(prev)
    return dist
