"""Choose the guard's classifier settings by cross-validation on its training data alone.

Five folds; off-domain prompts are split by topic (a fold's topics are never seen in
training: what the guard meets in use), cooking prompts by a hash of the prompt. Each
fold fits ``DomainGuard.fit`` (which picks its own threshold on a validation share of
the training folds' written prompts) and counts, among the written prompts of the fold
held out, off-domain prompts classified as cooking (contamination on unseen topics) and
cooking prompts refused. The evaluation
prompt sets are not read. Settings are ranked by the threshold rule's own cost,
contamination/0.02 + false refusals/0.05.

    .venv/bin/python experiments/guard_select.py          # a Markdown table, best first
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import corpus  # noqa: E402
from generation.guard import TARGET_CONTAMINATION, TARGET_FALSE_REFUSAL, AnalyzerSettings, DomainGuard  # noqa: E402
from training.guard import guard_examples, shipped_guard_data  # noqa: E402

FOLDS = 5
CANDIDATES: list[dict[str, Any]] = [
    {"C": 10.0, "settings": AnalyzerSettings((1, 2), (3, 5)), "generated_weight": 0.3},  # shipped
    {"C": 10.0, "settings": AnalyzerSettings((1, 2), (3, 5)), "generated_weight": 0.1},
    {"C": 10.0, "settings": AnalyzerSettings((1, 2), (2, 5))},  # the first shipped guard's
    {"C": 3.0, "settings": AnalyzerSettings((1, 2), (2, 5))},
    {"C": 30.0, "settings": AnalyzerSettings((1, 2), (2, 5))},
    {"C": 10.0, "settings": AnalyzerSettings((1, 2), (3, 5))},
    {"C": 10.0, "settings": AnalyzerSettings((1, 3), (3, 6))},
    {"C": 10.0, "settings": AnalyzerSettings((1, 2), (0, 0))},
    {"C": 30.0, "settings": AnalyzerSettings((1, 2), (0, 0))},
]


def fold_of(key: str) -> int:
    return hashlib.sha256(key.encode("utf-8")).digest()[0] % FOLDS


def cross_validate(C: float, settings: AnalyzerSettings, generated_weight: float = 1.0) -> dict[str, Any]:
    topic_of = {}
    for name in (corpus.EXCHANGES, corpus.GUARD_OFFDOMAIN):
        for line in corpus.path(name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                topic_of[row["prompt"].strip()] = row["topic"]
    examples = guard_examples()
    written = {p.strip() for p, _ in shipped_guard_data()[0]}
    folds = [fold_of("topic:" + topic_of.get(p, p)) if not y else fold_of(p) for p, y in examples]
    leaked = refused = other = cooking = 0
    for k in range(FOLDS):
        train = [e for e, f in zip(examples, folds, strict=True) if f != k]
        test = [e for e, f in zip(examples, folds, strict=True) if f == k]
        guard = DomainGuard.fit([p for p, _ in train], [y for _, y in train], C=C, settings=settings,
                                generated=[p not in written for p, _ in train],
                                generated_weight=generated_weight)
        for prompt, y in test:
            if prompt not in written:  # scored on prompts people wrote, as in use
                continue
            ok = guard.is_cooking(prompt)
            cooking += y
            other += not y
            refused += y and not ok
            leaked += (not y) and ok
    contamination, false_refusal = leaked / other, refused / cooking
    return {"generated_weight": generated_weight, "C": C,
            "word": settings.word_ngrams, "char": settings.char_ngrams,
            "contamination": contamination, "false_refusal": false_refusal,
            "cost": contamination / TARGET_CONTAMINATION + false_refusal / TARGET_FALSE_REFUSAL,
            "n_other": other, "n_cooking": cooking}


def main() -> int:
    results = sorted((cross_validate(c["C"], c["settings"], c.get("generated_weight", 1.0))
                      for c in CANDIDATES), key=lambda r: r["cost"])
    print("| generated weight | C | word n-grams | char n-grams | contamination (unseen topics) "
          "| false refusals | cost |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['generated_weight']:g} | {r['C']:g} | {r['word']} | {r['char']} | "
              f"{r['contamination']:.3f} ({r['n_other']}) | "
              f"{r['false_refusal']:.3f} ({r['n_cooking']}) | {r['cost']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
