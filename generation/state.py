"""The resumable state of one generation: plain JSON.

Everything needed to continue a generation in a later call or another process:
the prompt and generated token ids, the grammar state, the sampling settings
(the seed is the sampler's whole RNG state: step i draws from ``(seed, i)``), and
what it was made with (grammar fingerprint, model identity).

A saved state carries a ``digest``: SHA-256 over its content (the parsed JSON, keys
sorted), so an edit by hand or by a buggy tool is refused (``StateError``, exit 2)
while reformatting the file is not. It guards against accidents, not forgers: anyone
who runs this code can recompute it. ``RecipeGenerator.check`` adds what only a model
can check: the prompt ids re-derived from the prompt, the grammar replayed over the
tokens, the budget still able to close the answer. A state saved before the digest
existed (version 1) is refused with a message that says so.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from recipe_schema import StateError
from recipe_schema.limits import SETTINGS, Range

STATE_VERSION = 2  # 2: a digest over the content
MODES = ("any", "recipe", "reply")
CALLS = Range(int, 0, 10**9)


@dataclass(frozen=True)
class GenerationConfig:
    """Sampling and budget settings; part of the state, so a resumed run samples alike.

    Named ``Settings`` until 0.1; that name stays an alias for one release.
    """

    temperature: float = 0.0         # 0 is greedy
    top_k: int = 0                   # 0 keeps every allowed token
    top_p: float = 1.0               # nucleus sampling threshold
    # HF/CTRL convention, 1.0 is off. 1.2 by default: greedy small models otherwise loop on
    # an ingredient line until the budget closes the answer (measured on the tiny preset).
    repetition_penalty: float = 1.2
    # Forbid a token that would repeat an N-gram the answer already holds (0: off), the cure
    # for a line written over and over (HF's no_repeat_ngram_size).
    no_repeat_ngram: int = 0
    # Take the text the schema forces (keys, brackets) in one canonical tokenization without
    # sampling, fed to the model in one pass (generation.decoder); off: the model picks its tokens.
    jump_forward: bool = False
    seed: int = 0                    # the sampler's RNG state
    max_total_tokens: int = 2048     # the answer always closes within this many tokens
    mode: str = "any"                # "any" (recipe or reply), "recipe", "reply"

    def __post_init__(self) -> None:
        from recipe_schema import UsageError

        for f in fields(self):  # the ranges of recipe_schema.limits.SETTINGS, as the flags have them
            if f.name in SETTINGS:
                SETTINGS[f.name].check(f.name, getattr(self, f.name))
        if not isinstance(self.jump_forward, bool):
            raise UsageError(f"jump_forward must be true or false, not {self.jump_forward!r}")
        if self.mode not in MODES:
            raise UsageError(f"mode must be 'any', 'recipe' or 'reply', not {self.mode!r}")


Settings = GenerationConfig  # the old name, kept for one release (generation.Settings)


@dataclass
class GenerationState:
    """Where a generation stands; ``to_json`` / ``from_json`` round-trip it exactly."""

    prompt: str
    prompt_ids: list[int]
    generated_ids: list[int]
    grammar_state: int
    settings: GenerationConfig
    grammar: str                 # the grammar's fingerprint
    model: str                   # the model's identity
    finished: bool = False
    calls: int = 0
    guard_score: float | None = None  # the domain guard's score when it chose the mode (states
    version: int = STATE_VERSION      # saved before the guard existed have none)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """The state as one line of JSON, with its digest."""
        data = asdict(self)
        data["digest"] = _digest(data)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> GenerationState:
        """Parse a saved state; anything malformed, edited or out of range is a ``StateError``."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            if data.get("version") == 1:
                raise StateError("the state predates the integrity check (souschef state version 1); "
                                 "start the generation again")
            if data.get("version") != STATE_VERSION:
                raise ValueError(f"not a version {STATE_VERSION} souschef generation state")
            if not isinstance(data.get("digest"), str):
                raise ValueError("no digest (not saved by souschef)")
            if data.pop("digest") != _digest(data):
                raise StateError("the state was changed after souschef saved it (its digest does not "
                                 "match: edited by hand or by another tool?)")
            known = {f.name for f in fields(GenerationConfig)}
            if not isinstance(data.get("settings"), dict):
                raise ValueError("settings must be an object")
            settings = GenerationConfig(**{k: v for k, v in data.pop("settings").items() if k in known})
            state = cls(settings=settings, **data)
            _check_types(state)
            return state
        except StateError:
            raise
        except Exception as e:  # JSON errors, missing or unexpected keys, bad types, settings out of range
            raise StateError(f"unreadable generation state: {e}") from None


def _digest(data: dict[str, Any]) -> str:
    """SHA-256 of the content, independent of the file's layout (keys sorted, no spaces)."""
    canonical = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _check_types(state: GenerationState) -> None:
    """What a dataclass does not check: every field has the type and range it must have."""
    if not isinstance(state.prompt, str):
        raise ValueError("prompt must be text")
    for name in ("prompt_ids", "generated_ids"):
        ids = getattr(state, name)
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0
                                                for i in ids):
            raise ValueError(f"{name} must be a list of non-negative integers")
    grammar_state = state.grammar_state
    if not isinstance(grammar_state, int) or isinstance(grammar_state, bool) or grammar_state < 0:
        raise ValueError("grammar_state must be a non-negative integer")
    if not isinstance(state.finished, bool):
        raise ValueError("finished must be true or false")
    CALLS.check("calls", state.calls)
    if not (isinstance(state.grammar, str) and isinstance(state.model, str)
            and isinstance(state.extra, dict)):
        raise ValueError("grammar and model must be text, extra an object")
    score = state.guard_score
    if score is not None and not (isinstance(score, (int, float)) and not isinstance(score, bool)
                                  and 0 <= score <= 1):
        raise ValueError("guard_score must be a number in [0, 1] or null")
