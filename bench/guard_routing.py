"""What routing a prompt costs with the model loaded, beyond the prompt pass generation makes anyway.

    python bench/guard_routing.py            # the shipped assistant and its guard, median of 5 rounds
    python bench/guard_routing.py --json

Generation reads each prompt once before it answers (the prompt pass); the decoder's first
step starts from it. A guard that reads the model (``DomainGuard.reads_model``) takes its
view from that same pass (``generation.guard.view.prompt_pass``: a forward hook on one
block, a mean) and hands the pass's logits and KV cache to the decoder, so routing adds
the hook, the mean and the guard's own scoring. Three arms, interleaved prompt by prompt,
over the shipped exchanges' prompts:

1. ``prompt pass``: the model over the prompt, as the decoder's first prefill runs it;
2. ``prompt pass + routing``: ``prompt_pass`` and ``DomainGuard.score(prompt, view)`` with
   the shipped assistant's guard;
3. ``text guard``: ``DomainGuard.score(prompt)`` of the guard shipped for models without
   one of their own (TF-IDF, word shares, the WordLlama embedding), for scale.

The figure is the median over prompts of (2) minus (1), each the median of its rounds; the
target is at most 50 ms.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys

from timing import medians  # bench/, beside this script

TARGET_MS = 50.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="rounds per prompt (default 5)")
    parser.add_argument("--prompts", type=int, default=40, help="how many exchange prompts (default 40)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.prompts < 1:
        parser.error("--repeats and --prompts must be at least 1")

    import torch

    from generation import DomainGuard, RecipeGenerator
    from generation.guard.view import prompt_pass
    from souschef import corpus

    generator = RecipeGenerator.from_pretrained()
    guard, text_guard = generator.guard, DomainGuard.default()
    if guard is None or not guard.reads_model:
        print("the shipped assistant's guard does not read the model", file=sys.stderr)
        return 1
    model = generator.model
    prompts = [row["prompt"] for row in corpus.rows(corpus.EXCHANGES)][::7][:args.prompts]
    text_guard.score(prompts[0])  # loads its embedding model once, as a process does

    def plain(ids: list[int]) -> None:
        with torch.no_grad():
            model(input_ids=torch.tensor([ids]), use_cache=True)

    def routed(prompt: str, ids: list[int]) -> None:
        view, _, _ = prompt_pass(model, ids, guard.view_layer, guard.view_prefix)
        guard.score(prompt, view)

    times: dict[str, list[float]] = {"pass": [], "routed": [], "text": []}
    for n, prompt in enumerate(prompts):
        ids = generator.prompt_ids(prompt)  # the arms below run in this iteration, so its names hold
        rounds = medians({"pass": lambda: plain(ids), "routed": lambda: routed(prompt, ids),  # noqa: B023
                          "text": lambda: text_guard.score(prompt)}, args.repeats)  # noqa: B023
        for name, seconds in rounds.items():
            times[name].append(seconds)
        print(f"\r{n + 1}/{len(prompts)} prompts", end="", file=sys.stderr)
    print(file=sys.stderr)
    added = [r - p for r, p in zip(times["routed"], times["pass"], strict=True)]
    figures = {
        "prompts": len(prompts), "repeats": args.repeats, "threads": torch.get_num_threads(),
        "prompt_pass_ms": statistics.median(times["pass"]) * 1e3,
        "pass_and_routing_ms": statistics.median(times["routed"]) * 1e3,
        "added_ms": statistics.median(added) * 1e3, "target_ms": TARGET_MS,
        "text_guard_ms": statistics.median(times["text"]) * 1e3,
        "view_layer": guard.view_layer, "guard_features": len(guard.features),
    }
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"{len(prompts)} prompts, median of {args.repeats} rounds each, {figures['threads']} threads")
    print(f"{'arm':<26}{'median':>10}")
    print(f"{'prompt pass':<26}{figures['prompt_pass_ms']:>7.1f} ms")
    print(f"{'prompt pass + routing':<26}{figures['pass_and_routing_ms']:>7.1f} ms")
    print(f"{'added by routing':<26}{figures['added_ms']:>7.2f} ms   (target <= {TARGET_MS:.0f} ms)")
    print(f"{'text guard (for scale)':<26}{figures['text_guard_ms']:>7.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
