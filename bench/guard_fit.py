"""What fitting a guard that reads the model adds to ``souschef train``, side by side with the text guard.

    python bench/guard_fit.py                 # the shipped corpus's examples, the shipped assistant
    python bench/guard_fit.py --data runs/assistant/data/train.jsonl --repeats 3 --json

Both arms fit on the same examples (the shipped corpus plus ``--data``), as
``souschef train`` does after training (``generation.guard.data.guard_for_examples``):

1. ``text guard``: TF-IDF, word shares and the WordLlama embedding (a model trained from scratch);
2. ``view guard``: TF-IDF and the model's view, read from the shipped assistant
   (``ViewReader``: at most ``MAX_VIEWED_PROMPTS`` prompts), as for a model tuned from a base.

Medians over ``--repeats`` rounds, the arms interleaved; the target is at most 60 s added.
"""
from __future__ import annotations

import argparse
import json
import sys

from timing import medians  # bench/, beside this script

TARGET_S = 60.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="*", default=[], help="training files beside the shipped corpus")
    parser.add_argument("--repeats", type=int, default=1, help="rounds (default 1: a fit takes a minute)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    import torch

    from generation import RecipeGenerator
    from generation.guard.data import guard_for_examples
    from generation.guard.view import ViewReader
    from souschef.training.data import default_data_files, load_examples

    generator = RecipeGenerator.from_pretrained(guard=False)
    examples = load_examples([*map(str, default_data_files()), *args.data]).examples
    reader = ViewReader(generator.model, generator.prompt_ids)
    fits = medians({"text": lambda: guard_for_examples(examples),
                    "view": lambda: guard_for_examples(examples, reader)}, args.repeats, log=True)
    text, view = fits["text"], fits["view"]
    figures = {"examples": len(examples), "repeats": args.repeats, "threads": torch.get_num_threads(),
               "text_guard_s": text, "view_guard_s": view, "added_s": view - text, "target_s": TARGET_S}
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"{len(examples)} examples, median of {args.repeats}, {figures['threads']} threads")
    print(f"text guard fit   {text:7.1f} s")
    print(f"view guard fit   {view:7.1f} s   (reads the model)")
    print(f"added            {view - text:7.1f} s   (target <= {TARGET_S:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
