"""The chat format shared by training and generation.

A model sees ``format_prompt(question)`` and learns to continue it with exactly
``answer_text(answer)`` (the compact JSON of a ``Recipe`` or a ``Reply``) followed by
the end-of-sequence token. Generation feeds the same prompt and constrains the
continuation to the same JSON, so what was trained is what is decoded.
Prompt and answer are tokenized separately and their ids concatenated, so the
answer's first token is the same ``{`` in training and in decoding.
"""
from __future__ import annotations

from .model import Answer, to_compact_json

SYSTEM_PROMPT = (
    "You are souschef, a cooking assistant. Answer a cooking question with a recipe in JSON; "
    'answer anything else with {"reply": "..."}.'
)


def format_prompt(question: str, system: str = SYSTEM_PROMPT) -> str:
    """The text a model sees before its answer.

    >>> print(format_prompt("How do I make toast?"))  # doctest: +ELLIPSIS
    You are souschef, a cooking assistant. ...
    User: How do I make toast?
    Assistant:
    <BLANKLINE>
    """
    question = " ".join(question.split())
    return f"{system}\nUser: {question}\nAssistant:\n"


def answer_text(answer: Answer) -> str:
    """The text a model learns to write as its answer (before EOS)."""
    return to_compact_json(answer)
