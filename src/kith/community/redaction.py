"""Finding personal data in text an agent is about to publish from a case.

A solved case becomes a public question and answer only after the agent has seen,
highlighted, what in it identifies a person: e-mail addresses, phone numbers (found
with ``phonenumbers``, the library kith.people normalises with) and the names the
case is known to involve (requester, organisation, sender, agent). The agent removes
what they choose; e-mail addresses and phone numbers can never be published.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import phonenumbers
from django.conf import settings
from django.utils.html import escape
from django.utils.safestring import SafeString

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
REDACTED = "[redacted]"


@dataclass
class Found:
    kind: str  # email, phone, name
    value: str


@dataclass
class Draft:
    title: str
    question: str
    answer: str
    known: list[str] = field(default_factory=list)


def _names_of(party) -> list[str]:
    if party is None:
        return []
    names = [
        getattr(party, attr, "") or "" for attr in ("display_name", "given_name", "family_name")
    ]
    return [n for n in names if len(n) >= 2]


def case_draft(case) -> Draft:
    """The case's subject, first customer message and last public reply, and the names it knows."""
    from kith.service.models import CaseMessage

    msgs = CaseMessage.objects.filter(case=case).public().order_by("occurred_at", "id")
    first = msgs.filter(kind=CaseMessage.Kind.INBOUND).first()
    last = msgs.filter(kind=CaseMessage.Kind.REPLY).last()
    known: list[str] = []
    known += _names_of(case.requester)
    known += _names_of(getattr(case, "organization", None))
    for msg in (first, last):
        if msg is not None:
            known += _names_of(msg.sender)
            if msg.author is not None:
                known += [
                    n
                    for n in (msg.author.first_name, msg.author.last_name, msg.author.username)
                    if len(n or "") >= 2
                ]
    return Draft(
        title=case.subject,
        question=(first.body_text if first else "") or case.description,
        answer=last.body_text if last else "",
        known=list(dict.fromkeys(known)),
    )


def find_personal_data(text: str, *, known: list[str] = ()) -> list[Found]:
    """E-mail addresses, phone numbers and known names in ``text`` (each once)."""
    out: dict[tuple[str, str], Found] = {}
    for m in EMAIL_RE.finditer(text or ""):
        out.setdefault(("email", m[0]), Found("email", m[0]))
    region = getattr(settings, "KITH_PHONE_REGION", "US")
    for match in phonenumbers.PhoneNumberMatcher(
        text or "", region, leniency=phonenumbers.Leniency.POSSIBLE
    ):
        out.setdefault(("phone", match.raw_string), Found("phone", match.raw_string))
    for name in known:
        if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text or "", re.IGNORECASE):
            out.setdefault(("name", name.casefold()), Found("name", name))
    return list(out.values())


def redact(text: str, values: list[str]) -> str:
    """``text`` with each of ``values`` replaced by ``[redacted]`` (whole words, any case)."""
    for value in sorted({v for v in values if v}, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", REDACTED, text, flags=re.IGNORECASE)
    return text


def highlight(text: str, found: list[Found]) -> SafeString:
    """``text`` escaped, with the personal data marked (for the redaction screen)."""
    html = escape(text or "")
    for item in sorted(found, key=lambda f: len(f.value), reverse=True):
        html = re.sub(
            rf"(?<![\w>]){re.escape(escape(item.value))}(?!\w)",
            lambda m, kind=item.kind: f'<mark class="c-pii c-pii-{kind}">{m[0]}</mark>',
            html,
            flags=re.IGNORECASE,
        )
    return SafeString(html)
