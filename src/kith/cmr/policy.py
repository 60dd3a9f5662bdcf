"""What every sender asks before it contacts a person: consent, then preferences.

``may_send`` answers with a ``Decision``: allowed, or refused with the reason (and, for
quiet hours, when sending would be allowed again). Senders call it right before they
send, so a withdrawal or a new preference takes effect at once, and ``record_sent``
after, which the frequency caps count. Replies in a conversation the person started
(``conversational=True``) obey consent and channels but not caps or quiet hours: the
person is waiting for them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from kith.core import timezones
from kith.people.models import Party

from .models import Channel, Consent, Preference, Purpose, SentMessage

# Topics a customer may mute; senders name theirs.
TOPICS: dict[str, str] = {
    "cases": "Replies about your requests",
    "surveys": "Satisfaction surveys",
    "notifications": "Notifications about what you follow",
    "news": "News and offers",
    "research": "Research invitations",
}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    code: str = ""
    retry_at: dt.datetime | None = None

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Decision(True)


def person_of_user(user) -> Party | None:
    """The person whose choices govern mail to ``user``: customers (portal users) only.

    Staff notifications are part of their work, not a customer relationship.
    """
    if getattr(user, "is_portal", False) and getattr(user, "person_id", None):
        return user.person
    return None


def has_consent(*, person: Party, purpose: str, channel: str = Channel.EMAIL) -> bool:
    """The person's latest answer for ``purpose`` on ``channel`` (or on every channel),
    else the purpose's default; an unknown or inactive purpose is never consented."""
    found = Purpose.objects.filter(key=purpose, active=True).first()
    if found is None:
        return False
    if terms_block(person, found):
        return False
    latest = (
        Consent.objects.filter(person=person, purpose=found, channel__in=[channel, Channel.ANY])
        .order_by("-changed_at", "-id")
        .values_list("granted", flat=True)
        .first()
    )
    return found.default_granted if latest is None else latest


def terms_block(person: Party, purpose: Purpose) -> str:
    """The name of the person's accepted term that forbids ``purpose`` ("" when none)."""
    from . import terms

    blocker = terms.blocking_term(terms.in_force(person), purpose)
    return terms.term_name(blocker) if blocker else ""


def may_share(*, person: Party, purpose: str = "partner_sharing") -> Decision:
    """Whether ``person``'s data may go to a third party (a partner) for ``purpose``:
    never against their terms (``no_sharing``), otherwise only with their consent."""
    if person.status == Party.Status.ERASED:
        return Decision(False, "The person was erased.", "erased")
    found = Purpose.objects.filter(key=purpose, active=True).first()
    if found is None:
        return Decision(False, f"Unknown purpose {purpose}.", "no_consent")
    blocker = terms_block(person, found)
    if blocker:
        return Decision(False, f"The person's terms forbid it: {blocker}.", "terms")
    if not has_consent(person=person, purpose=purpose, channel=Channel.ANY):
        return Decision(False, f"No consent to {purpose}.", "no_consent")
    return ALLOWED


def _zone(pref: Preference, person: Party) -> dt.tzinfo:
    # The preference's zone, else the person's, else UTC; a stored name that is no
    # zone (a folder of the tz database such as "Etc") is passed over, never raised.
    for name in (pref.timezone, getattr(person, "timezone", "")):
        if name and timezones.is_valid(name):
            return timezones.zone(name)
    return dt.UTC


def quiet_until(pref: Preference, person: Party, now: dt.datetime) -> dt.datetime | None:
    """When the person's quiet hours end if ``now`` falls inside them, else None."""
    if pref.quiet_start is None or pref.quiet_end is None:
        return None
    local = now.astimezone(_zone(pref, person))
    start, end, t = pref.quiet_start, pref.quiet_end, local.time()
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside:
        return None
    day = local.date() if t < end else local.date() + dt.timedelta(days=1)
    wall = dt.datetime.combine(day, end)
    # fold/normalisation through the zone copes with DST gaps at the boundary.
    return wall.replace(tzinfo=local.tzinfo).astimezone(dt.UTC)


def may_send(
    *,
    person: Party | None,
    purpose: str,
    channel: str = Channel.EMAIL,
    topic: str = "",
    conversational: bool = False,
    now: dt.datetime | None = None,
) -> Decision:
    """Whether a message for ``purpose`` on ``channel`` about ``topic`` may go now."""
    if person is None:
        return ALLOWED
    if person.status == Party.Status.ERASED:
        return Decision(False, "The person was erased.", "erased")
    found = Purpose.objects.filter(key=purpose, active=True).first()
    blocker = terms_block(person, found) if found is not None else ""
    if blocker:
        return Decision(False, f"The person's terms forbid it: {blocker}.", "terms")
    if not has_consent(person=person, purpose=purpose, channel=channel):
        return Decision(False, f"No consent to {purpose} by {channel}.", "no_consent")
    pref = Preference.objects.filter(person=person).first()
    if pref is None:
        return ALLOWED
    if channel not in (pref.channels or []):
        return Decision(False, f"The person does not want {channel}.", "channel_off")
    if topic and topic in (pref.muted_topics or []):
        return Decision(False, f"The person muted {topic}.", "topic_muted")
    if conversational:
        return ALLOWED
    now = now or timezone.now()
    until = quiet_until(pref, person, now)
    if until is not None:
        return Decision(False, "Quiet hours.", "quiet_hours", retry_at=until)
    for cap, days in ((pref.max_per_day, 1), (pref.max_per_week, 7)):
        if cap is None:
            continue
        since = now - dt.timedelta(days=days)
        sent = SentMessage.objects.filter(person=person, sent_at__gt=since).order_by("sent_at")
        if sent.count() >= cap:
            first = sent.values_list("sent_at", flat=True).first()
            retry = (first + dt.timedelta(days=days)) if first else None
            return Decision(False, f"At most {cap} messages a {days}-day period.", "cap", retry)
    return ALLOWED


def record_sent(
    *,
    person: Party | None,
    purpose: str,
    sender: str,
    channel: str = Channel.EMAIL,
    topic: str = "",
    at: dt.datetime | None = None,
) -> None:
    """Note a message that left (what frequency caps count)."""
    if person is None:
        return
    SentMessage.objects.create(
        person=person,
        purpose=purpose[:60],
        channel=channel[:10],
        topic=topic[:60],
        sender=sender[:60],
        sent_at=at or timezone.now(),
    )
