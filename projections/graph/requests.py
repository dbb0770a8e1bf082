"""Follow requests of private accounts as a pure state machine: the specification that the
Redis adapter's Lua twin (graph.lua `follow_requests`) and the Cassandra adapter follow.

Why it needs care: a request (the requester's FollowRequested, on the requester's partition of
the follows topic), the owner's answers (FollowRequestResolved, on the owner's partition) and the
owner's switches of privacy (AccountPrivacyChanged, on the users topic) reach the graph group in
any interleaving, live or in a replay, and a run of a partition may be delivered again. So the
state is kept as registers that end the same whatever the order, and all that is shown (the
pending list, the follow edge) is derived from them by `settle`:

- per (owner, requester), the newest request (`Request`: its seq and time, and the follow edge
  as it stood when it was recorded: what a request that is not approved leaves);
- per (owner, requester), the owner's answers newer than that request (older ones answered
  older requests and are dropped);
- per owner, every switch of privacy (seq, private);
- the follow edge requester -> owner itself (`EdgeMark`: the graph's seq-guarded edge).

A request is decided by whichever comes first after it: one of the owner's answers or a switch to
public (going public approves every request pending then). An approval makes the edge present
*at the request's seq and time*, so the requester's own later unfollow (a newer seq) wins over it
as over any follow, and an approval that a late-arriving earlier answer overturns is taken back
exactly (the edge as it was before the request comes back). A request the requester closed
since (a follow or unfollow of theirs newer than it: the edge's seq is newer) is forgotten.
`tests/unit/test_follow_requests.py` checks that every order of delivery ends the same.

Known limit: the gateway decides between a request and a plain follow from what the projection
shows; a follow appended in the instant an account goes private stays a follow (an existing
follower stays approved), and a request appended in the instant it goes public stays pending
until answered (or the next switch to public).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")

REQUEST, APPROVE, REJECT, EDGE = "request", "approve", "reject", "edge"  # SetFollowRequest.kind


@dataclass(frozen=True, slots=True, order=True)
class EdgeMark:
    """The follow edge requester -> owner as stored: the seq of its newest write, whether it is
    present, and its score (followed at, ms; 0 when absent)."""

    seq: int
    present: bool
    at_ms: int


@dataclass(frozen=True, slots=True)
class Request:
    """The newest request of a pair: its seq and time, and the edge when it was recorded."""

    seq: int
    at_ms: int
    before: EdgeMark | None


@dataclass(frozen=True, slots=True, order=True)
class Answer:
    """One answer of the owner to the pair's request pending then."""

    seq: int
    approved: bool


Switch = tuple[int, bool]  # (seq, private): one AccountPrivacyChanged


@dataclass(frozen=True, slots=True)
class Settled:
    """What the registers imply for a pair: its request (None: forgotten), the answers kept,
    whether the request is pending (shown to the owner), and the edge afterwards."""

    request: Request | None
    answers: tuple[Answer, ...]
    pending: bool
    edge: EdgeMark | None


def is_private(switches: Iterable[Switch]) -> bool:
    """The account's privacy now: its newest switch (public when it never switched)."""
    newest = max(switches, default=None)
    return newest is not None and newest[1]


def decision(
    request: Request, answers: Iterable[Answer], switches: Iterable[Switch]
) -> bool | None:
    """True approved, False rejected, None pending: the first, after the request, of the
    owner's answers and the switches to public."""
    deciders = [(a.seq, a.approved) for a in answers if a.seq > request.seq]
    deciders += [(seq, True) for seq, private in switches if not private and seq > request.seq]
    return min(deciders)[1] if deciders else None


def record(
    current: Request | None, seq: int, at_ms: int, edge: EdgeMark | None
) -> tuple[Request, EdgeMark | None]:
    """The pair's request and edge after a FollowRequested `seq`. The newest request wins and
    supersedes an older one with whatever answered it: an edge that the older one's approval
    made goes back to what it was before (which of the two an answer approved would depend on
    answers that may not have arrived yet)."""
    if current is not None and current.seq >= seq:
        return current, edge
    if current is not None and edge is not None and edge.seq == current.seq:
        edge = current.before
    return Request(seq, at_ms, edge), edge


def seen_late(request: Request, edge: EdgeMark) -> Request:
    """The request once an edge write older than it is applied after it: its `before` becomes
    what it would have found had the write come first (the newest edge older than the request).
    A block's unfollows are written on the owner's partition, so they can reach the group after
    a request they precede, live or in a replay (which would otherwise differ)."""
    if edge.seq < request.seq and (request.before is None or request.before.seq < edge.seq):
        return Request(request.seq, request.at_ms, edge)
    return request


def answered(answers: Iterable[Answer], seq: int, approved: bool) -> tuple[Answer, ...]:
    """The answers with one more (a redelivered one changes nothing), oldest first."""
    return tuple(sorted({*answers, Answer(seq, approved)}))


def settle(
    request: Request | None, answers: Iterable[Answer], switches: Iterable[Switch],
    edge: EdgeMark | None,
) -> Settled:  # fmt: skip
    """The pair's state implied by its registers and the edge (run after every step)."""
    if request is not None and edge is not None and edge.seq > request.seq:
        request = None  # the requester followed or unfollowed since: the request is closed
    floor = request.seq if request is not None else (edge.seq if edge is not None else 0)
    kept = tuple(sorted(a for a in answers if a.seq >= floor))  # older ones answered older asks
    if request is None:
        return Settled(None, kept, False, edge)
    approved = decision(request, kept, switches)
    if approved:
        return Settled(request, kept, False, EdgeMark(request.seq, True, request.at_ms))
    if edge is not None and edge.seq == request.seq:  # an approval since overturned
        edge = request.before
    return Settled(request, kept, approved is None, edge)


@dataclass
class PairBook:
    """One owner's registers in memory: the reference the adapters are tested against, and
    what the Cassandra adapter reads, settles and writes back per pair."""

    requests: dict[int, Request]
    answers: dict[int, tuple[Answer, ...]]
    switches: set[Switch]
    edges: dict[int, EdgeMark]  # requester -> the edge requester -> owner
    pending: dict[int, int]  # requester -> asked at ms

    @classmethod
    def empty(cls) -> PairBook:
        return cls({}, {}, set(), {}, {})

    def step(self, kind: str, requester: int, seq: int, at_ms: int) -> None:
        """One SetFollowRequest (the EDGE kind after the edge itself was written)."""
        if kind == REQUEST:
            current = self.requests.get(requester)
            now, edge = record(current, seq, at_ms, self.edges.get(requester))
            self.requests[requester] = now
            _put(self.edges, requester, edge)
        elif kind in (APPROVE, REJECT):
            given = self.answers.get(requester, ())
            self.answers[requester] = answered(given, seq, kind == APPROVE)
        elif kind == EDGE:
            current = self.requests.get(requester)
            if current is not None:
                self.requests[requester] = seen_late(current, EdgeMark(seq, at_ms > 0, at_ms))
        self._settle(requester)

    def set_edge(self, requester: int, seq: int, present: bool, at_ms: int) -> None:
        """The requester's own follow or unfollow (SetFollow), seq-guarded."""
        edge = self.edges.get(requester)
        if edge is None or edge.seq < seq:
            self.edges[requester] = EdgeMark(seq, present, at_ms if present else 0)

    def switch(self, seq: int, private: bool) -> None:
        """One SetPrivacy: every pair is settled again."""
        self.switches.add((seq, private))
        for requester in sorted(self.requests.keys() | self.answers.keys()):
            self._settle(requester)

    def _settle(self, requester: int) -> None:
        s = settle(self.requests.get(requester), self.answers.get(requester, ()),
                   self.switches, self.edges.get(requester))  # fmt: skip
        _put(self.edges, requester, s.edge)
        _put(self.answers, requester, s.answers or None)
        _put(self.requests, requester, s.request)
        _put(self.pending, requester, s.request.at_ms if s.request and s.pending else None)


def _put(table: dict[K, V], key: K, value: V | None) -> None:
    if value is None:
        table.pop(key, None)
    else:
        table[key] = value
