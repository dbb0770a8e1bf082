"""Redis key names of the users/graph group (the only place they are spelled)."""

from __future__ import annotations


class GraphKeys:
    """Keys of the users/graph projection group at one version."""

    def __init__(self, version: int) -> None:
        self.prefix = f"graph.v{version}"

    def user(self, user_id: int) -> str:
        # hash: username, created_ms, display_name, bio, avatar_64/150/320 (object keys),
        # avatar_url (a v1 URL), and a seq per guarded part (_v_profile, _v_avatar, _v_<field>)
        return f"{self.prefix}:u:{{{user_id}}}"

    def followers(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:followers"  # zset follower_id -> followed at ms

    def following(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:following"  # zset followee_id -> followed at ms

    def followers_versions(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:followers:v"  # hash follower_id -> last version

    def celebrities_followed(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:celebs"  # set: followed ids flagged celebrity

    def celebrities(self) -> str:
        return f"{self.prefix}:celebrities"  # set of user ids flagged celebrity

    def following_versions(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:following:v"  # hash followee_id -> last version

    # follow requests (projections/graph/requests.py), all in the owner's slot but `requested`
    def requests(self, owner_id: int) -> str:
        return f"{self.prefix}:u:{{{owner_id}}}:requests"  # zset: pending requester -> asked ms

    def request_records(self, owner_id: int) -> str:
        # hash requester -> the newest request: "seq|ms|edge seq|edge present|edge ms" (the edge
        # when it was recorded; '' parts when there was none)
        return f"{self.prefix}:u:{{{owner_id}}}:requests:v"

    def request_answers(self, owner_id: int) -> str:
        return f"{self.prefix}:u:{{{owner_id}}}:requests:answers"  # hash requester -> "seq|1/0"

    def requested(self, requester_id: int) -> str:
        return f"{self.prefix}:u:{{{requester_id}}}:requested"  # set: owners with a record of it

    def privacy(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:privacy"  # zset (lex, score 0): "seq|1/0" switches

    # blocks and mutes (projections/graph/relations.py): zsets other -> since ms, each with its
    # seq hash (other -> last seq, tombstones included), all in the user's slot; a block is
    # kept on both sides, so either user's check is a lookup in their own keys
    def blocks(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:blocks"  # whom the user blocked

    def blocks_versions(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:blocks:v"

    def blocked_by(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:blocked_by"  # who blocked the user

    def blocked_by_versions(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:blocked_by:v"

    def mutes(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:mutes"  # whom the user muted

    def mutes_versions(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:mutes:v"

    def muted_by(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:muted_by"  # who muted the user (for erasure)

    def muted_by_versions(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:muted_by:v"

    def pattern(self) -> str:
        """Glob for every key of this version (used to drop a retired version)."""
        return f"{self.prefix}:*"
