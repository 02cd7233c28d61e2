from typing import Any

from django import template

register = template.Library()


@register.filter
def get_item(mapping: dict[str, Any], key: str) -> Any:
    """``{{ counts|get_item:"waiting-children" }}``: keys that are not identifiers."""
    return mapping.get(key)
