"""`make bench` (`python -m tests.load.bench [NAME ...]`): run every benchmark module tests/load/bench_<name>.py.

Each module has `main(argv: list[str]) -> None`; areas add their own module instead of editing this file.
`python -m tests.load.bench events --requests 100` runs one of them with its own options.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


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
