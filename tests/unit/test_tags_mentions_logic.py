"""The pure parts of tags and mentions in the projections: what the feeds, engagement and search
handlers write for a post's tags and a text's mentions, whom they notify (never the author,
never an erased user), the notification groups, and the Cassandra rows."""

from __future__ import annotations

from datetime import UTC, datetime

from projections.engagement.cassandra import comment_view, mention_rows
from projections.engagement.logic import (
    mention_bundle,
    notice_recipients,
    parse_bundle,
    without_notices_to,
)
from projections.feeds.logic import FeedFacts, feed_writes, post_view
from projections.groups import writes_for
from projections.search.logic import parse_query
from projections.writes import IndexPost, PostGone, PostMentions, PutPost, SetComment, SetPostTags
from schemas import events as ev

AT = datetime(2026, 3, 1, 12, tzinfo=UTC)
AT_MS = 1_772_366_400_000
AUTHOR, ANA, BOB = 11, 21, 22


def post(caption: str, tags: tuple[str, ...], *mentions: ev.Mention) -> ev.PostPublished:
    return ev.PostPublished(
        event_id=5, occurred_at=AT, actor_id=AUTHOR, post_id=77, photo_id=77, caption=caption,
        tags=tags, variants=ev.Variants("t", "f", "u"), width=1, height=1, blurhash="",
        mentions=mentions,
    )  # fmt: skip


def comment(text: str, *mentions: ev.Mention, by: int = ANA) -> ev.CommentAdded:
    return ev.CommentAdded(event_id=9, occurred_at=AT, actor_id=by, comment_id=90, post_id=77,
                           author_id=AUTHOR, text=text, mentions=mentions)  # fmt: skip


CAPTION_TEXT = "hi @Ana and @bob, me @auth"  # @Ana at 3..7, @bob at 12..16, @auth at 21..26
CAPTION_MENTIONS = (ev.Mention(ANA, 3, 7), ev.Mention(BOB, 12, 16), ev.Mention(AUTHOR, 21, 26))


def test_a_post_joins_its_normalised_tags_and_leaves_them_when_deleted() -> None:
    writes = feed_writes([post("x", ("Sea", "CAFÉ", "sea", "bad tag"))], FeedFacts())
    [tags] = [w for w in writes if isinstance(w, SetPostTags)]
    assert tags == SetPostTags(77, ("sea", "café"), AT_MS, True, 5)
    [put] = [w for w in writes if isinstance(w, PutPost)]
    assert dict(put.fields)["tags"] == "sea café"
    assert '"tags":["sea","café"]' in dict(put.fields)["card"]
    gone = ev.PostDeleted(event_id=6, occurred_at=AT, actor_id=AUTHOR, post_id=77)
    assert SetPostTags(77, (), 0, False, 6) in feed_writes([gone], FeedFacts())


def test_a_posts_mentions_are_kept_with_it_and_read_back() -> None:
    [put] = [w for w in feed_writes([post(CAPTION_TEXT, (), *CAPTION_MENTIONS)], FeedFacts())
             if isinstance(w, PutPost)]  # fmt: skip
    view = post_view(77, dict(put.fields))
    assert view is not None
    assert [(m.user_id, m.username, m.start, m.end) for m in view.mentions] == [
        (ANA, "Ana", 3, 7), (BOB, "bob", 12, 16), (AUTHOR, "auth", 21, 26),
    ]  # fmt: skip
    [bare] = [w for w in feed_writes([post("x", ())], FeedFacts()) if isinstance(w, PutPost)]
    assert dict(bare.fields)["mentions"] == ""  # none: the field is cleared


def test_a_caption_mention_notifies_everyone_it_names_but_the_author_once() -> None:
    writes = writes_for("engagement", [post(CAPTION_TEXT, (), *CAPTION_MENTIONS)])
    assert writes == [PostMentions(77, AUTHOR, AT_MS, (ANA, BOB), (ANA, BOB), 5)]
    assert writes_for("engagement", [post("hi @auth", (), ev.Mention(AUTHOR, 3, 8))]) == []
    assert writes_for("engagement", [post("no mentions", ())]) == []
    # offsets that frame no @name of the text are not trusted
    assert writes_for("engagement", [post("plain", (), ev.Mention(ANA, 0, 3))]) == []
    assert writes_for("engagement", [post("@x y", (), ev.Mention(ANA, 0, 4))]) == []


def test_a_comment_keeps_its_mentions_and_tells_those_it_names() -> None:
    [w] = writes_for("engagement", [comment("@bob and @Ana", ev.Mention(BOB, 0, 4),
                                            ev.Mention(ANA, 9, 13))])  # fmt: skip
    assert isinstance(w, SetComment)
    assert w.notify_mentions == (BOB,)  # Ana wrote it
    assert '"username":"Ana"' in w.mentions
    assert '"username":"bob"' in w.mentions
    deleted = ev.CommentDeleted(event_id=10, occurred_at=AT, actor_id=AUTHOR, comment_id=90,
                                post_id=77, author_id=AUTHOR, commenter_id=ANA)  # fmt: skip
    [d] = writes_for("engagement", [deleted])
    assert isinstance(d, SetComment)
    assert (d.present, d.mentions, d.notify_mentions) == (False, "", ())  # the store retracts


def test_erased_users_are_told_nothing_but_stay_mentioned() -> None:
    writes = writes_for("engagement", [
        post(CAPTION_TEXT, (), *CAPTION_MENTIONS),
        comment("@bob", ev.Mention(BOB, 0, 4)),
        ev.PostDeleted(event_id=7, occurred_at=AT, actor_id=AUTHOR, post_id=77),
    ])  # fmt: skip
    assert notice_recipients(writes) == {ANA, BOB, AUTHOR}  # the comment notifies the author
    kept = without_notices_to({BOB, AUTHOR}, writes)
    assert kept[0] == PostMentions(77, AUTHOR, AT_MS, (ANA, BOB), (ANA,), 5)
    told, written = kept[1], writes[1]
    assert isinstance(told, SetComment)
    assert isinstance(written, SetComment)
    assert (told.notify, told.notify_mentions) == (False, ())
    assert told.mentions == written.mentions  # the text still names Bob
    assert isinstance(kept[2], PostGone)
    assert without_notices_to(set(), writes) == writes


def test_mention_groups_name_the_post_and_the_comment() -> None:
    assert mention_bundle(77) == "mention:77"
    assert mention_bundle(77, 90) == "mention:77:90"
    assert parse_bundle("mention:77") == ("mention", 77, None)
    assert parse_bundle("mention:77:90") == ("mention", 77, 90)
    assert parse_bundle("comment:77:90") == ("comment", 77, 90)


def test_search_indexes_normalised_tags_and_a_hashtag_query_matches_them() -> None:
    [index] = writes_for("search", [post("x", ("Sea", "CAFÉ"))])
    assert isinstance(index, IndexPost)
    assert index.tags == ("sea", "café")
    assert parse_query("#SEA").tags == ("sea",)
    assert parse_query("#Café #CAFE\u0301 beach").tags == ("café",)
    assert parse_query("#Café #CAFE\u0301 beach").words == ("beach",)
    q = parse_query("x#y @ana")  # inside a word: no tag, as in a caption
    assert (q.tags, q.words, q.users) == ((), ("x", "y"), ("ana",))


def test_cassandra_rows_of_a_mention() -> None:
    assert mention_rows(77, None, AUTHOR, (ANA,), AT_MS, 5) == [
        (ANA, 77, "mention:77", AUTHOR, 5, AT_MS)
    ]
    assert mention_rows(77, 90, ANA, (BOB,), AT_MS, 9) == [
        (BOB, 77, "mention:77:90", ANA, 9, AT_MS)
    ]
    [w] = writes_for("engagement", [comment("@bob", ev.Mention(BOB, 0, 4))])
    assert isinstance(w, SetComment)
    row = {"post_id": 77, "commenter_id": ANA, "body": "@bob", "created_ms": AT_MS,
           "deleted": False, "mentions": w.mentions}  # fmt: skip
    view = comment_view(90, row)
    assert view is not None
    assert [(m.user_id, m.username) for m in view.mentions] == [(BOB, "bob")]
