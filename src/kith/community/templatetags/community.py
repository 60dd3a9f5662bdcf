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


@register.filter
def member_name(user) -> str:
    """How a member is named to other readers: never their e-mail address
    (``kith.community.access.public_name``)."""
    from kith.community.access import public_name

    return public_name(user)
