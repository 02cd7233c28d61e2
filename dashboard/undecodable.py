"""Bytes that are not UTF-8, as the dashboard shows them.

Replies decode such bytes as lone surrogates (``b"\\xff"`` -> ``"\\udcff"``,
see queuecore/connection.py) so nothing is lost; but a surrogate cannot be
encoded into a response. Here each one becomes visible text instead: ``\\xff``
in a marked span in page text, plain ``\\xff`` inside tags and in
textarea/title/script (where a span would be taken as text or break
markup), and a ``\\udcff`` escape in JSON (valid JSON: the value reads back
the same)."""

from __future__ import annotations

import json
import re
from typing import Any

from queuecore.text import lone_surrogate

SURROGATE = re.compile("[\ud800-\udfff]")
# Rendered markup: its raw "<" and ">" are the templates' own (values are escaped)
_TOKEN = re.compile(r"<(/?)([a-zA-Z]*)[^>]*>|[^<]+|<")
_TEXT_ONLY = {"textarea", "title", "script", "style"}


def has_undecodable(text: str) -> bool:
    # every page and push asks: O(1) for ASCII, one C encode otherwise
    return lone_surrogate(text) is not None


def _byte(char: str) -> str:
    code = ord(char)
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def escaped(text: str) -> str:
    """Plain text with each undecodable byte written ``\\xff``."""
    return SURROGATE.sub(lambda m: _byte(m.group()), text)


def _span(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    what = (f"byte 0x{code - 0xDC00:02X} is not UTF-8" if 0xDC80 <= code <= 0xDCFF
            else f"U+{code:04X} is a lone surrogate")
    return f'<span class="undecodable" title="{what}">{_byte(char)}</span>'


def marked_html(html: str) -> str:
    """Rendered HTML with every undecodable byte shown (a no-op for clean pages)."""
    if not has_undecodable(html):
        return html
    out: list[str] = []
    text_only: str | None = None  # inside <textarea> etc.: no markup may be added
    for match in _TOKEN.finditer(html):
        token = match.group()
        closing, tag = match.group(1), (match.group(2) or "").lower()
        if token.startswith("<") and tag:
            if text_only is None and not closing and tag in _TEXT_ONLY:
                text_only = tag
            elif closing and tag == text_only:
                text_only = None
            out.append(escaped(token))
        elif text_only is not None:
            out.append(escaped(token))
        else:
            out.append(SURROGATE.sub(_span, token))
    return "".join(out)


def json_text(value: Any, indent: int | None = 2) -> str:
    """JSON for a download: ensure_ascii=False keeps it readable, and each
    undecodable byte is a ``\\udcXX`` escape (surrogates only occur in strings)."""
    return json_escapes(json.dumps(value, indent=indent, ensure_ascii=False, default=str))


def json_escapes(text: str) -> str:
    """JSON text with each undecodable byte as a ``\\udcXX`` escape."""
    return SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
