"""The gateway's event log: seals personal data with its owner's key before appending."""

from __future__ import annotations

from collections.abc import Sequence

from infra.event_log import EventLog
from infra.keystore import RedisKeyStore
from infra.positions import LogPosition
from schemas.events import Event
from schemas.sealing import has_personal_data, seal_event


class SealingLog:
    """Appends like `log`, with every personal field sealed (schemas/sealing.py). Raises the key
    store's ErasedUser for an erased actor: nothing new is ever written about them."""

    def __init__(self, log: EventLog, keys: RedisKeyStore) -> None:
        self._log = log
        self._keys = keys

    async def append(self, *events: Event) -> Sequence[LogPosition]:
        sealed = [
            seal_event(e, await self._keys.key_for(e.actor_id)) if has_personal_data(e) else e
            for e in events
        ]
        return await self._log.append(*sealed)
