"""Abuse limits on the real stack: each test performs the abuse and asserts it is refused with
429 + Retry-After (or 503 + Retry-After for argon2 overload) while honest use goes on.

The limits run on a private gateway with low limits (the session's gateway has them far out of
reach); it shares the session's stack, worker and token secret. Client addresses are set with
X-Forwarded-For, which uvicorn trusts from loopback (FORWARDED_ALLOW_IPS).
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from infra.kafka import KafkaEventLog
from infra.ports import free_port_block
from infra.processes import ManagedProcess, wait_until
from infra.readiness import gateway_healthy
from infra.settings import Settings
from infra.stack import Stack
from tests.fixtures import READY_TIMEOUT_S, app_process, bearer, eventually, register, unique
from tests.integration.helpers import published

pytestmark = pytest.mark.stack
PASSWORD = "correct horse"  # tests.fixtures.register's
FREE_FAILURES, ADDRESS_FREE_FAILURES = 3, 8  # per username < per address: each testable alone
ACTIONS_PER_MINUTE, REGISTRATIONS_PER_HOUR = 3, 3
LIMITS = {
    "login_free_failures": FREE_FAILURES,
    "login_address_free_failures": ADDRESS_FREE_FAILURES,
    "login_backoff_base_s": 1.0,
    "login_backoff_max_s": 8.0,
    "register_rate_per_hour": REGISTRATIONS_PER_HOUR,
    "follow_rate_per_minute": ACTIONS_PER_MINUTE,
    "like_rate_per_minute": ACTIONS_PER_MINUTE,
    "comment_rate_per_minute": ACTIONS_PER_MINUTE,
}


@pytest.fixture(scope="module")
def limited_url(stack: Stack, settings: Settings, worker: ManagedProcess) -> Iterator[str]:
    """A second gateway with low limits, on the session's stack and worker."""
    own = settings.with_(gateway_port=free_port_block(1), **LIMITS)
    proc = app_process(own, "gateway-limited", "gateway")
    proc.start()
    try:
        if not wait_until(lambda: gateway_healthy(own), READY_TIMEOUT_S, 0.1):
            raise RuntimeError("the limited gateway did not start:\n" + proc.log_tail())
        yield f"{own.gateway_url}/api/v1"
    finally:
        proc.stop()


@pytest.fixture
async def limited(limited_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=limited_url, timeout=30) as client:
        yield client


def address() -> dict[str, str]:
    """A client address of its own (TEST-NET-3 plus a random host part)."""
    return {"X-Forwarded-For": f"203.0.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"}


async def log_in(
    api: httpx.AsyncClient, name: str, password: str, at: dict[str, str]
) -> httpx.Response:
    return await api.post("/sessions", json={"username": name, "password": password}, headers=at)


def retry_after(r: httpx.Response) -> int:
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "rate_limited"
    return int(r.headers["retry-after"])


async def test_forty_wrong_logins_then_the_right_one_is_refused(
    api: httpx.AsyncClient, limited: httpx.AsyncClient
) -> None:
    """The exploit: 40 wrong passwords in a few seconds, then the right one succeeded."""
    name = unique("victim")
    await register(api, name)
    at = address()
    answers = [(await log_in(limited, name, f"guess-{i:04d}", at)).status_code for i in range(40)]
    assert answers[:FREE_FAILURES] == [401] * FREE_FAILURES
    assert set(answers[FREE_FAILURES:]) == {429}  # no more guesses checked
    right = await log_in(limited, name, PASSWORD, address())  # from anywhere
    assert 1 <= retry_after(right) <= 8


async def test_waits_grow_after_each_failure_and_a_success_resets_them(
    api: httpx.AsyncClient, limited: httpx.AsyncClient
) -> None:
    name = unique("grow")
    await register(api, name)
    at = address()
    for _ in range(FREE_FAILURES):
        assert (await log_in(limited, name, "wrong password", at)).status_code == 401
    waits = [retry_after(await log_in(limited, name, "wrong password", at))]
    for _ in range(2):  # after each wait, one more failure doubles the next wait

        async def attempt() -> httpx.Response:
            return await log_in(limited, name, "wrong password", at)

        await eventually(attempt, lambda r: r.status_code == 401, timeout_s=20, interval_s=0.2)
        waits.append(retry_after(await log_in(limited, name, "wrong password", at)))
    assert waits == [1, 2, 4]

    async def right() -> httpx.Response:
        return await log_in(limited, name, PASSWORD, at)

    ok = await eventually(right, lambda r: r.status_code != 429, timeout_s=20, interval_s=0.2)
    assert ok.status_code == 200, ok.text
    for _ in range(FREE_FAILURES - 1):  # reset: the free failures are free again
        assert (await log_in(limited, name, "wrong password", at)).status_code == 401
    assert (await log_in(limited, name, PASSWORD, at)).status_code == 200


async def test_guessing_across_usernames_backs_off_per_address(
    limited: httpx.AsyncClient,
) -> None:
    at = address()
    for _ in range(ADDRESS_FREE_FAILURES):
        assert (await log_in(limited, unique("nobody"), "whatever1", at)).status_code == 401
    blocked = await log_in(limited, unique("nobody"), "whatever1", at)
    assert retry_after(blocked) >= 1
    assert "address" in blocked.json()["error"]["message"]
    assert (await log_in(limited, unique("nobody"), "whatever1", address())).status_code == 401


async def test_registrations_are_limited_per_address(limited: httpx.AsyncClient) -> None:
    at = address()

    async def sign_up(where: dict[str, str]) -> httpx.Response:
        body = {"username": unique("bot"), "password": PASSWORD}
        return await limited.post("/users", json=body, headers=where)

    codes = [(await sign_up(at)).status_code for _ in range(REGISTRATIONS_PER_HOUR)]
    assert codes == [201] * REGISTRATIONS_PER_HOUR
    refused = [await sign_up(at) for _ in range(27)]  # the exploit: 30 sign-ups in 2 s
    assert all(1 <= retry_after(r) <= 3600 for r in refused)
    assert (await sign_up(address())).status_code == 201  # another address is not affected


async def test_follows_likes_and_comments_are_limited_per_user(
    api: httpx.AsyncClient, limited: httpx.AsyncClient, event_log: KafkaEventLog
) -> None:
    author, author_token = await register(api)
    _, spammer = await register(api)
    _, bystander = await register(api)
    post = published(author, "spam target")
    await event_log.append(post)
    await eventually(lambda: api.get(f"/posts/{post.post_id}"), lambda r: r.status_code == 200)
    others = [(await register(api))[0] for _ in range(ACTIONS_PER_MINUTE + 1)]

    follows = [await limited.post(f"/follow/{o}", headers=bearer(spammer)) for o in others]
    assert [r.status_code for r in follows[:-1]] == [204] * ACTIONS_PER_MINUTE
    assert 1 <= retry_after(follows[-1]) <= 60
    likes = [await limited.request(m, f"/likes/{post.post_id}", headers=bearer(spammer))
             for m in ("POST", "DELETE", "POST", "DELETE")]  # fmt: skip
    assert [r.status_code for r in likes[:-1]] == [204] * ACTIONS_PER_MINUTE
    assert 1 <= retry_after(likes[-1]) <= 60
    comments = [
        await limited.post(f"/posts/{post.post_id}/comments", json={"text": f"spam {i}"},
                           headers=bearer(spammer))
        for i in range(60)
    ]  # fmt: skip
    assert [r.status_code for r in comments].count(201) == ACTIONS_PER_MINUTE
    assert all(1 <= retry_after(r) <= 60 for r in comments[ACTIONS_PER_MINUTE:])
    ok = await limited.post(f"/follow/{author}", headers=bearer(bystander))
    assert ok.status_code == 204  # per user: someone else is not affected

    async def comment_notices() -> int:
        r = await api.get("/notifications", headers=bearer(author_token))
        return sum(n["type"] == "comment" for n in r.json()["notifications"])

    # 60 comments, 3 notifications (and the count stays there)
    assert await eventually(comment_notices, lambda n: n >= ACTIONS_PER_MINUTE) == 3


async def test_a_login_flood_gets_503_while_search_stays_fast(api: httpx.AsyncClient) -> None:
    """The exploit: 64 concurrent bad logins took /search from 4.5 ms to 2.26 s median. argon2
    now has its own bounded pool (the session's gateway: 2 threads, 8 waiting)."""
    await api.get("/search", params={"q": "warm"})  # the index is open
    flooding = True

    async def flood() -> list[httpx.Response]:
        answers: list[httpx.Response] = []
        while flooding or not answers:
            batch = [api.post("/sessions", json={"username": unique("flood"),
                                                 "password": "wrong password"})
                     for _ in range(64)]  # fmt: skip
            answers += await asyncio.gather(*batch)
        return answers

    async def search_latencies() -> list[float]:
        out = []
        for _ in range(40):
            started = time.perf_counter()
            r = await api.get("/search", params={"q": "sunset"})
            out.append(time.perf_counter() - started)
            assert r.status_code == 200, r.text
        return out

    flooder = asyncio.ensure_future(flood())
    try:
        latencies = await search_latencies()
    finally:
        flooding = False
    answers = await flooder
    median_ms = statistics.median(latencies) * 1000
    print(f"MEASURED /search median under a login flood: {median_ms:.1f} ms")  # (-s)
    assert median_ms < 200
    codes = {r.status_code for r in answers}
    assert codes <= {401, 503}, codes
    overloaded = [r for r in answers if r.status_code == 503]
    assert overloaded, "64 concurrent logins must overflow a pool of 2 + 8"
    assert all(r.json()["error"]["code"] == "overloaded" for r in overloaded)
    assert all(r.headers["retry-after"] == "1" for r in overloaded)
    assert any(r.status_code == 401 for r in answers)  # the pool still checks passwords
