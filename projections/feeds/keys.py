"""Redis key names of the feeds group (the only place they are spelled)."""

from __future__ import annotations


class FeedKeys:
    """Keys of the feeds projection group: posts, author and tag timelines, home feeds,
    celebrities."""

    # key suffixes of caches whose content depends on timing (home feeds, deep scroll's merge): a
    # replay rebuilds or drops them but does not compare them with the live version's
    CACHE_SUFFIXES = (
        ":feed",
        ":frontier",
        ":deep",
        ":deep:meta",
        ":timeline:stamp",
        ":pull",
        ":pull:meta",
    )

    def __init__(self, version: int) -> None:
        self.prefix = f"feeds.v{version}"

    def post(self, post_id: int) -> str:
        return f"{self.prefix}:p:{{{post_id}}}"  # hash: author_id, caption, tags, variants, ..., _v

    def timeline(self, author_id: int) -> str:
        return f"{self.prefix}:u:{{{author_id}}}:timeline"  # zset post_id -> published ms

    def timeline_stamp(self, author_id: int) -> str:
        # string "<changes>.<backdated>": counts of the timeline's writes and of its rows written
        # below its newest (feeds.lua bump_stamps); a viewer's pull cache compares them
        return f"{self.prefix}:u:{{{author_id}}}:timeline:stamp"

    def timeline_versions(self, author_id: int) -> str:
        return f"{self.prefix}:u:{{{author_id}}}:timeline:v"  # hash post_id -> last version

    def feed(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:feed"  # zset post_id -> published ms, <= MAX_FEED

    def feed_trimmed(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:feed:trimmed"  # set once the feed lost history

    def post_tags(self, post_id: int) -> str:
        return f"{self.prefix}:p:{{{post_id}}}:tags"  # hash: tags (space-separated), _v

    def tag(self, tag: str) -> str:
        return f"{self.prefix}:t:{{{tag}}}"  # zset post_id -> published ms (a normalised tag)

    def celebrities(self) -> str:
        return f"{self.prefix}:celebrities"  # set of user ids whose posts are pulled

    def frontier(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:frontier"  # zset: each author's next post

    def deep_meta(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:deep:meta"  # hash: start, end, done (a cache)

    def deep(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:deep"  # zset: merged history past the feed

    def pull(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:pull"  # zset: followed celebrities' merge (a cache)

    def pull_meta(self, user_id: int) -> str:
        return f"{self.prefix}:u:{{{user_id}}}:pull:meta"  # hash: celebrity -> stamp merged, -floor
