"""The state replay cannot rebuild, on the real stack: `photofeed backup` brings lost accounts
and data keys back without resurrecting erased users, and every write of that state waits for
Valkey's fsync (`fsynced`), so a Valkey that cannot fsync makes the gateway answer 503."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from redis.asyncio import Redis

from gateway.accounts import CHANGED_AT, PASSWORD_HASH, Account, RedisAccountStore, hash_password
from gateway.keys import AccountKeys
from infra.keystore import ERASED, KEYS, NotDurable, RedisKeyStore, fsynced
from infra.ports import settings_on_free_ports
from infra.processes import ManagedProcess, wait_until
from infra.settings import Settings
from infra.stack import valkey_spec
from tests.fixtures import bearer, eventually, register, unique

pytestmark = pytest.mark.stack
PASSWORD = "correct horse"  # tests.fixtures.register's


async def run_backup(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """`photofeed backup ARGS` as an operator runs it, against the session's stack."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "photofeed", "backup", *args],
        env={**os.environ, **settings.to_env()},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def login(api: httpx.AsyncClient, username: str, password: str = PASSWORD) -> int:
    r = await api.post("/sessions", json={"username": username, "password": password})
    return r.status_code


async def erase(api: httpx.AsyncClient, r: Redis, user_id: str, token: str) -> None:
    """Erase the account and wait until the worker destroyed the key."""
    erased = await api.request(
        "DELETE", "/users/me", json={"password": "correct horse"}, headers=bearer(token)
    )
    assert erased.status_code == 202
    await eventually(lambda: r.sismember(ERASED, user_id), timeout_s=60)


async def lose(r: Redis, users: dict[str, str]) -> None:
    """Valkey loses these users' command-side state: accounts, names, keys, erased marks."""
    for username, user_id in users.items():
        await r.delete(AccountKeys.account(int(user_id)), AccountKeys.name(username))
        await r.hdel(KEYS, user_id)
        await r.srem(ERASED, user_id)


@pytest.fixture
async def key_file(settings: Settings, tmp_path: Path) -> Path:
    path = tmp_path / "backup.key"
    made = await run_backup(settings, "keygen", str(path))
    assert made.returncode == 0, made.stderr
    return path


async def test_a_restore_brings_lost_accounts_back_and_erased_users_stay_erased(
    api: httpx.AsyncClient, redis: Redis, settings: Settings, key_file: Path, tmp_path: Path
) -> None:
    names = {"kept": unique("kept"), "early": unique("early"), "late": unique("late")}
    users = {k: await register(api, n) for k, n in names.items()}
    ids = {k: uid for k, (uid, _token) in users.items()}
    kept_key = await redis.hget(KEYS, ids["kept"])
    assert kept_key is not None
    await erase(api, redis, *users["early"])  # before the backup: in its erased set
    file = tmp_path / "command-side.pfbk"
    made = await run_backup(settings, "create", str(file), "--key-file", str(key_file))
    assert made.returncode == 0, made.stderr
    assert names["kept"].encode() not in file.read_bytes()  # encrypted at rest
    await erase(api, redis, *users["late"])  # after the backup: only the log knows

    await lose(redis, {names[k]: ids[k] for k in names})
    assert await login(api, names["kept"]) == 401
    restored = await run_backup(settings, "restore", str(file), "--key-file", str(key_file))
    assert restored.returncode == 0, restored.stderr

    assert "accounts: restored 1," in restored.stdout  # "kept"; "late" is erased by the log
    assert "data keys: restored 1," in restored.stdout
    assert await login(api, names["kept"]) == 200
    assert await redis.hget(KEYS, ids["kept"]) == kept_key  # its sealed events stay readable
    for gone in ("early", "late"):
        assert await login(api, names[gone]) == 401
        assert await redis.sismember(ERASED, ids[gone])
        assert await redis.hget(KEYS, ids[gone]) is None
        assert not await redis.exists(
            AccountKeys.account(int(ids[gone])), AccountKeys.name(names[gone])
        )

    again = await run_backup(settings, "restore", str(file), "--key-file", str(key_file))
    assert again.returncode == 0, again.stderr
    assert "accounts: restored 0," in again.stdout  # idempotent
    assert "data keys: restored 0," in again.stdout
    assert await login(api, names["kept"]) == 200


async def test_a_restore_keeps_a_newer_password_and_a_wrong_key_writes_nothing(
    api: httpx.AsyncClient, redis: Redis, settings: Settings, key_file: Path, tmp_path: Path
) -> None:
    username = unique("pw")
    user_id, _token = await register(api, username)
    file = tmp_path / "b.pfbk"
    made = await run_backup(settings, "create", str(file), "--key-file", str(key_file))
    assert made.returncode == 0, made.stderr
    # the password changes after the backup (no route does it yet: the store's fields directly)
    changed = int(await redis.hget(AccountKeys.account(int(user_id)), CHANGED_AT) or 0) + 1
    new_hash = await hash_password("a newer password")
    await redis.hset(
        AccountKeys.account(int(user_id)), mapping={PASSWORD_HASH: new_hash, CHANGED_AT: changed}
    )

    restored = await run_backup(settings, "restore", str(file), "--key-file", str(key_file))
    assert restored.returncode == 0, restored.stderr
    assert await login(api, username, "a newer password") == 200
    assert await login(api, username) == 401

    await lose(redis, {username: user_id})
    wrong = tmp_path / "wrong.key"
    assert (await run_backup(settings, "keygen", str(wrong))).returncode == 0
    refused = await run_backup(settings, "restore", str(file), "--key-file", str(wrong))
    assert refused.returncode == 1
    assert "wrong key" in refused.stderr
    assert not await redis.exists(AccountKeys.account(int(user_id)), AccountKeys.name(username))
    assert await redis.hget(KEYS, user_id) is None
    restored = await run_backup(settings, "restore", str(file), "--key-file", str(key_file))
    assert restored.returncode == 0, restored.stderr
    assert await login(api, username) == 200  # the backup's (older) password, as nothing newer


def aof_text(conn: redis.Redis) -> bytes:
    """Everything in Valkey's incremental AOF files, read from disk as a restart would."""
    config = {**conn.config_get("dir"), **conn.config_get("appenddirname")}
    folder = Path(_text(config["dir"])) / _text(config["appenddirname"])
    manifest = next(folder.glob("*.manifest")).read_text().split("\n")
    files = [line.split()[1] for line in manifest if line.endswith("type i")]
    return b"".join((folder / name).read_bytes() for name in files)


async def test_fsynced_returns_only_once_the_write_is_in_the_aof(
    redis: Redis, settings: Settings
) -> None:
    """A write's reply alone does not promise this: while a background fsync runs, Valkey
    answers writes first and appends them to the AOF up to 2 s later."""
    sync = redis_sync(settings.redis)
    for _ in range(20):
        value = uuid.uuid4().hex
        async with redis.client() as conn:
            await conn.set(f"test:fsynced:{value}", value)
            await fsynced(conn)
        assert value.encode() in aof_text(sync)
    sync.close()


async def test_fsynced_needs_the_connection_that_wrote(redis: Redis) -> None:
    with pytest.raises(TypeError, match="single-connection client"):
        await fsynced(redis)


@pytest.fixture
def lone_valkey(tmp_path: Path) -> Iterator[str]:
    """A private Valkey (the stack's command line), so its fsync policy can be changed."""
    settings = settings_on_free_ports(tmp_path)
    proc = ManagedProcess(valkey_spec(settings), tmp_path / "run", tmp_path / "logs")
    proc.start()
    try:
        assert wait_until(lambda: _pings(settings.redis), 30.0, 0.05), proc.log_tail()
        yield settings.redis
    finally:
        proc.stop()


async def test_writes_are_refused_and_undone_when_valkey_does_not_fsync(lone_valkey: str) -> None:
    r = Redis.from_url(lone_valkey)
    await r.config_set("appendfsync", "no")  # Valkey then never fsyncs on its own
    accounts = RedisAccountStore(r)
    account = Account(42, unique("nofsync"), "hash")
    try:
        async with r.client() as conn:
            await conn.set("k", "v")
            started = time.monotonic()
            with pytest.raises(NotDurable, match="did not fsync"):
                await fsynced(conn, timeout_ms=300)
            assert time.monotonic() - started >= 0.3  # it waited for Valkey, then gave up
        with pytest.raises(NotDurable):
            await accounts.reserve(account)
        assert not await r.exists(AccountKeys.name(account.username))  # undone: a retry may succeed
        with pytest.raises(NotDurable):
            await RedisKeyStore(r).key_for(42)
        await r.config_set("appendfsync", "everysec")
        assert await accounts.reserve(account)
        assert len(await RedisKeyStore(r).key_for(42)) == 32
    finally:
        await r.aclose()


async def test_registration_answers_503_while_valkey_cannot_fsync(
    api: httpx.AsyncClient, redis: Redis
) -> None:
    username = unique("durable")
    body = {"username": username, "password": PASSWORD}
    await redis.config_set("appendfsync", "no")
    try:
        refused = await api.post("/users", json=body)
    finally:
        await redis.config_set("appendfsync", "everysec")
    assert refused.status_code == 503, refused.text
    assert "Retry-After" in refused.headers
    assert (await api.post("/users", json=body)).status_code == 201  # the name was not kept


def redis_sync(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _pings(url: str) -> bool:
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=0.5) as conn:
            return bool(conn.ping())
    except redis.exceptions.ConnectionError:
        return False
