"""Read-your-writes: position tokens on write answers, bounded waits on reads that send them.

Projections trail the log by tens of milliseconds, so a read right after a write may not show
it. Instead of polling, a client sends back the token it got:

- every answer whose request appended events carries `Photofeed-Position`: where they were
  stored (infra/positions.py), merged with the token the request itself sent, so a client keeps
  just the newest token it received;
- a request that sends `Photofeed-Position` first waits until every projection group its route
  reads (READS, below) has applied those offsets, for the token's topics that group consumes
  (the worker records them: projections/backends/positions.py), then runs. It answers with
  `Photofeed-Consistency: applied`, or, after PHOTOFEED_CONSISTENCY_WAIT_S, with what the
  projections have and `Photofeed-Consistency: stale`. A malformed token is 400
  `invalid_position`;
- GET /photos/{id}/status hands out the token of the events the media agent appended to settle
  the upload (streams/settled_uploads.py), so the post is in the author's feed on the next read.

The wrapper sits between Idempotency-Key and the route (gateway/app.py), so a keyed retry
replays the first answer's token too, and route modules know nothing of it.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response

from gateway.auth import deps_of
from gateway.errors import ApiError
from infra.event_log import EventLog
from infra.positions import InvalidPosition, LogPosition, decode_token, encode_token, merge
from infra.topics import CATALOGUE
from projections.groups import Group, group_events
from schemas.events import Event
from schemas.ids import parse_id

HEADER = "Photofeed-Position"
VERDICT = "Photofeed-Consistency"
APPLIED, STALE = "applied", "stale"
FIRST_POLL_S = 0.002  # the first recheck; a batch lands ~10-50 ms after its append here
MAX_POLL_S = 0.05  # rechecks double up to this: <= ~45 Valkey reads over a 2 s wait

TopicPartition = tuple[str, int]
Endpoint = Callable[[Request], Awaitable[Response]]

GRAPH, PHOTOS, FEEDS, ENGAGEMENT = Group.GRAPH, Group.PHOTOS, Group.FEEDS, Group.ENGAGEMENT
SEARCH = Group.SEARCH
_POSTS = frozenset({FEEDS, GRAPH, ENGAGEMENT})  # a post page: posts, authors, counts, likes
# (method, path) -> the projection groups the route reads (its own validation reads included),
# the one place they are declared; gateway/app.py refuses to serve a route missing here
READS: dict[tuple[str, str], frozenset[Group]] = {
    ("POST", "/users"): frozenset(),  # accounts are command-side state, never projections
    ("POST", "/sessions"): frozenset(),
    ("DELETE", "/sessions/current"): frozenset(),
    ("DELETE", "/sessions"): frozenset(),
    ("POST", "/users/me/password"): frozenset(),
    ("DELETE", "/users/me"): frozenset(),
    ("PATCH", "/users/me"): frozenset(),
    ("POST", "/users/me/avatar"): frozenset(),
    ("DELETE", "/users/me/avatar"): frozenset(),
    ("GET", "/users/{user_id}"): frozenset({GRAPH, FEEDS}),
    ("GET", "/users/{user_id}/followers"): frozenset({GRAPH}),
    ("GET", "/users/{user_id}/following"): frozenset({GRAPH}),
    ("POST", "/follow/{user_id}"): frozenset({GRAPH}),  # a block refuses it; private: asks
    ("GET", "/follow-requests"): frozenset({GRAPH}),
    ("POST", "/follow-requests/{requester_id}/approve"): frozenset({GRAPH}),
    ("POST", "/follow-requests/{requester_id}/reject"): frozenset({GRAPH}),
    ("DELETE", "/follow/{user_id}"): frozenset(),
    ("POST", "/blocks/{user_id}"): frozenset(),
    ("DELETE", "/blocks/{user_id}"): frozenset(),
    ("GET", "/blocks"): frozenset({GRAPH}),
    ("POST", "/mutes/{user_id}"): frozenset(),
    ("DELETE", "/mutes/{user_id}"): frozenset(),
    ("GET", "/mutes"): frozenset({GRAPH}),
    ("GET", "/feed"): _POSTS,
    ("GET", "/users/{user_id}/posts"): _POSTS,
    ("GET", "/tags/{tag}"): _POSTS,
    ("GET", "/posts/{post_id}"): _POSTS,
    ("DELETE", "/posts/{post_id}"): frozenset({FEEDS}),
    ("POST", "/likes/{post_id}"): frozenset({FEEDS, GRAPH}),  # the post; a block refuses it
    ("DELETE", "/likes/{post_id}"): frozenset({FEEDS}),
    ("POST", "/posts/{post_id}/comments"): frozenset({FEEDS, GRAPH}),
    ("GET", "/posts/{post_id}/comments"): frozenset({FEEDS, ENGAGEMENT, GRAPH}),
    ("DELETE", "/comments/{comment_id}"): frozenset({ENGAGEMENT, FEEDS}),
    ("GET", "/search"): _POSTS | {SEARCH},
    ("GET", "/notifications"): frozenset({ENGAGEMENT, GRAPH, FEEDS}),
    ("POST", "/notifications/read"): frozenset(),
    ("POST", "/photos"): frozenset(),
    ("POST", "/photos/{photo_id}/complete"): frozenset(),
    ("GET", "/photos/{photo_id}/status"): frozenset({PHOTOS}),
    ("GET", "/photos/{photo_id}"): frozenset({PHOTOS}),
}
# routes that hand out the token of a settled upload: (method, path) -> its path parameter
SETTLED: dict[tuple[str, str], str] = {("GET", "/photos/{photo_id}/status"): "photo_id"}

_appended: ContextVar[list[LogPosition] | None] = ContextVar("photofeed_appended", default=None)


class AppliedReader(Protocol):
    """projections/backends/positions.py RedisAppliedOffsets."""

    async def applied(
        self, wanted: Mapping[str, Sequence[TopicPartition]]
    ) -> dict[str, dict[TopicPartition, int]]: ...


class SettledReader(Protocol):
    """projections/backends/positions.py RedisSettledUploads."""

    async def token(self, photo_id: int) -> str | None: ...


@functools.cache
def consumed_topics() -> dict[str, frozenset[str]]:
    """group -> the topics its agents apply (as the worker wires them: streams/app.py)."""
    return {
        group: frozenset(s.name for s in CATALOGUE if handled & set(s.events))
        for group, handled in group_events().items()
    }


class PositionsLog:
    """The gateway's outermost EventLog: appends like `log` and reports the positions to the
    request being served (if any), whose answer then carries them."""

    def __init__(self, log: EventLog) -> None:
        self._log = log

    async def append(self, *events: Event) -> Sequence[LogPosition]:
        positions = await self._log.append(*events)
        collected = _appended.get()
        if collected is not None:
            collected.extend(positions)
        return positions


class Consistency:
    """Waits for projection groups to reach positions; one per gateway process."""

    def __init__(self, applied: AppliedReader, settled: SettledReader, wait_s: float) -> None:
        self._applied = applied
        self._settled = settled
        self.wait_s = wait_s
        # group -> partition -> next applied offset seen: offsets only grow, so what was seen
        # once stays true, and a token older than it costs no Valkey read at all
        self._seen: dict[str, dict[TopicPartition, int]] = {}

    async def reached(self, groups: Iterable[str], positions: Sequence[LogPosition]) -> bool:
        """Whether every group in `groups` applied `positions` (of the topics it consumes)
        within `wait_s`: rechecked with a doubling pause, FIRST_POLL_S to MAX_POLL_S."""
        topics = consumed_topics()
        need = {
            g: {(p.topic, p.partition): p.offset + 1 for p in positions if p.topic in topics[g]}
            for g in groups
        }
        deadline = time.monotonic() + self.wait_s
        pause = FIRST_POLL_S
        while True:
            need = self._unmet(need)
            if not need:
                return True
            self._learn(await self._applied.applied({g: list(tps) for g, tps in need.items()}))
            need = self._unmet(need)
            left = deadline - time.monotonic()
            if not need or left <= 0:
                return not need
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, MAX_POLL_S)

    async def settled(self, photo_id: int) -> list[LogPosition]:
        """The positions of the events that settled an upload; none while it is processing."""
        token = await self._settled.token(photo_id)
        try:
            return decode_token(token) if token else []
        except InvalidPosition:  # written by another version of this code: no token then
            return []

    def _unmet(
        self, need: dict[str, dict[TopicPartition, int]]
    ) -> dict[str, dict[TopicPartition, int]]:
        out = {}
        for g, tps in need.items():
            seen = self._seen.get(g, {})
            rest = {tp: o for tp, o in tps.items() if seen.get(tp, 0) < o}
            if rest:
                out[g] = rest
        return out

    def _learn(self, applied: Mapping[str, Mapping[TopicPartition, int]]) -> None:
        for g, offsets in applied.items():
            seen = self._seen.setdefault(g, {})
            for tp, o in offsets.items():
                if o > seen.get(tp, 0):  # 0 (nothing recorded) is never kept
                    seen[tp] = o


def sent_positions(request: Request) -> list[LogPosition]:
    """The positions the request sent back (every Photofeed-Position header, merged); empty
    when it sent none or an empty one. 400 invalid_position for a malformed token."""
    values = [v.strip() for v in request.headers.getlist(HEADER.lower()) if v.strip()]
    if not values:
        return []
    try:
        return decode_token(",".join(values))
    except InvalidPosition as exc:
        raise ApiError(400, "invalid_position", f"{HEADER} is not a token this API "
                       f"issued ({exc}); send the header value of an earlier answer, or "
                       "none") from None  # fmt: skip


def consistent(endpoint: Endpoint, method: str, path: str) -> Endpoint:
    """`endpoint` with read-your-writes (see the module docstring); `path` without the /api/v1
    prefix. Raises KeyError for a route READS does not declare."""
    groups, settled_by = READS[(method, path)], SETTLED.get((method, path))

    async def guarded(request: Request) -> Response:
        sent = sent_positions(request)
        consistency = deps_of(request).consistency
        verdict = None
        if sent and consistency is not None:
            verdict = APPLIED if await consistency.reached(groups, sent) else STALE
        collected: list[LogPosition] = []
        reset = _appended.set(collected)
        try:
            response = await endpoint(request)
        except ApiError as exc:
            if verdict is not None:  # a 404 may be the lag: say so
                exc.headers[VERDICT] = verdict
            raise
        finally:
            _appended.reset(reset)
        if settled_by is not None and consistency is not None and response.status_code == 200:
            photo_id = parse_id(request.path_params.get(settled_by, ""))
            collected += await consistency.settled(photo_id) if photo_id else []
        if collected and response.status_code < 400:
            response.headers[HEADER] = encode_token(merge(sent, collected))
        if verdict is not None:
            response.headers[VERDICT] = verdict
        return response

    guarded.__doc__ = endpoint.__doc__
    return guarded
