"""infra.ports: a stack's ports come from below the kernel's ephemeral range, where no outgoing
connection can take one between the check and the service's bind, and are free when chosen."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from infra import ports


def test_a_block_is_free_and_below_the_ephemeral_range() -> None:
    ephemeral = int(ports.EPHEMERAL_RANGE.read_text().split()[0])
    for _ in range(20):
        base = ports.free_port_block(18)
        assert base >= ports.LOWEST
        assert base + 18 <= ephemeral
        for port in range(base, base + 18):
            with socket.socket() as s:
                s.bind(("127.0.0.1", port))  # raises if taken


def test_a_taken_port_is_never_in_the_block(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        monkeypatch.setattr(ports, "_unclaimed", lambda size: (port - 2, port + 10))
        base = ports.free_port_block(3)  # port-2 holds `port`: skipped
        assert not base <= port < base + 3


def test_a_narrow_room_below_the_ephemeral_range_uses_the_whole_range(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    narrow = tmp_path / "ip_local_port_range"
    narrow.write_text("16000\t60999\n")
    monkeypatch.setattr(ports, "EPHEMERAL_RANGE", narrow)
    assert ports._unclaimed(18) == (20000, 65535 - 18)
    narrow.write_text("32768\t60999\n")
    assert ports._unclaimed(18) == (ports.LOWEST, 32768 - 18)
