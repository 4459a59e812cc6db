"""A prompt's first pass with the prompt format's shared prefix read once, against read whole.

    python bench/shared_prefix.py                      # the shipped assistant, 2 CPU threads
    python bench/shared_prefix.py --repeats 15 --json

Every answer starts with a pass over its prompt (the guard reads it, decoding goes on from
it). ``generation.prefix.SharedPrefix`` keeps the keys and values of the tokens every prompt
begins with (the chat template's system turn) and reads only the rest. The held-out titles'
questions ("How do I make TITLE?") are read both ways by ``Decoder.prefill``, the arms
interleaved in every round; reported: median milliseconds a prompt of each, their ratio,
and the largest difference between the two arms' next-token logits.
"""
from __future__ import annotations

import argparse
import json

from batched_generation import prompts
from timing import medians


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a model or adapter folder (default: the shipped assistant)")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args(argv)

    import torch

    from generation import RecipeGenerator

    torch.set_num_threads(opts.threads)
    gen = RecipeGenerator.from_pretrained(opts.model, guard=False)
    decoder = gen._decoder(gen.grammar("recipe"))
    shared = decoder.prefix
    assert shared is not None
    ids = [gen.prompt_ids(q) for q in prompts(opts.prompts)]

    def read(prefix: object) -> list:
        decoder.prefix = prefix  # type: ignore[assignment]
        return [decoder.prefill(one)[0] for one in ids]

    gap = max(float((a - b).abs().max()) for a, b in zip(read(None), read(shared), strict=True))
    seconds = medians({"whole": lambda: read(None), "from the shared prefix": lambda: read(shared)},
                      opts.repeats, log=not opts.json)
    ms = {name: 1e3 * s / len(ids) for name, s in seconds.items()}
    result = {"model": opts.model or "the shipped assistant", "threads": opts.threads, "prompts": len(ids),
              "prompt_tokens": sum(map(len, ids)) / len(ids), "prefix_tokens": len(shared.ids),
              "repeats": opts.repeats, "ms_a_prompt": ms,
              "ratio": ms["whole"] / ms["from the shared prefix"], "largest_logit_difference": gap}
    if opts.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['model']}: {opts.threads} threads, {len(ids)} prompts of {result['prompt_tokens']:.1f} "
          f"tokens on average, {len(shared.ids)} of them the shared prefix, median of {opts.repeats}")
    for name, value in ms.items():
        print(f"{name:>24}: {value:6.1f} ms a prompt")
    print(f"{'ratio':>24}: {result['ratio']:.2f}x; largest logit difference {gap:.2g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
