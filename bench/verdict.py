"""Reads `make bench` output (BENCH lines) and fails naming every figure that missed its goal.

Usage: python -m bench.verdict FILE. A figure misses when its ratio is below (better=higher) or
above (better=lower) its goal, when its ratio is not a number, when any of its requests failed, or
when it measured fewer requests than it says it needs (`requests=` below `min_requests=`).
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
    requests: float = math.nan  # a latency figure's sample size, when it names one ...
    min_requests: float = math.nan  # ... and the least it needs (too few: a miss)

    def missed(self) -> str | None:
        """Why the figure missed its goal ("; "-joined when for several reasons), or None."""
        if self.better not in {"higher", "lower"}:
            return "no better=higher|lower"
        why = []
        if self.errors:
            why.append(f"{self.errors} failed requests")
        if self.requests < self.min_requests:
            why.append(f"{self.requests:g} requests measured, {self.min_requests:g} needed")
        if math.isnan(self.ratio):
            why.append("no ratio")
        elif not (self.ratio >= self.goal if self.better == "higher" else self.ratio <= self.goal):
            wanted = ">=" if self.better == "higher" else "<="
            why.append(f"ratio {self.ratio:g}, wanted {wanted} {self.goal:g}")
        return "; ".join(why) or None


def parse(line: str) -> Figure:
    words = line.split()
    fields = dict(w.split("=", 1) for w in words[2:] if "=" in w)
    return Figure(
        words[1], float(fields.get("ratio", "nan")), float(fields.get("goal", "nan")),
        fields.get("better", ""), int(fields.get("errors", "0")),
        float(fields.get("requests", "nan")), float(fields.get("min_requests", "nan")),
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
