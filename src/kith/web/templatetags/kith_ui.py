"""Template helpers for the web UI: avatars, icons, money and small formatting filters."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# Hand-drawn 24×24 stroke icons; ``currentColor`` so they follow the text colour.
ICONS = {
    "email": '<rect x="3" y="5" width="18" height="14" rx="2"/><path d="m3.5 7 8.5 6 8.5-6"/>',
    "letter": '<path d="M4 4h11l5 5v11H4z"/><path d="M15 4v5h5M8 13h8M8 17h5"/>',
    "call": (
        '<path d="M5 4h3.5l1.8 4.6-2.3 1.4a11 11 0 0 0 6 6l1.4-2.3L20 15.5V19a2 2 0 0 1-2 2'
        'A16 16 0 0 1 3 6a2 2 0 0 1 2-2z"/>'
    ),
    "meeting": (
        '<circle cx="9" cy="8" r="3.2"/><path d="M3 20a6 6 0 0 1 12 0"/>'
        '<circle cx="17" cy="9" r="2.5"/><path d="M16 14.1A5 5 0 0 1 21 19"/>'
    ),
    "chat": '<path d="M4 5h16v11H10l-6 4z"/>',
    "sms": '<rect x="6" y="2.5" width="12" height="19" rx="2.5"/><path d="M10.5 18.5h3"/>',
    "social": (
        '<circle cx="6" cy="12" r="2.5"/><circle cx="18" cy="6" r="2.5"/>'
        '<circle cx="18" cy="18" r="2.5"/><path d="m8.2 10.8 7.6-3.6m-7.6 6 7.6 3.6"/>'
    ),
    "community": (
        '<circle cx="12" cy="7" r="3"/><circle cx="5" cy="10" r="2.2"/>'
        '<circle cx="19" cy="10" r="2.2"/><path d="M6.5 20a5.5 5.5 0 0 1 11 0M1.5 18a3.6 3.6 0 0 1'
        ' 5-3.2m16 3.2a3.6 3.6 0 0 0-5-3.2"/>'
    ),
    "portal": '<rect x="3" y="4" width="18" height="16" rx="2"/><path d="M3 9h18M7 6.5h.01"/>',
    "web": (
        '<circle cx="12" cy="12" r="9"/><path d="M3 12h18M12 3a14 14 0 0 1 0 18'
        'M12 3a14 14 0 0 0 0 18"/>'
    ),
    "survey": '<path d="M10 6h10M10 12h10M10 18h10M4 6l1.2 1.2L7.5 5M4 12l1.2 1.2L7.5 11M4 18l1.2 1.2L7.5 17"/>',
    "collaboration": '<path d="M4 12h6l2-3 3 6 2-3h3"/><rect x="2.5" y="4" width="19" height="16" rx="3"/>',
    "system": '<path d="M12 3v4m0 10v4M3 12h4m10 0h4M5.6 5.6l2.9 2.9m7 7 2.9 2.9m0-12.8-2.9 2.9m-7 7-2.9 2.9"/>',
    "transaction": (
        '<circle cx="12" cy="12" r="9"/><path d="M14.8 9.2A2.8 2.2 0 0 0 12 7.8c-1.6 0-2.7.8-2.7 2'
        ' 0 2.6 5.4 1.4 5.4 4.2 0 1.2-1.1 2.1-2.7 2.1a2.8 2.2 0 0 1-2.8-1.5M12 6v1.8m0 8.5V18"/>'
    ),
    "search": '<circle cx="11" cy="11" r="6.5"/><path d="m20 20-4.2-4.2"/>',
    "plus": '<path d="M12 5v14M5 12h14"/>',
    "person": '<circle cx="12" cy="8" r="4"/><path d="M4 21a8 8 0 0 1 16 0"/>',
    "organization": '<path d="M4 21V5l8-2v18M12 8h8v13M3 21h18M7 8h2m-2 4h2m-2 4h2m6-4h2m-2 4h2"/>',
    "upload": '<path d="M12 16V4m-5 5 5-5 5 5M4 16v3a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-3"/>',
    "download": '<path d="M12 4v12m-5-5 5 5 5-5M4 16v3a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-3"/>',
    "merge": '<path d="M6 3v5a6 6 0 0 0 6 6 6 6 0 0 1 6 6v1M18 3v5a6 6 0 0 1-3.5 5.5M3 6l3-3 3 3m6 0 3-3 3 3"/>',
    "check": '<path d="m5 12.5 4.5 4.5L19 7.5"/>',
    "x": '<path d="M6 6l12 12M18 6 6 18"/>',
    "edit": '<path d="M4 20h4L19 9l-4-4L4 16zM13.5 6.5l4 4"/>',
    "star": '<path d="m12 3 2.7 5.6 6.1.9-4.4 4.3 1 6.1L12 17l-5.4 2.9 1-6.1-4.4-4.3 6.1-.9z"/>',
    "in": '<path d="M12 4v14m-6-6 6 6 6-6"/>',
    "out": '<path d="M12 20V6m-6 6 6-6 6 6"/>',
    "internal": '<circle cx="12" cy="12" r="3"/>',
    "logout": '<path d="M15 4h3a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-3M10 17l5-5-5-5M15 12H4"/>',
    "filter": '<path d="M3 5h18l-7 8v6l-4 2v-8z"/>',
    "bookmark": '<path d="M6 3h12v18l-6-4-6 4z"/>',
    "calendar": '<rect x="3" y="5" width="18" height="16" rx="2"/><path d="M3 10h18M8 3v4m8-4v4"/>',
    "case": '<circle cx="12" cy="12" r="9"/><circle cx="12" cy="12" r="4"/><path d="m5.6 5.6 3.6 3.6m5.6 5.6 3.6 3.6m0-12.8-3.6 3.6m-5.6 5.6-3.6 3.6"/>',
}
ICONS["transactions"] = ICONS["transaction"]  # the timeline's "Money" filter
FALLBACK_ICON = "internal"


@register.simple_tag
def icon(name: str, label: str = "") -> SafeString:
    """An inline SVG icon; decorative unless ``label`` is given."""
    body = ICONS.get(name, ICONS[FALLBACK_ICON])
    if label:
        return format_html(
            '<svg class="icon" viewBox="0 0 24 24" role="img" aria-label="{}">{}</svg>',
            label,
            mark_safe(body),  # constant markup defined above
        )
    return mark_safe(  # constant markup defined above
        f'<svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">{body}</svg>'
    )


@register.filter
def initials(name: str) -> str:
    """Up to two initials for an avatar: "Ana Lima" → "AL"."""
    words = [w for w in str(name or "").replace("-", " ").split() if w[:1].isalnum()]
    if not words:
        return "?"
    if len(words) == 1:
        return words[0][:2].upper()
    return (words[0][0] + words[-1][0]).upper()


@register.filter
def hue(value) -> int:
    """A stable colour hue (0–359) for ``value``, so each record keeps its avatar colour."""
    digest = hashlib.sha256(str(value).encode()).digest()
    return int.from_bytes(digest[:2], "big") % 360


@register.filter
def money(amount, currency: str = "") -> str:
    """``1234.5`` and ``EUR`` → ``1,234.50 EUR`` (Decimal in, never float arithmetic)."""
    try:
        text = f"{Decimal(str(amount)):,.2f}"
    except (ArithmeticError, ValueError):
        return str(amount)
    return f"{text} {currency}".strip()


@register.filter
def get(mapping, key):
    """``mapping[key]`` in a template, or "" when missing."""
    try:
        return mapping.get(key, "")
    except AttributeError:
        return ""


@register.filter
def display(value) -> str:
    """A field value as shown on the merge screen: empty values as an em dash."""
    if value in (None, "", [], {}):
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


@register.filter
def field_label(name: str) -> str:
    """``given_name`` → "First name", ``attr:nps`` → the custom field's label."""
    from kith.people.labels import field_label as label  # the UI layer reads people's labels

    return label(str(name))


@register.filter
def target_choices(targets) -> list[tuple[str, str]]:
    """Import targets as (value, label) pairs for a mapping menu (one query)."""
    from kith.people.labels import target_choices as choices

    return choices(list(targets or []))


@register.filter
def duration_minutes(seconds) -> str:
    """Seconds as a call length people read: "45 s", "12 min", "1 h 05 min"."""
    try:
        seconds = int(seconds)
    except (TypeError, ValueError):
        return ""
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
