"""Template helpers for the idea portal."""

from django import template

register = template.Library()


@register.filter
def member_name(user) -> str:
    """How a person is named to other readers: never their e-mail address
    (``kith.ideas.access.public_name``)."""
    from kith.ideas.access import public_name

    return public_name(user)
