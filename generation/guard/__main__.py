"""Rebuild the shipped domain guard: ``python -m generation.guard --out generation/guard/guard.json``.

Deterministic: the same shipped corpus gives the same file. Needs the train extra
(scikit-learn, wordfreq).
"""
from __future__ import annotations

import argparse
import sys

from .data import build_guard, guard_summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m generation.guard",
        description="Train the domain guard on the shipped corpus and write it as JSON.",
        epilog="example: python -m generation.guard --out generation/guard/guard.json",
    )
    parser.add_argument("--out", required=True, help="where to write the guard (JSON)")
    args = parser.parse_args(argv)
    guard = build_guard()
    guard.save(args.out)
    validation = guard_summary(guard)["validation"]
    print(
        f"wrote {args.out}: {len(guard.features)} features, threshold {guard.threshold:.3f}; held out "
        f"{validation['cooking']} cooking / {validation['other']} other prompts: false refusals "
        f"{validation['false_refusal']:.3f}, contamination {validation['contamination']:.3f}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
