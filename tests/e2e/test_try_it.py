"""docs/try-it.sh (the README's "Try it", pasteable) against the session gateway: every step
answers 2xx, and the follower's feed shows the published post."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from infra.processes import ManagedProcess

pytestmark = pytest.mark.stack
SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "try-it.sh"


def test_try_it_script_runs_every_step_and_shows_the_post_in_the_feed(
    gateway: str, worker: ManagedProcess, tmp_path: Path
) -> None:
    env = {**os.environ, "PHOTOFEED_API": gateway, "PY": sys.executable, "TMPDIR": str(tmp_path)}
    run = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    statuses = re.findall(r"-> HTTP (\d{3})", out)
    assert len(statuses) >= 11, out  # users, sessions, follow, upload, status (polled), feed, ...
    assert len(re.findall(r"GET /feed", out)) == 1, out  # read-your-writes: no polling loop
    assert len(re.findall(r"GET /notifications", out)) == 1, out
    assert all(s.startswith("2") for s in statuses), out
    post_id = re.search(r"published as post (\d+)", out)
    assert post_id is not None, out
    assert re.search(rf"in the feed of ana: {post_id[1]} by bob_\d+ 'sunset #sea'", out), out
    assert "notification of bob: comment by ana_" in out, out
    assert "notification of bob: like by ana_" in out, out
    assert not list(tmp_path.glob("photofeed-*.jpg"))  # the sample photo is cleaned up


def test_readme_try_it_block_is_the_script() -> None:
    """The README's "Try it" block pastes the script's commands, word for word."""
    readme = (SCRIPT.parents[1] / "README.md").read_text()
    section = readme.split("## Try it\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```\n", 1)[0]
    commands = SCRIPT.read_text().split('cd "$(dirname "$0")/.."\n', 1)[1]
    assert block.strip() == commands.strip()
    assert "bash docs/try-it.sh" in section
