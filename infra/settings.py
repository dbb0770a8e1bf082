"""Settings, read once from the environment by the composition root and passed down.

Every variable is `PHOTOFEED_<FIELD>` in upper case (for example `PHOTOFEED_KAFKA_PORT=19092`).
Nothing reads the environment at import time.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

# Valkey users of the local stack (infra/stack.py renders their ACL): the CLI, replay and tests
# connect as ADMIN; the composition root picks GATEWAY or WORKER for those two processes
ADMIN, GATEWAY, WORKER = "admin", "gateway", "worker"
VALKEY_ROLES = (ADMIN, GATEWAY, WORKER)
# S3 identities of the local SeaweedFS: the app (the bucket, nothing else), presigned uploads
# (write under o/ only) and Tansu's log (its own bucket only)
S3_APP, S3_UPLOAD, S3_TANSU = "app", "upload", "tansu"
S3_IDENTITIES = (S3_APP, S3_UPLOAD, S3_TANSU)
RETIRED_S3_KEYS = ("photofeed", "photofeed-local-secret")  # shipped once; refused everywhere
SECRET_BYTES = 32  # entropy of every generated password and key: 256 bits
SECRETS_DIR = "secrets"  # under data_dir, mode 0700; each file in it mode 0600
VALKEY_SECRETS = "valkey.json"  # role -> password
S3_SECRETS = "s3.json"  # identity -> {access_key, secret_key}
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})  # bind addresses meaning "every interface"


class InsecureSettings(ValueError):
    """A configuration that would run with known or missing credentials; the message says what
    to set instead."""


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path(".photofeed")
    host: str = "127.0.0.1"  # loopback address the local backing services bind and clients dial
    api_host: str = "127.0.0.1"  # where the HTTP gateway binds (0.0.0.0: every interface); the
    # backing services never follow it: they bind `host`, which must be a loopback address
    kafka_port: int = 9092
    kafka_bootstrap: str = ""  # default: host:kafka_port (the local Tansu)
    kafka_username: str = ""  # set (with kafka_bootstrap): SASL towards that Kafka
    kafka_password: str = ""
    kafka_sasl_mechanism: str = "SCRAM-SHA-512"
    kafka_security_protocol: str = "SASL_PLAINTEXT"  # SASL_SSL across an untrusted network
    tansu_storage: str = "s3"  # "s3" (durable, on SeaweedFS) or "memory" (fast, for tests)
    redis_port: int = 6379
    redis_url: str = ""  # default: the local Valkey, as the redis_role user; a URL set here
    # carries its own credentials (redis://user:password@host:port/db) and serves every role
    redis_db: int = 0  # database of the local Valkey
    redis_role: str = ADMIN  # the local Valkey user this process connects as (VALKEY_ROLES)
    s3_port: int = 8333  # SeaweedFS uses the next 13 ports for its internal services
    s3_endpoint: str = ""  # default: host:s3_port
    s3_secure: bool = False
    s3_access_key: str = ""  # default: the app identity generated for the local SeaweedFS
    s3_secret_key: str = ""
    s3_upload_access_key: str = ""  # signs presigned uploads; default: the generated upload
    s3_upload_secret_key: str = ""  # identity locally, the app's keys on another S3
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
    # abuse limits (gateway/ratelimit.py), each answered with 429 + Retry-After:
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
    gateway_workers: int = 0  # gateway processes `photofeed up` runs on the port; 0: one per core
    web_origins: str = ""  # comma-separated origins the web client is served from, allowed
    # by the bucket's CORS rules (browsers PUT uploads straight to S3); default: gateway_url
    token_secret: str = ""  # default: a random secret kept in data_dir/token.secret
    token_ttl_s: int = 7 * 24 * 3600
    topic_partitions: int = 6
    worker_group: str = "photofeed-worker"
    celebrity_threshold: int = 10_000
    elasticsearch_url: str = ""  # set: search runs on Elasticsearch; empty: embedded SQLite FTS5
    cassandra_hosts: str = ""  # comma-separated; set: durable projections run on Cassandra
    cassandra_replication: int = 1  # replication factor of the keyspaces photofeed creates
    cassandra_username: str = ""  # set: password authentication (infra/compose.yaml requires it)
    cassandra_password: str = ""
    erasure_step_pause_s: float = 0.0  # a pause between erasure steps; for crash tests only
    backup_key: str = ""  # `photofeed backup`'s key: base64 of 32 bytes (or --key-file)
    # the worker's Kafka fetch wait: Tansu looks at its storage at halving steps of it (a produce
    # does not wake it), so a new message waits up to half of it: the floor of freshness; 20 ms:
    # p99 publish->visible in tens of ms (bench_fanout) while events flow. Every fetch costs CPU
    # whether or not anything came (idle worker + broker: 15% of a core at 20 ms, 3.5% at 200;
    # streams/transport.py), so once no records came for fetch_idle_after_s the wait is
    # fetch_idle_wait_ms until some do (bench_worker measures both sides)
    fetch_wait_ms: int = 20
    fetch_idle_wait_ms: int = 200  # a message waits up to half of it; idle: 3.5% of a core
    fetch_idle_after_s: float = 1.0  # >> fetch_wait_ms: a steady stream never sees the idle wait
    # whether this worker runs the media agent (and the other steps that append events: the
    # celebrity flag, erasure); off for a second consumer group that only rebuilds projections,
    # which must not process every upload of the log again
    worker_appends: bool = True
    outage_budget_s: float = 180.0  # an event retried this long through an outage is dead-lettered
    dependency_timeout_s: float = 3.0  # the gateway's bound on one Valkey/broker/S3 call: a
    # dependency silent this long counts as down (503 + Retry-After); >> their p99 (< 50 ms here)
    idempotency_ttl_s: int = 24 * 3600  # how long an Idempotency-Key's first answer is kept
    # the longest a request sending Photofeed-Position waits for the projections it reads to
    # apply that position, then answers `Photofeed-Consistency: stale`; >> the ~50 ms they trail
    consistency_wait_s: float = 2.0
    worker_port: int = 8001  # the worker's /healthz and /metrics (loopback); 0: no endpoint;
    # `photofeed up` runs the i-th worker's on worker_port + i - 1
    workers: int = 1  # Faust worker processes `photofeed up` runs in the one consumer group
    # the gateway's /metrics reports lag of worker_group and these consumer groups (comma-
    # separated), probed in the background every lag_refresh_s (0: no lag gauges)
    lag_groups: str = ""
    lag_refresh_s: float = 5.0  # >= one probe (~0.1 s locally); a scrape never waits for one
    log_level: str = "INFO"
    log_json: bool = True
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return self.kafka_bootstrap or f"{self.host}:{self.kafka_port}"

    @property
    def redis(self) -> str:
        """The Valkey URL of this process's role (redis_role), credentials included."""
        return self.redis_for(self.redis_role)

    def redis_for(self, role: str) -> str:
        """The URL of `role`'s Valkey user (VALKEY_ROLES): redis_url when set, else the local
        Valkey with the role's generated password (created on first use)."""
        if self.redis_url:
            return self.redis_url
        password = quote(self.valkey_passwords()[role], safe="")
        return f"redis://{role}:{password}@{self.host}:{self.redis_port}/{self.redis_db}"

    @property
    def redis_address(self) -> str:
        """Where Valkey is, without credentials: for logs and status output."""
        if not self.redis_url:
            return f"redis://{self.host}:{self.redis_port}/{self.redis_db}"
        parts = urlsplit(self.redis_url)
        netloc = parts.hostname or ""
        netloc += f":{parts.port}" if parts.port else ""
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / SECRETS_DIR

    def valkey_passwords(self) -> dict[str, str]:
        """role -> password of the local Valkey's users, generated into the data dir once."""
        stored = generated_secrets(
            self.secrets_dir / VALKEY_SECRETS, VALKEY_ROLES, lambda: _token(SECRET_BYTES)
        )
        return {role: str(value) for role, value in stored.items()}

    def s3_keys(self, identity: str = S3_APP) -> tuple[str, str]:
        """(access key, secret key) of `identity` (S3_IDENTITIES). Configured keys win; on
        another S3 (s3_endpoint set) the app's keys also sign uploads and carry Tansu's log;
        on the local SeaweedFS, missing keys are generated into the data dir once. Raises
        InsecureSettings for the retired shipped defaults, or for another S3 without keys."""
        app = (self.s3_access_key, self.s3_secret_key)
        upload = (self.s3_upload_access_key, self.s3_upload_secret_key)
        if identity == S3_UPLOAD and any(upload):
            return refuse_retired_s3_keys(upload)
        if any(app) and (identity == S3_APP or self.s3_endpoint):
            return refuse_retired_s3_keys(app)
        if self.s3_endpoint:
            raise InsecureSettings(
                "PHOTOFEED_S3_ENDPOINT is set: set PHOTOFEED_S3_ACCESS_KEY and "
                "PHOTOFEED_S3_SECRET_KEY to that service's credentials"
            )
        generated = self.generated_s3_keys()[identity]
        return generated["access_key"], generated["secret_key"]

    def generated_s3_keys(self) -> dict[str, dict[str, str]]:
        """identity -> {access_key, secret_key} of the local SeaweedFS, generated once."""
        stored = generated_secrets(self.secrets_dir / S3_SECRETS, S3_IDENTITIES, _s3_key_pair)
        return {name: dict(value) for name, value in stored.items()}

    def kafka_security(self) -> dict[str, str]:
        """librdkafka properties that authenticate to the configured Kafka (empty for the local
        Tansu, which cannot authenticate clients: it is reachable on loopback only)."""
        if not (self.kafka_bootstrap and self.kafka_username):
            return {}
        return {
            "security.protocol": self.kafka_security_protocol,
            "sasl.mechanism": self.kafka_sasl_mechanism,
            "sasl.username": self.kafka_username,
            "sasl.password": self.kafka_password,
        }

    @property
    def s3(self) -> str:
        return self.s3_endpoint or f"{self.host}:{self.s3_port}"

    @property
    def s3_public(self) -> str:
        scheme = "https" if self.s3_secure else "http"
        return self.s3_public_url or f"{scheme}://{self.s3}"

    @property
    def gateway_url(self) -> str:
        """Where clients on this machine reach the gateway (a wildcard bind is dialled on
        `host`)."""
        dial = self.host if self.api_host in WILDCARD_HOSTS else self.api_host
        dial = f"[{dial}]" if ":" in dial else dial
        return f"http://{dial}:{self.gateway_port}"

    @property
    def web_origin_list(self) -> list[str]:
        """The origins (scheme://host[:port], no path) the web client runs on: web_origins, or
        the gateway's own URL."""
        listed = [o.strip().rstrip("/") for o in self.web_origins.split(",") if o.strip()]
        return listed or [self.gateway_url]

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


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine's loopback interface only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_retired_s3_keys(keys: tuple[str, str]) -> tuple[str, str]:
    """`keys` unchanged, unless they are (or include the secret of) the retired shipped
    defaults: then InsecureSettings, since anyone who read this repository holds them."""
    if keys == RETIRED_S3_KEYS or keys[1] == RETIRED_S3_KEYS[1]:
        raise InsecureSettings(
            "the S3 credentials are photofeed's retired shipped defaults "
            f"({RETIRED_S3_KEYS[0]} / {RETIRED_S3_KEYS[1]}): unset PHOTOFEED_S3_ACCESS_KEY and "
            "PHOTOFEED_S3_SECRET_KEY to use the keys the local stack generates, or set keys "
            "of your own (and give the S3 service the same)"
        )
    return keys


def generated_secrets(
    path: Path, names: tuple[str, ...], make: Callable[[], Any]
) -> dict[str, Any]:
    """The JSON object at `path` holding one value per name; missing names get `make()`, and
    the file is (re)written atomically with mode 0600 in a 0700 directory. Concurrent
    first uses agree: the first writer's file wins, the others read it."""
    stored = _read_secrets(path)
    if all(name in stored for name in names):
        return stored
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    fresh = {**stored, **{name: make() for name in names if name not in stored}}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(fresh, f, indent=1, sort_keys=True)
    try:
        if stored:
            os.replace(tmp, path)  # adding names to an existing file: last writer wins
        else:
            os.link(tmp, path)  # a first file: fails when another process got there first
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return _read_secrets(path)


def _read_secrets(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{path} is not a JSON object: delete it to generate new secrets")
    return value


def _token(nbytes: int) -> str:
    return secrets.token_urlsafe(nbytes)


def _s3_key_pair() -> dict[str, str]:
    """An AWS-shaped key pair: a 20-character upper-case access key id, a 43-character secret."""
    return {"access_key": "PF" + secrets.token_hex(9).upper(), "secret_key": _token(SECRET_BYTES)}


SETTINGS_FILE = "photofeed.toml"  # in the current directory: read by every command, never written
DATA_DIR_SETTINGS = "settings.toml"  # under data_dir: written by `photofeed up`, read otherwise


class SettingsFileError(ValueError):
    """A settings file that cannot be read: the message names the file and the key."""


def load_settings(
    env: Mapping[str, str] | None = None, *, files: bool | None = None, cwd: Path | None = None
) -> Settings:
    """Settings from `PHOTOFEED_*` variables (default os.environ; unknown ones go to `extra`),
    over a TOML settings file, over the defaults. The file is `photofeed.toml` in `cwd` (default
    the current directory) if present, else `<data_dir>/settings.toml` (data_dir from the
    variables, or the default). `files` defaults to reading them only when `env` is not passed,
    so `load_settings(env)` stays a pure function of `env`."""
    read_files = env is None if files is None else files
    env = os.environ if env is None else env
    known = {f.name: f for f in dataclasses.fields(Settings) if f.name != "extra"}
    values: dict[str, Any] = {}
    extra = {}
    for key, raw in env.items():
        if not key.startswith("PHOTOFEED_"):
            continue
        name = key.removeprefix("PHOTOFEED_").lower()
        if name not in known:
            extra[name] = raw
            continue
        values[name] = _convert(known[name].type, raw, key)
    if read_files:
        path = settings_file_path(values.get("data_dir", known["data_dir"].default), cwd)
        if path is not None:
            values = {**read_settings_file(path), **values}
    return Settings(**values, extra=extra)


def settings_file_path(data_dir: Path, cwd: Path | None = None) -> Path | None:
    """The settings file commands read: `photofeed.toml` in `cwd` (default the current
    directory) if present, else `<data_dir>/settings.toml` if present, else None. A relative
    data_dir is taken relative to `cwd`."""
    base = Path.cwd() if cwd is None else cwd
    for path in (base / SETTINGS_FILE, base / data_dir / DATA_DIR_SETTINGS):
        if path.is_file():
            return path
    return None


def read_settings_file(path: Path) -> dict[str, Any]:
    """Field name -> typed value from a TOML settings file (keys are Settings field names).
    Raises SettingsFileError naming the file and key for anything else."""
    import tomllib

    try:
        with path.open("rb") as f:
            raw = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsFileError(f"{path}: not valid TOML: {exc}") from None
    known = {f.name: f for f in dataclasses.fields(Settings) if f.name != "extra"}
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in known:
            raise SettingsFileError(
                f"{path}: unknown setting {name!r} (keys are the Settings field names in "
                "infra/settings.py, such as gateway_port)"
            )
        values[name] = _convert_toml(str(known[name].type), value, f"{path}: {name}")
    return values


def _convert_toml(kind: str, value: Any, label: str) -> Any:
    """A TOML value as the field's type: a string converts like an environment value; other
    TOML types must already fit (an integer also fits a float field)."""
    if isinstance(value, str):
        try:
            return _convert(kind, value, label)
        except ValueError as exc:
            raise SettingsFileError(str(exc)) from None
    fits = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
    }
    if not fits.get(kind, False):
        raise SettingsFileError(f"{label} = {value!r} is not a valid {kind}")
    return float(value) if kind == "float" else value


def write_settings_file(settings: Settings, path: Path | None = None) -> Path:
    """Write the settings that differ from the defaults (data_dir and `extra` aside: data_dir
    is where the file is found) as TOML to `path` (default `<data_dir>/settings.toml`),
    atomically and with mode 0600 (it may hold credentials). Returns the path."""
    path = settings.data_dir / DATA_DIR_SETTINGS if path is None else path
    defaults = Settings()
    lines = ["# written by `photofeed up`: the settings it ran with (PHOTOFEED_* variables win)"]
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if f.name in {"extra", "data_dir"} or value == getattr(defaults, f.name):
            continue
        lines.append(f"{f.name} = {_toml_value(value)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    os.replace(tmp, path)
    return path


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


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
