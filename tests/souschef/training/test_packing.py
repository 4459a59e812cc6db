"""Examples become labelled, packed rows, and packing does not change what a model sees."""

from __future__ import annotations

import pytest
import torch

from recipe_schema import Reply, format_prompt
from souschef.training.data import Example
from souschef.training.model import from_scratch
from souschef.training.packing import (
    IGNORE,
    PackedCollator,
    Tokenized,
    pack,
    packed_rows,
    tokenize_examples,
    windows,
)


@pytest.fixture(scope="module")
def tiny():
    texts = [format_prompt("How do I boil an egg?") + '{"reply":"Boil it for eight minutes."}'] * 30
    model, tokenizer = from_scratch("tiny", texts, seed=0)
    return model.eval(), tokenizer


def test_prompt_and_answer_are_tokenized_apart_with_loss_on_the_answer_and_eos(tiny):
    _, tokenizer = tiny
    example = Example("How do I boil an egg?", Reply(reply="Boil it."), "x:1")
    (item,), truncated = tokenize_examples([example], tokenizer, seq_len=512)
    prompt = tokenizer(format_prompt(example.prompt)).input_ids
    answer = tokenizer(example.answer_text).input_ids
    assert item.input_ids == prompt + answer + [tokenizer.eos_token_id]
    assert item.labels == [IGNORE] * len(prompt) + answer + [tokenizer.eos_token_id]
    assert truncated == 0
    assert tokenizer.pad_token_id != tokenizer.eos_token_id


def test_a_long_example_is_learned_in_the_windows_generation_slides_through(tiny):
    _, tokenizer = tiny
    example = Example("Egg?", Reply(reply="word " * 200), "x:1")
    items, windowed = tokenize_examples([example], tokenizer, seq_len=64)
    prompt = tokenizer(format_prompt(example.prompt)).input_ids
    target = [*tokenizer(example.answer_text).input_ids, tokenizer.eos_token_id]
    assert windowed == 1 and len(items) > 1
    assert all(len(i.input_ids) == len(i.labels) <= 64 for i in items)
    assert all(i.input_ids[: len(prompt)] == prompt for i in items)
    learned = [t for i in items for t in i.labels if t != IGNORE]
    assert learned == target  # every answer token and the EOS, each exactly once, in order


@pytest.mark.parametrize("prompt_len,answer_len,seq_len",
                         [(20, 300, 64), (60, 700, 256), (100, 157, 256), (40, 3000, 2048)])
def test_training_windows_are_the_contexts_generation_predicts_from(prompt_len, answer_len, seq_len):
    from generation.window import Window, default_keep

    window = Window(prompt_len, seq_len, default_keep(seq_len - prompt_len))
    spans = windows(prompt_len, answer_len, seq_len)
    for g in range(answer_len):
        (start,) = [s for s, first, end in spans if first <= g < end]
        assert start == window.start(g)
    assert all(prompt_len + end - start <= seq_len for start, _, end in spans)


def test_first_fit_packing_fills_rows_without_splitting_examples():
    lengths = [700, 300, 500, 200, 1000, 24, 600]
    rows = pack(lengths, seq_len=1024, seed=1)
    assert sorted(i for row in rows for i in row) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in row) <= 1024 for row in rows)
    assert len(rows) == 4 and pack(lengths, 1024, seed=1) == rows


def test_rows_restart_positions_per_example_and_pad_only_at_the_end():
    items = [
        Tokenized([5, 6, 7], [IGNORE, 6, 7]),
        Tokenized([8, 9], [IGNORE, 9]),
        Tokenized([4] * 6, [4] * 6),
    ]
    rows = packed_rows(items, seq_len=8, seed=0)
    assert len(rows) == 2
    batch = PackedCollator(fill_id=0)(rows)
    assert batch["input_ids"].shape == (2, 8) and "attention_mask" not in batch
    for r, row in enumerate(rows):
        n = len(row["input_ids"])
        assert batch["labels"][r, n:].eq(IGNORE).all()
        assert batch["position_ids"][r, n:].tolist() == list(range(8 - n))
    packed = next(row for row in rows if len(row["input_ids"]) == 5)
    assert packed["position_ids"] in ([0, 1, 2, 0, 1], [0, 1, 0, 1, 2])
    assert PackedCollator(fill_id=0, mask_packed=False)(rows)["attention_mask"].eq(1).all()
    assert PackedCollator(fill_id=0, pad_to=16)(rows)["input_ids"].shape == (2, 16)


def _logits_packed_and_alone(model, mask_packed: bool):
    a, b = Tokenized(list(range(10, 17)), [0] * 7), Tokenized(list(range(30, 35)), [0] * 5)
    (row,) = packed_rows([a, b], seq_len=16, seed=0)
    batch = PackedCollator(fill_id=0, mask_packed=mask_packed)(rows=[row])
    with torch.no_grad():
        # use_cache=False as under Trainer (args.use_cache): with a cache, transformers skips the
        # packed-sequence detection and examples silently attend across.
        packed = model(**{k: v for k, v in batch.items() if k != "labels"}, use_cache=False).logits[0]
        alone = [model(input_ids=torch.tensor([t.input_ids])).logits[0] for t in (a, b)]
    second = row["input_ids"].index(30 if row["input_ids"][0] == 10 else 10)
    first_alone, second_alone = (alone[0], alone[1]) if row["input_ids"][0] == 10 else (alone[1], alone[0])
    return packed, second, first_alone, second_alone


def test_packed_examples_with_the_mask_see_exactly_what_they_would_alone(tiny):
    model, _ = tiny
    packed, second, first_alone, second_alone = _logits_packed_and_alone(model, mask_packed=True)
    torch.testing.assert_close(packed[:second], first_alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        packed[second : second + len(second_alone)], second_alone, atol=1e-5, rtol=1e-5
    )


def test_without_the_mask_a_packed_example_attends_to_its_neighbour(tiny):
    model, _ = tiny
    packed, second, first_alone, second_alone = _logits_packed_and_alone(model, mask_packed=False)
    torch.testing.assert_close(packed[:second], first_alone, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(packed[second : second + len(second_alone)], second_alone, atol=1e-3)


def test_transformers_flattening_collator_packs_gpt2_the_same_way(tiny):
    # DataCollatorWithFlattening (padding-free, one row per batch) relies on the same
    # position-id detection; checked here so a transformers upgrade that breaks it shows.
    from transformers import DataCollatorWithFlattening

    model, _ = tiny
    a, b = list(range(10, 17)), list(range(30, 35))
    batch = DataCollatorWithFlattening()([{"input_ids": a}, {"input_ids": b}])
    assert batch["position_ids"].tolist() == [[0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4]]
    with torch.no_grad():
        flat = model(
            input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False
        ).logits[0]
        alone = model(input_ids=torch.tensor([b])).logits[0]
    torch.testing.assert_close(flat[7:], alone, atol=1e-5, rtol=1e-5)


def test_trainer_evaluates_packed_rows_as_if_each_example_were_alone(tiny, tmp_path):
    from transformers import Trainer, TrainingArguments

    model, tokenizer = tiny
    examples = [
        Example(f"Question {i}?", Reply(reply="Boil it " + "for eight minutes " * i), "x:1") for i in range(4)
    ]
    items, _ = tokenize_examples(examples, tokenizer, seq_len=256)
    rows = packed_rows(items, seq_len=256, seed=0)
    assert len(rows) < len(items)  # some examples share a row
    args = TrainingArguments(
        output_dir=str(tmp_path),
        use_cpu=True,
        report_to="none",
        remove_unused_columns=False,
        per_device_eval_batch_size=len(rows),
        prediction_loss_only=True,
    )
    trainer = Trainer(model=model, args=args, data_collator=PackedCollator(tokenizer.eos_token_id))
    packed_loss = trainer.evaluate(eval_dataset=rows)["eval_loss"]
    total, count = 0.0, 0
    with torch.no_grad():
        for item in items:
            labels = torch.tensor([item.labels])
            loss = model(input_ids=torch.tensor([item.input_ids]), labels=labels).loss
            n = int(labels[0, 1:].ne(IGNORE).sum())
            total, count = total + float(loss) * n, count + n
    assert packed_loss == pytest.approx(total / count, rel=1e-4)
