"""Managed processes stop as whole process groups, with real child processes (no services):
nothing a managed process started outlives `stop`, even when the leader died first, and a
child armed with `die_with_parent` ends with its parent."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from infra.processes import ManagedProcess, ProcessSpec, group_members, wait_until

# starts a grandchild (in the same process group) that writes its pid and lives on, then
# either exits at once (an orphaned member) or stays (argv[3] == "stay")
LEADER = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
if sys.argv[3] == "stay":
    time.sleep(600)
"""
MEMBER = """
import os, pathlib, signal, sys, time
if "stubborn" in sys.argv[1]:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
pathlib.Path(sys.argv[1]).write_text(str(os.getpid()))
time.sleep(600)
"""
# a parent that starts a child armed with die_with_parent, then waits to be killed
PARENT = """
import os, subprocess, sys, time
from infra.processes import die_with_parent
subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]],
                 preexec_fn=die_with_parent(os.getpid()))
time.sleep(600)
"""


def managed(tmp_path: Path, name: str, script: str, *args: str) -> ManagedProcess:
    repo = str(Path(__file__).parents[2])  # PARENT imports infra
    spec = ProcessSpec(name, [sys.executable, "-c", script, *args], {"PYTHONPATH": repo})
    return ManagedProcess(spec, tmp_path / "run", tmp_path / "logs")


def member_pid(pidfile: Path) -> int:
    assert wait_until(lambda: pidfile.exists() and pidfile.read_text() != "", 20.0)
    return int(pidfile.read_text())


def test_stop_ends_a_member_that_outlived_its_leader(tmp_path: Path) -> None:
    proc = managed(tmp_path, "orphaning", LEADER, MEMBER, str(tmp_path / "member"), "exit")
    leader = proc.start()
    member = member_pid(tmp_path / "member")
    assert wait_until(lambda: proc.pid() is None, 20.0), "the leader exits at once"
    assert group_members(leader) == [member], "the member lives on in the leader's group"
    assert proc.pidfile.exists(), "kept while a member of its group runs"
    assert proc.stop()
    assert group_members(leader) == []
    assert not proc.pidfile.exists()
    assert not proc.stop(), "nothing left to stop"


def test_stop_escalates_to_sigkill_for_members_that_ignore_sigterm(tmp_path: Path) -> None:
    proc = managed(tmp_path, "stubborn", LEADER, MEMBER, str(tmp_path / "stubborn"), "stay")
    leader = proc.start()
    member = member_pid(tmp_path / "stubborn")
    assert set(proc.members()) == {leader, member}
    assert proc.stop(grace_s=0.5)
    assert group_members(leader) == []


def test_a_child_armed_with_die_with_parent_ends_when_its_parent_is_killed(
    tmp_path: Path,
) -> None:
    proc = managed(tmp_path, "parent", PARENT, MEMBER, str(tmp_path / "child"))
    parent = proc.start()
    child = member_pid(tmp_path / "child")
    assert set(proc.members()) == {parent, child}
    os.kill(parent, signal.SIGKILL)  # the parent alone: nobody signals the child
    assert wait_until(lambda: group_members(parent) == [], 20.0), group_members(parent)
