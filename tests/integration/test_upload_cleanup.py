"""Abandoned uploads are removed from object storage; completed ones are kept."""

from __future__ import annotations

import uuid

import pytest

from infra.settings import Settings
from infra.stack import Stack
from photofeed.bootstrap import s3_store
from schemas.media import original_key
from streams.upload_cleanup import clean_abandoned_uploads

pytestmark = pytest.mark.stack


async def test_cleanup_aborts_multipart_and_deletes_orphans_only(
    stack: Stack, settings: Settings
) -> None:
    store = s3_store(settings)
    store.ensure_bucket()
    owner = uuid.uuid4().int % 10**9
    orphan, kept, multi = 1001, 1002, 1003
    await store.put(original_key(owner, orphan), b"never completed", 15, "image/jpeg")
    await store.put(original_key(owner, kept), b"completed upload", 16, "image/jpeg")
    upload_id = await store.start_multipart(original_key(owner, multi), "image/jpeg")

    async def known(photo_id: int) -> bool:
        return photo_id == kept

    report = await clean_abandoned_uploads(store, known, older_than_s=0)
    assert report.deleted_originals >= 1
    assert await store.stat(original_key(owner, orphan)) is None
    assert await store.stat(original_key(owner, kept)) is not None
    pending = await store.pending_multipart(original_key(owner, multi))
    assert upload_id not in {p.upload_id for p in pending}
    assert report.aborted_multipart >= 1
