"""Queue names, job ids and scheduler ids in dashboard URLs.

BullMQ accepts any string as a job or scheduler id and anything but ``:`` as
a queue name: ``/``, the empty string, ``.`` and ``..`` included. Each such
value goes in one path segment, escaped with ``~`` (so ordinary names stay
readable and no segment can be confused with a route's own words):

    ~~  ~        ~s  /        ~d  .  (only in a segment that is all dots,
    ~e  the empty string               which browsers would resolve away)
    ~uXXXX  a lone surrogate (a byte that was not UTF-8, see connection.py)

What is left is percent-encoded by ``reverse()`` as usual (``%``, ``?``, ``#``,
spaces, unicode). Any other ``~`` sequence does not match: a 404."""

from __future__ import annotations

import re
from urllib.parse import quote

from django.urls import register_converter

_DECODE = re.compile(r"~(~|s|d|u[0-9A-F]{4})|([^~]+)")
_VALID = re.compile(r"(?:~~|~s|~d|~u[0-9A-F]{4}|[^~/])+")
_ENCODE = re.compile(r"[~/\ud800-\udfff]")
_DOTS = re.compile(r"\.{1,2}")


def _encode_char(match: re.Match[str]) -> str:
    char = match.group()
    if char == "~":
        return "~~"
    if char == "/":
        return "~s"
    return f"~u{ord(char):04X}"


def to_segment(value: str) -> str:
    """The segment for ``value`` (before percent-encoding)."""
    if value == "":
        return "~e"
    if _DOTS.fullmatch(value):
        return "~d" * len(value)
    return _ENCODE.sub(_encode_char, value)


def from_segment(segment: str) -> str:
    """The value of a segment; ValueError when it is not one ``to_segment`` makes."""
    if segment == "~e":
        return ""
    if not _VALID.fullmatch(segment):
        raise ValueError(f"not an escaped name: {segment!r}")
    out = []
    for escape, text in _DECODE.findall(segment):
        if text:
            out.append(text)
        elif escape == "~":
            out.append("~")
        elif escape == "s":
            out.append("/")
        elif escape == "d":
            out.append(".")
        else:
            out.append(chr(int(escape[1:], 16)))
    return "".join(out)


def url_segment(value: str) -> str:
    """The segment percent-encoded, for URLs built by hand (the websockets')."""
    return quote(to_segment(str(value)), safe="")


class KeyConverter:
    """``<key:name>``: one escaped segment, any string BullMQ accepts."""

    regex = r"[^/]+"

    def to_python(self, value: str) -> str:
        return from_segment(value)

    def to_url(self, value: str) -> str:
        return to_segment(str(value))


register_converter(KeyConverter, "key")
