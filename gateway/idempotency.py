"""`Idempotency-Key` on commands that create something: a retry gets the first answer.

A request carrying the header is matched to its earlier attempts by (caller, key) — the key alone
for registration, which has no caller yet — and by a fingerprint of method, path and body:

- first attempt: the command runs with ids reserved for the key (`request_ids`);
- the same key and body again: the first answer (status, body, Location / Content-Type /
  Cache-Control / Photofeed-Position) with `Idempotent-Replayed: true`; nothing is appended;
- while the first attempt still runs: 409 `request_in_progress` with `Retry-After`;
- the same key with another body: 422 `idempotency_key_reused`;
- after a 5xx (say the log timed out: the event may or may not be stored): the command runs again
  with the same ids, so a stored event and its retry are one event to every projection;
- after a 4xx nothing was changed, and the key is free again.

Requests without the header behave as before. The body is spooled (memory, then disk) to be
fingerprinted, then handed to the route unchanged.
"""

from __future__ import annotations

import hashlib
import hmac
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Protocol

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive

from gateway.auth import deps_of, require_user
from gateway.errors import ApiError, account_erased
from gateway.idempotency_store import Answer, RedisIdempotencyStore
from gateway.keys import IdempotencyKeys
from gateway.validation import MAX_JSON_BYTES
from infra.keystore import ErasedUser

HEADER = "idempotency-key"
REPLAYED = "Idempotent-Replayed"
MAX_KEY_CHARS = 255  # a UUID is 36; visible ASCII only
RESERVED_IDS = 4  # >= the ids any keyed route draws (register, comment, direct upload: 2)
BODY_SLACK_BYTES = 1024 * 1024  # >= MAX_JSON_BYTES and routes_photos.FORM_OVERHEAD_BYTES
SPOOL_MEMORY_BYTES = 1024 * 1024  # larger bodies spill to a temp file, as Starlette's forms do
CHUNK_BYTES = 64 * 1024
# replayed with the body; photofeed-position: where the first attempt's events are
KEPT_HEADERS = ("content-type", "location", "cache-control", "photofeed-position")
_IDS = "photofeed.ids"  # request scope: the IdSource of a keyed attempt
_OWNER = "photofeed.answer_owner"  # request scope: whose key seals a stored anonymous answer
log = structlog.get_logger("photofeed.gateway")

Endpoint = Callable[[Request], Awaitable[Response]]


class IdSource(Protocol):
    def next_id(self) -> int: ...


class ReservedIds:
    """The ids reserved for an idempotency key, in order, then fresh ones from `more`."""

    def __init__(self, reserved: Sequence[int], more: IdSource) -> None:
        self._reserved = list(reserved)
        self._more = more

    def next_id(self) -> int:
        return self._reserved.pop(0) if self._reserved else self._more.next_id()


def request_ids(request: Request) -> IdSource:
    """Where a command draws its new ids: the key's reserved ids on a keyed attempt, so a retry
    issues the same events; else the gateway's generator. Draw them in a fixed order."""
    ids: IdSource | None = request.scope.get(_IDS)
    return ids if ids is not None else deps_of(request).ids


def answer_owner(request: Request, user_id: int) -> None:
    """Declare whose data key seals a stored answer of an anonymous command (registration)."""
    request.scope[_OWNER] = user_id


class Idempotency:
    """The store plus what the fingerprint is keyed with (a server secret, so stored
    fingerprints of bodies holding passwords cannot be brute-forced offline)."""

    def __init__(self, store: RedisIdempotencyStore, secret: bytes) -> None:
        self.store = store
        self._secret = secret

    def fingerprint(self, method: str, target: str, body_digest: bytes) -> str:
        message = method.encode() + b"\0" + target.encode() + b"\0" + body_digest
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()


def idempotent(endpoint: Endpoint, *, per_user: bool = True) -> Endpoint:
    """`endpoint` honouring Idempotency-Key; `per_user` False scopes keys globally
    (registration) instead of per bearer."""

    async def guarded(request: Request) -> Response:
        raw = request.headers.get(HEADER)
        deps = deps_of(request)
        if raw is None or deps.idempotency is None:
            return await endpoint(request)
        key = _valid_key(raw)
        caller = require_user(request) if per_user else None
        cap = deps.settings.direct_upload_max_bytes + BODY_SLACK_BYTES
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            return await endpoint(request)  # the route refuses it unread: nothing to repeat
        with _spooled() as spool:
            digest, size = await _spool(request, spool, cap)
            target = request.url.path + ("?" + request.url.query if request.url.query else "")
            return await _attempt(
                endpoint, Request(request.scope, _replay(spool, size, request.receive)),
                deps.idempotency, deps.ids, caller, key,
                deps.idempotency.fingerprint(request.method, target, digest),
            )  # fmt: skip

    guarded.__doc__ = endpoint.__doc__
    return guarded


async def _attempt(
    endpoint: Endpoint, request: Request, idem: Idempotency, fresh: IdSource,
    caller: int | None, key: str, fingerprint: str,
) -> Response:  # fmt: skip
    store = idem.store
    record = IdempotencyKeys.record(caller, key)
    token = uuid.uuid4().hex
    try:
        claim = await store.claim(record, fingerprint, [fresh.next_id() for _ in
                                                        range(RESERVED_IDS)], token)  # fmt: skip
    except ErasedUser:
        raise account_erased() from None
    if claim.outcome == "mismatch":
        raise ApiError(422, "idempotency_key_reused", "this Idempotency-Key was used for a "
                       "different request; use a new key for a new request")  # fmt: skip
    if claim.outcome == "busy":
        wait_s = max(1, -(-claim.wait_ms // 1000))
        raise ApiError(409, "request_in_progress", "a request with this Idempotency-Key is "
                       "still in progress; retry later", {"Retry-After": str(wait_s)})  # fmt: skip
    if claim.answer is not None:
        a = claim.answer
        return Response(a.body, a.status, headers={**a.headers, REPLAYED: "true"})
    request.scope[_IDS] = ReservedIds(claim.ids, fresh)
    try:
        response = await endpoint(request)
    except ApiError as exc:
        await _settle(store, record, token, exc.status)
        raise
    except Exception:
        await _settle(store, record, token, 500)
        raise
    if response.status_code >= 400:
        await _settle(store, record, token, response.status_code)
        return response
    owner = caller if caller is not None else request.scope.get(_OWNER)
    answer = Answer(
        response.status_code,
        {h: response.headers[h] for h in KEPT_HEADERS if h in response.headers},
        bytes(getattr(response, "body", b"")),
    )
    try:
        await store.finish(record, token, answer, owner)
    except Exception as exc:  # the command is done; a retry after the lease re-runs it, same ids
        log.warning("idempotency_record_not_kept", error=repr(exc))
    return response


async def _settle(store: RedisIdempotencyStore, record: str, token: str, status: int) -> None:
    """After a failed attempt: a 4xx changed nothing (drop the key); a 5xx may have."""
    try:
        if status >= 500:
            await store.fail(record, token)
        else:
            await store.drop(record, token)
    except Exception as exc:  # the pending lease runs out instead
        log.warning("idempotency_record_not_settled", error=repr(exc))


def _valid_key(raw: str) -> str:
    key = raw.strip()
    if not 0 < len(key) <= MAX_KEY_CHARS or not all("!" <= c <= "~" for c in key):
        raise ApiError(400, "invalid_idempotency_key", f"Idempotency-Key must be 1 to "
                       f"{MAX_KEY_CHARS} visible ASCII characters (a UUID, say)")  # fmt: skip
    return key


@contextmanager
def _spooled() -> Iterator[IO[bytes]]:
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as spool:
        yield spool


async def _spool(request: Request, spool: IO[bytes], cap: int) -> tuple[bytes, int]:
    """Copy the body into `spool`; return (its digest for the fingerprint, its size)."""
    ctype = request.headers.get("content-type", "")
    digest = BodyDigest(multipart_boundary(ctype))
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise ApiError(413, "payload_too_large", f"bodies are limited to {cap} bytes")
        digest.update(chunk)
        spool.write(chunk)
    if ctype.startswith("application/json") and size <= MAX_JSON_BYTES:
        spool.seek(0)
        try:  # the same object however its keys are ordered or spaced
            canonical = orjson.dumps(orjson.loads(spool.read()), option=orjson.OPT_SORT_KEYS)
            return hashlib.sha256(canonical).digest(), size
        except orjson.JSONDecodeError:
            pass
    return digest.digest(), size


def _replay(spool: IO[bytes], size: int, receive: Receive) -> Receive:
    """A receive that hands the spooled body to the route, then defers to the real one
    (which reports a disconnect)."""
    spool.seek(0)
    done = False

    async def replay() -> Message:
        nonlocal done
        if done:
            return await receive()
        chunk = spool.read(CHUNK_BYTES)
        done = spool.tell() >= size
        return {"type": "http.request", "body": chunk, "more_body": not done}

    return replay


def multipart_boundary(content_type: str) -> bytes:
    """The multipart delimiter of a form body, b"" for other bodies."""
    if not content_type.startswith("multipart/"):
        return b""
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary" and value:
            return b"--" + value.strip('"').encode("latin-1")
    return b""


class BodyDigest:
    """SHA-256 of a body with every multipart delimiter blanked out: HTTP clients draw a new
    random boundary per send, and a retried upload must still match its first attempt."""

    def __init__(self, delimiter: bytes = b"") -> None:
        self._hash = hashlib.sha256()
        self._drop = delimiter
        self._tail = b""

    def update(self, chunk: bytes) -> None:
        if not self._drop:
            self._hash.update(chunk)
            return
        data = (self._tail + chunk).replace(self._drop, b"\0")  # NUL is never in a boundary
        keep = len(self._drop) - 1  # a delimiter may straddle this chunk and the next
        self._hash.update(data[: len(data) - keep] if len(data) > keep else b"")
        self._tail = data[len(data) - keep :] if len(data) > keep else data

    def digest(self) -> bytes:
        self._hash.update(self._tail)
        self._tail = b""
        return self._hash.digest()
