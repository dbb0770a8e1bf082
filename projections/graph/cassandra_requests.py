"""Follow requests and privacy in the Cassandra adapter of the graph group (CassandraGraph mixes
this in): the pure state machine of projections/graph/requests.py over rows that only grow.

Cassandra's last-write-wins cells cannot hold the state machine's registers (a late, older step
must be able to change them), so the adapter stores the steps themselves, each row written at
its event's timestamp (infra/cassandra/graph.cql): `follow_request_steps` per owner (requests,
answers, and the requester's own follows and unfollows of the owner), `privacy_switches` per
user (the `private` cell of `users` is the newest one's), and `requested`, a requester's index of
the owners holding steps of theirs (for erasure). The state is derived by running a pair's steps
in event order through `PairBook` (`derive`), which ends where any order of delivery would
(tests/unit/test_follow_requests.py). After each step the follow edge is made to agree: an
approval through the adapter's seq-guarded follow write at the request's seq, an approval since
overturned deleted at that seq. Reads derive too: the pending list reads the owner's partition.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from projections.backends.cassandra import KeyspaceAdapter, Row, write_timestamp
from projections.graph.ports import Edge, edges_page
from projections.graph.requests import EDGE, REQUEST, EdgeMark, PairBook, Switch
from projections.ports import Page, Position
from projections.writes import SetFollow, SetFollowRequest, SetPrivacy, Write

FOLLOWED, UNFOLLOWED = "followed", "unfollowed"  # an EDGE step's kind as stored

PUT_STEP = (
    "INSERT INTO {ks}.follow_request_steps (owner_id, requester_id, seq, kind, at_ms) "
    "VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ?"
)
PAIR_STEPS = (
    "SELECT requester_id, seq, kind, at_ms FROM {ks}.follow_request_steps "
    "WHERE owner_id = ? AND requester_id = ?"
)
OWNER_STEPS = (
    "SELECT requester_id, seq, kind, at_ms FROM {ks}.follow_request_steps WHERE owner_id = ?"
)
PUT_INDEX = "INSERT INTO {ks}.requested (requester_id, owner_id) VALUES (?, ?) USING TIMESTAMP ?"
PUT_SWITCH = (
    "INSERT INTO {ks}.privacy_switches (user_id, seq, private) VALUES (?, ?, ?) USING TIMESTAMP ?"
)
SWITCHES = "SELECT seq, private FROM {ks}.privacy_switches WHERE user_id = ?"
SET_PRIVATE = "UPDATE {ks}.users USING TIMESTAMP ? SET private = ? WHERE user_id = ?"
EDGE_ROW = (
    "SELECT active, WRITETIME(active) AS active_ts, followed_ms FROM {ks}.follow_edges "
    "WHERE follower_id = ? AND followee_id = ?"
)
DROP_EDGE = (
    "DELETE FROM {ks}.follow_edges USING TIMESTAMP ? WHERE follower_id = ? AND followee_id = ?"
)
DROP_FOLLOWER = (
    "DELETE FROM {ks}.followers USING TIMESTAMP ? "
    "WHERE user_id = ? AND followed_ms = ? AND follower_id = ?"
)
DROP_FOLLOWING = (
    "DELETE FROM {ks}.following USING TIMESTAMP ? "
    "WHERE user_id = ? AND followed_ms = ? AND followee_id = ?"
)
REQUEST_STATEMENTS = (
    PUT_STEP, PAIR_STEPS, OWNER_STEPS, PUT_INDEX, PUT_SWITCH, SWITCHES, SET_PRIVATE, EDGE_ROW,
    DROP_EDGE, DROP_FOLLOWER, DROP_FOLLOWING,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Step:
    """One stored step of a pair: a SetFollowRequest, an EDGE one as FOLLOWED / UNFOLLOWED."""

    requester: int
    seq: int
    kind: str
    at_ms: int


def stored_steps(writes: Sequence[Write]) -> list[tuple[int, Step]]:
    """(owner, step) of a batch's SetFollowRequests, an EDGE step told by the SetFollow of the
    same event and pair whether the edge came or went."""
    edges = {(w.seq, w.follower_id, w.followee_id): w.active for w in writes
             if isinstance(w, SetFollow)}  # fmt: skip
    out = []
    for w in writes:
        if isinstance(w, SetFollowRequest):
            kind = w.kind
            if kind == EDGE:
                active = edges.get((w.seq, w.requester_id, w.owner_id))
                if active is None:
                    continue  # not an edge this batch writes: nothing to record
                kind = FOLLOWED if active else UNFOLLOWED
            out.append((w.owner_id, Step(w.requester_id, w.seq, kind, w.at_ms)))
    return out


def derive(steps: Iterable[Step], switches: Iterable[Switch]) -> PairBook:
    """The registers, pending list and edges the steps and switches imply: run in event order
    (any order ends the same; this one needs no stored state)."""
    events: list[tuple[int, int, Step | Switch]] = [(s.seq, 1, s) for s in steps]
    events += [(sw[0], 0, sw) for sw in switches]
    book = PairBook.empty()
    for _, _, e in sorted(events, key=lambda x: (x[0], x[1])):
        if isinstance(e, Step):
            if e.kind in (FOLLOWED, UNFOLLOWED):
                book.set_edge(e.requester, e.seq, e.kind == FOLLOWED, e.at_ms)
                book.step(EDGE, e.requester, e.seq, e.at_ms)
            else:
                book.step(e.kind, e.requester, e.seq, e.at_ms)
        else:
            book.switch(*e)
    return book


def step_of(row: Row) -> Step:
    return Step(int(row["requester_id"]), int(row["seq"]), str(row["kind"]), int(row["at_ms"]))


def edge_mark(row: Row | None) -> EdgeMark | None:
    """A follow_edges row as the state machine's edge (None: no edge written)."""
    if row is None or row.get("active") is None:
        return None
    present = bool(row["active"])
    at_ms = int(row.get("followed_ms") or 0) if present else 0
    return EdgeMark(int(row["active_ts"]), present, at_ms)


def pending_page(book: PairBook, limit: int, after: Position | None) -> Page[Edge]:
    """The pending requests newest first (ms, then requester, descending), past a cursor."""
    rows = sorted(((ms, r) for r, ms in book.pending.items()), reverse=True)
    if after is not None:
        rows = [(ms, r) for ms, r in rows if (ms, r) < (after.at_ms, after.id)]
    return edges_page([Edge(r, ms) for ms, r in rows[: limit + 1]], limit)


class FollowRequestsInCassandra(KeyspaceAdapter):
    """The follow requests part of CassandraGraph, which provides `_set_follow` (the
    seq-guarded write of one follow edge, event-timestamped)."""

    _set_follow: Callable[[SetFollow], Awaitable[None]]

    async def _apply_requests(self, writes: Sequence[Write]) -> None:
        """The batch's steps and switches, after its own follow edges were written."""
        steps = stored_steps(writes)
        await self._s.run(
            [(self._q(PUT_STEP), (owner, s.requester, s.seq, s.kind, s.at_ms, s.seq))
             for owner, s in steps]
            + [(self._q(PUT_INDEX), (s.requester, owner, s.seq)) for owner, s in steps]
        )  # fmt: skip
        switches = [w for w in writes if isinstance(w, SetPrivacy)]
        await self._s.run(
            [(self._q(PUT_SWITCH), (w.user_id, w.seq, w.private, write_timestamp(w.seq)))
             for w in switches]
            + [(self._q(SET_PRIVATE), (write_timestamp(w.seq), w.private, w.user_id))
               for w in switches]
        )  # fmt: skip
        pairs = sorted({(owner, s.requester) for owner, s in steps})
        owners = sorted({w.user_id for w in switches if not w.private})  # going public decides
        await asyncio.gather(*(self._agree_pair(o, r) for o, r in pairs),
                             *(self._agree_owner(o) for o in owners))  # fmt: skip

    async def _steps(self, owner: int, requester: int | None = None) -> tuple[PairBook, list[Step]]:
        """The owner's (or one pair's) steps, and the state they imply."""
        if requester is None:
            rows = await self._s.execute(self._q(OWNER_STEPS), (owner,))
        else:
            rows = await self._s.execute(self._q(PAIR_STEPS), (owner, requester))
        switches = await self._s.execute(self._q(SWITCHES), (owner,))
        steps = [step_of(row) for row in rows]
        return derive(steps, [(int(s["seq"]), bool(s["private"])) for s in switches]), steps

    async def _book(self, owner: int, requester: int | None = None) -> PairBook:
        return (await self._steps(owner, requester))[0]

    async def _agree_pair(self, owner: int, requester: int) -> None:
        await self._agree(owner, requester, *await self._steps(owner, requester))

    async def _agree_owner(self, owner: int) -> None:
        book, steps = await self._steps(owner)
        await asyncio.gather(*(self._agree(owner, r, book, steps) for r in book.requests))

    async def _agree(self, owner: int, requester: int, book: PairBook, steps: list[Step]) -> None:
        """Make the stored edge requester -> owner what the state machine says of requests (an
        edge at the seq of one of the pair's requests was made by an approval)."""
        want = book.edges.get(requester)
        row = await self._s.one(self._q(EDGE_ROW), (requester, owner))
        stored = edge_mark(row)
        if want == stored:
            return
        if want is not None and want.present and (stored is None or stored.seq < want.seq):
            await self._set_follow(SetFollow(requester, owner, want.at_ms, True, want.seq))
            return
        asked = {s.seq for s in steps if s.requester == requester and s.kind == REQUEST}
        made_by_approval = stored is not None and stored.present and stored.seq in asked
        if made_by_approval and stored is not None and (want is None or want.seq < stored.seq):
            ts = write_timestamp(stored.seq)  # an approval overturned: deleted at its seq
            await self._s.run([
                (self._q(DROP_FOLLOWER), (ts, owner, stored.at_ms, requester)),
                (self._q(DROP_FOLLOWING), (ts, requester, stored.at_ms, owner)),
                (self._q(DROP_EDGE), (ts, requester, owner)),
            ])  # fmt: skip

    # --- reads -----------------------------------------------------------------------------------
    async def follow_requests(self, owner: int, limit: int, after: Position | None) -> Page[Edge]:
        return pending_page(await self._book(owner), limit, after)

    async def requested(self, requester: int, owners: Sequence[int]) -> set[int]:
        books = await asyncio.gather(*(self._book(owner, requester) for owner in owners))
        return {o for o, book in zip(owners, books, strict=True) if requester in book.pending}

    async def requesters_before(self, owner: int, seq: int) -> list[int]:
        book = await self._book(owner)
        return sorted(
            r for r, request in book.requests.items()
            if request.seq < seq and (r in book.pending or (
                (e := book.edges.get(r)) is not None and e.present and e.seq == request.seq))
        )  # fmt: skip
