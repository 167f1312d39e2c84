"""`make bench` (`python -m tests.load.bench [NAME ...]`): run every benchmark module tests/load/bench_<name>.py.

Each module has `main(argv: list[str]) -> None`; areas add their own module instead of editing this file.
`python -m tests.load.bench events --requests 100` runs one of them with its own options.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def percentile(values: list[float], fraction: float) -> float:
    """The value at `fraction` (0.95 for p95) of the sorted values, rounded to the nearest rank; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def available() -> list[str]:
    return sorted(path.stem.removeprefix("bench_") for path in Path(__file__).parent.glob("bench_*.py"))


def main(argv: list[str]) -> None:
    names = [arg for arg in argv if arg in available()]
    # Options belong to one benchmark: they are passed on only when exactly one is named.
    options = [arg for arg in argv if arg not in names] if len(names) == 1 else []
    for name in names or available():
        print(f"== {name}", flush=True)
        importlib.import_module(f"tests.load.bench_{name}").main(options)


if __name__ == "__main__":
    main(sys.argv[1:])
