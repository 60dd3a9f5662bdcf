"""Template tags: the unread-notifications badge for the main navigation, and
notification texts (Markdown) as inline HTML."""

import nh3
from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from kith.collab import queries
from kith.collab.rendering import render_markdown

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


# A notification's text sits inside the link to its record: keep emphasis and code,
# drop blocks and nested links (their words stay).
_INLINE_TAGS = {"strong", "em", "code", "del", "b", "i"}


@register.filter
def notification_html(text: str) -> SafeString:
    """A notification's Markdown ("**Alice** mentioned you") as safe inline HTML."""
    html = nh3.clean(render_markdown(text or ""), tags=_INLINE_TAGS, attributes={})
    return mark_safe(html.strip())
