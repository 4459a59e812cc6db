"""Training throughput and MFU: souschef's Trainer setup against a plain one, in one process.

    python bench/train_throughput.py --preset tiny --seq-len 512 --steps 30      # CPU
    python bench/train_throughput.py --preset small --seq-len 1024 --steps 50    # GPU (bf16, compile)
    python bench/train_throughput.py --preset smollm2 --lora --seq-len 1024 --batch-size 2 \\
        --steps 6 --warmup 1 --repeats 1                                         # CPU, SmolLM2

Three setups train the same randomly initialised model (a GPT-2 preset, or SmolLM2-135M's
Llama shape: 30 layers, 576 wide, 9 query and 3 key/value heads; ``--lora`` trains rank-16
adapters on it as ``souschef train --lora`` does) on the same random examples
(token ids drawn uniformly, lengths uniform in [seq_len/16, 3 seq_len/4], like the
shipped corpus at seq_len 1024):

- plain: transformers' Trainer as most scripts use it: fp32, no compile, AdamW,
  examples padded to the longest in the batch with an attention mask;
- souschef: ``souschef.training.arguments.training_arguments`` (bf16 + compile + fused AdamW +
  TF32 when CUDA is present) with examples packed into rows of seq_len tokens and
  a block-diagonal mask between them (``mask_packed``, the default);
- souschef, no mask: the same, packed examples attending to their neighbours.

Reported per setup: real (non-padding) tokens per second, the median step time and
MFU = tokens/s x (6N + 12 L H Q T) / peak, with N the parameters (position embeddings
excluded; with --lora still the whole model's, though LoRA skips most weight gradients),
L layers, H heads, Q head size, T = seq_len. Each number is the median
over --repeats runs (setups interleaved, so that a noisy neighbour hits all alike);
the first --warmup steps of each run (compilation, allocator) are not timed.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SETUPS = ("plain", "souschef", "souschef-nomask")
PRESETS = ("tiny", "small", "smollm2")


class LlamaShape:
    """SmolLM2-135M's shape, named as ``souschef.training.model.Shape`` names a GPT-2's (for the FLOPs)."""

    n_layer, n_head, n_embd, n_positions, vocab_size = 30, 9, 576, 8192, 49152


def build_model(preset: str, seq_len: int) -> tuple[Any, Any]:
    """A randomly initialised model of the preset's shape, and the shape."""
    from transformers import GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    from souschef.training.model import SHAPES, gpt2_config

    if preset == "smollm2":
        s = LlamaShape
        config = LlamaConfig(vocab_size=s.vocab_size, hidden_size=s.n_embd, intermediate_size=1536,
                             num_hidden_layers=s.n_layer, num_attention_heads=s.n_head, num_key_value_heads=3,
                             max_position_embeddings=s.n_positions, tie_word_embeddings=True,
                             rope_theta=100000.0, rms_norm_eps=1e-5)
        return LlamaForCausalLM(config), s
    shape = SHAPES[preset]
    # the tiny preset's 256-token context grows to T
    config = gpt2_config(shape, shape.vocab_size, eos=0, n_positions=max(shape.n_positions, seq_len))
    return GPT2LMHeadModel(config), shape


class CountingCollator:
    """Wraps a collator and records the real tokens of every batch it builds."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.tokens: list[int] = []

    def __call__(self, rows: list[dict[str, list[int]]]) -> dict[str, Any]:
        self.tokens.append(sum(len(r["input_ids"]) for r in rows))
        return self.inner(rows)


class PaddingCollator:
    """The plain setup: one example per row, right-padded, with an attention mask."""

    def __init__(self, fill_id: int):
        self.fill_id = fill_id

    def __call__(self, rows: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(r["input_ids"]) for r in rows)
        ids = [r["input_ids"] + [self.fill_id] * (width - len(r["input_ids"])) for r in rows]
        labels = [r["input_ids"] + [-100] * (width - len(r["input_ids"])) for r in rows]
        mask = [[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"])) for r in rows]
        return {
            "input_ids": torch.tensor(ids),
            "labels": torch.tensor(labels),
            "attention_mask": torch.tensor(mask),
        }


def examples(count: int, seq_len: int, vocab: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    lengths = [rng.randint(seq_len // 16, 3 * seq_len // 4) for _ in range(count)]
    return [[rng.randrange(vocab) for _ in range(n)] for n in lengths]


def flops_per_token(n_params: int, shape: Any, seq_len: int) -> float:
    """6N for the matrix multiplies forward and backward, plus attention (PaLM, nanoGPT)."""
    head = shape.n_embd // shape.n_head
    return 6 * n_params + 12 * shape.n_layer * shape.n_head * head * seq_len


def run_setup(name: str, opts: argparse.Namespace, data: list[list[int]], workdir: Path) -> dict[str, float]:
    import torch
    from transformers import PrinterCallback, ProgressCallback, Trainer, TrainingArguments

    from souschef.training import TrainConfig
    from souschef.training.arguments import expected_warnings, training_arguments
    from souschef.training.callbacks import StepTimer
    from souschef.training.model import apply_lora, count_parameters
    from souschef.training.packing import PackedCollator, Tokenized, packed_rows

    cuda = torch.cuda.is_available()
    batches = opts.steps * opts.batch_size
    if name == "plain":
        rows = [{"input_ids": ids} for ids in data[:batches]]
        collator: Any = PaddingCollator(fill_id=0)
        args = TrainingArguments(
            output_dir=str(workdir / name),
            per_device_train_batch_size=opts.batch_size,
            max_steps=opts.steps,
            learning_rate=1e-3,
            lr_scheduler_type="cosine",
            optim="adamw_torch",
            use_cpu=not cuda,
            report_to="none",
            remove_unused_columns=False,
            save_strategy="no",
            logging_steps=10**6,
            dataloader_pin_memory=cuda,
            seed=0,
        )
    else:
        items = [Tokenized(ids, ids) for ids in data]
        rows = packed_rows(items, opts.seq_len, seed=0)[:batches]
        config = TrainConfig(
            from_scratch=opts.preset if opts.preset != "smollm2" else None,
            lora=opts.lora,
            batch_size=opts.batch_size,
            grad_accum=1,
            seq_len=opts.seq_len,
            max_steps=opts.steps,
            mask_packed=name == "souschef",
            eval_fraction=0.0,
        )
        args = training_arguments(config, workdir / name, opts.steps, has_eval=False, cuda=cuda, world=1)
        args.set_save(strategy="no")
        args.set_logging(steps=10**6)
        collator = PackedCollator(0, config.mask_packed, pad_to=opts.seq_len if cuda else None)
    if len(rows) < batches:
        raise SystemExit(f"not enough rows for {opts.steps} steps; lower --steps")
    counting = CountingCollator(collator)
    torch.manual_seed(0)
    model, shape = build_model(opts.preset, opts.seq_len)
    model.loss_type = "ForCausalLM"
    n_params = count_parameters(model)  # of the whole model: LoRA still runs every layer both ways
    if opts.lora:
        model = apply_lora(model)
    timer = StepTimer()
    trainer = Trainer(model=model, args=args, train_dataset=rows, data_collator=counting, callbacks=[timer])
    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    with expected_warnings():
        trainer.train()
    timed = slice(opts.warmup, opts.steps)
    seconds, tokens = sum(timer.durations[timed]), sum(counting.tokens[: opts.steps][timed])
    rate = tokens / seconds
    return {
        "tokens_per_s": rate,
        "step_ms": 1000 * statistics.median(timer.durations[timed]),
        "real_tokens_per_step": tokens / len(timer.durations[timed]),
        "mfu": rate * flops_per_token(n_params, shape, opts.seq_len) / opts.peak_flops,
        "params": n_params,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=PRESETS, default="tiny")
    parser.add_argument("--lora", action="store_true",
                        help="train rank-16 LoRA adapters (peft), not every weight")
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument(
        "--batch-size", type=int, default=8, help="rows (packed) or examples (plain) per step"
    )
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5, help="first steps not timed")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--peak-flops", type=float, default=989e12, help="peak FLOP/s (H200 bf16 dense: 989e12)"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    opts = parser.parse_args(argv)
    if opts.warmup >= opts.steps:
        parser.error("--warmup must be smaller than --steps")

    import torch

    from souschef.training.model import SHAPES

    if opts.threads:
        torch.set_num_threads(opts.threads)
    shape = LlamaShape if opts.preset == "smollm2" else SHAPES[opts.preset]
    if opts.seq_len > 1024 and opts.preset != "smollm2":
        parser.error("--seq-len is at most 1024 (GPT-2's context)")
    mean_len = (opts.seq_len // 16 + 3 * opts.seq_len // 4) / 2
    count = int(opts.steps * opts.batch_size * (opts.seq_len / mean_len) * 1.3) + opts.batch_size * opts.steps
    data = examples(count, opts.seq_len, shape.vocab_size, seed=0)
    runs: dict[str, list[dict[str, float]]] = {s: [] for s in SETUPS}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(opts.repeats):
            for setup in SETUPS:
                run = run_setup(setup, opts, data, Path(tmp) / str(repeat))
                runs[setup].append(run)
                rate = run["tokens_per_s"]
                print(f"repeat {repeat + 1}/{opts.repeats} {setup}: {rate:.0f} tokens/s", file=sys.stderr)
    device = (
        torch.cuda.get_device_name()
        if torch.cuda.is_available()
        else f"CPU, {torch.get_num_threads()} threads"
    )
    result = {
        "device": device,
        "preset": opts.preset,
        "lora": opts.lora,
        "seq_len": opts.seq_len,
        "batch_size": opts.batch_size,
        "steps": opts.steps,
        "warmup": opts.warmup,
        "repeats": opts.repeats,
        "peak_flops": opts.peak_flops,
        "params": runs["plain"][0]["params"],
        "setups": {
            s: {
                k: statistics.median(r[k] for r in runs[s])
                for k in ("tokens_per_s", "step_ms", "real_tokens_per_step", "mfu")
            }
            for s in SETUPS
        },
    }
    if opts.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"{device}; {opts.preset}{' LoRA' if opts.lora else ''} ({result['params']:,} parameters), "
        f"seq_len {opts.seq_len}, batch "
        f"{opts.batch_size}, {opts.steps} steps ({opts.warmup} untimed), median of {opts.repeats}"
    )
    print(f"{'setup':<18}{'tokens/s':>12}{'step ms':>10}{'tokens/step':>13}{'MFU':>10}{'speed-up':>10}")
    base = result["setups"]["plain"]["tokens_per_s"]
    for setup, r in result["setups"].items():
        print(
            f"{setup:<18}{r['tokens_per_s']:>12.0f}{r['step_ms']:>10.1f}{r['real_tokens_per_step']:>13.0f}"
            f"{r['mfu']:>10.2e}{r['tokens_per_s'] / base:>9.2f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
