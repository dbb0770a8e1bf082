"""Settings, read once from the environment by the composition root and passed down.

Every variable is `PHOTOFEED_<FIELD>` in upper case (for example `PHOTOFEED_KAFKA_PORT=19092`).
Nothing reads the environment at import time.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path(".photofeed")
    host: str = "127.0.0.1"  # every local service binds here
    kafka_port: int = 9092
    kafka_bootstrap: str = ""  # default: host:kafka_port (the local Tansu)
    tansu_storage: str = "s3"  # "s3" (durable, on SeaweedFS) or "memory" (fast, for tests)
    redis_port: int = 6379
    redis_url: str = ""  # default: redis://host:redis_port/0 (the local Valkey)
    s3_port: int = 8333  # SeaweedFS uses the next 13 ports for its internal services
    s3_endpoint: str = ""  # default: host:s3_port
    s3_secure: bool = False
    s3_access_key: str = "photofeed"
    s3_secret_key: str = "photofeed-local-secret"
    s3_region: str = "us-east-1"
    s3_bucket: str = "photofeed"
    s3_public_url: str = ""  # base of variant URLs (a CDN in production); default the S3 endpoint
    tansu_bucket: str = "tansu"
    upload_url_ttl_s: int = 900  # presigned URLs live 15 minutes
    upload_session_ttl_s: int = 24 * 3600  # never-completed uploads are cleaned up after this
    multipart_threshold_bytes: int = 5 * 1024 * 1024  # larger presigned uploads go multipart
    multipart_part_bytes: int = 5 * 1024 * 1024  # >= S3's 5 MiB minimum part size
    max_upload_bytes: int = 50 * 1024 * 1024
    direct_upload_max_bytes: int = 10 * 1024 * 1024  # multipart/form-data uploads, small files
    max_pixels: int = 50_000_000  # decompression-bomb cap
    upload_rate_per_minute: int = 10
    login_free_failures: int = 5  # per username: failed logins before waits begin (>= 1)
    login_address_free_failures: int = 20  # the same per client address (many usernames)
    login_backoff_base_s: float = 1.0  # the first wait; doubles with each further failure
    login_backoff_max_s: float = 900.0  # the longest wait; a success resets the count
    register_rate_per_hour: int = 20  # registrations per client address
    follow_rate_per_minute: int = 60  # follows + unfollows per user
    like_rate_per_minute: int = 120  # likes + unlikes per user
    comment_rate_per_minute: int = 20  # new comments per user
    # argon2 (~20 ms of CPU each) runs in its own pool: at most `threads` hashes at once and
    # `queue` waiting; beyond that, 503 overloaded + Retry-After (gateway/passwords.py)
    password_hash_threads: int = 2  # <= the cores the gateway may spend on logins
    password_hash_queue: int = 8  # a full queue waits ~(threads + queue) / threads * 20 ms
    blocklist_max_distance: int = 8  # Hamming distance of perceptual hashes that counts as a match
    gateway_port: int = 8000
    token_secret: str = ""  # default: a random secret kept in data_dir/token.secret
    token_ttl_s: int = 7 * 24 * 3600
    topic_partitions: int = 6
    worker_group: str = "photofeed-worker"
    celebrity_threshold: int = 10_000
    elasticsearch_url: str = ""  # set: search runs on Elasticsearch; empty: embedded SQLite FTS5
    cassandra_hosts: str = ""  # comma-separated; set: durable projections run on Cassandra
    cassandra_replication: int = 1  # replication factor of the keyspaces photofeed creates
    erasure_step_pause_s: float = 0.0  # a pause between erasure steps; for crash tests only
    backup_key: str = ""  # `photofeed backup`'s key: base64 of 32 bytes (or --key-file)
    # the worker's Kafka fetch wait: Tansu answers a fetch only when this wait ends (a produce does
    # not wake it), so it is the floor of freshness; 20 ms: p99 publish->visible in tens of ms for
    # ~3% of a core of broker CPU while idle (bench_freshness measures both)
    fetch_wait_ms: int = 20
    outage_budget_s: float = 180.0  # an event retried this long through an outage is dead-lettered
    dependency_timeout_s: float = 3.0  # the gateway's bound on one Valkey/broker/S3 call: a
    # dependency silent this long counts as down (503 + Retry-After); >> their p99 (< 50 ms here)
    idempotency_ttl_s: int = 24 * 3600  # how long an Idempotency-Key's first answer is kept
    worker_port: int = 8001  # the worker's /healthz and /metrics (loopback); 0: no endpoint
    log_level: str = "INFO"
    log_json: bool = True
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return self.kafka_bootstrap or f"{self.host}:{self.kafka_port}"

    @property
    def redis(self) -> str:
        return self.redis_url or f"redis://{self.host}:{self.redis_port}/0"

    @property
    def s3(self) -> str:
        return self.s3_endpoint or f"{self.host}:{self.s3_port}"

    @property
    def s3_public(self) -> str:
        scheme = "https" if self.s3_secure else "http"
        return self.s3_public_url or f"{scheme}://{self.s3}"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.host}:{self.gateway_port}"

    def secret(self) -> str:
        """The token-signing secret; created once under data_dir when not configured."""
        if self.token_secret:
            return self.token_secret
        path = self.data_dir / "token.secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48))
        return path.read_text().strip()

    def to_env(self) -> dict[str, str]:
        """The PHOTOFEED_* variables that reproduce these settings in a child process."""
        out = {f"PHOTOFEED_{k.upper()}": v for k, v in self.extra.items()}
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            out[f"PHOTOFEED_{f.name.upper()}"] = (
                str(value).lower() if isinstance(value, bool) else str(value)
            )
        return out

    def with_(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from `PHOTOFEED_*` variables (default os.environ); unknown ones go to `extra`."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    known = {f.name: f for f in dataclasses.fields(Settings) if f.name != "extra"}
    extra = {}
    for key, raw in env.items():
        if not key.startswith("PHOTOFEED_"):
            continue
        name = key.removeprefix("PHOTOFEED_").lower()
        if name not in known:
            extra[name] = raw
            continue
        values[name] = _convert(known[name].type, raw, key)
    return Settings(**values, extra=extra)


def _convert(kind: Any, raw: str, key: str) -> Any:
    kind = str(kind)
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            if raw.lower() not in {"1", "0", "true", "false", "yes", "no"}:
                raise ValueError(raw)
            return raw.lower() in {"1", "true", "yes"}
        if kind == "Path":
            return Path(raw)
    except ValueError:
        raise ValueError(f"{key}={raw!r} is not a valid {kind}") from None
    return raw
