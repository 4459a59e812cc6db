"""Issue 20: the data of the shipped assistant, and its fixed development split.

    python experiments/assistant.py split        # runs/assistant/data/{train,dev}.jsonl

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["split"])
    parser.add_argument("--source", type=Path, default=SHARED / "train.jsonl")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "assistant" / "data")
    args = parser.parse_args(argv)
    if not args.source.is_file():
        print(f"no {args.source}: this needs ../shared beside the checkout", file=sys.stderr)
        return 2
    split(args.source, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
