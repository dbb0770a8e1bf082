"""Names, health ports and discovery of the app processes `photofeed up` runs."""

from __future__ import annotations

from pathlib import Path

from infra.settings import Settings
from photofeed.app_processes import worker_index, worker_name, worker_port, worker_processes
from photofeed.gateway_serve import gateway_processes, processes_per_core


def test_worker_names_round_trip_and_nothing_else_reads_as_a_worker() -> None:
    assert [worker_name(i) for i in (1, 2, 10)] == ["worker", "worker-2", "worker-10"]
    assert all(worker_index(worker_name(i)) == i for i in range(1, 20))
    assert [worker_index(n) for n in ("gateway", "crash-worker", "worker-", "worker-x")] == [
        None, None, None, None,
    ]  # fmt: skip


def test_each_worker_gets_the_next_health_port_and_zero_stays_off() -> None:
    assert [worker_port(Settings(worker_port=8001), i) for i in (1, 2, 3)] == [8001, 8002, 8003]
    assert worker_port(Settings(worker_port=0), 3) == 0


def test_down_finds_workers_beyond_the_configured_count(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, workers=2)
    (tmp_path / "run").mkdir()
    for name in ("worker-5", "gateway", "crash-worker"):  # only worker-5 is one of ours
        (tmp_path / "run" / f"{name}.pid").write_text("1")
    assert [p.spec.name for p in worker_processes(settings)] == ["worker", "worker-2", "worker-5"]
    assert [p.spec.name for p in worker_processes(settings, count=1)] == ["worker", "worker-5"]
    env = worker_processes(settings)[1].spec.env
    assert env["PHOTOFEED_WORKER_PORT"] == str(Settings().worker_port + 1)


def test_gateway_processes_default_to_one_per_core() -> None:
    assert gateway_processes(Settings()) == processes_per_core() >= 1
    assert gateway_processes(Settings(gateway_workers=3)) == 3
