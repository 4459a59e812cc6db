"""Smaller weights on the CPU (souschef's int8, bf16; torchao's int8) against fp32, in one process.

    python bench/int8_weights.py         # the shipped assistant, 2 CPU threads
    pip install torchao==0.18.0          # optional, not a souschef dependency: adds its two int8 arms

The same prompt is answered greedily at batch 1 (recipe mode, --tokens tokens) by the
fp32 model, the copy ``souschef generate --weights int8`` decodes with
(``generation.int8``: int8 weights, bfloat16 activations, stacked sibling layers), a bf16
copy (half the bytes; oneDNN uses AMX / AVX512-BF16 where the CPU has them) and, when
torchao is installed, copies quantized with its int8 weight-only and int8 dynamic
(activations and weights) configurations, interleaved over --repeats. Reported: the
median tokens/s of each, the ratio to fp32, and whether each answer equals fp32's.
"""
from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a model or adapter folder (default: the shipped assistant)")
    parser.add_argument("--prompt", default="How do I make shakshuka?")
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prefill", type=int, nargs="*", default=[], metavar="N",
                        help="also time one forward pass over N prompt tokens: fp32, int8 with its kernel "
                             "only, int8 as shipped (the wide bfloat16 path from 32 rows)")
    opts = parser.parse_args(argv)

    import torch

    from generation import RecipeGenerator
    from generation.int8 import quantize_int8

    torch.set_num_threads(opts.threads)
    gen = RecipeGenerator.from_pretrained(opts.model, guard=False)
    models = {"fp32": gen.model, "int8": quantize_int8(copy.deepcopy(gen.model)),
              "bf16": copy.deepcopy(gen.model).to(torch.bfloat16)}
    try:
        from torchao.quantization import (
            Int8DynamicActivationInt8WeightConfig,
            Int8WeightOnlyConfig,
            quantize_,
        )
    except ImportError:
        print("torchao is not installed: no int8 arms", file=sys.stderr)
    else:
        for name, config in (("int8 weight-only", Int8WeightOnlyConfig()),
                             ("int8 dynamic", Int8DynamicActivationInt8WeightConfig())):
            models[name] = copy.deepcopy(gen.model)
            quantize_(models[name], config)
    settings = {"mode": "recipe", "max_total_tokens": opts.tokens}
    rates: dict[str, list[float]] = {name: [] for name in models}
    answers: dict[str, list[int]] = {}
    for repeat in range(opts.repeats + 1):  # the first round warms up
        for name, model in models.items():
            gen.model = model
            gen._decoders.clear()
            t0 = time.perf_counter()
            result = gen.generate(opts.prompt, **settings)
            if repeat:
                rates[name].append(result.tokens / (time.perf_counter() - t0))
            answers[name] = result.state.generated_ids
        if repeat:
            print(f"repeat {repeat}/{opts.repeats}: " + ", ".join(f"{n} {v[-1]:.1f} tokens/s"
                                                                 for n, v in rates.items()), file=sys.stderr)
    fp32 = statistics.median(rates["fp32"])
    out = {name: {"tokens_per_s": statistics.median(v), "ratio": statistics.median(v) / fp32,
                  "same_answer_as_fp32": answers[name] == answers["fp32"]} for name, v in rates.items()}
    result = {"threads": opts.threads, "tokens": opts.tokens, "repeats": opts.repeats, "arms": out}
    if opts.prefill:
        result["prefill_ms"] = prefill_ms(models["fp32"], models["int8"], opts.prefill, opts.repeats)
    print(json.dumps(result, indent=2))
    return 0


def prefill_ms(fp32: Any, int8: Any, lengths: list[int], repeats: int) -> dict[str, dict[str, float]]:
    """Median ms of one forward pass over ``n`` random prompt ids, for each ``n`` and arm."""
    import torch

    from generation import int8 as int8_module

    wide = int8_module.WIDE_ROWS
    arms = {"fp32": (fp32, wide), "int8, kernel only": (int8, 1 << 30), "int8": (int8, wide)}
    out: dict[str, dict[str, float]] = {}
    for n in lengths:
        ids = torch.randint(0, fp32.config.vocab_size, (1, n), generator=torch.Generator().manual_seed(n))
        times: dict[str, list[float]] = {name: [] for name in arms}
        for repeat in range(repeats + 1):  # the first round warms up
            for name, (model, rows) in arms.items():
                int8_module.WIDE_ROWS = rows
                try:
                    with torch.no_grad():
                        t0 = time.perf_counter()
                        model(ids)
                        elapsed = time.perf_counter() - t0
                finally:
                    int8_module.WIDE_ROWS = wide
                if repeat:
                    times[name].append(elapsed * 1e3)
        out[str(n)] = {name: statistics.median(v) for name, v in times.items()}
    return out


if __name__ == "__main__":
    raise SystemExit(main())
