"""The internal services refuse anyone without the credentials the stack generated.

Each exploit of the security review is performed against the real stack and must now fail:
anonymous Valkey reads, the app roles' administrative commands, the SeaweedFS filer's, volume
server's, master's and gRPC APIs without their JWT or client certificate, S3 with the retired
default keys, a presigned upload under the public prefix. Backing services listen on loopback
whatever the API's bind address. (Tansu cannot authenticate clients; loopback is its boundary.)
"""

from __future__ import annotations

import io
import os
import socket
import ssl
import stat
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis
from minio import Minio
from minio.error import S3Error
from redis.backoff import NoBackoff
from redis.retry import Retry

from gateway.keys import AccountKeys
from infra.clients import make_minio
from infra.keystore import KEYS as DATA_KEYS
from infra.ports import settings_on_free_ports
from infra.processes import ManagedProcess, ProcessSpec, wait_until
from infra.readiness import gateway_healthy
from infra.settings import (
    ADMIN,
    GATEWAY,
    RETIRED_S3_KEYS,
    S3_APP,
    S3_UPLOAD,
    WORKER,
    InsecureSettings,
    Settings,
)
from infra.stack import Stack, seaweed_access
from photofeed.bootstrap import s3_store
from schemas.media import original_key
from tests.fixtures import READY_TIMEOUT_S, register, unique

pytestmark = pytest.mark.stack

# SeaweedFS's internal ports as infra/stack.py derives them from the S3 port
S3_GRPC, MASTER, MASTER_GRPC, VOLUME, VOLUME_GRPC, FILER, FILER_GRPC, ADMIN_GRPC = (
    1, 4, 5, 6, 7, 8, 9, 11,
)  # fmt: skip
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes(9)  # + an empty SETTINGS frame
# harmless even if they ran; the destructive ones are checked with ACL DRYRUN first
REFUSED_TO_APPS: tuple[Callable[[redis.Redis], object], ...] = (
    lambda r: r.config_get("*"), lambda r: r.config_resetstat(), lambda r: r.keys("*"),
    lambda r: r.acl_list(), lambda r: r.client_list(),
    lambda r: r.script_flush(), lambda r: r.function_flush(),
)  # fmt: skip


def sync_redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2, retry=NO_RETRY)


# a refused login is the answer these tests want: not retried with backoff (redis-py retries
# connection errors, AuthenticationError among them, 3 times by default)
NO_RETRY = Retry(NoBackoff(), 0)


# --- Valkey -------------------------------------------------------------------------------------


async def test_an_unauthenticated_valkey_client_reads_nothing(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    user_id, _token = await register(api)
    admin = sync_redis(settings.redis_for(ADMIN))
    assert admin.exists(AccountKeys.account(int(user_id)))  # the targets exist ...
    assert admin.type(DATA_KEYS) == b"hash"
    anonymous = redis.Redis(host=settings.host, port=settings.redis_port, socket_timeout=2,
                            retry=NO_RETRY)  # fmt: skip
    account = AccountKeys.account(int(user_id))
    for read in (lambda: anonymous.hgetall(DATA_KEYS),
                 lambda: anonymous.hgetall(account),
                 lambda: anonymous.hset(account, "hash", "x")):  # fmt: skip
        with pytest.raises(redis.AuthenticationError):  # ... but not for a stranger
            read()
    wrong = sync_redis(settings.redis_for(GATEWAY).replace("gateway:", "gateway:x", 1))
    with pytest.raises(redis.AuthenticationError):
        wrong.ping()
    default = redis.Redis(host=settings.host, port=settings.redis_port, username="default",
                          password="", socket_timeout=2, retry=NO_RETRY)  # fmt: skip
    with pytest.raises(redis.AuthenticationError):
        default.ping()


@pytest.mark.parametrize("role", [GATEWAY, WORKER])
def test_app_roles_cannot_run_administrative_commands(
    settings: Settings, stack: Stack, role: str
) -> None:
    admin = sync_redis(settings.redis_for(ADMIN))
    for dangerous in (
        ["FLUSHALL"],
        ["FLUSHDB"],
        ["SHUTDOWN"],
        ["REPLICAOF", "NO", "ONE"],
        ["CONFIG", "SET", "appendfsync", "no"],
        ["ACL", "SETUSER", "x", "on"],
        ["DEBUG", "SLEEP", "0"],  # (refused to everyone anyway: enable-debug-command no)
        ["FUNCTION", "LOAD", "REPLACE", "#!lua name=x\nredis.register_function('x', tostring)"],
        ["FUNCTION", "DELETE", "photofeed_pages"],  # the read library is the admin's to define
    ):
        verdict = admin.acl_dryrun(role, *dangerous)
        assert b"no permissions" in verdict, (dangerous, verdict)
    scratch = sync_redis(settings.with_(redis_db=15).redis_for(role))  # an unused database
    with pytest.raises(redis.exceptions.NoPermissionError):
        scratch.flushall()  # safe: the dry run above proved it is refused
    with pytest.raises(redis.exceptions.NoPermissionError):
        scratch.flushdb()
    for command in REFUSED_TO_APPS:
        with pytest.raises(redis.exceptions.NoPermissionError):
            command(scratch)
    key = f"test:locked:{uuid.uuid4().hex}"  # what the roles do keeps working
    assert scratch.set(key, "v", ex=60)
    assert scratch.eval("return redis.call('GET', KEYS[1])", 1, key) == b"v"
    assert scratch.waitaof(0, 0, 100) is not None
    assert scratch.function_list(library="photofeed_pages")  # listing it (start-up check) is not


def test_only_the_worker_reads_persistence_info(settings: Settings, stack: Stack) -> None:
    assert "aof_enabled" in sync_redis(settings.redis_for(WORKER)).info("persistence")
    with pytest.raises(redis.exceptions.NoPermissionError):
        sync_redis(settings.redis_for(GATEWAY)).info("persistence")


# --- SeaweedFS ----------------------------------------------------------------------------------


@pytest.fixture
def original(settings: Settings, stack: Stack) -> Iterator[str]:
    """A private original (with made-up GPS) in the bucket, through S3 as the app."""
    key = original_key(uuid.uuid4().int % 10**9, uuid.uuid4().int % 10**9)
    client = make_minio(settings)
    body = b"\xff\xd8private original with GPS 48.8584 N"
    client.put_object(settings.s3_bucket, key, io.BytesIO(body), len(body), "image/jpeg")
    yield key
    client.remove_object(settings.s3_bucket, key)


def test_the_filer_refuses_unsigned_reads_and_writes(settings: Settings, original: str) -> None:
    filer = f"http://{settings.host}:{settings.s3_port + FILER}"
    evil = "v/aa/filer-evil.html"
    put = httpx.put(f"{filer}/buckets/{settings.s3_bucket}/{evil}", content=b"<script>x</script>",
                    headers={"Content-Type": "text/html"})  # fmt: skip
    assert put.status_code == 401
    assert httpx.get(f"{settings.s3_public}/{settings.s3_bucket}/{evil}").status_code == 404
    assert httpx.get(f"{filer}/buckets/{settings.s3_bucket}/{original}").status_code == 401
    listing = httpx.get(f"{filer}/buckets/{settings.tansu_bucket}/",
                        headers={"Accept": "application/json"})  # fmt: skip
    assert listing.status_code == 401
    signed = seaweed_access(settings).filer_jwt()  # the refusals above are authentication's
    ok = httpx.get(f"{filer}/buckets/{settings.s3_bucket}/{original}",
                   headers={"Authorization": f"Bearer {signed}"})  # fmt: skip
    assert ok.status_code == 200
    assert b"GPS" in ok.content


def test_the_volume_server_refuses_unsigned_reads_and_deletes(
    settings: Settings, original: str
) -> None:
    access = seaweed_access(settings)
    meta = httpx.get(f"{access.filer_url}/buckets/{settings.s3_bucket}/{original}",
                     params={"metadata": "true"},
                     headers={"Authorization": f"Bearer {access.filer_jwt()}"})  # fmt: skip
    fid = meta.json()["chunks"][0]["file_id"]
    volume = f"http://{settings.host}:{settings.s3_port + VOLUME}/{fid}"
    assert httpx.get(volume).status_code == 401
    assert httpx.delete(volume).status_code == 401
    signed = httpx.get(volume, headers={"Authorization": f"Bearer {access.volume_jwt(fid)}"})
    assert signed.status_code == 200


def test_the_master_http_api_needs_the_client_certificate(settings: Settings, stack: Stack) -> None:
    access = seaweed_access(settings)
    plain = f"http://{settings.host}:{settings.s3_port + MASTER}"
    assert httpx.get(f"{plain}/col/delete", params={"collection": "tansu"}).status_code == 400
    anonymous_tls = ssl.create_default_context(cafile=str(access.tls.ca))
    with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
        httpx.get(f"{access.master_url}/col/delete", params={"collection": "tansu"},
                  verify=anonymous_tls)  # fmt: skip
    status = httpx.get(f"{access.master_url}/dir/status", verify=access.ssl_context())
    assert status.status_code == 200
    assert "Topology" in status.json()


@pytest.mark.parametrize("offset", [S3_GRPC, MASTER_GRPC, VOLUME_GRPC, FILER_GRPC, ADMIN_GRPC])
def test_grpc_ports_need_the_client_certificate(
    settings: Settings, stack: Stack, offset: int
) -> None:
    address = (settings.host, settings.s3_port + offset)
    access = seaweed_access(settings)
    with socket.create_connection(address, timeout=3) as raw:  # plaintext gRPC: hung up on
        raw.sendall(H2_PREFACE)
        assert raw.recv(64) == b""
    anonymous = ssl.create_default_context(cafile=str(access.tls.ca))
    with pytest.raises(ssl.SSLError, match="CERTIFICATE_REQUIRED"):
        _h2_settings(address, anonymous)
    assert _h2_settings(address, access.ssl_context())[3] == 0x04  # a SETTINGS frame


def _h2_settings(address: tuple[str, int], context: ssl.SSLContext) -> bytes:
    context.set_alpn_protocols(["h2"])
    with (
        socket.create_connection(address, timeout=3) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(H2_PREFACE)
        return tls.recv(9)


def test_s3_refuses_the_retired_default_keys(settings: Settings, stack: Stack) -> None:
    retired = Minio(settings.s3, access_key=RETIRED_S3_KEYS[0], secret_key=RETIRED_S3_KEYS[1],
                    secure=False, region=settings.s3_region)  # fmt: skip
    with pytest.raises(S3Error) as refused:
        list(retired.list_objects(settings.s3_bucket))
    assert refused.value.code in {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
    with pytest.raises(InsecureSettings, match="retired"):  # and photofeed will not use them
        make_minio(settings.with_(s3_access_key=RETIRED_S3_KEYS[0],
                                  s3_secret_key=RETIRED_S3_KEYS[1]))  # fmt: skip


def test_a_presigned_upload_cannot_write_under_the_public_prefix(
    settings: Settings, stack: Stack
) -> None:
    store = s3_store(settings)
    body = b"<script>alert(1)</script>"
    ticket = store.presign_put("v/aa/presigned-evil.html", "text/html", len(body), 300)
    assert settings.s3_keys(S3_UPLOAD)[0] in ticket  # signed by the upload identity ...
    assert settings.s3_keys(S3_APP)[0] not in ticket  # ... not the app's
    put = httpx.put(ticket, content=body, headers={"Content-Type": "text/html"})
    assert put.status_code == 403
    key = original_key(uuid.uuid4().int % 10**9, 1)
    allowed = store.presign_put(key, "image/jpeg", len(body), 300)
    assert httpx.put(allowed, content=body, headers={"Content-Type": "image/jpeg"}).is_success
    make_minio(settings).remove_object(settings.s3_bucket, key)


def test_the_app_cannot_touch_the_log_bucket(settings: Settings, stack: Stack) -> None:
    with pytest.raises(S3Error):
        list(make_minio(settings).list_objects(settings.tansu_bucket))


# --- credentials on disk, bind addresses --------------------------------------------------------


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Stack, int]]:
    """A private stack started from nothing, with a gateway bound to every interface."""
    settings = settings_on_free_ports(
        tmp_path_factory.mktemp("exposed"), tansu_storage="memory", api_host="0.0.0.0",
        worker_port=0, log_json=True,
    )  # fmt: skip
    stack = Stack(settings)
    stack.up()
    spec = ProcessSpec(f"gateway-{unique()}", [sys.executable, "-m", "photofeed", "gateway"],
                       settings.to_env())  # fmt: skip
    gateway = ManagedProcess(spec, settings.data_dir / "run", settings.data_dir / "logs")
    gateway.start()
    try:
        assert wait_until(lambda: gateway_healthy(settings), READY_TIMEOUT_S, 0.1), (
            gateway.log_tail()
        )
        pid = gateway.pid()
        assert pid is not None
        yield settings, stack, pid
    finally:
        gateway.stop()
        stack.down()


def test_generated_credentials_are_private(exposed: tuple[Settings, Stack, int]) -> None:
    settings, _stack, _pid = exposed
    folder = settings.secrets_dir
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = [p for p in folder.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"valkey.json", "valkey.acl", "s3.json", "seaweedfs.json", "seaweedfs-identities.json",
            "ca.crt", "tls.crt", "tls.key"} <= names  # fmt: skip
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for path in (p for p in folder.rglob("*") if p.is_dir()):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path


def test_backing_services_listen_on_loopback_when_the_api_is_exposed(
    exposed: tuple[Settings, Stack, int],
) -> None:
    settings, stack, gateway_pid = exposed
    assert listening(gateway_pid) == {("0.0.0.0", settings.gateway_port)}  # the API is exposed
    for name, service in stack.services.items():
        pid = service.process.pid()
        assert pid is not None, name
        addresses = listening(pid)
        assert addresses, name
        assert {host for host, _port in addresses} == {"127.0.0.1"}, (name, addresses)
    tansu = stack.services["tansu"].process.pid()
    assert tansu is not None
    assert listening(tansu) == {(settings.host, settings.kafka_port)}


def listening(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket `pid` listens on, from /proc."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                found.add(_address(local))
    return found


def _address(hex_address: str) -> tuple[str, int]:
    """/proc/net/tcp's `HHHHHHHH:PPPP` (32-bit words in host order) as (address, port)."""
    raw, port = hex_address.split(":")
    words = [bytes.fromhex(raw[i : i + 8])[::-1] for i in range(0, len(raw), 8)]
    family = socket.AF_INET if len(words) == 1 else socket.AF_INET6
    return socket.inet_ntop(family, b"".join(words)), int(port, 16)
