from typing import Any

from django import template

from ..url_keys import url_segment as _url_segment

register = template.Library()


@register.filter
def get_item(mapping: dict[str, Any], key: str) -> Any:
    """``{{ counts|get_item:"waiting-children" }}``: keys that are not identifiers."""
    return mapping.get(key)


@register.filter
def url_segment(value: str) -> str:
    """A name or id as one segment of a hand-built URL (the websockets'), as
    the pages' own URLs write it (url_keys.py)."""
    return _url_segment(value)
