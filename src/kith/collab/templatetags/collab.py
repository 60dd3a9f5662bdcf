"""Template tags: the unread-notifications badge for the main navigation."""

from django import template
from django.utils.html import format_html

from kith.collab import queries

register = template.Library()


@register.simple_tag(takes_context=True)
def collab_unread(context) -> str:
    """A badge with the user's unread count; kept live by collab.js on collab pages."""
    user = context.get("user")
    count = queries.unread_count(user) if user is not None else 0
    return format_html(
        '<span class="badge collab-unread" data-collab-unread{}>{}</span>',
        "" if count else " hidden",
        count,
    )
