"""Side-by-side timing for the benches: arms interleaved in every round, medians reported."""
from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable


def timed(work: Callable[[], object]) -> float:
    """Seconds ``work()`` took."""
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def medians(arms: dict[str, Callable[[], object]], repeats: int, *, log: bool = False) -> dict[str, float]:
    """The median seconds of each arm, the arms interleaved in every round (each run on stderr
    with ``log``)."""
    runs: dict[str, list[float]] = {name: [] for name in arms}
    for _ in range(repeats):
        for name, work in arms.items():
            runs[name].append(timed(work))
            if log:
                print(f"{name}: {runs[name][-1]:.1f} s", file=sys.stderr)
    return {name: statistics.median(times) for name, times in runs.items()}
