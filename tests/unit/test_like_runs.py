"""A batch of likes collapsed into runs (projections.engagement.logic.like_runs) leaves exactly what
applying its writes one by one leaves: the likers' flags and versions, every post's count, and
each notification group's change (its actors' last joins or leaves, and its count delta).

Both sides are models of the adapter's Lua (projections/engagement/engagement.lua set_likes):
`one_by_one` follows the function a batch of one write runs; `by_runs` follows the batch
function's walk over a run's steps. The real function is held to the same equality on Valkey in
tests/integration/test_like_batches_redis.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given
from hypothesis import strategies as st

from projections.engagement.logic import LikeRun, like_runs
from projections.writes import SetLike

POSTS = (1, 2, 3)
AUTHOR_OF = {1: 100, 2: 100, 3: 101}
Pair = tuple[int, int]  # (liker, post)


@dataclass
class State:
    """What Redis holds for the likes of a few posts, in the model."""

    liked: dict[Pair, tuple[bool, int, int]] = field(default_factory=dict)  # flag, version, author
    counts: dict[int, int] = field(default_factory=dict)  # post -> likes
    groups: dict[tuple[int, int], int] = field(default_factory=dict)  # (author, post) -> delta
    last: dict[tuple[int, int, int], tuple[int, int] | None] = field(default_factory=dict)


def _flip(s: State, w: SetLike | LikeRun, liker: int, post: int, step: tuple[int, bool, int],
          deleted: set[int]) -> None:  # fmt: skip
    """One applied step that changed the liker's flag: the count moves, and the group notes
    the actor (a join is not noted on a deleted post)."""
    version, liked, at_ms = step
    s.counts[post] = s.counts.get(post, 0) + (1 if liked else -1)
    if not w.notify or (liked and post in deleted):
        return
    key = (w.author_id, post)
    s.groups[key] = s.groups.get(key, 0) + (1 if liked else -1)
    s.last[(w.author_id, post, liker)] = (at_ms, version) if liked else None


def one_by_one(start: State, writes: list[SetLike], deleted: set[int]) -> State:
    s = State(dict(start.liked), dict(start.counts))
    for w in writes:
        pair = (w.liker_id, w.post_id)
        flag, version, _ = s.liked.get(pair, (False, -1, 0))
        if w.seq > version:
            s.liked[pair] = (w.liked, w.seq, w.author_id)
            if w.liked != flag:
                _flip(s, w, w.liker_id, w.post_id, (w.seq, w.liked, w.at_ms), deleted)
    return s


def by_runs(start: State, runs: list[LikeRun], deleted: set[int]) -> State:
    s = State(dict(start.liked), dict(start.counts))
    for run in runs:
        pair = (run.liker_id, run.post_id)
        flag, version, author = s.liked.get(pair, (False, -1, 0))
        for step in run.steps:
            if step[0] > version:
                version, author = step[0], run.author_id
                if step[1] != flag:
                    flag = step[1]
                    _flip(s, run, run.liker_id, run.post_id, step, deleted)
        if version >= 0:
            s.liked[pair] = (flag, version, author)
    return s


def likes(draw: st.DrawFn) -> list[SetLike]:
    out = []
    for _ in range(draw(st.integers(0, 30))):
        post = draw(st.sampled_from(POSTS))
        liker = draw(st.sampled_from((100, 7, 8, 9)))  # 100 is the author of posts 1 and 2
        author = draw(st.sampled_from((AUTHOR_OF[post], AUTHOR_OF[post], 102)))  # rarely odd
        version = draw(st.integers(1, 12))  # repeats and older ones: redeliveries, reorders
        out.append(SetLike(post, author, liker, draw(st.integers(0, 3)) * 1000 + version,
                           draw(st.booleans()), version, liker != author))  # fmt: skip
    return out


@st.composite
def batches(draw: st.DrawFn) -> tuple[State, list[SetLike], set[int]]:
    start = State()
    for liker in (100, 7, 8, 9):
        for post in POSTS:
            if draw(st.booleans()):
                flag = draw(st.booleans())
                start.liked[(liker, post)] = (flag, draw(st.integers(0, 8)), AUTHOR_OF[post])
                start.counts[post] = start.counts.get(post, 0) + flag
    deleted = set(draw(st.sets(st.sampled_from(POSTS))))
    return start, likes(draw), deleted


@given(batches())
def test_runs_leave_what_one_by_one_leaves(case: tuple[State, list[SetLike], set[int]]) -> None:
    start, writes, deleted = case
    assert by_runs(start, like_runs(writes), deleted) == one_by_one(start, writes, deleted)


@given(batches())
def test_a_run_keeps_only_steps_that_can_apply(case: tuple[State, list[SetLike], set[int]]) -> None:
    _, writes, _ = case
    runs = like_runs(writes)
    for run in runs:
        versions = [v for v, _, _ in run.steps]
        assert versions == sorted(set(versions))  # strictly increasing
    kept = sum(len(r.steps) for r in runs)
    assert kept <= len(writes)
    assert len({(r.liker_id, r.post_id) for r in runs}) <= len(runs)


def test_a_like_and_its_unlike_in_one_batch_are_one_run() -> None:
    like = SetLike(1, 100, 7, 1_000, True, 10, True)
    unlike = SetLike(1, 100, 7, 2_000, False, 11, True)
    redelivered = SetLike(1, 100, 7, 1_000, True, 10, True)
    other = SetLike(2, 100, 7, 3_000, True, 12, True)
    assert like_runs([like, unlike, redelivered, other]) == [
        LikeRun(1, 100, 7, True, ((10, True, 1_000), (11, False, 2_000))),
        LikeRun(2, 100, 7, True, ((12, True, 3_000),)),
    ]
