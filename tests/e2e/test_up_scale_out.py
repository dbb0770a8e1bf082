"""`photofeed up --workers 2 --gateway-workers 2`: two workers in the group, each listed by
`status`; two gateway processes listening on the one port, both accepting connections; a
gateway parent killed alone takes its children along, and `up` again replaces it; `down`
leaves no process of the data dir behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from infra.ports import settings_on_free_ports
from infra.processes import group_members, wait_until
from infra.settings import Settings
from photofeed.app_processes import gateway_children, gateway_process, worker_processes
from tests.fixtures import eventually

pytestmark = pytest.mark.stack
LISTEN, ESTABLISHED = "0A", "01"  # socket states in /proc/net/tcp


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "photofeed", *args],
        env={**settings.to_env(), "COLUMNS": "200"}, capture_output=True, text=True,
        timeout=240,
    )  # fmt: skip


def port_sockets(port: int, state: str) -> set[str]:
    """Inodes of the TCP sockets whose local port is `port`, in `state`."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if int(cols[1].rsplit(":", 1)[1], 16) == port and cols[3] == state:
                    inodes.add(cols[9])
    return inodes


def sockets_of(pid: int) -> set[str]:
    """Inodes of the sockets process `pid` holds open."""
    out = set()
    with os.scandir(f"/proc/{pid}/fd") as fds:
        for fd in fds:
            target = os.readlink(fd.path) if fd.is_symlink() else ""
            if target.startswith("socket:["):
                out.add(target[8:-1])
    return out


async def processes_serving(settings: Settings, children: list[int]) -> set[int]:
    """Which of `children` hold one of 8 connections just opened and answered."""
    conns = [socket.create_connection((settings.host, settings.gateway_port)) for _ in range(8)]
    try:
        for c in conns:
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            assert c.recv(64).startswith(b"HTTP/1.1 200"), "every connection is served"
        accepted = port_sockets(settings.gateway_port, ESTABLISHED)
        return {pid for pid in children if sockets_of(pid) & accepted}
    finally:
        for c in conns:
            c.close()


def processes_of(data_dir: Path) -> set[int]:
    """Every live process started for `data_dir`: those that inherited PHOTOFEED_DATA_DIR,
    and every member of a process group with a pidfile there (Valkey rewrites its environ)."""
    marker = f"PHOTOFEED_DATA_DIR={data_dir}\0".encode()
    found = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                with open(f"/proc/{entry.name}/environ", "rb") as f:
                    if marker in f.read():
                        found.add(int(entry.name))
            except OSError:
                continue
    for pidfile in (data_dir / "run").glob("*.pid"):
        found |= set(group_members(int(pidfile.read_text())))
    return found


def still_there(pids: set[int]) -> list[int]:
    """Those of `pids` still running (a zombie waiting for init to reap it has ended)."""
    running = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(") ", 1)[1][:1] != "Z":
                    running.append(pid)
        except FileNotFoundError:
            continue
    return running


async def test_two_workers_and_two_gateway_processes_then_down_leaves_nothing(
    tmp_path: Path,
) -> None:
    settings = settings_on_free_ports(tmp_path, tansu_storage="memory", topic_partitions=2)
    up = cli(settings, "up", "--workers", "2", "--gateway-workers", "2")
    assert up.returncode == 0, up.stderr
    try:
        workers = worker_processes(settings)
        assert [w.spec.name for w in workers] == ["worker", "worker-2"]
        assert all(w.pid() for w in workers)
        gateway = gateway_process(settings)
        children = gateway_children(gateway)
        assert len(children) == 2, gateway.members()
        listening = port_sockets(settings.gateway_port, LISTEN)
        own = [sockets_of(pid) & listening for pid in children]
        assert [len(o) for o in own] == [1, 1], "each child listens on the port"
        assert own[0] != own[1], "each on its own SO_REUSEPORT socket"
        await eventually(
            lambda: processes_serving(settings, children), lambda s: len(s) == 2, timeout_s=30
        )

        async def status() -> str:
            return cli(settings, "status").stdout

        def lists_both(out: str) -> bool:
            rows = {line.split()[1]: line for line in out.splitlines() if line.count("│") > 3}
            return all(" yes " in rows.get(name, "") for name in ("worker", "worker-2"))

        shown = await eventually(status, lists_both, timeout_s=30, interval_s=0.5)
        assert f"{settings.worker_port + 1}/healthz" in shown, "worker-2's own health port"
        assert "(2 processes)" in shown

        leader = gateway.pid()
        assert leader is not None
        os.kill(leader, signal.SIGKILL)  # the parent alone: the kernel ends its children
        assert wait_until(lambda: group_members(leader) == [], 20), group_members(leader)
        again = cli(settings, "up", "--workers", "2", "--gateway-workers", "2")
        assert again.returncode == 0, again.stderr
        assert [w.pid() for w in workers] == [w.pid() for w in worker_processes(settings)]
        assert len(gateway_children(gateway)) == 2

        before = processes_of(tmp_path)
        assert len(before) >= 3 + 2 * 2 + 3, before  # services, 2 x (supervisor + worker),
        # the gateway's parent and its 2 children
        down = cli(settings, "down")
        assert down.returncode == 0, down.stderr
        for name in ("gateway", "worker", "worker-2"):
            assert f"stopped {name}\n" in down.stderr
        assert processes_of(tmp_path) == set()
        assert still_there(before) == []
    finally:
        cli(settings, "down")
