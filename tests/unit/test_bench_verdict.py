"""The bench verdict: which BENCH lines miss their goals (pure)."""

from __future__ import annotations

import pytest

from bench.harness import report_bound
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


def test_a_figure_measured_on_too_few_requests_misses() -> None:
    tail = "project=10 bound=20 ratio=0.5 goal=1 better=lower errors=0 unit=ms min_requests=1e+04"
    text = f"BENCH enough {tail} requests=1e+04\nBENCH too_few {tail} requests=3200\n"
    assert [m.split(":")[0] for m in misses(text)] == ["too_few"]


def test_an_absolute_budget_is_judged_against_its_bound(capsys: pytest.CaptureFixture[str]) -> None:
    report_bound("within", 15.0, 20.0, "ms", better="lower")
    report_bound("over", 25.0, 20.0, "ms", better="lower")
    printed = capsys.readouterr().out
    assert "baseline=" not in printed  # a bound is not a measured baseline
    assert [m.split(":")[0] for m in misses(printed)] == ["over"]
