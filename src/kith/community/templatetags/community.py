"""Template helpers for community pages."""

from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    """``mapping[key]`` in a template (votes and comments keyed by post id)."""
    if not mapping:
        return None
    return mapping.get(key)


@register.filter
def attr(obj, name: str):
    """``getattr(obj, name)`` in a template (the trust-level rules editor)."""
    return getattr(obj, name, "")
