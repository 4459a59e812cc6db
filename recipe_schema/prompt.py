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
"""
from __future__ import annotations

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
