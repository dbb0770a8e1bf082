"""The bench verdict: which BENCH lines miss their goals (pure)."""

from __future__ import annotations

from bench.verdict import misses

LINE = "BENCH {name} project=1 baseline=2 ratio={ratio} goal={goal} better={better} errors={e}"


def line(name: str, ratio: str, goal: str, better: str, e: int = 0) -> str:
    return LINE.format(name=name, ratio=ratio, goal=goal, better=better, e=e)


def test_each_kind_of_miss_is_named() -> None:
    text = "\n".join(
        [
            line("fast_enough", "0.7", "0.5", "higher"),
            line("too_slow", "0.4", "0.5", "higher"),
            line("small_enough", "1.1", "1.2", "lower"),
            line("too_big", "1.3", "1.2", "lower"),
            line("had_errors", "0.9", "0.5", "higher", e=3),
            line("crashed", "nan", "1", "higher"),
            "BENCH no_direction project=1 baseline=1 ratio=1 goal=1 unit=x",
            "INFO reference value=3 unit=x",
        ]
    )
    missed = {m.split(":")[0] for m in misses(text)}
    assert missed == {"too_slow", "too_big", "had_errors", "crashed", "no_direction"}


def test_no_figures_at_all_is_a_miss() -> None:
    assert misses("INFO only value=1 unit=x\n") == ["no BENCH lines at all"]
