"""The scale-out search index: Elasticsearch, two indices per projection version.

Version N lives in `<prefix>-posts-v<N>` and `<prefix>-users-v<N>`, created from the settings and
mappings in `infra/elasticsearch/` (captions: standard tokenizer, lowercase, ASCII folding, Porter
stemming; tags and usernames: keywords). The aliases `<prefix>-posts` and `<prefix>-users` follow
the active version: `activate` moves both in one atomic alias update (a blue/green swap).

Every document's id is the post (or user) id and its ES *external* version is the id of the last
event applied, so ES itself keeps only the newest write: an older or redelivered one is refused
with a version conflict, which is the expected outcome and skipped. A deleted post stays as a
tombstone (`live: false`, no caption, no tags), so an older publication cannot revive it.

The functions building request bodies and reading responses are pure; the classes only send them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

from elasticsearch import AsyncElasticsearch, BadRequestError, NotFoundError

from projections.search.logic import SearchCursor, SearchHit, SearchQuery
from projections.writes import IndexPost, IndexUser, UnindexPost, Write

Body = dict[str, Any]
Kind = Literal["posts", "users"]
Refresh = bool | str  # the bulk API's `refresh`: "wait_for", True or False
SearchWrite = IndexPost | UnindexPost | IndexUser

KINDS: tuple[Kind, ...] = ("posts", "users")
ID_FIELDS: dict[Kind, str] = {"posts": "post_id", "users": "user_id"}
DEFAULT_PREFIX = "photofeed"
BULK_WRITES = 1000  # writes per bulk request; a batch keeps its order across requests
MAX_AUTHORS = 1000  # users an @name prefix narrows posts to (the first ones by username)
SCAN_PAGE = 1000  # documents per page when comparing two versions
VERSION_CONFLICT = "version_conflict_engine_exception"
ALREADY_EXISTS = "resource_already_exists_exception"
_EMPTY: Mapping[str, Any] = {"hits": {"hits": []}}


class SearchWriteError(RuntimeError):
    """ES refused search writes for a reason other than their being older than the stored ones
    (e.g. rejected under load): the batch may be retried as is, every write being idempotent."""


@dataclass(frozen=True, slots=True)
class IndexNames:
    """The posts and users index (or alias) names of one version."""

    posts: str
    users: str

    def of(self, kind: Kind) -> str:
        return self.posts if kind == "posts" else self.users


def index_names(prefix: str, version: int) -> IndexNames:
    """The concrete indices of `version`: `<prefix>-posts-v<N>`, `<prefix>-users-v<N>`."""
    return IndexNames(f"{prefix}-posts-v{version}", f"{prefix}-users-v{version}")


def alias_names(prefix: str) -> IndexNames:
    """The aliases that point at the active version's indices."""
    return IndexNames(f"{prefix}-posts", f"{prefix}-users")


def index_body(kind: Kind) -> Body:
    """`infra/elasticsearch/<kind>.json`: the index's `settings` and `mappings`."""
    text = (resources.files("infra") / "elasticsearch" / f"{kind}.json").read_text("utf-8")
    body: Body = json.loads(text)
    return body


# --- queries -----------------------------------------------------------------------------------
def post_sort(scored: bool) -> list[Body]:
    """Best first: relevance (when the query has words), then newest, then highest post id."""
    newest: list[Body] = [{"at_ms": "desc"}, {"post_id": "desc"}]
    return [{"_score": "desc"}, *newest] if scored else newest


def search_after(cursor: SearchCursor, scored: bool) -> list[float | int]:
    """The sort values of the hit `cursor` was made from (rank is -score)."""
    newest: list[float | int] = [cursor.at_ms, cursor.post_id]
    return [-cursor.rank, *newest] if scored else newest


def posts_query(
    query: SearchQuery, author_ids: Sequence[int] | None, limit: int, after: SearchCursor | None
) -> Body:
    """Live posts whose caption has every word (analysed like captions), that carry every tag,
    and, when `author_ids` is given, whose author is one of them; `limit` of them after `after`
    in `post_sort` order. Only sort values come back (no source)."""
    filters: list[Body] = [{"term": {"live": True}}]
    filters += [{"term": {"tags": tag}} for tag in query.tags]
    if author_ids is not None:
        filters.append({"terms": {"author_id": list(author_ids)}})
    match: Body = {"bool": {"filter": filters}}
    scored = bool(query.words)
    if scored:
        words = {"query": " ".join(query.words), "operator": "and"}
        match["bool"]["must"] = [{"match": {"caption": words}}]
    body: Body = {
        "query": match,
        "sort": post_sort(scored),
        "size": limit,
        "_source": False,
        "track_total_hits": False,
    }
    if after is not None:
        body["search_after"] = search_after(after, scored)
    return body


def hits_from(response: Mapping[str, Any]) -> list[SearchHit]:
    """The hits of a `posts_query` response. Three sort values are (score, at_ms, post_id): the
    rank is -score (lower is better); two are (at_ms, post_id): the rank is 0."""
    hits: list[SearchHit] = []
    for hit in response["hits"]["hits"]:
        *score, at_ms, post_id = hit["sort"]
        rank = -float(score[0]) if score else 0.0
        hits.append(SearchHit(int(post_id), rank, int(at_ms)))
    return hits


def authors_query(prefixes: Sequence[str], limit: int = MAX_AUTHORS) -> Body:
    """The first `limit` users (by username) whose username starts with any of `prefixes`."""
    return {
        "query": {
            "bool": {
                "should": [{"prefix": {"username": p}} for p in prefixes],
                "minimum_should_match": 1,
            }
        },
        "sort": [{"username": "asc"}],
        "size": limit,
        "_source": False,
        "track_total_hits": False,
    }


def ids_from(response: Mapping[str, Any]) -> list[int]:
    """The document ids (post or user ids) of a response's hits, in order."""
    return [int(hit["_id"]) for hit in response["hits"]["hits"]]


def users_query(prefix: str, limit: int, after: str | None) -> Body:
    """Users whose username starts with `prefix`, by username, those after `after` only."""
    body: Body = {
        "query": {"prefix": {"username": prefix}},
        "sort": [{"username": "asc"}],
        "size": limit,
        "_source": False,
        "track_total_hits": False,
    }
    if after is not None:
        body["search_after"] = [after]
    return body


def users_from(response: Mapping[str, Any]) -> list[tuple[int, str]]:
    """(user id, username) of a `users_query` response's hits, in order."""
    return [(int(hit["_id"]), str(hit["sort"][0])) for hit in response["hits"]["hits"]]


# --- writes ------------------------------------------------------------------------------------
def bulk_actions(writes: Sequence[Write], names: IndexNames) -> list[Body]:
    """The bulk body of the search writes among `writes`, in order (others are left out): an
    action line and a document per write, each an `index` of the document under the write's
    event id as its external version, so ES keeps it only when newer than the stored one. A
    deletion indexes a tombstone: `live: false`, no caption, no tags."""
    lines: list[Body] = []
    for w in writes:
        if isinstance(w, IndexPost):
            lines += [_versioned(names.posts, w.post_id, w.seq), _post(w)]
        elif isinstance(w, UnindexPost):
            lines += [_versioned(names.posts, w.post_id, w.seq), _tombstone(w)]
        elif isinstance(w, IndexUser):
            lines += [
                _versioned(names.users, w.user_id, w.seq),
                {"user_id": w.user_id, "username": w.username},
            ]
    return lines


def _versioned(index: str, doc_id: int, version: int) -> Body:
    return {
        "index": {
            "_index": index,
            "_id": str(doc_id),
            "version": version,
            "version_type": "external",
        }
    }


def _post(w: IndexPost) -> Body:
    return {
        "post_id": w.post_id,
        "author_id": w.author_id,
        "caption": w.caption,
        "tags": list(w.tags),
        "at_ms": w.at_ms,
        "live": True,
    }


def _tombstone(w: UnindexPost) -> Body:
    return {"post_id": w.post_id, "live": False}


def bulk_failures(response: Mapping[str, Any]) -> list[Body]:
    """The items of a bulk response ES refused, except version conflicts: those are writes older
    than (or as old as) the stored document, skipped by design."""
    if not response.get("errors"):
        return []
    failures: list[Body] = []
    for item in response["items"]:
        result: Body = next(iter(item.values()))
        error = result.get("error")
        if error is not None and error.get("type") != VERSION_CONFLICT:
            failures.append(result)
    return failures


# --- whole versions ----------------------------------------------------------------------------
def alias_actions(
    aliases: IndexNames, target: IndexNames, current: Mapping[str, Sequence[str]]
) -> list[Body]:
    """One atomic alias update pointing each alias at `target` only: remove it from the indices
    it is on now (`current`: alias -> indices), add it to the target's."""
    actions: list[Body] = []
    for kind in KINDS:
        alias, index = aliases.of(kind), target.of(kind)
        actions += [
            {"remove": {"index": old, "alias": alias}}
            for old in current.get(alias, ())
            if old != index
        ]
        actions.append({"add": {"index": index, "alias": alias}})
    return actions


def scan_query(id_field: str, after: int | None, size: int = SCAN_PAGE) -> Body:
    """Every document (tombstones included) with its source and version, ascending by id."""
    body: Body = {
        "query": {"match_all": {}},
        "sort": [{id_field: "asc"}],
        "size": size,
        "version": True,
        "track_total_hits": False,
    }
    if after is not None:
        body["search_after"] = [after]
    return body


def doc_digest(hit: Mapping[str, Any]) -> str:
    """A digest of a hit's version and source: equal in two versions iff the document is."""
    canonical = json.dumps([hit.get("_version"), hit.get("_source")], sort_keys=True)
    return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


async def merge_diff(
    a: AsyncIterator[tuple[int, str]], b: AsyncIterator[tuple[int, str]]
) -> AsyncIterator[int]:
    """The ids of two (id, digest) streams, both ascending by id, that only one has or whose
    digests differ, ascending; memory stays constant whatever the sizes."""
    x, y = await anext(a, None), await anext(b, None)
    while x is not None and y is not None:
        if x[0] == y[0]:
            if x[1] != y[1]:
                yield x[0]
            x, y = await anext(a, None), await anext(b, None)
        elif x[0] < y[0]:
            yield x[0]
            x = await anext(a, None)
        else:
            yield y[0]
            y = await anext(b, None)
    while x is not None:  # b is exhausted: the rest of a is a's only
        yield x[0]
        x = await anext(a, None)
    while y is not None:
        yield y[0]
        y = await anext(b, None)


# --- adapters ----------------------------------------------------------------------------------
async def _search(
    es: AsyncElasticsearch, index: str, body: Body, search_type: str | None = None
) -> Mapping[str, Any]:
    """The search response; that of no hits when the index does not exist (yet)."""
    try:
        response = await es.search(index=index, body=body, search_type=search_type)
    except NotFoundError:
        return _EMPTY
    result: Mapping[str, Any] = response.body
    return result


async def _create(es: AsyncElasticsearch, index: str, body: Body) -> bool:
    """Create `index` with its settings and mappings; False when it already exists."""
    try:
        await es.indices.create(index=index, settings=body["settings"], mappings=body["mappings"])
    except BadRequestError as exc:
        if exc.error != ALREADY_EXISTS:
            raise
        return False
    return True


@dataclass(eq=False)
class ElasticsearchSearch:
    """One version's indices: the SearchIndex port. `refresh` is passed to every bulk request:
    "wait_for" returns once the writes are searchable (tests); False leaves it to the index's
    1 s refresh interval (production)."""

    es: AsyncElasticsearch
    names: IndexNames
    refresh: Refresh = False
    _prepared: bool = field(default=False, init=False)

    async def prepare(self) -> None:
        """Create the version's indices, with their mappings, unless they exist."""
        for kind in KINDS:
            await _create(self.es, self.names.of(kind), index_body(kind))
        self._prepared = True

    async def apply(self, writes: Sequence[Write]) -> None:
        """Perform the search writes of `writes` in order (preparing the indices first); raise
        SearchWriteError when ES refused any for a reason other than its being older."""
        mine: list[SearchWrite] = [
            w for w in writes if isinstance(w, IndexPost | UnindexPost | IndexUser)
        ]
        if not mine:
            return
        if not self._prepared:
            await self.prepare()
        for start in range(0, len(mine), BULK_WRITES):
            await self._bulk(mine[start : start + BULK_WRITES])

    async def _bulk(self, writes: Sequence[SearchWrite]) -> None:
        response = await self.es.bulk(
            operations=bulk_actions(writes, self.names), refresh=self.refresh or None
        )
        failures = bulk_failures(response.body)
        if failures:
            raise SearchWriteError(f"{len(failures)} search writes refused, first: {failures[0]}")

    async def posts(
        self, query: SearchQuery, limit: int, after: SearchCursor | None
    ) -> list[SearchHit]:
        """Hits of live posts by (rank, newest); none when no username matches an @name."""
        author_ids: list[int] | None = None
        if query.users:
            author_ids = ids_from(
                await _search(self.es, self.names.users, authors_query(query.users))
            )
            if not author_ids:
                return []
        body = posts_query(query, author_ids, limit, after)
        # global term statistics: scores do not depend on which shard holds a post
        search_type = "dfs_query_then_fetch" if query.words else None
        return hits_from(await _search(self.es, self.names.posts, body, search_type))

    async def users(self, prefix: str, limit: int, after: str | None) -> list[tuple[int, str]]:
        """(user id, username) of usernames starting with `prefix`, by username, after `after`."""
        body = users_query(prefix.lower(), limit, after)
        return users_from(await _search(self.es, self.names.users, body))

    async def erase(self, user_id: int, post_ids: Sequence[int]) -> None:
        """Delete the user's document and every document of their posts (tombstones included);
        a missing document is fine (a resumed erasure)."""
        operations = [{"delete": {"_index": self.names.posts, "_id": str(p)}} for p in post_ids]
        operations.append({"delete": {"_index": self.names.users, "_id": str(user_id)}})
        response = await self.es.bulk(operations=operations, refresh=self.refresh or None)
        failures = [f for f in bulk_failures(response.body) if "not_found" not in str(f)]
        if failures:
            raise SearchWriteError(f"{len(failures)} erasures refused, first: {failures[0]}")


class ElasticsearchVersions:
    """Every version of the search index on one cluster: opened, compared, dropped, activated."""

    def __init__(
        self, es: AsyncElasticsearch, prefix: str = DEFAULT_PREFIX, refresh: Refresh = "wait_for"
    ) -> None:
        self._es = es
        self._prefix = prefix
        self._refresh = refresh
        self._open: dict[int, ElasticsearchSearch] = {}

    @classmethod
    def connect(
        cls, url: str, *, prefix: str = DEFAULT_PREFIX, refresh: Refresh = "wait_for"
    ) -> ElasticsearchVersions:
        """A client of the cluster at `url`; see ElasticsearchSearch for `refresh`."""
        return cls(AsyncElasticsearch(url), prefix, refresh)

    def at(self, version: int) -> ElasticsearchSearch:
        """The adapter of `version` (one per version; its indices are created on first write)."""
        index = self._open.get(version)
        if index is None:
            names = index_names(self._prefix, version)
            index = self._open[version] = ElasticsearchSearch(self._es, names, self._refresh)
        return index

    async def diff(self, a: int, b: int, limit: int = 20) -> tuple[int, list[str]]:
        """How many documents (by id, version and content) differ between versions a and b, and
        up to `limit` of them as `posts:<id>` / `users:<id>`."""
        names_a, names_b = index_names(self._prefix, a), index_names(self._prefix, b)
        count = 0
        sample: list[str] = []
        for kind in KINDS:
            docs_a = self._docs(names_a.of(kind), ID_FIELDS[kind])
            docs_b = self._docs(names_b.of(kind), ID_FIELDS[kind])
            async for doc_id in merge_diff(docs_a, docs_b):
                count += 1
                if len(sample) < limit:
                    sample.append(f"{kind}:{doc_id}")
        return count, sample

    async def _docs(self, index: str, id_field: str) -> AsyncIterator[tuple[int, str]]:
        """(id, digest) of every document of `index`, ascending by id (none if it is missing)."""
        after: int | None = None
        while True:
            response = await _search(self._es, index, scan_query(id_field, after))
            hits = response["hits"]["hits"]
            for hit in hits:
                yield int(hit["sort"][0]), doc_digest(hit)
            if len(hits) < SCAN_PAGE:
                return
            after = int(hits[-1]["sort"][0])

    async def activate(self, version: int) -> None:
        """Point both aliases at `version`'s indices in one atomic update (creating them first
        when missing, since an alias needs its index)."""
        target = self.at(version)
        await target.prepare()
        aliases = alias_names(self._prefix)
        current = {alias: await self._holders(alias) for alias in (aliases.posts, aliases.users)}
        await self._es.indices.update_aliases(actions=alias_actions(aliases, target.names, current))

    async def _holders(self, alias: str) -> list[str]:
        """The indices `alias` points at now."""
        try:
            response = await self._es.indices.get_alias(name=alias)
        except NotFoundError:
            return []
        return sorted(str(index) for index in response.body)

    async def drop(self, version: int) -> int:
        """Delete `version`'s indices (with any alias on them); returns how many existed."""
        self._open.pop(version, None)
        names = index_names(self._prefix, version)
        dropped = 0
        for kind in KINDS:
            try:
                await self._es.indices.delete(index=names.of(kind))
            except NotFoundError:
                continue
            dropped += 1
        return dropped

    async def close(self) -> None:
        await self._es.close()
