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


@register.simple_tag
def collab_feed_url(target) -> str:
    """The URL of ``target``'s embeddable feed widget (person, organisation, group, any record)."""
    from django.urls import reverse

    from kith.collab.access import kind_of

    return reverse("collab:feed", args=[kind_of(target), target.public_id])
