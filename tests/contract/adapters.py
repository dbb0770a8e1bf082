"""The adapters each contract suite runs against. In-memory and embedded ones always run; a
scale-out adapter runs when its server is configured and is skipped, with the reason, when it is
not. (Test modules import these names; the fixtures live in stores.py, a pytest plugin.)"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis.asyncio import Redis

from projections.backends.cassandra import CassandraStore
from projections.search.ports import SearchIndex
from projections.search.sqlite import SqliteSearchVersions

STACK = pytest.mark.stack  # needs the local stack the test session starts
CASSANDRA_HOSTS = os.environ.get("PHOTOFEED_CASSANDRA_HOSTS", "")
CASSANDRA_REPLICATION = int(os.environ.get("PHOTOFEED_CASSANDRA_REPLICATION") or 1)
NO_CASSANDRA = "no Cassandra: set PHOTOFEED_CASSANDRA_HOSTS to run"
CASSANDRA = pytest.param(
    "cassandra", marks=[STACK, pytest.mark.skipif(not CASSANDRA_HOSTS, reason=NO_CASSANDRA)]
)
STORES = [pytest.param("redis", marks=STACK), CASSANDRA]  # projection stores
WITH_MEMORY = [pytest.param("memory"), *STORES]  # ports that have an in-memory adapter too

ES_URL = os.environ.get("PHOTOFEED_ELASTICSEARCH_URL")
SEARCH_ADAPTERS = [
    "sqlite",
    pytest.param(
        "elasticsearch",
        marks=pytest.mark.skipif(
            not ES_URL, reason="no Elasticsearch: set PHOTOFEED_ELASTICSEARCH_URL to run"
        ),
    ),
]


@dataclass
class Backend:
    """The servers a test's stores live on: none (memory), the session Valkey, or a Cassandra
    cluster (with the session Valkey for the state that stays in Redis)."""

    kind: str
    redis: Redis | None = None
    cassandra: CassandraStore | None = None


def open_backend(request: pytest.FixtureRequest) -> Backend:
    """The backend of the adapter `request.param` names; only the servers it needs start."""
    kind = str(request.param)
    if kind == "memory":
        return Backend(kind)
    redis = request.getfixturevalue("redis")
    if kind == "redis":
        return Backend(kind, redis=redis)
    return Backend(kind, redis=redis, cassandra=request.getfixturevalue("cassandra_store"))


@contextlib.asynccontextmanager
async def open_search_index(kind: str, tmp: Path) -> AsyncIterator[SearchIndex]:
    """A fresh, empty index of the given adapter; removed afterwards."""
    if kind == "sqlite":
        versions = SqliteSearchVersions(tmp)
        try:
            yield versions.at(1)
        finally:
            await versions.drop(1)
        return
    from projections.search.elasticsearch import ElasticsearchVersions

    assert ES_URL is not None
    es = ElasticsearchVersions.connect(ES_URL, prefix=f"photofeed-test-{uuid.uuid4().hex[:8]}")
    try:
        index = es.at(1)
        await index.prepare()
        yield index
    finally:
        await es.drop(1)
        await es.close()
