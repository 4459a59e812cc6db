"""What souschef accepts: how big an input may be, and the range of every generation setting.

One table, read by everything that takes these values: the flags of ``souschef
generate`` and ``souschef evaluate``, ``generation.GenerationConfig`` (so a saved state is held
to the same ranges as a flag), the chat app, the training data loaders and the
feedback store. It lives here because every package may import ``recipe_schema``,
and importing it stays light (``souschef --help`` builds its flags from it).

The sizes bound the work an input can cause: a 5 MB line of training data once kept
the tokenizer trainer busy for minutes. They are far above what a real question,
recipe line or comment needs.

>>> SETTINGS["temperature"].check("temperature", 0.7)
0.7
>>> SETTINGS["temperature"].check("temperature", 5.0)
Traceback (most recent call last):
...
recipe_schema.errors.UsageError: temperature must be a number from 0 to 2, not 5.0
>>> str(SETTINGS["top_p"])
'a number above 0 and at most 1'
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .errors import UsageError

MAX_PROMPT_CHARS = 10_000  # a question: a long one is a few hundred
MAX_FIELD_CHARS = 10_000  # one text of a training record: a title, a line, a step, a reply
MAX_RECORD_CHARS = 200_000  # one training record as written (metadata such as reviews included)
MAX_COMMENT_CHARS = 2_000  # a comment on a rated answer


def too_long(length: int, limit: int) -> str:
    """The one wording of a size refusal.

    >>> too_long(5_000_000, MAX_RECORD_CHARS)
    'too long (5000000 characters; the limit is 200000)'
    """
    return f"too long ({length} characters; the limit is {limit})"


@dataclass(frozen=True)
class Range:
    """The values one setting admits: whole numbers or finite numbers from ``low`` to ``high``."""

    kind: type  # int or float
    low: float
    high: float
    low_open: bool = False  # the low end itself is excluded

    def __str__(self) -> str:
        noun = "a whole number" if self.kind is int else "a number"
        low, high = _show(self.low), _show(self.high)
        return f"{noun} above {low} and at most {high}" if self.low_open else f"{noun} from {low} to {high}"

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value`` (``"must be ..., not ..."``), or ``None`` when it is in range."""
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        whole = isinstance(value, int) and not isinstance(value, bool)
        ok = (whole if self.kind is int else number and math.isfinite(value)) and (
            self.low < value if self.low_open else self.low <= value) and value <= self.high
        return None if ok else f"must be {self}, not {value!r}"

    def check(self, name: str, value: Any) -> Any:
        """``value`` when it is in range; else a ``UsageError`` naming ``name`` and the range."""
        problem = self.problem(value)
        if problem:
            raise UsageError(f"{name} {problem}")
        return value

    def parse(self, text: str) -> Any:
        """A flag's text as a value in range (``nan``, ``inf`` and ``1e999`` are not numbers here).

        Raises
        ------
        ValueError
            Saying what is wrong, without a name (argparse adds the flag's).
        """
        try:
            value = self.kind(text)
        except ValueError:
            raise ValueError(f"must be {self}, not {text!r}") from None
        problem = self.problem(value)
        if problem:
            raise ValueError(problem)
        return value


def _show(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else str(int(value))


# Generation settings (``generation.GenerationConfig``) and the per-command numbers beside them.
SETTINGS: dict[str, Range] = {
    # Above 2 the draw is near uniform among the tokens the schema allows: noise, not variety.
    "temperature": Range(float, 0, 2),
    "top_k": Range(int, 0, 1_000_000),  # 0 keeps every token; beyond the vocabulary, the same
    "top_p": Range(float, 0, 1, low_open=True),
    # Below 1 favours repeating; HF's convention. Past 10 every seen token is all but banned.
    "repetition_penalty": Range(float, 0, 10, low_open=True),
    # 0 is off; 2 already forbids repeating any pair of tokens, more than a recipe can bear.
    "no_repeat_ngram": Range(int, 0, 64),
    "seed": Range(int, -(2**63), 2**63 - 1),  # the sampler mixes it into 63 bits
    "max_total_tokens": Range(int, 1, 65_536),  # far past any recipe; bounds a looping model
    "max_new_tokens_per_call": Range(int, 1, 65_536),
    "max_calls": Range(int, 1, 1_000_000),
}


# The weight formats a model decodes with (generation.int8): "auto" is int8 on a CPU where
# torch's int8 kernel is vectorized, else fp32. Here, torch-free, for the flags and configs.
WEIGHTS = ("auto", "fp32", "int8")
