"""Reads `make bench` output (BENCH lines) and fails naming every figure that missed its goal.

Usage: python -m bench.verdict FILE. A figure misses when its ratio is below (better=higher) or
above (better=lower) its goal, when its ratio is not a number, or when any of its requests failed.
A bench that printed nothing, or a line without `better=`, is a miss too: a figure that cannot
fail is not a figure.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Figure:
    name: str
    ratio: float
    goal: float
    better: str
    errors: int

    def missed(self) -> str | None:
        """Why the figure missed its goal, or None."""
        if self.better not in {"higher", "lower"}:
            return "no better=higher|lower"
        if self.errors:
            return f"{self.errors} failed requests"
        if math.isnan(self.ratio):
            return "no ratio"
        ok = self.ratio >= self.goal if self.better == "higher" else self.ratio <= self.goal
        return None if ok else f"ratio {self.ratio:g} {self.better} than goal {self.goal:g} wanted"


def parse(line: str) -> Figure:
    words = line.split()
    fields = dict(w.split("=", 1) for w in words[2:] if "=" in w)
    return Figure(
        words[1], float(fields.get("ratio", "nan")), float(fields.get("goal", "nan")),
        fields.get("better", ""), int(fields.get("errors", "0")),
    )  # fmt: skip


def misses(text: str) -> list[str]:
    figures = [parse(line) for line in text.splitlines() if line.startswith("BENCH ")]
    if not figures:
        return ["no BENCH lines at all"]
    return [f"{f.name}: {why}" for f in figures if (why := f.missed()) is not None]


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        missed = misses(f.read())
    for line in missed:
        print(f"MISSED {line}")
    if missed:
        raise SystemExit(1)
    print("every figure met its goal")


if __name__ == "__main__":
    main()
