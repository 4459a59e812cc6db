"""The KV cache appending in place against concatenating, side by side in one process.

    python bench/kv_cache.py                          # the shipped assistant, batch 8
    python bench/kv_cache.py --batches 1 8 --repeats 3

transformers' ``DynamicLayer`` appends each step's keys and values with ``torch.cat``,
a copy of the layer's whole cache per token; ``generation.kv_cache`` writes them into
room left in its buffers. Both arms answer the same prompts (held-out titles, greedy,
recipe mode) with ``generate_batch`` at each batch size (``generate`` at 1), the arms
interleaved in every round; reported: median generated tokens per second of each, their
ratio, and whether every answer is token for token the same in both arms.
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from batched_generation import decoding_bench_args, warm_generator


def _concatenating(on: bool) -> None:
    """Put the product's decoders back on transformers' concatenating cache (``on``) or not."""
    import generation.batch
    import generation.decoder
    from generation.kv_cache import append_in_place

    chosen: Callable[[Any], Any] = (lambda cache: cache) if on else append_in_place
    generation.batch.append_in_place = chosen  # type: ignore[attr-defined]
    generation.decoder.append_in_place = chosen  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    parser = decoding_bench_args(__doc__.split("\n\n")[0], 8, 384)
    parser.add_argument("--batches", type=int, nargs="+", default=[8])
    opts = parser.parse_args(argv)
    gen, questions, settings = warm_generator(opts)

    def answer(batch: int) -> list[list[int]]:
        results = ([gen.generate(q, **settings) for q in questions] if batch == 1
                   else gen.generate_batch(questions, batch_size=batch, **settings))
        return [r.state.generated_ids for r in results]

    arms = [(b, mode) for b in opts.batches for mode in ("concatenate", "in place")]
    rates: dict[tuple[int, str], list[float]] = {arm: [] for arm in arms}
    answers: dict[tuple[int, str], list[list[int]]] = {}
    try:
        for repeat in range(opts.repeats):
            for batch, mode in arms:
                _concatenating(mode == "concatenate")
                start = time.perf_counter()
                answers[(batch, mode)] = answer(batch)
                seconds = time.perf_counter() - start
                rates[(batch, mode)].append(sum(map(len, answers[(batch, mode)])) / seconds)
                print(f"repeat {repeat + 1}/{opts.repeats}: batch {batch}, {mode}: "
                      f"{rates[(batch, mode)][-1]:.1f} tokens/s", file=sys.stderr)
    finally:
        _concatenating(False)  # the product's path again, whatever happened
    rows = [{"batch": b, "concatenate_tokens_per_s": statistics.median(rates[(b, "concatenate")]),
             "in_place_tokens_per_s": statistics.median(rates[(b, "in place")]),
             "identical": answers[(b, "concatenate")] == answers[(b, "in place")]} for b in opts.batches]
    for row in rows:
        row["ratio"] = row["in_place_tokens_per_s"] / row["concatenate_tokens_per_s"]
    if opts.json:
        print(json.dumps({"model": opts.model or "the shipped assistant", "threads": opts.threads,
                          "prompts": len(questions), "max_total_tokens": opts.max_total_tokens,
                          "repeats": opts.repeats, "batches": rows}, indent=2))
        return 0
    print(f"{opts.model or 'the shipped assistant'}: {opts.threads} threads, {len(questions)} prompts "
          f"of up to {opts.max_total_tokens} tokens, median of {opts.repeats}")
    print(f"{'batch':>6}{'concatenate':>13}{'in place':>10}{'ratio':>8}{'identical':>11}")
    for row in rows:
        print(f"{row['batch']:>6}{row['concatenate_tokens_per_s']:>13.1f}{row['in_place_tokens_per_s']:>10.1f}"
              f"{row['ratio']:>7.2f}x{'yes' if row['identical'] else 'no':>11}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
