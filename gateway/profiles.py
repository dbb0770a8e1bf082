"""What `PATCH /users/me` accepts: the profile fields, checked without I/O.

Every field is optional. A string is trimmed of surrounding whitespace (Python's `str.strip`,
which is what `\\s` matches in the patterns below) and stored as it then is; empty after
trimming, or null, clears the field. Control characters (Unicode category Cc) and the line and
paragraph separators are refused inside a display name; a bio may hold newlines (LF), no other
control character. Unknown fields are refused, not ignored: a misspelt `bio` would otherwise be
a silent no-op. The patterns are what `/openapi.json` publishes (gateway/openapi_schemas.py),
exactly equivalent to the checks (tests/unit/test_profiles.py holds the two together).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.errors import invalid

MAX_DISPLAY_NAME = 50  # characters (code points) after trimming
MAX_BIO = 300
FIELDS = ("display_name", "bio", "private")

_CONTROL = "\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029"  # Cc, LINE and PARAGRAPH SEPARATOR
_BIO_CONTROL = "\\x00-\\x09\\x0b-\\x1f\\x7f-\\x9f\\u2028\\u2029"  # the same, LF allowed


def _trimmed_pattern(inner: str, edge: str, max_len: int) -> str:
    """Whitespace, then nothing or 1..max_len characters of `inner` starting and ending with
    one of `edge`, then whitespace: a string whose trimmed form is empty or fits."""
    core = f"[{edge}](?:[{inner}]{{0,{max_len - 2}}}[{edge}])?"
    return rf"^\s*(?:{core})?\s*$"


DISPLAY_NAME_PATTERN = _trimmed_pattern(f"^{_CONTROL}", f"^\\s{_CONTROL}", MAX_DISPLAY_NAME)
BIO_PATTERN = _trimmed_pattern(f"^{_BIO_CONTROL}", f"^\\s{_CONTROL}", MAX_BIO)
_SEPARATORS = frozenset("\u2028\u2029")


@dataclass(frozen=True, slots=True)
class ProfilePatch:
    """A checked PATCH body: None leaves a field as it is; "" clears a text field."""

    display_name: str | None = None
    bio: str | None = None
    private: bool | None = None

    @property
    def profile_changed(self) -> bool:
        """Whether it carries a ProfileUpdated (privacy is an event of its own)."""
        return self.display_name is not None or self.bio is not None


def profile_patch(body: dict[str, Any]) -> ProfilePatch:
    """The body as a ProfilePatch; 422 invalid_field naming the first field that is unknown,
    of the wrong type, too long or holding a control character."""
    for name in body:
        if name not in FIELDS:
            raise invalid(name, f"is not a profile field; send {', '.join(FIELDS)}")
    private = body.get("private")
    if "private" in body and not isinstance(private, bool):
        raise invalid("private", "must be true or false")
    return ProfilePatch(
        display_name=_text(body, "display_name", MAX_DISPLAY_NAME, newlines=False),
        bio=_text(body, "bio", MAX_BIO, newlines=True),
        private=private,
    )


def _text(body: dict[str, Any], name: str, max_len: int, newlines: bool) -> str | None:
    if name not in body:
        return None
    raw = body[name]
    if raw is None:
        return ""  # null clears, as an empty string does
    if not isinstance(raw, str):
        raise invalid(name, "must be a string (empty or null clears it)")
    value = raw.strip()
    if len(value) > max_len:
        raise invalid(name, f"must be at most {max_len} characters, not {len(value)}")
    for ch in value:
        if (_is_control(ch) and not (newlines and ch == "\n")) or ch in _SEPARATORS:
            allowed = "; newlines are allowed" if newlines else ""
            raise invalid(name, f"must not contain control characters (U+{ord(ch):04X}){allowed}")
    return value


def _is_control(ch: str) -> bool:
    """Unicode category Cc: U+0000..U+001F and U+007F..U+009F."""
    code = ord(ch)
    return code < 0x20 or 0x7F <= code <= 0x9F
