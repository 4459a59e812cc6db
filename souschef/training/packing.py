"""Examples to token rows: tokenize, label the answer, pack several examples per row.

One example is ``tokenizer(prompt) + tokenizer(answer) + [EOS]`` (the two parts
tokenized separately, as generation sees them), labelled ``-100`` on the prompt so
that the loss is on the answer and its EOS only.

Examples are packed first-fit into rows of ``seq_len`` tokens, so a batch is
nearly all real tokens instead of padding. Position ids restart at 0 for every
example, so each one sees the absolute positions it would see alone (GPT-2 has
learned position embeddings). With ``mask_packed`` the collator leaves out the
attention mask and transformers derives a block-diagonal one from the restarting
position ids (``masking_utils.find_packed_sequence_indices``): an example attends only
to itself, exactly as if it were alone. Without it, a mask of ones lets SDPA use its
causal kernel and examples attend to earlier neighbours in the row (nanoGPT, llm.c).
Rows are padded at the end only; under a causal mask no real token attends to the
padding, and its labels are ``-100``. The filler id is EOS, not the pad token: it is
never attended to nor learned, and transformers warns about a pad id in ``input_ids``
without an attention mask (which packing must leave out).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from generation.window import default_keep
from recipe_schema import PLAIN, end_of_answer_id, prompt_text

from .data import Example

IGNORE = -100


@dataclass
class Tokenized:
    """One example as token ids and labels (``-100`` where no loss is taken)."""

    input_ids: list[int]
    labels: list[int]


def tokenize_examples(
    examples: Sequence[Example], tokenizer: Any, seq_len: int, prompt_format: str = PLAIN
) -> tuple[list[Tokenized], int]:
    """Token ids and answer-only labels for each example, in windows of ``seq_len``.

    An example longer than ``seq_len`` becomes several items, the windows generation
    sees past the model's context (``generation.window.Window``, with its default
    ``keep``): the prompt, then the answer from the window's start. Each
    answer token is learned exactly once, in the window generation predicts it from,
    so the model learns the ends of long recipes and where to stop.

    The prompt is laid out in ``prompt_format`` (``recipe_schema.prompt_text``) and the
    answer ends with ``end_of_answer_id``: the chat template's end-of-turn, or EOS.

    Returns
    -------
    (items, windowed)
        The tokenized items, and how many examples were longer than ``seq_len``.

    >>> windows(prompt_len=4, answer_len=10, seq_len=10)   # room 6, keep 3, stride 3
    [(0, 0, 6), (3, 6, 9), (6, 9, 10)]
    """
    if not examples:  # no validation split (eval_fraction 0): nothing to tokenize
        return [], 0
    prompts = tokenizer([prompt_text(e.prompt, tokenizer, prompt_format) for e in examples])["input_ids"]
    # The answer continues the prompt: no BOS or other special tokens in front of it.
    answers = tokenizer([e.answer_text for e in examples], add_special_tokens=False)["input_ids"]
    eos = end_of_answer_id(tokenizer, prompt_format)
    items, windowed = [], 0
    for prompt, answer in zip(prompts, answers, strict=True):
        target = [*answer, eos]
        if len(prompt) + len(target) <= seq_len:
            items.append(Tokenized([*prompt, *target], [IGNORE] * len(prompt) + target))
            continue
        windowed += 1
        if seq_len - len(prompt) < 2:  # no room for an answer: keep what fits, as before
            items.append(Tokenized(prompt[:seq_len], [IGNORE] * min(len(prompt), seq_len)))
            continue
        for start, first, end in windows(len(prompt), len(target), seq_len):
            part = target[start:end]
            learned = [IGNORE] * (first - start) + target[first:end]
            items.append(Tokenized([*prompt, *part], [IGNORE] * len(prompt) + learned))
    return items, windowed


def windows(prompt_len: int, answer_len: int, seq_len: int) -> list[tuple[int, int, int]]:
    """``(start, first, end)`` per window: answer tokens ``start:end`` are in context,
    and ``first:end`` are learned there (``Window.start(g) == start`` for those g)."""
    room = seq_len - prompt_len
    keep = max(1, min(default_keep(room), room - 1))
    spans, first = [], 0
    while first < answer_len:
        start = 0 if first == 0 else first - keep
        end = min(start + room, answer_len)
        spans.append((start, first, end))
        first = end
    return spans


def pack(lengths: Sequence[int], seq_len: int, seed: int) -> list[list[int]]:
    """Group example indices into rows of at most ``seq_len`` tokens (first fit).

    The order is shuffled with ``seed`` first so rows mix sources and lengths.

    >>> pack([6, 5, 4, 3], seq_len=10, seed=0)
    [[2, 0], [1, 3]]
    """
    order = list(range(len(lengths)))
    random.Random(seed).shuffle(order)
    rows: list[list[int]] = []
    room: list[int] = []
    for i in order:
        n = lengths[i]
        # First fit: scanning all rows is O(examples x rows), under a second for 10^4 examples.
        for r, free in enumerate(room):
            if n <= free:
                rows[r].append(i)
                room[r] -= n
                break
        else:
            rows.append([i])
            room.append(seq_len - n)
    return rows


def packed_rows(items: Sequence[Tokenized], seq_len: int, seed: int) -> list[dict[str, list[int]]]:
    """Rows of concatenated examples with ``input_ids``, ``labels`` and restarting ``position_ids``."""
    rows = []
    for group in pack([len(t.input_ids) for t in items], seq_len, seed):
        row: dict[str, list[int]] = {"input_ids": [], "labels": [], "position_ids": []}
        for i in group:
            row["input_ids"] += items[i].input_ids
            row["labels"] += items[i].labels
            row["position_ids"] += list(range(len(items[i].input_ids)))
        rows.append(row)
    return rows


class PackedCollator:
    """Batches rows into tensors, padding each row at its end.

    Parameters
    ----------
    fill_id
        The id written into padding positions (EOS; its labels there are ``-100``).
    mask_packed
        Block-diagonal attention between packed examples (see module docstring).
    pad_to
        Pad every batch to exactly this length (static shapes for ``torch.compile``);
        ``None`` pads to the longest row, rounded up to a multiple of 8.
    """

    def __init__(self, fill_id: int, mask_packed: bool = True, pad_to: int | None = None):
        self.fill_id = fill_id
        self.mask_packed = mask_packed
        self.pad_to = pad_to

    def __call__(self, rows: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        longest = max(len(r["input_ids"]) for r in rows)
        width = self.pad_to or -(-longest // 8) * 8
        batch: dict[str, Any] = {"input_ids": [], "labels": [], "position_ids": []}
        for row in rows:
            extra = width - len(row["input_ids"])
            batch["input_ids"].append(row["input_ids"] + [self.fill_id] * extra)
            batch["labels"].append(row["labels"] + [IGNORE] * extra)
            # The padding is a sequence of its own (positions from 0), so with mask_packed
            # it is a separate block and never widens a real example's attention.
            batch["position_ids"].append(row["position_ids"] + list(range(extra)))
        out = {k: torch.tensor(v, dtype=torch.long) for k, v in batch.items()}
        if not self.mask_packed:
            # An explicit all-ones mask turns off packed-sequence detection: plain causal attention.
            out["attention_mask"] = torch.ones_like(out["input_ids"])
        return out


def single_rows(items: Sequence[Tokenized]) -> list[dict[str, list[int]]]:
    """One example per row, for validation: the loss is then exactly the loss of each
    example seen alone, as at inference, whatever ``mask_packed`` is."""
    return [
        {"input_ids": t.input_ids, "labels": t.labels, "position_ids": list(range(len(t.input_ids)))}
        for t in items
    ]
