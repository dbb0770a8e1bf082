"""Redis key names of the worker's own state: each store's key scheme is one class here, the
only place its keys are spelled (the projections' are in `projections/<group>/keys.py`, the
gateway's in gateway/keys.py).

None of these is a projection: they are not versioned, and a replay neither reads nor rebuilds
them (the celebrity marker only keeps workers from appending a flag twice; the log keeps the
flag itself).
"""

from __future__ import annotations


class ErasureKeys:
    """streams/erasure.py: one record per erased user."""

    @staticmethod
    def record(user_id: int) -> str:
        """Hash: `requested`, `facts` (JSON), and each step's receipt."""
        return f"erasure:{{{user_id}}}"

    PENDING = "erasure:pending"  # zset: user id -> when the request was recorded (ms)

    @staticmethod
    def lease(user_id: int) -> str:
        """String with a TTL: the token of the worker running the user's erasure."""
        return f"erasure:{{{user_id}}}:lease"


class BlocklistKeys:
    """streams/blocklist.py: the perceptual hashes moderators blocked (command side)."""

    ENTRIES = "moderation:blocklist"  # hash: signed 64-bit phash -> moderator's note


class CelebrityKeys:
    """streams/celebrity.py: which authors a worker already flagged celebrity."""

    @staticmethod
    def flagged(user_id: int) -> str:
        """String, set once (NX): the first worker to set it appends the flag."""
        return f"celebrity:flagged:{user_id}"


class DeadLetterKeys:
    """streams/deadletter_admin.py: what an operator did with each dead letter."""

    RESOLVED = "deadletters:resolved"  # hash: letter id -> "redriven <ms>" | "purged <ms>"
