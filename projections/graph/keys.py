"""Redis key names of the users/graph group (the only place they are spelled)."""

from __future__ import annotations


class GraphKeys:
    """Keys of the users/graph projection group at one version."""

    def __init__(self, version: int) -> None:
        self.prefix = f"graph.v{version}"

    def user(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}"  # hash: username, avatar_url, created_ms, _v

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

    def pattern(self) -> str:
        """Glob for every key of this version (used to drop a retired version)."""
        return f"{self.prefix}:*"
