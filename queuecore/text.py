"""Text that stands for bytes. Replies decode bytes that are not UTF-8 as lone
surrogates (U+DC80..U+DCFF, Python's ``surrogateescape``) rather than fail, so
a name or id another client wrote with such bytes goes back to Redis as the
same bytes; this module holds that rule for every writer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import hiredis

ENCODING_ERRORS = "surrogateescape"


def as_bytes(value: Any) -> Any:
    """A str as the bytes it stands for (other values as they are); a lone
    surrogate that stands for no byte (U+D800) raises UnicodeEncodeError."""
    return value.encode("utf-8", ENCODING_ERRORS) if isinstance(value, str) else value


def all_as_bytes(values: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(as_bytes(v) for v in values)


def pack_command(args: tuple[Any, ...]) -> bytes:
    """A command in Redis's protocol, packed by hiredis in C; its text as UTF-8,
    or as the bytes it stands for (hiredis itself packs text strictly)."""
    try:
        return hiredis.pack_command(args)
    except UnicodeEncodeError:
        return hiredis.pack_command(all_as_bytes(args))


def lone_surrogate(text: str) -> int | None:
    """Where the first lone surrogate of ``text`` is (text that is not valid
    Unicode, such as bytes read back that were not UTF-8); None when there is none."""
    if text.isascii():  # O(1): most text
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None
