"""Batched decoding with the product's API, side by side in one process.

    python bench/batched_generation.py                       # the shipped assistant, 2 CPU threads
    python bench/batched_generation.py --model runs/tiny --batches 1 4 8

The same prompts (held-out recipe titles as "How do I make TITLE?", greedy, recipe
mode, the model's own decoding defaults) are answered one after another with
``RecipeGenerator.generate`` and together with ``generate_batch`` at each batch size.
Reported, as medians over --repeats interleaved runs: generated tokens per second and
the ratio to one after another; how many answers are token for token the one-row
answer (fp32 batched and one-row matrix products round differently); and, at batch
1, the bytes of weights read per second (the bytes a token reads x tokens/s), to set
beside the machine's memory bandwidth. ``--weights int8`` runs the same with the int8
weights ``souschef generate --weights int8`` decodes with.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def prompts(count: int) -> list[str]:
    from souschef import corpus
    titles = [row["title"] for row in corpus.rows(corpus.HELDOUT)]
    return [f"How do I make {titles[i % len(titles)]}?" for i in range(count)]


def decoding_bench_args(description: str, prompts: int, tokens: int) -> argparse.ArgumentParser:
    """The flags every decoding bench takes: model, prompts, budget, repeats, threads, --json."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", help="a model or adapter folder (default: the shipped assistant)")
    parser.add_argument("--prompts", type=int, default=prompts)
    parser.add_argument("--max-total-tokens", type=int, default=tokens)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--weights", choices=["fp32", "int8"], default="fp32")
    parser.add_argument("--json", action="store_true")
    return parser


def bytes_per_token(model: Any) -> int:
    """The bytes of weights one token reads: every matrix once; of an input embedding that is
    not also the output's (int8 weights give the output its own), one row only."""
    read = sum(p.numel() * p.element_size() for p in model.parameters())
    read += sum(b.numel() * b.element_size() for name, b in model.named_buffers()
                if name.endswith(("weight_int8", "scale")))
    inputs = model.get_input_embeddings().weight
    if not any(p is inputs for p in model.get_output_embeddings().parameters()):
        read -= inputs.numel() * inputs.element_size() - inputs.shape[1] * inputs.element_size()
    return int(read)


def warm_generator(opts: argparse.Namespace) -> tuple[Any, list[str], dict[str, Any]]:
    """The model (no guard) on ``opts.threads`` threads, its prompts, and the recipe-mode
    settings, after one short call has built the grammar and its caches."""
    import torch

    from generation import RecipeGenerator

    torch.set_num_threads(opts.threads)
    weights = getattr(opts, "weights", "fp32")
    gen = RecipeGenerator.from_pretrained(opts.model, guard=False, weights=weights)
    questions = prompts(opts.prompts)
    settings = {"mode": "recipe", "max_total_tokens": opts.max_total_tokens}
    gen.generate(questions[0], max_new_tokens_per_call=8, max_calls=1, **settings)
    return gen, questions, settings


def main(argv: list[str] | None = None) -> int:
    parser = decoding_bench_args(__doc__.split("\n\n")[0], 8, 256)
    parser.add_argument("--batches", type=int, nargs="+", default=[2, 4, 8])
    opts = parser.parse_args(argv)
    gen, questions, settings = warm_generator(opts)
    runs: dict[str, list[float]] = {"1": [], **{str(b): [] for b in opts.batches}}
    same: dict[str, int] = {}
    for repeat in range(opts.repeats):
        t0 = time.perf_counter()
        alone = [gen.generate(q, **settings) for q in questions]
        runs["1"].append(sum(r.tokens for r in alone) / (time.perf_counter() - t0))
        for b in opts.batches:
            t0 = time.perf_counter()
            together = gen.generate_batch(questions, batch_size=b, **settings)
            runs[str(b)].append(sum(r.tokens for r in together) / (time.perf_counter() - t0))
            same[str(b)] = sum(a.state.generated_ids == t.state.generated_ids
                               for a, t in zip(alone, together, strict=True))
        print(f"repeat {repeat + 1}/{opts.repeats}: " + ", ".join(f"batch {k} {v[-1]:.1f} tokens/s"
                                                                  for k, v in runs.items()), file=sys.stderr)
    from generation.int8 import weight_count

    parameters = weight_count(gen.model)
    one = statistics.median(runs["1"])
    result = {
        "model": opts.model or "the shipped assistant", "parameters": parameters, "weights": opts.weights,
        "threads": opts.threads,
        "prompts": len(questions), "max_total_tokens": opts.max_total_tokens, "repeats": opts.repeats,
        "tokens_per_s": {k: statistics.median(v) for k, v in runs.items()},
        "speedup": {k: statistics.median(v) / one for k, v in runs.items()},
        "identical_to_one_row": same,
        "weight_bytes_per_token": bytes_per_token(gen.model),
        "weights_gb_per_s_at_batch_1": bytes_per_token(gen.model) * one / 1e9,
    }
    if opts.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['model']}: {parameters:,} parameters ({opts.weights}), {opts.threads} threads, "
          f"{len(questions)} prompts of up to {opts.max_total_tokens} tokens, median of {opts.repeats}")
    print(f"{'batch':>6}{'tokens/s':>11}{'speed-up':>10}{'identical':>11}")
    for k in runs:
        ident = "-" if k == "1" else f"{same[k]}/{len(questions)}"
        print(f"{k:>6}{result['tokens_per_s'][k]:>11.1f}{result['speedup'][k]:>9.2f}x{ident:>11}")
    print(f"batch 1 reads the weights at {result['weights_gb_per_s_at_batch_1']:.1f} GB/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
