"""Placeholders of e-mail templates: ``{{ first_name }}`` and a few more, nothing else.

Not Django's template engine: a template written by a manager must not reach
attributes, filters or tags (``{{ request.user.password }}``, ``{% load %}``). One
regular expression finds ``{{ name }}``; each name must be in ``PLACEHOLDERS``; values
are inserted once and never read again as a template, so a person called
``{{ my_email }}`` stays literally that.
"""

from __future__ import annotations

import re

from kith.core.errors import FieldError

PLACEHOLDERS: dict[str, str] = {
    "first_name": "The person's given name",
    "last_name": "The person's family name",
    "full_name": "The person's full name",
    "job_title": "The person's job title",
    "organisation": "The organisation of the person's current role",
    "email": "The person's e-mail address",
    "my_name": "Your name",
    "my_email": "Your e-mail address",
    "company": "Our company's name",
}

_TOKEN = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


def check(text: str, field: str) -> list[FieldError]:
    """Field errors for unknown placeholders or template code in ``text``."""
    errors: list[FieldError] = []
    unknown = [m.group(1) for m in _TOKEN.finditer(text) if m.group(1) not in PLACEHOLDERS]
    if unknown:
        shown = ", ".join(f"{{{{ {name} }}}}" for name in dict.fromkeys(unknown))
        errors.append(
            FieldError(
                field,
                f"Unknown placeholder {shown}. Use one of: "
                + ", ".join(f"{{{{ {name} }}}}" for name in PLACEHOLDERS)
                + ".",
            )
        )
    rest = _TOKEN.sub("", text)
    if "{%" in rest or "%}" in rest:
        errors.append(FieldError(field, "Template tags ({% … %}) are not allowed."))
    elif "{{" in rest or "}}" in rest:
        errors.append(FieldError(field, "A placeholder is not closed: write {{ first_name }}."))
    return errors


def render(text: str, values: dict[str, str]) -> str:
    """``text`` with every known placeholder replaced by its value (unknown ones kept)."""

    def sub(match: re.Match) -> str:
        name = match.group(1)
        return values.get(name, "") if name in PLACEHOLDERS else match.group(0)

    return _TOKEN.sub(sub, text)
