"""The README's topic catalogue is the one `photofeed topics list` prints."""

from __future__ import annotations

from pathlib import Path

from infra.topics import catalogue_markdown

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_catalogue_matches_code() -> None:
    text = README.read_text()
    start = text.index("-->", text.index("<!-- catalogue:start")) + len("-->")
    end = text.index("<!-- catalogue:end -->")
    assert text[start:end].strip() == catalogue_markdown().strip()


def test_readme_starts_with_the_two_commands() -> None:
    head = README.read_text()[:800]
    assert "make up" in head
    assert "make test" in head
