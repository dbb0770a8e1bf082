"""Hashtags and @mentions in user text (captions, comments), as pure functions.

One definition serves every reader of text: the gateway, which turns a caption's hashtags into
the post's tags and resolves its @names to users when the text is written (so the event carries
the outcome and every projection and replay sees the same); the search query parser, so `#SEA`
finds what `#sea` tagged; and the projections, which render a text's mentions for the API.

- A **hashtag** is `#` (or a full-width `#`) and 1 to MAX_TAG_CHARS characters of a word:
  a word character (Unicode letters, digits, `_`: what Python's `\\w` matches), then word
  characters or combining marks (a decomposed `é`). Its tag is `fold_tag` of them: NFKC and
  case folding, word characters kept, so `#Café`, `#CAFÉ` and `#café` are one tag. A text's
  tags are de-duplicated in order, at most MAX_TAGS.
- A **mention** is `@` and a username as gateway/validation.py allows one (3 to 30 of `a-z`,
  `0-9`, `_`, `.`, in any ASCII case, not starting or ending with `.`): a trailing `.` ends the
  sentence, not the name. Offsets are code points: `start` at the `@`, `end` past the name, so
  the name as typed is `text[start + 1:end]`. At most MAX_MENTIONS per text.
- Either one **inside a word** is plain text: `a@b.com`, `x#y`, `&#39;`, a URL's `/#anchor`; so
  is one running straight into more word characters (`#ab` + a combining mark, `@bob@host`).
  What is past a bound stays plain text too.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

MAX_TAGS = 30  # tags per post, explicit ones included (gateway/validation.py MAX_TAGS)
MAX_TAG_CHARS = 50  # word characters of one hashtag as written
MAX_MENTIONS = 20  # @names per text; each is a lookup when the text is written
_WORD = re.compile(r"\w")
_HASHES = frozenset("#\uff03")  # and the full-width number sign
_NOT_BEFORE = frozenset("#\uff03@&/")  # what a tag or mention cannot follow, but word characters
_NAME_CHARS = re.compile(r"[A-Za-z0-9_.]+")
USERNAME = re.compile(r"[a-z0-9_][a-z0-9_.]{1,28}[a-z0-9_]\Z")  # gateway/validation.py's, lower


@dataclass(frozen=True, slots=True)
class Span:
    """A hashtag or mention found in a text: [start, end) in code points, and its value (the
    normalised tag, or the username in lower case)."""

    start: int
    end: int
    value: str


@dataclass(frozen=True, slots=True)
class MentionView:
    """A mention as the API shows it: the user and where the name sits in the text."""

    user_id: int
    username: str  # the name as typed: text[start + 1:end]
    start: int
    end: int


def _word(c: str) -> bool:
    return bool(_WORD.match(c))


def _joins(c: str) -> bool:
    """Whether `c` would continue a word: a word character or a combining mark."""
    return _word(c) or unicodedata.category(c).startswith("M")


def _at_boundary(text: str, i: int) -> bool:
    """Whether a `#` or `@` at `i` starts something: not inside a word, a URL or an entity."""
    if i == 0:
        return True
    before = text[i - 1]
    return not _joins(before) and before not in _NOT_BEFORE


def _fold(s: str) -> str:
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", s).casefold())
    return "".join(c for c in folded if _word(c))


def normalise_tag(raw: str) -> str | None:
    """The tag of `raw` as the API takes one (a leading `#` is dropped): 1 to MAX_TAG_CHARS
    characters of a word as a hashtag's (a word character, then word characters or combining
    marks: what a caption's hashtag links to), folded (`fold_tag`); None when it is not."""
    body = raw.removeprefix("#")
    if not 1 <= len(body) <= MAX_TAG_CHARS:
        return None
    return fold_tag(body)


def fold_tag(tag: str) -> str | None:
    """NFKC and case folding repeated until stable, keeping word characters (`İ` folds to `i`
    and a combining dot, which is dropped; `¼` to 1, a fraction slash and 4: `14`); None when
    `tag` does not start with a word character or holds more than word characters and combining
    marks. Idempotent: a tag folds to itself, whatever its length (folding may lengthen one: `ß`
    is `ss`), so the projections fold the tags events carry without a bound. A handful of
    characters fold to combining marks alone (Arabic presentation forms of vowel marks): a tag
    of nothing else keeps them."""
    if not tag or not _word(tag[0]) or not all(_joins(c) for c in tag):
        return None
    folded = tag
    for _ in range(4):
        nxt = _fold(folded)
        if nxt == folded:
            break
        folded = nxt
    return folded or tag


def fold_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Tags an event carries as the projections key them: folded (the gateway normalised them
    when the post was written; older events lower-cased only), de-duplicated in order."""
    return tuple(dict.fromkeys(t for t in map(fold_tag, tags) if t is not None))


def hashtag_spans(text: str) -> list[Span]:
    """Every hashtag of `text`, in order, duplicates included."""
    out: list[Span] = []
    for i, c in enumerate(text):
        if c not in _HASHES or not _at_boundary(text, i):
            continue
        end = i + 1
        if end < len(text) and _word(text[end]):
            while end < len(text) and _joins(text[end]):
                end += 1
        tag = fold_tag(text[i + 1 : end]) if end - i - 1 <= MAX_TAG_CHARS else None
        if tag is not None:
            out.append(Span(i, end, tag))
    return out


def hashtags(text: str) -> tuple[str, ...]:
    """The tags of `text`'s hashtags, de-duplicated in order, at most MAX_TAGS."""
    return merge_tags((), (s.value for s in hashtag_spans(text)))


def merge_tags(explicit: Iterable[str], found: Iterable[str]) -> tuple[str, ...]:
    """A post's tags: its explicit ones, then those of its caption, each normalised, de-duplicated
    in order, at most MAX_TAGS (explicit ones count first; what is not a tag is left out)."""
    out: dict[str, None] = {}
    for raw in (*explicit, *found):
        tag = fold_tag(raw)
        if tag is not None and len(out) < MAX_TAGS:
            out.setdefault(tag)
    return tuple(out)


def mention_spans(text: str) -> list[Span]:
    """The first MAX_MENTIONS @names of `text`, in order (the value: the username in lower case;
    whether it names a user is for the caller to find out)."""
    out: list[Span] = []
    i = text.find("@")
    while i != -1 and len(out) < MAX_MENTIONS:
        run = _NAME_CHARS.match(text, i + 1)
        nxt = i + 1
        if run is not None:
            name = run.group().rstrip(".")
            end = i + 1 + len(name)
            nxt = run.end()
            after = text[end] if end < len(text) else ""
            clean = after == "" or after == "." or not (_joins(after) or after == "@")
            if clean and _at_boundary(text, i) and USERNAME.match(name.lower()):
                out.append(Span(i, end, name.lower()))
        i = text.find("@", nxt)
    return out


def is_username(name: str) -> bool:
    """Whether `name` (in lower case) is a username the gateway would register."""
    return bool(USERNAME.match(name))


# --- mentions as the projections keep them -------------------------------------------------------
# A text's mentions are kept beside it as one string of lines `<user id> <JSON object>`, the
# object being the API's mention (user_id, username, start, end): a page copies the objects of
# the users that still exist (projections/pages/pages.lua) and the per-group readers parse them
# (`parse_mentions`), so neither needs the text to cut the name out.


def framed(text: str, mentions: Iterable[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """The mentions, given as (user id, start, end), whose offsets frame an `@name` of `text`:
    an event is never trusted to (a malformed one is neither shown nor notified)."""
    return [
        (user_id, start, end)
        for user_id, start, end in mentions
        if 0 <= start < end <= len(text)
        and text[start] == "@"
        and is_username(text[start + 1 : end].lower())
    ]


def mention_entries(text: str, mentions: Iterable[tuple[int, int, int]]) -> str:
    """The stored form of `text`'s mentions, given as (user id, start, end), framed ones only."""
    lines = []
    for user_id, start, end in framed(text, mentions):
        obj = {"user_id": str(user_id), "username": text[start + 1 : end], "start": start,
               "end": end}  # fmt: skip
        lines.append(f"{user_id} {orjson.dumps(obj).decode()}")
    return "\n".join(lines)


def parse_mentions(stored: str) -> tuple[MentionView, ...]:
    """The mentions of a stored entries string (see `mention_entries`)."""
    out = []
    for line in stored.split("\n"):  # JSON text holds no raw newline
        _, _, body = line.partition(" ")
        if body:
            o = orjson.loads(body)
            out.append(MentionView(int(o["user_id"]), o["username"], o["start"], o["end"]))
    return tuple(out)


def mention_json(m: MentionView) -> dict[str, object]:
    return {"user_id": str(m.user_id), "username": m.username, "start": m.start, "end": m.end}


def mentioned_users(mentions: Iterable[tuple[int, int, int]], author: int) -> tuple[int, ...]:
    """Whom a text's mentions notify: each mentioned user once, in order, never its author."""
    return tuple(dict.fromkeys(u for u, _, _ in mentions if u != author))
