"""Jump-forward at batch 1 with the product's API, side by side in one process.

    python bench/jump_forward.py                      # the shipped assistant, 2 CPU threads
    python bench/jump_forward.py --model runs/tiny --prompts 4

The same prompts (held-out recipe titles as "How do I make TITLE?", greedy, recipe
mode, the model's own decoding defaults otherwise) are answered three ways, interleaved
in every repeat:

- ``off``: the model chooses every token (``jump_forward=False``);
- ``stepped``: forced runs in their canonical tokens, one forward pass per token;
- ``fused``: the same tokens, each forced run fed in one forward pass (the product's
  jump-forward).

Reported, as medians over --repeats: seconds per recipe, tokens, the share of tokens
that forced runs gave, incremental forward passes per recipe, and the time ratios.
``stepped`` against ``fused`` isolates what feeding a run at once saves (the tokens are
the same; the bench counts how many answers are token for token equal in fp32).
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.batched_generation import decoding_bench_args, warm_generator  # noqa: E402

ARMS = ("off", "stepped", "fused")


def same(a: list, b: list) -> int:
    """How many answers are token for token equal."""
    return sum(x == y for x, y in zip(a, b, strict=True))


def main(argv: list[str] | None = None) -> int:
    opts = decoding_bench_args(__doc__.split("\n\n")[0], 6, 512).parse_args(argv)
    gen, questions, base = warm_generator(opts)

    def arm(name: str) -> dict[str, float | list]:
        gen.fuse_forced = name != "stepped"
        t0 = time.perf_counter()
        results = [gen.generate(q, jump_forward=name != "off", **base) for q in questions]
        seconds = time.perf_counter() - t0
        gen.fuse_forced = True
        tokens = sum(r.tokens for r in results)
        return {"s_per_recipe": seconds / len(results), "tokens": tokens / len(results),
                "forced_share": sum(r.timings.forced for r in results) / max(tokens, 1),
                "forwards": sum(r.timings.forwards + r.timings.prefills for r in results) / len(results),
                "ids": [r.state.generated_ids for r in results],
                "valid": sum(r.recipe is not None for r in results)}

    runs: dict[str, list[dict]] = {name: [] for name in ARMS}
    for repeat in range(opts.repeats):
        for name in ARMS:
            runs[name].append(arm(name))
        print(f"repeat {repeat + 1}/{opts.repeats}: " + ", ".join(
            f"{n} {runs[n][-1]['s_per_recipe']:.2f} s/recipe" for n in ARMS), file=sys.stderr)

    def med(name: str, key: str) -> float:
        return statistics.median(float(r[key]) for r in runs[name])

    result = {
        "model": opts.model or "the shipped assistant", "threads": opts.threads, "prompts": len(questions),
        "max_total_tokens": opts.max_total_tokens, "repeats": opts.repeats,
        "arms": {n: {k: med(n, k) for k in ("s_per_recipe", "tokens", "forced_share", "forwards", "valid")}
                 for n in ARMS},
        "fused_over_stepped_time": med("fused", "s_per_recipe") / med("stepped", "s_per_recipe"),
        "fused_over_off_time": med("fused", "s_per_recipe") / med("off", "s_per_recipe"),
        "fused_equals_stepped": same(runs["fused"][0]["ids"], runs["stepped"][0]["ids"]),
        "on_equals_off": same(runs["fused"][0]["ids"], runs["off"][0]["ids"]),
    }
    if opts.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['model']}, {opts.threads} threads, {len(questions)} recipes of up to "
          f"{opts.max_total_tokens} tokens, batch 1, median of {opts.repeats}")
    print(f"{'arm':>8}{'s/recipe':>10}{'tokens':>8}{'forced':>8}{'passes':>8}{'valid':>7}")
    for n in ARMS:
        a = result["arms"][n]
        print(f"{n:>8}{a['s_per_recipe']:>10.2f}{a['tokens']:>8.0f}{a['forced_share']:>8.1%}"
              f"{a['forwards']:>8.0f}{a['valid']:>7.0f}")
    n = len(questions)
    print(f"fused / stepped time {result['fused_over_stepped_time']:.3f} (identical tokens: "
          f"{result['fused_equals_stepped']}/{n}); fused / off {result['fused_over_off_time']:.3f} "
          f"(same answer as off: {result['on_equals_off']}/{n})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
