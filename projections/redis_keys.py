"""The one module that owns Redis key names (as Mastodon's FeedManager owns its feed keys).

Keys of one user share the hash tag `{<user_id>}` so a Lua script touching several of them stays
on one slot of a Redis Cluster. Projection keys start with the projection group and version
(`graph.v2:`) so a replay builds beside the live version and the swap is one pointer change.
"""

from __future__ import annotations

from collections.abc import Callable

ACTIVE_VERSIONS = "projections:active"  # hash: group -> version that serves reads
BUILDING_VERSIONS = "projections:building"  # hash: group -> version a replay is filling
VERSION_SEQUENCE = "projections:next"  # hash: group -> last version number handed out


def applied_offsets(group: str) -> str:
    """Hash "<topic>:<partition>" -> the next offset `group` has applied there (only grows;
    unversioned: live agents write every version of a group). Read-your-writes waits on it."""
    return f"projections:applied:{group}"


def settled_upload(photo_id: int) -> str:
    """String: the position token of the events that settled an upload (published or
    rejected), kept a day for GET /photos/{id}/status to hand out."""
    return f"photos:settled:{{{photo_id}}}"


def template(key_of: Callable[[int], str]) -> str:
    """A key scheme as a `string.format` template for Lua (`%s` where the id goes), so a script
    that derives keys from the ids it reads still spells no key name itself."""
    return key_of(_ID).replace(str(_ID), "%s")


_ID = 987654321987654321  # a placeholder id no key prefix contains


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


class PhotoKeys:
    """Keys of the photos projection group (upload status, content-addressed media) at a version."""

    def __init__(self, version: int) -> None:
        self.prefix = f"photos.v{version}"

    def photo(self, photo_id: int) -> str:
        return f"{self.prefix}:p:{{{photo_id}}}"  # hash: owner, status, variants, size, reason, _v

    def content(self, sha256: str) -> str:
        return f"{self.prefix}:c:{{{sha256}}}"  # hash: variants, width, height, blurhash, phash

    def content_refs(self, sha256: str) -> str:
        return f"{self.content_prefix()}{{{sha256}}}:refs"  # set of photo ids using the variants

    def owned(self, owner_id: int) -> str:
        return f"{self.prefix}:u:{{{owner_id}}}:photos"  # set of the owner's photo ids

    def content_prefix(self) -> str:
        return f"{self.prefix}:c:"  # RELEASE_PHOTOS appends {sha256}:refs


class FeedKeys:
    """Keys of the feeds projection group: posts, author timelines, home feeds, celebrities."""

    # key suffixes of caches whose content depends on timing (home feeds, deep scroll's merge): a
    # replay rebuilds or drops them but does not compare them with the live version's
    CACHE_SUFFIXES = (":feed", ":frontier", ":deep", ":deep:meta")

    def __init__(self, version: int) -> None:
        self.prefix = f"feeds.v{version}"

    def post(self, post_id: int) -> str:
        return f"{self.prefix}:p:{{{post_id}}}"  # hash: author_id, caption, tags, variants, ..., _v

    def timeline(self, author_id: int) -> str:
        return f"{self.prefix}:u:{{{author_id}}}:timeline"  # zset post_id -> published ms

    def timeline_versions(self, author_id: int) -> str:
        return f"{self.prefix}:u:{{{author_id}}}:timeline:v"  # hash post_id -> last version

    def feed(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:feed"  # zset post_id -> published ms, <= MAX_FEED

    def feed_trimmed(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:feed:trimmed"  # set once the feed lost history

    def celebrities(self) -> str:
        return f"{self.prefix}:celebrities"  # set of user ids whose posts are pulled

    def frontier(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:frontier"  # zset: each author's next post

    def deep_meta(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:deep:meta"  # hash: start, end, done (a cache)

    def deep(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:deep"  # zset: merged history past the feed


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

    def group_prefix(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:g:"  # + group: zset actor -> ms, newest few

    def written(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:comments"  # hash comment_id -> post_id|author_id

    def follow_notices(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:follows:v"  # hash follower -> flag+version|group
