"""Hashtags and mentions in user text (projections/text.py): properties over generated text, and
the examples the API documents."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from gateway.validation import TAG, TAG_INPUT, USERNAME
from projections.text import (
    MAX_MENTIONS,
    MAX_TAG_CHARS,
    MAX_TAGS,
    fold_tag,
    framed,
    hashtag_spans,
    hashtags,
    is_username,
    mention_entries,
    mention_spans,
    mentioned_users,
    merge_tags,
    normalise_tag,
    parse_mentions,
)

WORD = re.compile(r"\w")


def joins(c: str) -> bool:
    return bool(WORD.match(c)) or unicodedata.category(c).startswith("M")


word_chars = st.characters(categories=["L", "N"]) | st.just("_")
raw_tags = st.text(word_chars, min_size=1, max_size=MAX_TAG_CHARS)
names = st.from_regex(USERNAME, fullmatch=True)
# text made of the characters that matter here, so tags and mentions turn up often
texts = st.text(st.sampled_from("#@._ aAbZ9éİß\u0301\u0663&/-!\n") | st.characters(), max_size=80)


# --- hashtags ------------------------------------------------------------------------------------
def test_the_documented_examples() -> None:
    assert hashtags("sunset #Sea #sea") == ("sea",)
    assert hashtags("#Café #CAFÉ #cafe\u0301") == ("café",)  # composed or not, any case
    assert hashtags("\uff03\uff46\uff55\uff4c\uff4c width") == ("full",)  # full-width, NFKC
    assert hashtags("#İstanbul") == ("istanbul",)  # the dot above folds away
    assert hashtags("#ab\u0301 #¼") == ("ab", "14")  # a mark with nothing to compose with
    assert hashtags("#straße #STRASSE") == ("strasse",)
    assert hashtags("(#ok), #end.") == ("ok", "end")


def test_a_hash_inside_a_word_a_url_or_an_entity_is_text() -> None:
    assert hashtags("x#y a1#b _#c") == ()
    assert hashtags("see http://example.com/#anchor and &#39;") == ()
    assert hashtags("#a#b") == ("a",)  # the second # is inside a word
    assert hashtags("# #! ## #\u0301a") == ()
    assert [normalise_tag(t) for t in ("##a", "#", "a-b", "\u0301a")] == [None] * 4


def test_the_length_bound_is_on_the_tag_as_written() -> None:
    assert hashtags("#" + "a" * MAX_TAG_CHARS) == ("a" * MAX_TAG_CHARS,)
    assert hashtags("#" + "a" * (MAX_TAG_CHARS + 1)) == ()  # all of it plain text
    assert normalise_tag("ß" * MAX_TAG_CHARS) == "ss" * MAX_TAG_CHARS  # folding may lengthen


def test_past_the_bound_hashtags_stay_text() -> None:
    caption = " ".join(f"#t{i}" for i in range(MAX_TAGS + 5))
    assert hashtags(caption) == tuple(f"t{i}" for i in range(MAX_TAGS))
    # explicit tags count first
    assert merge_tags(["Own", "TWO"], hashtags(caption))[:3] == ("own", "two", "t0")
    assert len(merge_tags([f"e{i}" for i in range(MAX_TAGS)], ["more"])) == MAX_TAGS


@given(raw_tags)
def test_normalising_is_idempotent_and_yields_word_characters(raw: str) -> None:
    tag = normalise_tag(raw)
    assert tag  # never None nor empty
    assert all(WORD.match(c) for c in tag) or tag == raw  # the rare all-mark folds keep theirs
    assert fold_tag(tag) == tag
    assert normalise_tag("#" + raw) == tag
    assert normalise_tag(raw.upper()) == fold_tag(raw.upper())


def test_every_word_character_is_a_tag_of_its_own() -> None:
    """The API's tag pattern (`\\w`, any script) never meets a tag it cannot normalise."""
    for cp in range(0x110000):
        c = chr(cp)
        if WORD.match(c):
            assert normalise_tag(c), hex(cp)


@given(st.text(word_chars | st.characters(), max_size=60))
def test_a_tag_is_what_the_api_pattern_accepts(raw: str) -> None:
    """The route takes what its pattern (`\\w`, as Python reads it) admits, and also a word's
    combining marks after its first character (which a caption's hashtag links with)."""
    accepted = re.match(TAG_INPUT.removesuffix("$") + r"\Z", raw) is not None
    body = raw.removeprefix("#")
    with_marks = (
        0 < len(body) <= MAX_TAG_CHARS and bool(WORD.match(body[0])) and all(joins(c) for c in body)
    )
    assert (normalise_tag(raw) is not None) == (accepted or with_marks)
    if accepted:
        assert TAG.match(body)


def test_a_hashtag_of_a_script_with_marks_links_to_its_tag() -> None:
    word = "\u0928\u092e\u0938\u094d\u0924\u0947"  # Devanagari: letters and vowel signs
    assert hashtags(f"#{word}") == (normalise_tag(word),)
    assert normalise_tag("#" + word) == normalise_tag(word)


@given(texts)
def test_hashtags_are_bounded_unique_normal_and_found_where_a_hash_starts(text: str) -> None:
    tags = hashtags(text)
    assert len(tags) <= MAX_TAGS
    assert len(set(tags)) == len(tags)
    assert all(fold_tag(t) == t for t in tags)
    for span in hashtag_spans(text):
        assert text[span.start] in "#\uff03"
        assert fold_tag(text[span.start + 1 : span.end]) == span.value
        assert span.end - span.start - 1 <= MAX_TAG_CHARS
        assert span.start == 0 or not joins(text[span.start - 1])
        assert span.end == len(text) or not joins(text[span.end])


@given(st.lists(raw_tags, min_size=1, max_size=40), st.sampled_from([" ", "\n", ", ", " . "]))
def test_tags_written_apart_are_found_in_order(raws: list[str], sep: str) -> None:
    text = sep.join("#" + r for r in raws)
    assert hashtags(text) == merge_tags((), [normalise_tag(r) or "" for r in raws])


# --- mentions ------------------------------------------------------------------------------------
def test_mentions_as_typed_with_their_offsets() -> None:
    text = "hi @Bob. and @al.ice, mail a@b.com @bob@host @x @.dot @ok_name_"
    spans = mention_spans(text)
    assert [(s.value, text[s.start + 1 : s.end]) for s in spans] == [
        ("bob", "Bob"), ("al.ice", "al.ice"), ("ok_name_", "ok_name_"),
    ]  # fmt: skip
    assert (spans[0].start, spans[0].end) == (3, 7)  # the sentence's dot is not the name's
    assert mention_spans("🌅 @ana")[0].start == 2  # code points, not UTF-16 units or bytes


def test_past_the_bound_mentions_stay_text() -> None:
    text = " ".join(f"@user{i}" for i in range(MAX_MENTIONS + 3))
    assert [s.value for s in mention_spans(text)] == [f"user{i}" for i in range(MAX_MENTIONS)]


@given(texts)
def test_a_mention_is_a_username_at_a_word_start(text: str) -> None:
    spans = mention_spans(text)
    assert len(spans) <= MAX_MENTIONS
    for s in spans:
        assert text[s.start] == "@"
        assert text[s.start + 1 : s.end].lower() == s.value
        assert is_username(s.value)
        assert s.start == 0 or not WORD.match(text[s.start - 1])
        assert s.end == len(text) or not WORD.match(text[s.end])


@given(st.lists(names, min_size=1, max_size=MAX_MENTIONS), st.sampled_from([" ", "! ", ",\n"]))
def test_names_written_apart_are_found_with_their_places(found: list[str], sep: str) -> None:
    text = sep.join("@" + n.upper() for n in found) + "."
    spans = mention_spans(text)
    assert [s.value for s in spans] == found
    assert [text[s.start : s.end] for s in spans] == ["@" + n.upper() for n in found]


@given(st.text(st.sampled_from("abcXYZ019_.é-"), min_size=1, max_size=32))
def test_the_username_rule_is_the_gateways(name: str) -> None:
    assert is_username(name.lower()) == bool(USERNAME.match(name.lower()))


def test_stored_mentions_round_trip_and_bad_offsets_are_dropped() -> None:
    text = "hey @Ana and @bo_b 🌅"
    given_ = [(7, 4, 8), (9, 13, 18), (11, 0, 3), (12, 15, 99), (13, 17, 12)]
    assert framed(text, given_) == [(7, 4, 8), (9, 13, 18)]
    views = parse_mentions(mention_entries(text, given_))
    assert [(v.user_id, v.username, v.start, v.end) for v in views] == [
        (7, "Ana", 4, 8), (9, "bo_b", 13, 18),
    ]  # fmt: skip
    assert parse_mentions("") == ()
    assert mentioned_users([(7, 0, 1), (9, 2, 3), (7, 4, 5), (1, 6, 7)], author=1) == (7, 9)
