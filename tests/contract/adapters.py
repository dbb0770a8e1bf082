"""The adapters each contract suite runs against. Embedded ones always run; a scale-out adapter
runs when its server is configured and is skipped, with the reason, when it is not."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from projections.search.ports import SearchIndex
from projections.search.sqlite import SqliteSearchVersions

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
