"""Redis key names of the engagement group (the only place they are spelled)."""

from __future__ import annotations


class EngagementKeys:
    """Keys of the engagement group: likes, comments, their counts and notifications.

    Likes live on the liker's side (see redis_engagement.py for why); a post keeps O(1) state for
    them. Notification keys of one recipient share the recipient's hash tag.
    """

    def __init__(self, version: int) -> None:
        self.prefix = f"engagement.v{version}"

    def liked(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:liked"  # hash post_id -> flag + version

    def post(self, post_id: int) -> str:
        return f"{self.prefix}:p:{{{post_id}}}"  # hash: likes (count), deleted

    def comments(self, post_id: int) -> str:
        return f"{self.prefix}:p:{{{post_id}}}:comments"  # zset comment_id -> created ms

    def comments_versions(self, post_id: int) -> str:
        return f"{self.prefix}:p:{{{post_id}}}:comments:v"  # hash comment_id -> last version

    def comment(self, comment_id: int) -> str:
        return f"{self.prefix}:c:{{{comment_id}}}"  # hash: post_id, commenter_id, text, ...

    def inbox(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:inbox"  # zset group -> newest activity ms

    def inbox_meta(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:inbox:meta"  # hash: <group>|n, <group>|id, read

    def bundle_prefix(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:g:"  # + group: zset actor -> ms, newest few

    def written(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:comments"  # hash comment_id -> post_id|author_id

    def follow_notices(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:follows:v"  # hash follower -> flag+version|group
