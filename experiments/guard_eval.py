"""The domain guard alone (no language model): leave-one-topic-out and the evaluation sets.

(a) Leave one topic out: for each off-domain topic of ``corpus.EXCHANGES`` and ``GUARD_OFFDOMAIN``,
    train the guard as the shipped one is trained (``generation.guard.data.build_guard``) but
    without that topic's prompts, and measure the share of the topic's
    training prompts, and of its ``corpus.EVAL_OFFDOMAIN`` prompts, classified as cooking.
(b) The shipped guard (``generation/guard/guard.json``) on ``corpus.EVAL_OFFDOMAIN`` per topic,
    the 6 topics absent from training apart, and on ``corpus.EVAL_INDOMAIN`` (false refusals).
(c) An independent check of false refusals, where ``../shared/data/public-domain-recipes``
    is present: the 370 titles of those real cookbook recipes, which no guard data was
    written from, asked four ways ("How do I make {title}?", ...).

Rates come with Wilson 95% intervals. The evaluation sets are only ever scored here.

From the repository root:

    .venv/bin/python -m experiments.guard_eval            # Markdown tables
    .venv/bin/python -m experiments.guard_eval --json     # the same figures as JSON
    .venv/bin/python -m experiments.guard_eval --data mine.jsonl   # the guard a run on your data gets
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from evaluation.intervals import wilson_interval
from generation.guard import DomainGuard
from generation.guard.data import build_guard, shipped_guard_data, shipped_topics
from souschef import corpus

UNSEEN = ("automotive", "pets", "film", "philosophy", "home-repair", "gaming")


def rate(flags: list[bool]) -> dict[str, Any]:
    """A share with its Wilson 95% interval."""
    k, n = sum(flags), len(flags)
    low, high = wilson_interval(k, n) if n else (0.0, 1.0)
    return {"k": k, "n": n, "rate": k / n if n else 0.0, "low": low, "high": high}


def leave_one_topic_out() -> dict[str, Any]:
    """Train without each off-domain topic in turn; how much of it does the guard let through?"""
    topic_of = shipped_topics()
    written, recipes = shipped_guard_data()
    examples = [(p.strip(), y) for p, y in written]
    offdomain = defaultdict(list)
    for e in corpus.rows(corpus.EVAL_OFFDOMAIN):
        offdomain[e["topic"]].append(e["prompt"])
    topics = sorted({topic_of[p] for p, y in examples if not y and p in topic_of})
    per_topic, pooled_ex, pooled_eval = {}, [], []
    for topic in topics:
        kept = [(p, y) for p, y in examples if y or topic_of.get(p) != topic]
        left_out = [p for p, y in examples if not y and topic_of.get(p) == topic]
        guard = build_guard(kept, [r["title"] for r in recipes], [dict(r) for r in recipes], shipped=False)
        flags_ex = [guard.is_cooking(p) for p in left_out]
        flags_eval = [guard.is_cooking(p) for p in offdomain[topic]]
        pooled_ex += flags_ex
        pooled_eval += flags_eval
        per_topic[topic] = {"exchanges": rate(flags_ex), "eval_offdomain": rate(flags_eval),
                            "threshold": guard.threshold,
                            "passed": [p for p, f in zip(left_out, flags_ex, strict=True) if f]
                            + [p for p, f in zip(offdomain[topic], flags_eval, strict=True) if f]}
    pooled = {"exchanges": rate(pooled_ex), "eval_offdomain": rate(pooled_eval)}
    return {"topics": per_topic, "pooled": pooled}


def shipped_guard(guard: DomainGuard | None = None) -> dict[str, Any]:
    """The shipped guard (or ``guard``) on the evaluation prompt sets."""
    guard = guard or DomainGuard.default()
    per_topic: dict[str, list[bool]] = defaultdict(list)
    for e in corpus.rows(corpus.EVAL_OFFDOMAIN):
        per_topic[e["topic"]].append(guard.is_cooking(e["prompt"]))
    indomain = [e["prompt"] for e in corpus.rows(corpus.EVAL_INDOMAIN)]
    refused = [not guard.is_cooking(p) for p in indomain]
    return {
        "threshold": guard.threshold,
        "topics": {t: rate(f) for t, f in sorted(per_topic.items())},
        "unseen": rate([f for t, fs in per_topic.items() if t in UNSEEN for f in fs]),
        "seen": rate([f for t, fs in per_topic.items() if t not in UNSEEN for f in fs]),
        "all_offdomain": rate([f for fs in per_topic.values() for f in fs]),
        "false_refusal": rate(refused),
        "refused_prompts": [p for p, r in zip(indomain, refused, strict=True) if r],
        "passed_offdomain": [e["prompt"] for e in corpus.rows(corpus.EVAL_OFFDOMAIN)
                             if guard.is_cooking(e["prompt"])],
    }


SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "public-domain-recipes"
TITLE_QUESTIONS = ("How do I make {}?", "{} recipe", "what's a good way to cook {}",
                   "Can you give me a recipe for {}?")


def shared_recipe_titles() -> list[str] | None:
    """The titles of the shared public-domain recipes (train and val), or None where absent."""
    files = [SHARED / "train.jsonl", SHARED / "val.jsonl"]
    if not all(f.is_file() for f in files):
        return None
    return [json.loads(line)["title"] for f in files
            for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]


def shared_titles(guard: DomainGuard) -> dict[str, Any] | None:
    """False refusals on questions naming the shared public-domain recipes (None: data absent)."""
    titles = shared_recipe_titles()
    if titles is None:
        return None
    refused = {t: [not guard.is_cooking(t.format(title)) for title in titles] for t in TITLE_QUESTIONS}
    return {"titles": len(titles), "templates": {t: rate(flags) for t, flags in refused.items()},
            "pooled": rate([f for flags in refused.values() for f in flags])}


def _cell(r: dict[str, Any]) -> str:
    return f"{r['rate']:.3f} [{r['low']:.3f}, {r['high']:.3f}] ({r['k']}/{r['n']})"


def markdown(results: dict[str, Any]) -> str:
    loto, shipped = results["leave_one_topic_out"], results["shipped"]
    if loto is None:
        lines = ["### (a) Leave one topic out: skipped (--data)"]
    else:
        lines = ["### (a) Leave one topic out (share classified as cooking, Wilson 95%)", "",
                 "| topic left out | its training prompts | its eval_offdomain prompts | threshold |",
                 "|---|---|---|---|"]
        for topic, r in loto["topics"].items():
            cells = [topic, _cell(r["exchanges"]), _cell(r["eval_offdomain"]), f"{r['threshold']:.3f}"]
            lines.append("| " + " | ".join(cells) + " |")
        pooled = loto["pooled"]
        lines.append(f"| **all pooled** | {_cell(pooled['exchanges'])} | "
                     f"{_cell(pooled['eval_offdomain'])} | |")
    which = "The guard of a run on " + ", ".join(results["data"]) if results.get("data") else "Shipped guard"
    lines += ["", f"### (b) {which} (threshold {shipped['threshold']:.3f}) on the evaluation sets", "",
              "| eval_offdomain topic | in training? | classified as cooking |", "|---|---|---|"]
    for topic, r in shipped["topics"].items():
        lines.append(f"| {topic} | {'no' if topic in UNSEEN else 'yes'} | {_cell(r)} |")
    lines += [
        f"| **6 unseen topics** | no | {_cell(shipped['unseen'])} |",
        f"| **12 seen topics** | yes | {_cell(shipped['seen'])} |",
        f"| **all 18 topics** | | {_cell(shipped['all_offdomain'])} |",
        "", f"eval_indomain false refusals: {_cell(shipped['false_refusal'])}", "",
        "Refused cooking prompts: " + ("; ".join(f"`{p}`" for p in shipped["refused_prompts"]) or "none"),
        "", "Off-domain prompts let through: "
        + ("; ".join(f"`{p}`" for p in shipped["passed_offdomain"]) or "none"),
    ]
    titles = results.get("shared_titles")
    lines += ["", "### (c) False refusals on the shared public-domain recipe titles", ""]
    if titles is None:
        lines.append("../shared/data/public-domain-recipes is absent: skipped.")
    else:
        lines += ["| question | refused |", "|---|---|"]
        lines += [f"| `{t}` | {_cell(r)} |" for t, r in titles["templates"].items()]
        lines.append(f"| **all** ({titles['titles']} titles) | {_cell(titles['pooled'])} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.guard_eval",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--data", nargs="+", metavar="PATH",
                        help="measure the guard that `souschef train --data PATH...` would build "
                             "(shipped guard data + these files' prompts and recipes) instead of the "
                             "shipped one; skips (a)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.data:
        from generation.guard.data import guard_for_examples
        from souschef.training.data import load_examples

        guard = guard_for_examples(load_examples(args.data).examples)
    else:
        guard = DomainGuard.default()
    results = {"data": args.data, "leave_one_topic_out": None if args.data else leave_one_topic_out(),
               "shipped": shipped_guard(guard), "shared_titles": shared_titles(guard)}
    print(f"evaluated in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    print(json.dumps(results, indent=2) if args.json else markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
