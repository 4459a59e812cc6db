"""What the domain guard costs: loading its file, and scoring a prompt, side by side in one process.

    python bench/guard_cost.py              # the shipped guard, median of 15
    python bench/guard_cost.py --json

Reports, as medians over --repeats runs (the two arms of each pair interleaved):
1. ``DomainGuard.load`` of the shipped guard against ``json.loads`` of the same file's
   text (the floor: a guard is a JSON file); the target is under 100 ms, so that a chat
   session or a ``souschef generate`` does not wait for it;
2. loading the guard's sentence-embedding model (``generation.embedding.embedder``, once
   per process, at the first prompt scored), cold each round;
3. ``DomainGuard.score`` per prompt against ``analyze`` alone (its features, no
   weights), over the shipped exchanges' prompts.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from timing import medians  # noqa: E402  (bench/, beside this script)

LOAD_TARGET_S = 0.1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="rounds per measurement (default 15)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    from generation.embedding import _load, embedder
    from generation.guard import DomainGuard, analyze
    from souschef import corpus

    path = DomainGuard.default_path()
    text = path.read_text(encoding="utf-8")
    load = medians({"json.loads": lambda: json.loads(path.read_text(encoding="utf-8")),
                    "DomainGuard.load": lambda: DomainGuard.load(path)}, args.repeats)
    guard = DomainGuard.load(path)

    def cold_embedder() -> object:
        _load.cache_clear()
        return embedder(guard.embedding_model)

    embedding = medians({"embedder": cold_embedder}, args.repeats) if guard.embedding_model else {}
    prompts = [row["prompt"] for row in corpus.rows(corpus.EXCHANGES)]
    score = medians({"analyze": lambda: [analyze(p, guard.settings) for p in prompts],
                     "DomainGuard.score": lambda: guard.scores(prompts)}, args.repeats)
    figures = {
        "guard_bytes": len(text.encode("utf-8")), "features": len(guard.features), "repeats": args.repeats,
        "load_s": load["DomainGuard.load"], "json_loads_s": load["json.loads"],
        "load_ratio": load["DomainGuard.load"] / load["json.loads"], "load_target_s": LOAD_TARGET_S,
        "embedding_model": guard.embedding_model, "embedder_load_s": embedding.get("embedder"),
        "prompts": len(prompts), "score_us_per_prompt": score["DomainGuard.score"] / len(prompts) * 1e6,
        "analyze_us_per_prompt": score["analyze"] / len(prompts) * 1e6,
        "score_ratio": score["DomainGuard.score"] / score["analyze"],
    }
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"shipped guard: {figures['guard_bytes']:,} bytes, {figures['features']:,} features; "
          f"median of {args.repeats}")
    print(f"{'arm':<22}{'time':>12}{'ratio':>8}")
    print(f"{'json.loads':<22}{figures['json_loads_s'] * 1e3:>9.1f} ms{1:>7.2f}x")
    print(f"{'DomainGuard.load':<22}{figures['load_s'] * 1e3:>9.1f} ms{figures['load_ratio']:>7.2f}x"
          f"   (target < {LOAD_TARGET_S * 1e3:.0f} ms)")
    if guard.embedding_model:
        print(f"{'embedding model load':<22}{figures['embedder_load_s'] * 1e3:>9.1f} ms"
              f"{figures['embedder_load_s'] / figures['json_loads_s']:>7.2f}x   "
              f"({guard.embedding_model}, once per process)")
    print(f"{'analyze':<22}{figures['analyze_us_per_prompt']:>9.1f} us{1:>7.2f}x   per prompt, "
          f"{len(prompts)} prompts")
    print(f"{'DomainGuard.score':<22}{figures['score_us_per_prompt']:>9.1f} us"
          f"{figures['score_ratio']:>7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
