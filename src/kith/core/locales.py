"""Numbers as people type them: grouping and decimal marks of the user's locale.

"24,000" is twenty-four thousand to an English reader and "24.000,50" is the same
amount and fifty cents to a German one; Babel's CLDR data knows each locale's marks.
The API keeps one machine format (``24000.50``); only forms read the locale.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from babel import Locale, UnknownLocaleError
from babel.numbers import NumberFormatError, format_decimal, get_group_symbol, parse_decimal
from django.conf import settings

_PLAIN = re.compile(r"^-?\d+(\.\d+)?$")
_SPACES = "\u0020\u00a0\u202f"


def user_locale(user) -> str:
    """The locale a user writes numbers in: their person's, else the site's."""
    person = getattr(user, "person", None)
    return (getattr(person, "locale", "") or "").strip() or settings.LANGUAGE_CODE


def _babel_locale(name: str) -> Locale:
    try:
        return Locale.parse(name.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale.parse("en")


def parse_amount(text: str, locale: str) -> Decimal:
    """``text`` as a decimal in ``locale``'s marks; plain ``24000.50`` is always accepted.

    Raises ``ValueError`` with a message that shows the expected form.
    """
    value = (text or "").strip()
    loc = _babel_locale(locale)
    group = get_group_symbol(loc)
    if group in _SPACES:
        # People type an ordinary space where the locale groups with a narrow one.
        value = re.sub(f"[{_SPACES}]", group, value)
    try:
        return parse_decimal(value, locale=loc, strict=True)
    except NumberFormatError as exc:
        if _PLAIN.match(value):
            try:
                return Decimal(value)
            except InvalidOperation:
                pass
        example = format_decimal(Decimal("24000.50"), format="#,##0.00", locale=loc)
        raise ValueError(f"Not an amount; write it like {example}.") from exc
