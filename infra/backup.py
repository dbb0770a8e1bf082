"""Backups of the state replay cannot rebuild: accounts, per-user data keys, the erased set.

`collect` reads them from Valkey, `seal` encrypts them with the operator's key (AES-256-GCM),
`unseal` checks and decrypts, `apply` merges a backup into Valkey. File format (version 1):

    b"PFBK" | version (1 byte) | key id (8 bytes) | nonce (12 bytes) | AES-GCM(orjson payload)

The first 13 bytes are the header, authenticated as associated data; the key id (an HMAC of a
fixed label under the key, not the key) tells a wrong key apart from a damaged file. The payload
is `{"format", "taken_at" (ms), "accounts": [{user_id, username, password_hash, changed_at}],
"keys": {user_id: base64}, "erased": [user_id]}`, user ids as decimal strings.

Restore rules (`apply`), so that it is idempotent and never goes back in time:
- the erased set wins: the backup's erased users, plus any the caller names (the CLI adds every
  erasure request in the log, so users erased after the backup was taken count too), are added
  to the erased set first, and no account or key of an erased user is ever written;
- an account is written when Valkey has none, or an older one (`changed_at` ms, 0 when
  missing); a newer or equal one is kept; a username now owned by another user is a conflict;
- a key is written when Valkey has none; an equal one is kept; a different one is a conflict
  (events sealed since with the live key must stay readable): restore before serving traffic.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from redis.asyncio import Redis

from infra.keystore import ERASED, KEYS, fsynced

MAGIC = b"PFBK"
VERSION = 1  # bump on any change of the header or the payload; unseal refuses what it cannot read
KEY_BYTES = 32  # AES-256
KEY_ID_BYTES = 8  # enough to tell keys apart, too short to matter to an attacker
NONCE_BYTES = 12  # AES-GCM's standard nonce; random, one key seals few files
HEADER_BYTES = len(MAGIC) + 1 + KEY_ID_BYTES
BATCH = 500  # entries a restore script handles per call: one round trip, a short Valkey pause
_KEY_ID_LABEL = b"photofeed-backup-key-id"
T = TypeVar("T")


class BackupError(Exception):
    """The backup cannot be made or read; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class AccountLayout:
    """How accounts are stored (gateway/accounts.py owns it; infra may not import gateway)."""

    pattern: str  # SCAN MATCH pattern of every account hash
    account_key: Callable[[int], str]
    name_key: Callable[[str], str]
    user_id_of: Callable[[str], int]
    username: str  # hash fields
    password_hash: str
    changed_at: str


@dataclass(frozen=True, slots=True)
class AccountRecord:
    user_id: int
    username: str
    password_hash: str
    changed_at: int  # ms; 0 for accounts written before the marker existed


@dataclass(frozen=True, slots=True)
class Snapshot:
    taken_at: int  # ms
    accounts: tuple[AccountRecord, ...]
    keys: dict[int, bytes]
    erased: frozenset[int]


def restore_steps(snapshot: Snapshot, also_erased: Iterable[int] = ()) -> int:
    """The entries `apply` walks through (a progress bar's total)."""
    return len(snapshot.accounts) + len(snapshot.keys) + len(snapshot.erased | set(also_erased))


@dataclass
class RestoreReport:
    accounts: Counter[str] = field(default_factory=Counter)  # restored | kept | conflict | erased
    keys: Counter[str] = field(default_factory=Counter)
    erased_added: int = 0  # users newly recorded as erased
    erased_total: int = 0  # erased users named by the backup and the caller


# --- keys -------------------------------------------------------------------------------------


def new_key_text() -> str:
    """A fresh backup key, as the key file holds it (base64 of 32 random bytes, a newline)."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode() + "\n"


def parse_key(text: str) -> bytes:
    """The key from its base64 text; BackupError unless it is exactly 32 bytes."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise BackupError("the backup key is not base64") from None
    if len(key) != KEY_BYTES:
        raise BackupError(f"the backup key must be {KEY_BYTES} bytes, not {len(key)}")
    return key


def key_id(key: bytes) -> bytes:
    return hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).digest()[:KEY_ID_BYTES]


def write_private(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write `data` to `path` with mode 0600, atomically (temp file, fsync, rename, fsync of the
    directory); with `exclusive`, FileExistsError when `path` exists."""
    path = path.resolve()
    if exclusive and path.exists():
        raise FileExistsError(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            os.link(tmp, path)  # fails if `path` appeared meanwhile
            tmp.unlink()
        else:
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# --- file format ------------------------------------------------------------------------------


def seal(snapshot: Snapshot, key: bytes) -> bytes:
    header = MAGIC + bytes([VERSION]) + key_id(key)
    nonce = secrets.token_bytes(NONCE_BYTES)
    return header + nonce + AESGCM(key).encrypt(nonce, orjson.dumps(_to_payload(snapshot)), header)


def unseal(blob: bytes, key: bytes) -> Snapshot:
    """The snapshot in a backup file; BackupError for another format, another key, or a file
    that was changed (AES-GCM authenticates header and payload)."""
    if len(blob) < HEADER_BYTES + NONCE_BYTES + 16 or not blob.startswith(MAGIC):
        raise BackupError("not a photofeed backup file")
    if blob[len(MAGIC)] != VERSION:
        raise BackupError(f"backup format version {blob[len(MAGIC)]} is not supported")
    header, nonce = blob[:HEADER_BYTES], blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
    if not hmac.compare_digest(header[len(MAGIC) + 1 :], key_id(key)):
        raise BackupError(
            f"wrong key: the backup was made with key id {header[len(MAGIC) + 1 :].hex()}, "
            f"this key's id is {key_id(key).hex()}"
        )
    try:
        plain = AESGCM(key).decrypt(nonce, blob[HEADER_BYTES + NONCE_BYTES :], header)
    except InvalidTag:
        raise BackupError("the backup file is damaged or was tampered with") from None
    return _from_payload(orjson.loads(plain))


def _to_payload(s: Snapshot) -> dict[str, Any]:
    return {
        "format": VERSION,
        "taken_at": s.taken_at,
        "accounts": [
            {
                "user_id": str(a.user_id),
                "username": a.username,
                "password_hash": a.password_hash,
                "changed_at": a.changed_at,
            }
            for a in s.accounts
        ],
        "keys": {str(u): base64.b64encode(k).decode() for u, k in sorted(s.keys.items())},
        "erased": [str(u) for u in sorted(s.erased)],
    }


def _from_payload(p: dict[str, Any]) -> Snapshot:
    accounts = tuple(
        AccountRecord(int(a["user_id"]), a["username"], a["password_hash"], int(a["changed_at"]))
        for a in p["accounts"]
    )
    keys = {int(u): base64.b64decode(k) for u, k in p["keys"].items()}
    return Snapshot(int(p["taken_at"]), accounts, keys, frozenset(int(u) for u in p["erased"]))


# --- collect ----------------------------------------------------------------------------------


async def collect(redis: Redis, layout: AccountLayout) -> Snapshot:
    """Every account, data key and erased user. Not a point-in-time copy of a busy Valkey, but
    the erased set is read last and wins: nobody erased before the call ends is in it."""
    taken_at = int(time.time() * 1000)
    names = [_text(k) async for k in redis.scan_iter(match=layout.pattern, count=1000)]
    accounts: list[AccountRecord] = []
    for chunk in _chunks(sorted(names), BATCH):
        async with redis.pipeline(transaction=False) as pipe:
            for name in chunk:
                pipe.hmget(name, [layout.username, layout.password_hash, layout.changed_at])
            rows = await pipe.execute()
        for name, (user, pw, changed) in zip(chunk, rows, strict=True):
            if user is not None and pw is not None:  # deleted meanwhile
                at = int(changed) if changed is not None else 0
                accounts.append(AccountRecord(layout.user_id_of(name), _text(user), _text(pw), at))
    keys = {int(u): _bytes(k) for u, k in (await redis.hgetall(KEYS)).items()}
    erased = frozenset(int(u) for u in await redis.smembers(ERASED))
    kept = tuple(a for a in accounts if a.user_id not in erased)
    return Snapshot(taken_at, kept, {u: k for u, k in keys.items() if u not in erased}, erased)


# --- apply ------------------------------------------------------------------------------------

# KEYS: the erased set, then per account its hash and its name key. ARGV: the three hash field
# names, then per account user id, username, password hash, changed at. One outcome per account.
_RESTORE_ACCOUNTS = """
local f_user, f_hash, f_changed = ARGV[1], ARGV[2], ARGV[3]
local out = {}
for i = 0, (#KEYS - 1) / 2 - 1 do
  local acc, name = KEYS[2 + 2 * i], KEYS[3 + 2 * i]
  local a = 4 + 4 * i
  local uid, user, hash, changed = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local outcome = 'restored'
  if redis.call('SISMEMBER', KEYS[1], uid) == 1 then
    outcome = 'erased'
  elseif redis.call('EXISTS', acc) == 1
         and tonumber(redis.call('HGET', acc, f_changed) or '0') >= tonumber(changed) then
    outcome = 'kept'
  else
    local owner = redis.call('GET', name)
    if owner and owner ~= uid then
      outcome = 'conflict'
    else
      redis.call('SET', name, uid)
      redis.call('HSET', acc, f_user, user, f_hash, hash, f_changed, changed)
    end
  end
  out[#out + 1] = outcome
end
return out
"""
# KEYS: data keys, erased set. ARGV: user id, key, user id, key, ... One outcome per key.
_RESTORE_KEYS = """
local out = {}
for i = 1, #ARGV, 2 do
  local outcome = 'restored'
  if redis.call('SISMEMBER', KEYS[2], ARGV[i]) == 1 then
    outcome = 'erased'
  else
    local live = redis.call('HGET', KEYS[1], ARGV[i])
    if not live then
      redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    elseif live == ARGV[i + 1] then
      outcome = 'kept'
    else
      outcome = 'conflict'
    end
  end
  out[#out + 1] = outcome
end
return out
"""


async def apply(
    redis: Redis,
    snapshot: Snapshot,
    layout: AccountLayout,
    also_erased: Iterable[int] = (),
    on_progress: Callable[[int], None] = lambda done: None,
) -> RestoreReport:
    """Merge `snapshot` into Valkey by the module's rules; idempotent. Every write goes through
    one connection and is fsynced before this returns (NotDurable otherwise). `on_progress` gets
    the number of entries handled by each step (their sum is `restore_steps`)."""
    report = RestoreReport()
    erased = sorted(snapshot.erased | set(also_erased))
    report.erased_total = len(erased)
    restore_accounts = redis.register_script(_RESTORE_ACCOUNTS)
    restore_keys = redis.register_script(_RESTORE_KEYS)
    fields = [layout.username, layout.password_hash, layout.changed_at]
    async with redis.client() as conn:
        for ids in _chunks(erased, BATCH):
            report.erased_added += int(await conn.sadd(ERASED, *[str(u) for u in ids]))
            on_progress(len(ids))
        for chunk in _chunks(snapshot.accounts, BATCH):
            keys = [ERASED]
            args: list[str | int] = [*fields]
            for a in chunk:
                keys += [layout.account_key(a.user_id), layout.name_key(a.username)]
                args += [a.user_id, a.username, a.password_hash, a.changed_at]
            report.accounts.update(_text(o) for o in await restore_accounts(keys, args, conn))
            on_progress(len(chunk))
        for items in _chunks(sorted(snapshot.keys.items()), BATCH):
            flat = [v for u, k in items for v in (str(u), k)]
            report.keys.update(_text(o) for o in await restore_keys([KEYS, ERASED], flat, conn))
            on_progress(len(items))
        await fsynced(conn)
    return report


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    return (items[i : i + size] for i in range(0, len(items), size))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode("latin-1")
