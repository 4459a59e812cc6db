"""The chat format shared by training and generation.

A model sees ``format_prompt(question)`` and learns to continue it with exactly
``answer_text(answer)`` (the compact JSON of a ``Recipe`` or a ``Reply``) followed by
the end-of-sequence token. Generation feeds the same prompt and constrains the
continuation to the same JSON, so what was trained is what is decoded.
Prompt and answer are tokenized separately and their ids concatenated, so the
answer's first token is the same ``{`` in training and in decoding.

A model with a chat template (SmolLM2) sees the same question through its own
template instead (``prompt_text`` with ``CHAT_TEMPLATE``: a short system turn, the
user's turn, the assistant's header) and ends its answer with the template's
end-of-turn token (``end_of_answer_id``). GPT-2-style models without a template keep
the plain layout.

A recipe file has no question, but a model must learn to answer a *question* with a
recipe, phrased the many ways people ask: ``questions_for(title)`` makes them, from a
fixed set of templates chosen by a hash of the title, so the same file always gives the
same questions, on every machine and every process of a distributed run (training's
examples and the domain guard's cooking questions alike).
"""
from __future__ import annotations

import hashlib
from typing import Any

from .recipe import Answer, to_compact_json

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


# How a model's prompt is laid out. A model trained by souschef records its format in
# souschef.json; a model without a record uses its tokenizer's chat template if it has one.
PLAIN = "plain"                  # format_prompt's text: for models without a chat template (GPT-2)
CHAT_TEMPLATE = "chat-template"  # the tokenizer's own chat template, system + user turns
PROMPT_FORMATS = (PLAIN, CHAT_TEMPLATE)
_MARK = "\u2063souschef-answer\u2063"  # a string no template writes, to find where an answer ends


def default_prompt_format(tokenizer: Any) -> str:
    """``CHAT_TEMPLATE`` when the tokenizer has a chat template, else ``PLAIN``."""
    return CHAT_TEMPLATE if getattr(tokenizer, "chat_template", None) else PLAIN


def prompt_text(question: str, tokenizer: Any, prompt_format: str, system: str = SYSTEM_PROMPT) -> str:
    """The text a model sees before its answer, in ``prompt_format``.

    With ``CHAT_TEMPLATE``: a system turn and a user turn rendered by the tokenizer's
    template, ending where the assistant's answer begins. A template that refuses a
    system turn gets the system text at the start of the user turn.
    """
    if prompt_format == PLAIN:
        return format_prompt(question, system)
    if prompt_format != CHAT_TEMPLATE:
        raise ValueError(f"unknown prompt format {prompt_format!r}; use one of {PROMPT_FORMATS}")
    question = " ".join(question.split())
    try:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
        return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
    except Exception:  # jinja's TemplateError: "System role not supported" and the like
        messages = [{"role": "user", "content": f"{system}\n\n{question}"}]
        return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))


def end_of_answer_id(tokenizer: Any, prompt_format: str) -> int:
    """The token that ends an answer: the template's end-of-turn token, else EOS.

    Found by rendering an assistant turn and reading the special token right after its
    text (``<|im_end|>`` for ChatML templates such as SmolLM2's).
    """
    eos = int(tokenizer.eos_token_id)
    if prompt_format != CHAT_TEMPLATE:
        return eos
    try:
        text = str(tokenizer.apply_chat_template(
            [{"role": "user", "content": "q"}, {"role": "assistant", "content": _MARK}], tokenize=False))
    except Exception:
        return eos
    tail = text[text.rfind(_MARK) + len(_MARK):] if _MARK in text else ""
    ids = tokenizer(tail, add_special_tokens=False)["input_ids"] if tail else []
    return int(ids[0]) if ids and ids[0] in set(tokenizer.all_special_ids) else eos


# How people ask for a dish by name; {title} is a recipe's title.
QUESTION_TEMPLATES = (
    "How do I make {title}?",
    "Can you give me a recipe for {title}?",
    "I'd like to cook {title}.",
    "What's a good recipe for {title}?",
    "Show me how to make {title}.",
    "I want to make {title} tonight. How do I do it?",
    "Recipe for {title}, please.",
    "How would I prepare {title} at home?",
)


def questions_for(title: str, count: int = 1) -> list[str]:
    """``count`` distinct questions asking for ``title``, chosen deterministically.

    Parameters
    ----------
    title
        The recipe's title, used as written.
    count
        How many questions (at most ``len(QUESTION_TEMPLATES)``).

    >>> questions_for("Shakshuka")
    ['I want to make Shakshuka tonight. How do I do it?']
    >>> len(set(questions_for("Shakshuka", 3)))
    3
    """
    if not 1 <= count <= len(QUESTION_TEMPLATES):
        raise ValueError(f"count must be between 1 and {len(QUESTION_TEMPLATES)}, got {count}")
    digest = hashlib.sha256(title.strip().lower().encode("utf-8")).digest()
    first = int.from_bytes(digest[:8], "big") % len(QUESTION_TEMPLATES)
    # Consecutive templates from a hashed start: distinct, and spread evenly over titles.
    picks = [QUESTION_TEMPLATES[(first + i) % len(QUESTION_TEMPLATES)] for i in range(count)]
    return [t.format(title=title.strip()) for t in picks]
