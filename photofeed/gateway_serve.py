"""Running the HTTP gateway: one process, or N processes sharing one port.

N > 1: the parent process supervises N children (infra/supervisor.py `supervise_all`: each
restarted with backoff when it fails, all stopped by SIGTERM/SIGINT, all ended by the kernel
if the parent dies). Each child is `photofeed gateway --reuse-port`: it binds its own socket
with SO_REUSEPORT, so the kernel spreads new connections evenly over the children, and builds
its own clients in the app's lifespan (photofeed/bootstrap.py `build_gateway`); nothing but
the port is shared, and everything requests share (sessions, rate limits, idempotency)
already lives in Valkey. Only processes of the same user can join a SO_REUSEPORT port, and
the parent refuses to start when the port is taken, so a second gateway cannot slip in.

Chosen by measuring on this 2-core machine against uvicorn's multi-process mode (its children
accept on one shared socket): 32 keep-alive connections opened at once (as wrk or a client
pool does) split between 2 processes 25/7 or worse in 20 of 60 tries there (32/0 once, 30/2
three times), never worse than 23/9 with SO_REUSEPORT; a connection stays with the process
that accepted it, so that split is the split of the load.
"""

from __future__ import annotations

import gc
import os
import socket
import sys

import uvicorn

from infra.settings import Settings
from infra.supervisor import supervise_all

STARTUP_FAILURE = 3  # uvicorn's exit status when the app's lifespan fails to start
GRACEFUL_SHUTDOWN_S = 5  # in-flight requests finish on SIGTERM; < STOP_GRACE_S of `down`


class PortTaken(OSError):
    """The gateway's port is already in use (another gateway, or another program)."""


def processes_per_core() -> int:
    """One gateway process per core (what `gateway_workers = 0` means)."""
    return os.cpu_count() or 1


def gateway_processes(settings: Settings) -> int:
    """How many gateway processes `photofeed up` runs: the setting, or one per core."""
    return settings.gateway_workers or processes_per_core()


def run_gateway(settings: Settings, processes: int = 1, *, reuse_port: bool = False) -> int:
    """Serve the gateway in the foreground until SIGTERM/SIGINT; return the exit status.
    `processes` > 1 supervises that many `--reuse-port` children on settings.gateway_port
    (they read the same settings: this environment, this directory). Raises PortTaken."""
    if processes <= 1:
        return _serve(settings, reuse_port)
    _refuse_taken_port(settings)
    argv = [sys.executable, "-m", "photofeed", "gateway", "--workers", "1", "--reuse-port",
            "--port", str(settings.gateway_port)]  # fmt: skip
    return supervise_all([argv] * processes)


def _serve(settings: Settings, reuse_port: bool) -> int:
    from photofeed.bootstrap import build_gateway

    config = uvicorn.Config(
        build_gateway(settings), host=settings.api_host, port=settings.gateway_port,
        log_config=None, access_log=False, loop="uvloop", http="httptools", lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )  # fmt: skip
    server = uvicorn.Server(config)
    # everything built so far (modules, the app) lives as long as the process: out of the
    # collector's sight, a full collection no longer walks it. Measured under feed load: six
    # full collections in a bench run, up to 56 ms each, every request in flight held that
    # long; frozen, 1.7 ms at most (the worker does the same, photofeed/cli.py)
    gc.freeze()
    server.run(sockets=[_reuse_port_socket(settings)] if reuse_port else None)
    return 0 if server.started else STARTUP_FAILURE


def _reuse_port_socket(settings: Settings) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in settings.api_host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((settings.api_host, settings.gateway_port))
    return sock


def _refuse_taken_port(settings: Settings) -> None:
    """Raise PortTaken when something listens on the port already (a socket without
    SO_REUSEPORT cannot bind beside it, whatever that one set)."""
    family = socket.AF_INET6 if ":" in settings.api_host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no owner
        try:
            probe.bind((settings.api_host, settings.gateway_port))
        except OSError as exc:
            raise PortTaken(f"{settings.api_host}:{settings.gateway_port}: {exc}") from None
