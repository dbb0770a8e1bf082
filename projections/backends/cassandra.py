"""Shared plumbing of the Cassandra adapters: connecting, schemas, prepared statements, an asyncio
bridge over the driver's futures, write timestamps, sorted-index moves, and version admin.

One keyspace per projection group and version (`photofeed_graph_v3`), created from
`infra/cassandra/<schema>.cql`, so a replay builds beside the live version and a retired one is
one DROP KEYSPACE.

Versioning. Every write carries `version`, the id of the event that caused it: a Snowflake, a
positive 63-bit integer that grows with time. The adapters write every cell `USING TIMESTAMP
<version>`, so Cassandra's last-write-wins IS the projection's version guard: an older event's
write loses to a newer one whatever order they arrive in, a redelivery rewrites the same cells at
the same timestamp, and a DELETE at timestamp T hides exactly the writes of events <= T. Every
write must carry such a timestamp (a write without one, stamped in server microseconds, would
sort below every event). If Cassandra 5 timestamp guardrails (`maximum_timestamp_*`) are enabled,
they must allow Snowflake-sized timestamps.

Sorted indexes. Tables clustered by time (followers, timelines, comments of a post) need the old
row's clustering key to delete it, and a removal event does not carry it (an unfollow carries the
unfollow's time, a post deletion none). Each such index therefore has a state table keyed by the
member (`present` and its sort time, each cell with its write timestamp): the writer reads the
member's state, merges the write into it exactly as Cassandra will (`Membership.merge`), moves the
sorted row (`moves`), then writes the state. Writes to one member run one after the other.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Generic, TypeVar

from cassandra import ConsistencyLevel
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy
from cassandra.query import dict_factory

T = TypeVar("T")
Row = dict[str, Any]

DEFAULT_PREFIX = "photofeed"
DEFAULT_PORT = 9042
MAX_IN_FLIGHT = 128  # concurrent requests per store; the driver queues the rest per connection
REQUEST_TIMEOUT_S = 10.0
DDL_TIMEOUT_S = 120.0  # CREATE/DROP wait for schema agreement across the cluster
MAX_TIMESTAMP = (1 << 63) - 1  # Long.MAX_VALUE; Long.MIN_VALUE means "no timestamp" to Cassandra
_KEYSPACE = re.compile(r"[a-z][a-z0-9_]{0,47}")  # unquoted, lower case, <= 48 characters
_COMMENT = re.compile(r"--[^\n]*")


# --- versions, names, schema text -------------------------------------------------------------
def write_timestamp(version: int) -> int:
    """The write timestamp of a write of `version` (an event id): the id itself, which is
    time-ordered and unique, so last-write-wins orders writes as the events are ordered."""
    if not 0 < version < MAX_TIMESTAMP:
        raise ValueError(f"not a usable write timestamp (a positive 63-bit event id): {version}")
    return version


def keyspace_name(group: str, version: int, prefix: str = DEFAULT_PREFIX) -> str:
    """`<prefix>_<group>_v<version>`, e.g. photofeed_graph_v3."""
    name = f"{prefix}_{group}_v{version}"
    if version < 0 or not _KEYSPACE.fullmatch(name):
        raise ValueError(f"not a valid keyspace name: {name!r}")
    return name


def schema_text(schema: str) -> str:
    """The text of `infra/cassandra/<schema>` (a .cql file with {keyspace}/{replication})."""
    return (resources.files("infra") / "cassandra" / schema).read_text("utf-8")


def schema_statements(text: str, keyspace: str, replication: int) -> list[str]:
    """The CQL statements of a schema file, comments removed, placeholders substituted."""
    if not _KEYSPACE.fullmatch(keyspace) or replication < 1:
        raise ValueError(f"bad keyspace or replication: {keyspace!r}, {replication}")
    body = _COMMENT.sub("", text)
    body = body.replace("{keyspace}", keyspace).replace("{replication}", str(replication))
    return [" ".join(s.split()) for s in body.split(";") if s.strip()]


@dataclass(frozen=True, slots=True)
class TableSchema:
    """A table as its CREATE TABLE statement declares it."""

    name: str
    columns: dict[str, str]  # name -> CQL type
    partition: tuple[str, ...]
    clustering: tuple[tuple[str, str], ...]  # (column, ASC | DESC), in key order
    ttl_s: int | None

    @property
    def key(self) -> tuple[str, ...]:
        return (*self.partition, *(c for c, _ in self.clustering))


_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS \w+\.(\w+) \((.*?)\)(?: WITH (.*))?$", re.I)
_PRIMARY = re.compile(r"PRIMARY KEY \(\((.*?)\)(?:, (.*))?\)$", re.I)


def parse_tables(statements: Iterable[str]) -> dict[str, TableSchema]:
    """Tables of a schema's statements (as `schema_statements` returns them)."""
    tables: dict[str, TableSchema] = {}
    for stmt in statements:
        m = _TABLE.match(stmt)
        if m is None:
            continue
        name, body, options = m.group(1), m.group(2), m.group(3) or ""
        columns: dict[str, str] = {}
        partition: tuple[str, ...] = ()
        clustering_cols: tuple[str, ...] = ()
        for part in _split_top_level(body):
            pk = _PRIMARY.match(part)
            if pk is not None:
                partition = tuple(c.strip() for c in pk.group(1).split(","))
                rest = pk.group(2) or ""
                clustering_cols = tuple(c.strip() for c in rest.split(",") if c.strip())
            else:
                column, _, kind = part.partition(" ")
                columns[column] = kind.strip()
        order = dict.fromkeys(clustering_cols, "ASC")
        if (o := re.search(r"CLUSTERING ORDER BY \((.*?)\)", options, re.I)) is not None:
            for item in o.group(1).split(","):
                column, _, direction = item.strip().partition(" ")
                order[column] = direction.upper() or "ASC"
        ttl = re.search(r"default_time_to_live = (\d+)", options)
        tables[name] = TableSchema(
            name, columns, partition, tuple((c, order[c]) for c in clustering_cols),
            int(ttl.group(1)) if ttl else None,
        )  # fmt: skip
    return tables


def _split_top_level(body: str) -> list[str]:
    """Split a column list on the commas outside parentheses and angle brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        if ch in "(<":
            depth += 1
        elif ch in ")>":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(body[start:i].strip())
            start = i + 1
    parts.append(body[start:].strip())
    return [p for p in parts if p]


# --- sorted indexes -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Cell(Generic[T]):
    """A stored value and its write timestamp."""

    value: T
    ts: int


@dataclass(frozen=True, slots=True)
class Membership:
    """The state of one member of a sorted index: whether it is in (`present`) and the time it
    sorts at (`ms`, written only when it joins), each as Cassandra stores the cell."""

    present: Cell[bool] | None = None
    ms: Cell[int] | None = None

    @property
    def row(self) -> int | None:
        """The clustering time of the member's row in the sorted table; None: no row."""
        if self.present is None or not self.present.value or self.ms is None:
            return None
        return self.ms.value

    def merge(self, present: bool, ms: int | None, ts: int) -> Membership:
        """The state after writing `present` (and `ms`, when given) at timestamp `ts`, resolved
        cell by cell as Cassandra does: the larger timestamp wins; an equal one is the same event
        again (same values)."""
        keep = self.present is not None and self.present.ts > ts
        new_present = self.present if keep else Cell(present, ts)
        new_ms = self.ms
        if ms is not None and (new_ms is None or new_ms.ts <= ts):
            new_ms = Cell(ms, ts)
        return Membership(new_present, new_ms)


def moves(before: Membership, after: Membership) -> tuple[int | None, int | None]:
    """(time of the row to delete, time of the row to insert) in the sorted table when a write
    takes the state from `before` to `after`; both at the write's timestamp, which is newer than
    that of the write that inserted the old row. An unchanged state (an older or redelivered
    write) moves nothing. The two rows differ, so they may change in any order, but before the
    state is written: a write interrupted half way is redone whole by its redelivery."""
    if after == before:
        return None, None
    old, new = before.row, after.row
    return (old if old is not None and old != new else None), new


def membership(row: Row | None, present: str, ms: str, negate: bool = False) -> Membership:
    """A Membership from a state row selected with `<col>` and `<col>_ts` (its WRITETIME);
    `negate` when the stored flag says the opposite (`deleted`)."""
    if row is None:
        return Membership()
    flag, ms_value = row.get(present), row.get(ms)
    return Membership(
        None if flag is None else Cell(bool(flag) != negate, int(row[f"{present}_ts"])),
        None if ms_value is None else Cell(int(ms_value), int(row[f"{ms}_ts"])),
    )


# --- the session ----------------------------------------------------------------------------------
def parse_hosts(hosts: str) -> list[str]:
    """Contact points of a comma-separated host list."""
    out = [h.strip() for h in hosts.split(",") if h.strip()]
    if not out:
        raise ValueError("no Cassandra hosts given")
    return out


def new_cluster(hosts: str, port: int | None = None) -> Any:
    """A Cluster (not yet connected): token-aware, LOCAL_QUORUM, rows as dicts."""
    profile = ExecutionProfile(
        load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy()),
        consistency_level=ConsistencyLevel.LOCAL_QUORUM,
        request_timeout=REQUEST_TIMEOUT_S,
        row_factory=dict_factory,
    )
    return Cluster(
        contact_points=parse_hosts(hosts),
        port=port or DEFAULT_PORT,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
    )


class _Pager:
    """The asyncio side of one driver ResponseFuture: a future per page of rows. The driver calls
    back on its I/O thread (or at once, when the page is already there); call_soon_threadsafe
    hands the page to the event loop."""

    def __init__(self, response: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._response = response
        self._loop = loop
        self._waiter: asyncio.Future[list[Row]] = loop.create_future()
        response.add_callbacks(self._on_page, self._on_error)

    def _on_page(self, rows: Any) -> None:
        self._loop.call_soon_threadsafe(self._settle, rows, None)

    def _on_error(self, exc: BaseException) -> None:
        self._loop.call_soon_threadsafe(self._settle, None, exc)

    def _settle(self, rows: Any, exc: BaseException | None) -> None:
        if self._waiter.done():  # cancelled by the caller
            return
        if exc is not None:
            self._waiter.set_exception(exc)
        else:
            self._waiter.set_result(list(rows or ()))

    async def page(self) -> list[Row]:
        return await self._waiter

    @property
    def more(self) -> bool:
        return bool(self._response.has_more_pages)

    def fetch_next(self) -> None:
        self._waiter = self._loop.create_future()
        self._response.start_fetching_next_page()


class CassandraStore:
    """A connected session shared by every keyspace, its prepared statements, and the bridge from
    the driver's futures to asyncio. Statements name their keyspace (`ks.table`)."""

    def __init__(self, cluster: Any, session: Any, max_in_flight: int = MAX_IN_FLIGHT) -> None:
        self.cluster = cluster
        self.session = session
        self._prepared: dict[str, Any] = {}
        self._slots = asyncio.Semaphore(max_in_flight)

    @classmethod
    async def connect(cls, hosts: str, port: int | None = None) -> CassandraStore:
        cluster = new_cluster(hosts, port)
        try:
            session = await asyncio.to_thread(cluster.connect)
        except BaseException:
            await asyncio.to_thread(cluster.shutdown)  # its threads would outlive the failure
            raise
        return cls(cluster, session)

    async def close(self) -> None:
        await asyncio.to_thread(self.cluster.shutdown)

    async def prepared(self, cql: str) -> Any:
        """The prepared statement of `cql`, prepared once per store (on every node)."""
        if cql not in self._prepared:
            stmt = await asyncio.to_thread(self.session.prepare, cql)
            stmt.is_idempotent = True  # every statement here may be retried as is
            self._prepared[cql] = stmt
        return self._prepared[cql]

    async def pages(self, cql: str, params: Sequence[Any] = ()) -> AsyncIterator[list[Row]]:
        """The rows of a prepared statement, page by page (the driver's fetch size)."""
        stmt = await self.prepared(cql)
        loop = asyncio.get_running_loop()
        pager: _Pager | None = None
        while True:
            async with self._slots:
                if pager is None:
                    pager = _Pager(self.session.execute_async(stmt, tuple(params)), loop)
                else:
                    pager.fetch_next()
                rows = await pager.page()
            yield rows
            if not pager.more:
                return

    async def execute(self, cql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Every row of a prepared statement (none for a write)."""
        out: list[Row] = []
        async for page in self.pages(cql, params):
            out.extend(page)
        return out

    async def one(self, cql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = await self.execute(cql, params)
        return rows[0] if rows else None

    async def run(self, statements: Iterable[tuple[str, Sequence[Any]]]) -> None:
        """Independent statements, concurrently (not a BATCH: they span partitions)."""
        await asyncio.gather(*(self.execute(cql, params) for cql, params in statements))

    async def ddl(self, cql: str) -> None:
        """A schema statement (unprepared; waits for schema agreement)."""
        await asyncio.to_thread(self.session.execute, cql, timeout=DDL_TIMEOUT_S)


async def in_order(chains: Iterable[Sequence[Any]], step: Any) -> None:
    """Run `step` over each chain's items one after the other, the chains concurrently."""

    async def chain(items: Sequence[Any]) -> None:
        for item in items:
            await step(item)

    await asyncio.gather(*(chain(c) for c in chains))


# --- whole versions -------------------------------------------------------------------------------
Statement = tuple[str, Sequence[Any]]  # CQL text and its parameters


class KeyspaceAdapter:
    """One version of a projection group in Cassandra: one keyspace. Cheap to build per request;
    statement templates name their tables `{ks}.table`."""

    def __init__(self, store: CassandraStore, keyspace: str) -> None:
        self._s = store
        self.keyspace = keyspace

    def _q(self, template: str) -> str:
        return template.replace("{ks}", self.keyspace)

    async def _by_id(
        self, template: str, ids: Sequence[int], view: Callable[[int, Row | None], T | None]
    ) -> dict[int, T]:
        """Point reads of one row per id, concurrently; ids whose row `view` rejects are absent."""
        rows = await asyncio.gather(*(self._s.one(self._q(template), (i,)) for i in ids))
        found = ((i, view(i, row)) for i, row in zip(ids, rows, strict=True))
        return {i: v for i, v in found if v is not None}

    async def _move(
        self,
        before: Membership,
        present: bool,
        at_ms: int,
        ts: int,
        deletes: Callable[[int], list[Statement]],
        inserts: Callable[[int], list[Statement]],
    ) -> bool:
        """Apply one membership write to its time-sorted rows: merge it into `before` as Cassandra
        will, delete the row at the old time and insert the one at the new time. False (nothing
        written) for an older or redelivered write. The caller writes the state row last, so an
        interrupted write is redone whole on redelivery."""
        after = before.merge(present, at_ms if present else None, ts)
        if after == before:
            return False
        old, new = moves(before, after)
        rows = (deletes(old) if old is not None else []) + (inserts(new) if new is not None else [])
        await self._s.run(rows)  # distinct rows (old != new): no order among them
        return True


class CassandraVersions:
    """Versions of one projection group, a keyspace each: create, compare, drop (the shape of
    RedisVersionAdmin)."""

    def __init__(
        self,
        store: CassandraStore,
        group: str,
        schema: str,
        replication: int = 1,
        prefix: str = DEFAULT_PREFIX,
    ) -> None:
        self._store = store
        self.group = group
        self.schema = schema
        self.replication = replication
        self.prefix = prefix

    def keyspace(self, version: int) -> str:
        return keyspace_name(self.group, version, self.prefix)

    def statements(self, version: int) -> list[str]:
        return schema_statements(schema_text(self.schema), self.keyspace(version), self.replication)

    def tables(self) -> dict[str, TableSchema]:
        return parse_tables(self.statements(0))

    async def prepare(self, version: int) -> str:
        """Create the version's keyspace and tables (idempotent); return the keyspace."""
        for stmt in self.statements(version):
            await self._store.ddl(stmt)
        return self.keyspace(version)

    async def activate(self, version: int) -> None:
        """Nothing to do: readers follow the active-version pointer."""

    async def drop(self, version: int) -> int:
        """DROP the version's keyspace; return how many tables it had."""
        keyspace = self.keyspace(version)
        meta = self._store.cluster.metadata.keyspaces.get(keyspace)
        await self._store.ddl(f"DROP KEYSPACE IF EXISTS {keyspace}")
        return len(meta.tables) if meta is not None else 0

    async def digests(self, version: int, table: TableSchema) -> dict[str, str]:
        """primary key -> digest of the row, for every row of one table (a full scan)."""
        out: dict[str, str] = {}
        cql = f"SELECT * FROM {self.keyspace(version)}.{table.name}"
        async for page in self._store.pages(cql):
            for row in page:
                key = repr(tuple(row[c] for c in table.key))
                out[key] = hashlib.blake2b(
                    repr(sorted(row.items())).encode(), digest_size=16
                ).hexdigest()
        return out

    async def diff(self, a: int, b: int, limit: int = 20) -> tuple[int, list[str]]:
        """How many rows differ between versions a and b, and up to `limit` of them
        (`table:(primary key)`), comparing every table row by row."""
        differing: list[str] = []
        for table in self.tables().values():
            da, db = await self.digests(a, table), await self.digests(b, table)
            keys = sorted(k for k in da.keys() | db.keys() if da.get(k) != db.get(k))
            differing += [f"{table.name}:{k}" for k in keys]
        return len(differing), differing[:limit]
