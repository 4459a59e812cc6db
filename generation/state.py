"""The resumable state of one generation: plain JSON.

Everything needed to continue a generation in a later call or another process:
the prompt and generated token ids, the grammar state, the sampling settings
(the seed is the sampler's whole RNG state: step i draws from ``(seed, i)``), and
what it was made with (grammar fingerprint, model identity). ``check`` refuses a
state made with another model or schema, or whose grammar state does not match
its tokens.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from recipe_schema import StateError

STATE_VERSION = 1


@dataclass(frozen=True)
class Settings:
    """Sampling and budget settings; part of the state, so a resumed run samples alike."""

    temperature: float = 0.0         # 0 is greedy
    top_k: int = 0                   # 0 keeps every allowed token
    top_p: float = 1.0               # nucleus sampling threshold
    # HF/CTRL convention, 1.0 is off. 1.2 by default: greedy small models otherwise loop on
    # an ingredient line until the budget closes the answer (measured on the tiny preset).
    repetition_penalty: float = 1.2
    seed: int = 0                    # the sampler's RNG state
    max_total_tokens: int = 2048     # the answer always closes within this many tokens
    mode: str = "any"                # "any" (recipe or reply), "recipe", "reply"

    def __post_init__(self) -> None:
        from recipe_schema import UsageError

        if self.temperature < 0:
            raise UsageError(f"temperature must be >= 0, not {self.temperature}")
        if self.top_k < 0:
            raise UsageError(f"top_k must be >= 0, not {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise UsageError(f"top_p must be in (0, 1], not {self.top_p}")
        if self.repetition_penalty <= 0:
            raise UsageError(f"repetition_penalty must be > 0, not {self.repetition_penalty}")
        if self.max_total_tokens < 1:
            raise UsageError(f"max_total_tokens must be >= 1, not {self.max_total_tokens}")
        if self.mode not in ("any", "recipe", "reply"):
            raise UsageError(f"mode must be 'any', 'recipe' or 'reply', not {self.mode!r}")


@dataclass
class GenerationState:
    """Where a generation stands; ``to_json`` / ``from_json`` round-trip it exactly."""

    prompt: str
    prompt_ids: list[int]
    generated_ids: list[int]
    grammar_state: int
    settings: Settings
    grammar: str                 # the grammar's fingerprint
    model: str                   # the model's identity
    finished: bool = False
    calls: int = 0
    guard_score: float | None = None  # the domain guard's score when it chose the mode (states
    version: int = STATE_VERSION      # saved before the guard existed have none)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        data = asdict(self)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> GenerationState:
        """Parse a saved state; anything malformed is a ``StateError``."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
                raise ValueError(f"not a version {STATE_VERSION} souschef generation state")
            known = {f.name for f in fields(Settings)}
            settings = Settings(**{k: v for k, v in data.pop("settings").items() if k in known})
            state = cls(settings=settings, **data)
            ints = state.prompt_ids + state.generated_ids + [state.grammar_state]
            if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in ints):
                raise ValueError("token ids and grammar state must be non-negative integers")
            score = state.guard_score
            if score is not None and not (isinstance(score, (int, float)) and not isinstance(score, bool)
                                          and 0 <= score <= 1):
                raise ValueError("guard_score must be a number in [0, 1] or null")
            return state
        except StateError:
            raise
        except Exception as e:  # JSON errors, missing or unexpected keys, bad types
            raise StateError(f"unreadable generation state: {e}") from None
