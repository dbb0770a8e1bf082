"""Pure pieces of the security hardening: session tokens, the login backoff schedule, ASCII-only
numbers in queries and cursors, the 405 Allow header, S3 refusals and the bounded argon2 pool."""

from __future__ import annotations

import asyncio
import base64
import threading
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from minio.error import S3Error
from starlette.requests import Request
from starlette.responses import Response

from gateway.asgi import Dispatcher, Route
from gateway.cursors import decode_cursor, decode_key_cursor, decode_search_cursor
from gateway.errors import ApiError
from gateway.passwords import RETRY_AFTER_S, PasswordPool
from gateway.ratelimit import backoff_s
from gateway.store_errors import store_refusal
from gateway.tokens import SID_CHARS, Claims, InvalidToken, TokenSigner, new_sid
from gateway.validation import ascii_digits, limit_param
from infra.settings import Settings, load_settings

SECRET = "s" * 32
NOW = 1_750_000_000
UNICODE_DIGITS = ["²", "\u0661", "\u0663", "\U0001d7d8", "⁹", "①", "\u09ea", "1²", "²0"]


def signer() -> TokenSigner:
    return TokenSigner(SECRET, 3600)


def b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


# session tokens -----------------------------------------------------------------------------------


@given(st.integers(1, 2**63 - 1), st.integers(0, 2**45))
def test_claims_round_trip_with_session_and_epoch(user_id: int, epoch: int) -> None:
    token, expires = signer().issue(user_id, NOW, epoch=epoch)
    claims = signer().claims(token, NOW)
    assert claims == Claims(user_id, expires, claims.sid, epoch)
    assert len(claims.sid) == SID_CHARS


def test_every_login_is_its_own_session() -> None:
    sids = {signer().claims(signer().issue(7, NOW)[0], NOW).sid for _ in range(200)}
    assert len(sids) == 200
    assert len(new_sid()) == SID_CHARS


def test_a_given_sid_is_kept() -> None:
    sid = new_sid()
    assert signer().claims(signer().issue(7, NOW, sid=sid)[0], NOW).sid == sid


@pytest.mark.parametrize("part", ["sid", "epoch"])
def test_a_tampered_session_or_epoch_is_refused(part: str) -> None:
    token, _ = signer().issue(7, NOW, epoch=1_750_000_000_123)
    head, last = token.rsplit(".", 1)
    sid, epoch, sig = last.split("~")
    if part == "sid":
        sid = ("A" if sid[0] != "A" else "B") + sid[1:]
    else:
        epoch = str(int(epoch) + 1)
    with pytest.raises(InvalidToken, match="signature"):
        signer().claims(f"{head}.{sid}~{epoch}~{sig}", NOW)


def test_a_token_of_the_sessionless_shape_is_refused() -> None:
    """`pf1.<user>.<expires>.<sig>` as issued before sessions existed, correctly signed."""
    payload = f"pf1.7.{NOW + 60}"
    legacy = f"{payload}.{signer()._sign(payload)}"
    with pytest.raises(InvalidToken, match="malformed"):
        signer().claims(legacy, NOW)


@pytest.mark.parametrize("digit", UNICODE_DIGITS)
def test_unicode_digits_in_a_token_are_malformed_not_a_crash(digit: str) -> None:
    token, _ = signer().issue(7, NOW)
    prefix, user, expires, last = token.split(".")
    for forged in (f"{prefix}.{digit}.{expires}.{last}", f"{prefix}.{user}.{digit}.{last}"):
        with pytest.raises(InvalidToken, match="malformed"):
            signer().claims(forged, NOW)


# the login backoff ------------------------------------------------------------------------------


def test_backoff_is_free_then_doubles_up_to_the_cap() -> None:
    waits = [backoff_s(n, free=5, base_s=1.0, cap_s=60.0) for n in range(1, 14)]
    assert waits == [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60]


@given(st.integers(1, 10_000), st.integers(1, 50), st.floats(0.01, 10), st.floats(10, 10_000))
def test_backoff_never_shrinks_and_never_passes_the_cap(
    n: int, free: int, base: float, cap: float
) -> None:
    now, then = backoff_s(n, free, base, cap), backoff_s(n + 1, free, base, cap)
    assert 0 <= now <= then <= cap


# ASCII digits only ------------------------------------------------------------------------------


def request(query: str) -> Request:
    return Request({"type": "http", "query_string": query.encode(), "headers": []})


@pytest.mark.parametrize("raw", [*UNICODE_DIGITS, "1" * 5000, "", "-1", "+5", " 5", "5 ", "0x10"])
def test_limit_takes_ascii_digits_only(raw: str) -> None:
    with pytest.raises(ApiError) as info:
        limit_param(request(f"limit={quote(raw)}"))
    assert info.value.status == 422


@pytest.mark.parametrize(("raw", "value"), [("1", 1), ("20", 20), ("100", 100), ("007", 7)])
def test_limit_accepts_ascii_numbers_in_range(raw: str, value: int) -> None:
    assert limit_param(request(f"limit={raw}")) == value


@given(st.text(max_size=30))
def test_ascii_digits_is_safe_for_int(text: str) -> None:
    if ascii_digits(text):
        assert int(text) >= 0
        assert set(text) <= set("0123456789")


@pytest.mark.parametrize(
    "payload", ["1.2²", "².2", "1" * 5000 + ".2", "1." + "2" * 5000, "1.\u0661\u0662"]
)
def test_cursors_with_unicode_or_endless_digits_are_400(payload: str) -> None:
    with pytest.raises(ApiError) as info:
        decode_cursor(b64(payload))
    assert info.value.status == 400


@pytest.mark.parametrize("payload", ["².key", "1" * 5000 + ".key", "\u0661\u0662.key"])
def test_key_cursors_need_an_ascii_time(payload: str) -> None:
    with pytest.raises(ApiError) as info:
        decode_key_cursor(b64(payload))
    assert info.value.status == 400


@pytest.mark.parametrize(
    "key", ["inf/5", "nan/5", "-inf/5", "1e999/5", "\u0661/5", "0.5/²", "0.5/"]
)
def test_search_cursors_need_a_finite_rank_and_an_ascii_id(key: str) -> None:
    with pytest.raises(ApiError) as info:
        decode_search_cursor(b64(f"17.{key}"))
    assert info.value.status == 400


# 405 carries Allow ------------------------------------------------------------------------------


async def ok(_request: Request) -> Response:
    return Response(status_code=204)


async def call(app: Dispatcher, method: str, path: str) -> tuple[int, dict[str, str]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": [],
             "query_string": b""}  # fmt: skip
    await app(scope, receive, send)
    start = sent[0]
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/users", "POST"),
        ("PATCH", "/users/7", "GET"),
        ("POST", "/users/me", "DELETE"),  # a literal path shadows the template it fits
        ("GET", "/users/me", "DELETE"),
        ("GET", "/likes/7", "DELETE, POST"),
    ],
)
async def test_a_405_names_the_allowed_methods(method: str, path: str, allow: str) -> None:
    app = Dispatcher([Route("POST", "/users", ok), Route("GET", "/users/{user_id}", ok),
                      Route("DELETE", "/users/me", ok), Route("POST", "/likes/{post_id}", ok),
                      Route("DELETE", "/likes/{post_id}", ok)])  # fmt: skip
    status, headers = await call(app, method, path)
    assert status == 405
    assert headers["allow"] == allow
    assert (await call(app, "GET", "/nowhere"))[0] == 404  # no route at all: no Allow


# S3 refusals ------------------------------------------------------------------------------------

LEAKY = "The part /photofeed/o/123/456.jpg?uploadId=abc could not be found"


@pytest.mark.parametrize(
    ("code", "status", "api_code"),
    [("InvalidPart", 422, "invalid_part"), ("InvalidPartOrder", 422, "invalid_part"),
     ("EntityTooSmall", 422, "part_too_small"), ("NoSuchUpload", 404, "upload_not_found"),
     ("AccessDenied", 409, "upload_incomplete"), (None, 409, "upload_incomplete")],
)  # fmt: skip
def test_s3_refusals_map_to_plain_api_errors(code: str | None, status: int, api_code: str) -> None:
    exc = S3Error(None, code, LEAKY, "/photofeed/o/123/456.jpg", "req-1", "host-1",  # type: ignore[arg-type]
                  "photofeed", "o/123/456.jpg")  # fmt: skip
    error = store_refusal(exc)
    assert (error.status, error.code) == (status, api_code)
    for secret in ("photofeed", "o/123", "uploadId", "req-1", "host-1", LEAKY):
        assert secret not in error.message


# the argon2 pool --------------------------------------------------------------------------------


async def test_a_full_password_pool_answers_503_at_once() -> None:
    pool = PasswordPool(threads=2, queue=3)
    gate = threading.Event()

    def blocked(_: str | None) -> str:
        assert gate.wait(10)
        return threading.current_thread().name

    async def attempt() -> str | ApiError:
        try:
            return await pool.run(blocked, None)
        except ApiError as exc:
            return exc

    try:
        tasks = [asyncio.ensure_future(attempt()) for _ in range(pool.capacity + 4)]
        await asyncio.sleep(0)  # every task ran up to its first await: slots taken or refused
        refused = [t.result() for t in tasks if t.done()]
        assert len(refused) == 4
        assert all(isinstance(r, ApiError) and r.status == 503 and r.code == "overloaded"
                   and r.headers["Retry-After"] == "1" for r in refused)  # fmt: skip
        gate.set()
        names = [r for r in await asyncio.gather(*tasks) if isinstance(r, str)]
        assert len(names) == pool.capacity
        assert all(n.startswith("argon2") for n in names)  # never the default executor
        assert isinstance(await pool.run(blocked, None), str)  # slots came back
    finally:
        gate.set()
        pool.close()


async def test_the_pool_verifies_like_argon2() -> None:
    pool = PasswordPool(threads=1, queue=0)
    try:
        stored = await pool.hash("correct horse")
        assert await pool.verify(stored, "correct horse")
        assert not await pool.verify(stored, "wrong horse")
        assert not await pool.verify(None, "correct horse")  # unknown account: dummy work
    finally:
        pool.close()


# settings -----------------------------------------------------------------------------------------


def test_the_default_pool_drains_a_full_queue_well_within_retry_after() -> None:
    defaults = Settings()
    hash_s = 0.02  # argon2id at OWASP's minimum, measured here (gateway/accounts.py)
    drain_s = (defaults.password_hash_threads + defaults.password_hash_queue) * hash_s
    assert drain_s / defaults.password_hash_threads < RETRY_AFTER_S / 2


def test_the_limits_are_read_from_the_environment() -> None:
    loaded = load_settings({
        "PHOTOFEED_LOGIN_FREE_FAILURES": "7", "PHOTOFEED_LOGIN_BACKOFF_BASE_S": "0.5",
        "PHOTOFEED_REGISTER_RATE_PER_HOUR": "3", "PHOTOFEED_PASSWORD_HASH_THREADS": "4",
    })  # fmt: skip
    assert (loaded.login_free_failures, loaded.login_backoff_base_s) == (7, 0.5)
    assert (loaded.register_rate_per_hour, loaded.password_hash_threads) == (3, 4)
    assert loaded.to_env()["PHOTOFEED_COMMENT_RATE_PER_MINUTE"] == "20"
    defaults = Settings()
    assert defaults.login_free_failures < defaults.login_address_free_failures
    assert defaults.login_backoff_base_s <= defaults.login_backoff_max_s
