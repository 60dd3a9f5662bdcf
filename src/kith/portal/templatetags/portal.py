"""Template tags of the customer portal: the company name and the portal navigation.

The navigation links to the community and idea pages when those apps expose them; the
URL names are looked up at render time so the portal works before they land.
"""

from __future__ import annotations

from django import template
from django.conf import settings
from django.urls import NoReverseMatch, reverse

register = template.Library()

# The first name that resolves wins; the fallback is the app's mount point.
_LINKS: dict[str, tuple[tuple[str, ...], str]] = {
    "community": (("community:portal_home", "community:home", "community:index"), "/community/"),
    "my_questions": (("community:my_questions", "community:mine"), ""),
    "ideas": (("ideas:portal_home", "ideas:home", "ideas:index", "ideas:list"), "/ideas/"),
    "my_ideas": (("ideas:my_ideas", "ideas:mine"), ""),
}


def _first_url(names: tuple[str, ...], fallback: str) -> str:
    for name in names:
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return fallback


def portal_links() -> dict[str, str]:
    """URLs of the community and idea pages (empty string: the page does not exist yet)."""
    return {key: _first_url(names, fallback) for key, (names, fallback) in _LINKS.items()}


@register.simple_tag
def portal_company() -> str:
    return settings.KITH_COMPANY_NAME


@register.inclusion_tag("portal/_nav.html", takes_context=True)
def portal_nav(context) -> dict:
    """The portal navigation, with the unread-notification count of the signed-in customer."""
    from kith.collab import queries as collab_queries

    user = context.get("user")
    unread = collab_queries.unread_count(user) if user is not None and user.is_authenticated else 0
    links = portal_links()
    nav = context.get("nav", "")
    request = context.get("request")
    # The community's and ideas' own "mine" pages say only "community"/"ideas": mark
    # the sub-item they are.
    path = getattr(request, "path", "")
    for key in ("my_questions", "my_ideas"):
        if links[key] and path == links[key]:
            nav = key
    from kith.collab.access import is_partner

    return {
        "nav": nav,
        "links": links,
        "unread": unread,
        "is_partner": user is not None and user.is_authenticated and is_partner(user),
        "csrf_token": context.get("csrf_token", ""),
    }
