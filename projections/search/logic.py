"""The search projection group as pure logic: what gets indexed, and what a query asks for.

A query mixes three kinds of terms: words match captions (stemmed, case-insensitive, every word
must match, ranked by relevance then recency), `#tag` matches tags exactly (a hashtag of the
query as projections/text.py reads one in a caption, normalised alike: `#SEA` finds `#sea`),
`@name` matches usernames by prefix. With only `@name` terms the answer is users; otherwise it is
posts, and `@name` narrows them to those users' posts.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from projections.event_time import event_ms
from projections.text import fold_tags, hashtag_spans
from projections.writes import Handler, IndexPost, IndexUser, UnindexPost, Write
from schemas import events as ev

MAX_QUERY_CHARS = 200
MAX_TERMS = 10  # each term is an index lookup; more adds cost, not precision
_USER = re.compile(r"@([a-z0-9_.]{1,30})")
_WORD = re.compile(r"\w+")


class BadQuery(ValueError):
    """The query cannot be run; the message says why, for the client."""


@dataclass(frozen=True, slots=True)
class SearchQuery:
    words: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    users: tuple[str, ...] = ()  # username prefixes

    @property
    def users_only(self) -> bool:
        return bool(self.users) and not self.words and not self.tags


@dataclass(frozen=True, slots=True)
class SearchCursor:
    """Where a page of post hits ended: rank ascending (better first), then newest first."""

    rank: float
    at_ms: int
    post_id: int


@dataclass(frozen=True, slots=True)
class SearchHit:
    post_id: int
    rank: float  # lower is better; 0 for queries without words
    at_ms: int

    def cursor(self) -> SearchCursor:
        return SearchCursor(self.rank, self.at_ms, self.post_id)


def parse_query(q: str) -> SearchQuery:
    """Terms of `q` (its NFKC form), lower-cased (tags normalised) and de-duplicated in order;
    BadQuery when there is none or too many."""
    if len(q) > MAX_QUERY_CHARS:
        raise BadQuery(f"at most {MAX_QUERY_CHARS} characters")
    text = unicodedata.normalize("NFKC", q)
    spans = hashtag_spans(text)
    tags = _unique([s.value for s in spans])
    for s in reversed(spans):
        text = text[: s.start] + " " + text[s.end :]
    text = text.lower()
    users = _unique(_USER.findall(text))
    rest = _USER.sub(" ", text)
    words = _unique(_WORD.findall(rest))
    if not (words or tags or users):
        raise BadQuery("give a word, a #tag or an @name")
    if len(words) + len(tags) + len(users) > MAX_TERMS:
        raise BadQuery(f"at most {MAX_TERMS} terms")
    return SearchQuery(words, tags, users)


def after_cursor(hit: SearchHit, cursor: SearchCursor | None) -> bool:
    """Whether `hit` comes strictly after `cursor` in (rank asc, at_ms desc, id desc) order."""
    if cursor is None:
        return True
    return (hit.rank, -hit.at_ms, -hit.post_id) > (cursor.rank, -cursor.at_ms, -cursor.post_id)


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def on_published(e: ev.PostPublished) -> list[Write]:
    """Indexed by its tags as the feeds group keys their timelines (projections/text.py)."""
    return [IndexPost(e.post_id, e.actor_id, e.caption, fold_tags(e.tags), event_ms(e),
                      e.event_id)]  # fmt: skip


def on_deleted(e: ev.PostDeleted) -> list[Write]:
    return [UnindexPost(e.post_id, e.event_id)]


def on_registered(e: ev.UserRegistered) -> list[Write]:
    return [IndexUser(e.actor_id, e.username.lower(), e.event_id)]


SEARCH_HANDLERS: dict[type[ev.Event], Handler] = {
    ev.PostPublished: on_published,
    ev.PostDeleted: on_deleted,
    ev.UserRegistered: on_registered,
}
