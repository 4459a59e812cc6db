"""Issue 22: does the guard gain from reading the model? Cross-validation on the guard's training data.

The candidates, each by ``experiments.guard_select.cross_validate`` (five folds, off-domain
prompts folded by topic, recipes by title, each fold's threshold chosen by its own inner
cross-validation; ``REPEATS`` splits), on the shipped guard data:

- ``text``: the guard as shipped before (TF-IDF, three word shares, the WordLlama embedding);
- ``view``: TF-IDF and the shipped assistant's view of the prompt (block 16 of 30, the mean
  over the prompt's own tokens; ``generation.guard.view``), nothing else;
- ``text+view``: everything.

The views come from the shipped assistant, whose adapter was trained on the shipped exchanges
(the written prompts here): its view of them is optimistic, so the figures favour the
candidates that read it. The fresh test set and the evaluation sets are not read.

    .venv/bin/python -m experiments.guard_model              # all three, REPEATS splits (~40 min on 2 cores)
    .venv/bin/python -m experiments.guard_model view --repeats 2

Views are read once (about 2 minutes on 2 cores) and kept in ``runs/guard/views.npz``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

from experiments.guard_eval import TITLE_QUESTIONS
from experiments.guard_select import _SESSION6, REPEATS, cross_validate
from generation.guard.data import guard_examples, shipped_guard_data

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "runs" / "guard" / "views.npz"
CANDIDATES: dict[str, dict[str, Any]] = {
    "text": {**_SESSION6, "embedding_scale": 0.3},
    "view": {"C": _SESSION6["C"], "settings": _SESSION6["settings"], "generated_weight": 1.0,
             "threshold_folds": 10, "read": True},
    "text+view": {**_SESSION6, "embedding_scale": 0.3, "read": True},
}


class CachedViews:
    """The shipped assistant's views of every prompt the folds need, read once, as a ``ViewReader``."""

    def __init__(self) -> None:
        from generation import RecipeGenerator
        from generation.guard.view import ViewReader

        generator = RecipeGenerator.from_pretrained(guard=False)
        reader = ViewReader(generator.model, generator.prompt_ids)
        self.layer, self.prefix = reader.layer, reader.prefix
        prompts = [p for p, _ in guard_examples()]
        prompts += [t.format(r["title"]) for r in shipped_guard_data()[1] for t in TITLE_QUESTIONS]
        prompts = list(dict.fromkeys(prompts))
        if CACHE.is_file():
            cached = np.load(CACHE)
            self._views = dict(zip(cached["prompts"].tolist(), cached["views"], strict=True))
        else:
            self._views = {}
        missing = [p for p in prompts if p not in self._views]
        if missing:
            print(f"reading {len(missing)} views", file=sys.stderr)
            self._views.update(reader.views(missing, lambda n: print(f"\r{n}/{len(missing)}", end="",
                                                                     file=sys.stderr)))
            CACHE.parent.mkdir(parents=True, exist_ok=True)
            np.savez(CACHE, prompts=np.array(list(self._views)), views=np.stack(list(self._views.values())))
        self._reader = reader

    def views(self, prompts: list[str], progress: Any = None) -> dict[str, np.ndarray]:
        missing = [p for p in prompts if p not in self._views]
        if missing:  # a prompt the cache does not hold (a user's recipes): read it now
            self._views.update(self._reader.views(missing))
        return {p: self._views[p] for p in prompts}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("candidates", nargs="*", choices=[*CANDIDATES, []], default=list(CANDIDATES))
    parser.add_argument("--repeats", type=int, default=REPEATS)
    args = parser.parse_args(argv)
    reader = CachedViews()
    print("| candidate | cost (mean) | per split | contamination | false refusals (written, titles) |")
    print("|---|---|---|---|---|")
    for name in args.candidates or CANDIDATES:
        options = dict(CANDIDATES[name])
        read = options.pop("read", False)
        runs = [cross_validate(**options, repeat=r, reader=reader if read else None)
                for r in range(args.repeats)]
        mean = {k: statistics.mean(r[k] for r in runs)
                for k in ("cost", "contamination", "false_refusal_written", "false_refusal_titles")}
        splits = ", ".join(f"{r['cost']:.2f}" for r in runs)
        print(f"| {name} | {mean['cost']:.2f} | {splits} | "
              f"{mean['contamination']:.1%} | {mean['false_refusal_written']:.1%}, "
              f"{mean['false_refusal_titles']:.1%} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
