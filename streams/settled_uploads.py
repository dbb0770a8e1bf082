"""The media agent's log: remembers where the events that settled an upload were stored.

A client polls GET /photos/{id}/status until its upload is published or rejected; the media
agent, not the gateway, appends those events, so no write answer could carry their position.
This log keeps their position token per photo (projections/backends/positions.py) right after the
append; the status route hands it out, and the client's next reads (its feed, its profile)
wait until the post is visible there too (gateway/consistency.py).

The token is stored after the append returns, while the photos projection needs a fetch and a
batch to show `published`, so it is practically always there first; a status read that wins
that race answers without a token, and the client's next read is then not held for the post.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from infra.event_log import EventLog
from infra.positions import LogPosition, encode_token
from projections.backends.positions import RedisSettledUploads
from schemas import events as ev
from schemas.media import avatar_upload_of

log = structlog.get_logger("photofeed.worker")


class SettledUploadsLog:
    """Appends like `log`; for an append that settles an upload (PostPublished, an avatar's
    UserAvatarChanged, or PhotoRejected), then stores the token of everything appended with it
    under the photo id. Failing to store it is logged, never raised: the events are in the
    log, and a status without a token only means the client's next read may not wait for the
    post."""

    def __init__(self, log: EventLog, settled: RedisSettledUploads) -> None:
        self._log = log
        self._settled = settled

    async def append(self, *events: ev.Event) -> Sequence[LogPosition]:
        positions = await self._log.append(*events)
        photos = {e.photo_id for e in events if isinstance(e, ev.PostPublished | ev.PhotoRejected)}
        photos |= {avatar_upload_of(e.avatar_keys[0]) or 0 for e in events
                   if isinstance(e, ev.UserAvatarChanged) and e.avatar_keys} - {0}  # fmt: skip
        for photo_id in sorted(photos):
            try:
                await self._settled.remember(photo_id, encode_token(positions))
            except Exception as exc:  # Valkey down: the upload is settled all the same
                log.warning("settled_position_not_kept", photo_id=photo_id, error=repr(exc)[:200])
        return positions
