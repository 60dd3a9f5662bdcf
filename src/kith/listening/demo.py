"""Demo listening data for ``kith demo``: sources, tracked keywords and a few thousand
mentions over the two months before the anchor, a third by known demo people.

The mentions go through the real pipeline (``services.ingest``: language, sentiment,
topics, matching, timeline mirrors) in batches, so the demo shows what production
would; then the older ones are worked (replied, dismissed, a few converted to cases)
so the queue and the response-time chart look like a team's week. Everything it makes
is found again by ``wipe`` through the sources' ``demo`` audit entries.
"""

from __future__ import annotations

import datetime as dt
import random

from django.contrib.contenttypes.models import ContentType

from kith.core.models import AuditEntry

MENTIONS = 2400
MASTODON_DOMAIN = "mastodon.example"

SOURCES = (
    (
        "mastodon",
        "Acme on Mastodon",
        {"instance": "https://mastodon.example", "timeline": "hashtag", "hashtag": "acme"},
    ),
    ("feed", "Tech press", {"url": "https://press.example/feed.xml"}),
    ("webhook", "Review site (webhook)", {}),
    ("upload", "Imported from the old listening tool", {}),
)
KEYWORDS = (("Acme", False), ("Acme Cloud", False), ("Globex", True), ("Initech", True))

NEGATIVE = [
    "Acme Cloud has been down all morning, nothing loads",
    "Still waiting for my refund from Acme, three weeks now",
    "The Acme app crashed again after the update",
    "Acme support never answers, switching to Globex",
    "My Acme order arrived broken and late",
    "Billing charged me twice this month, Acme please fix",
    "Why is the Acme export so slow? Unusable today",
]
NEUTRAL = [
    "Does Acme Cloud have a status page?",
    "Comparing Acme and Initech for our team next quarter",
    "Acme released version 5 of its reporting tool",
    "Anyone tried the new Acme API limits?",
    "Globex announced a price change today",
    "Meeting the Acme team at the conference tomorrow",
]
POSITIVE = [
    "Love the new Acme dashboard, great work",
    "Acme support fixed my problem in ten minutes, thank you",
    "Acme Cloud has been rock solid for us this year",
    "Switched from Initech to Acme and never looked back",
    "The Acme mobile app is awesome now",
]
TAILS = ["", " #acme", " #acmecloud", " #support", " 🙏", " 😡", " 🎉", " (via the web)"]


def _audit_ids(model) -> list[int]:
    ct = ContentType.objects.get_for_model(model)
    return list(
        AuditEntry.objects.filter(channel="demo", object_type=ct).values_list(
            "object_id", flat=True
        )
    )


def load(*, seed: int, anchor: dt.date) -> str:
    """Write the demo listening data; returns a one-line summary."""
    from django.contrib.auth import get_user_model

    from kith.core.context import channel
    from kith.listening import services
    from kith.listening.incoming import IncomingMention
    from kith.listening.models import Keyword, Mention, MentionStatus, Source
    from kith.people.models import ContactPoint, Party
    from kith.service.models import Queue

    User = get_user_model()
    rng = random.Random(seed + 4242)
    alice = User.objects.filter(username="alice").first()
    if alice is None:
        return "listening: skipped (no demo admin)"
    queue = Queue.objects.order_by("id").first()
    sources = []
    with channel("demo"):
        for kind, name, config in SOURCES:
            made = services.create_source(
                actor=alice, data={"kind": kind, "name": name, "config": config}
            )
            src = made.source
            if kind in ("mastodon", "feed"):
                # The demo's servers are made up: a polled source stays off until someone
                # points it at a real feed, so the demo never reaches for the network.
                Source.objects.filter(pk=src.pk).update(enabled=False, next_poll_at=None)
                src.refresh_from_db()
            if queue is not None and kind in ("mastodon", "webhook"):
                Source.objects.filter(pk=src.pk).update(queue=queue, first_response_minutes=120)
                src.refresh_from_db()
            sources.append(src)
        for term, competitor in KEYWORDS:
            if not Keyword.objects.filter(normalized=term.casefold()).exists():
                services.create_keyword(actor=alice, term=term, is_competitor=competitor)
    # A third of the authors are demo people, found by a Mastodon handle of theirs.
    people = list(
        Party.objects.filter(kind="person", status="active", user__isnull=True).order_by("id")[:80]
    )
    handles = []
    for person in people:
        local = f"{person.given_name or 'p'}{person.pk}".casefold()
        local = "".join(ch for ch in local if ch.isalnum())[:25] or f"p{person.pk}"
        handle = f"{local}@{MASTODON_DOMAIN}"
        ContactPoint.objects.get_or_create(
            channel="mastodon",
            normalized=handle,
            defaults={"party": person, "value": f"@{handle}"},
        )
        handles.append(handle)
    now = dt.datetime.combine(anchor, dt.time(12, 0), tzinfo=dt.UTC)
    per_source: dict[int, list] = {s.pk: [] for s in sources}
    for i in range(MENTIONS):
        src = sources[rng.choices(range(len(sources)), weights=(50, 15, 25, 10))[0]]
        pool = rng.choices((NEGATIVE, NEUTRAL, POSITIVE), weights=(35, 35, 30))[0]
        known = handles and rng.random() < 0.33
        handle = rng.choice(handles) if known else f"user{rng.randrange(5000)}@elsewhere.example"
        # Recent days are busier; a little spike two days ago for the alerts.
        age = dt.timedelta(minutes=int(rng.expovariate(1 / (60 * 24 * 12))) % (60 * 24 * 60))
        if i % 40 == 0:
            age = dt.timedelta(days=2, minutes=rng.randrange(60))
        per_source[src.pk].append(
            IncomingMention(
                external_id=f"demo-{i}",
                text=f"{rng.choice(pool)}{rng.choice(TAILS)} [{i}]",
                channel="mastodon" if src.kind == "mastodon" else src.kind,
                url=f"https://{MASTODON_DOMAIN}/@x/{i}" if src.kind == "mastodon" else "",
                published_at=now - age,
                author_handle=f"@{handle}" if src.kind == "mastodon" else handle,
                author_name=handle.split("@")[0].title(),
                author_followers=int(rng.paretovariate(1.1) * 20),
            )
        )
    created = 0
    for src in sources:
        created += services.ingest(src, per_source[src.pk], now=now).created
    # Work the older part of the queue: most answered or dismissed, a few converted.
    old = list(
        Mention.objects.filter(source__in=sources, status__in=("new", "assigned"))
        .filter(published_at__lt=now - dt.timedelta(days=1))
        .order_by("id")
        .values_list("id", "published_at", "sentiment_label")
    )
    replied, dismissed = [], []
    for pk, published, label in old:
        roll = rng.random()
        if roll < 0.65:
            replied.append((pk, published + dt.timedelta(minutes=rng.randrange(20, 600))))
        elif roll < 0.85 or label == "positive":
            dismissed.append(pk)
    for pk, at in replied:
        Mention.objects.filter(pk=pk).update(
            status=MentionStatus.REPLIED, responded_at=at, responded_by=alice
        )
    Mention.objects.filter(pk__in=dismissed).update(status=MentionStatus.DISMISSED)
    converted = 0
    with channel("demo"):
        for mention in Mention.objects.filter(
            source__in=sources,
            status__in=("new", "assigned"),
            sentiment_label="negative",
            person__isnull=False,
        ).order_by("-rank")[:5]:
            services.convert_mention(actor=alice, mention=mention, kind="case")
            converted += 1
    return (
        f"listening: {created} mentions on {len(sources)} listening sources "
        f"({len(replied)} replied, {len(dismissed)} dismissed, {converted} cases)"
    )


def wipe() -> None:
    """Delete the demo sources (their mentions go with them), keywords and handles."""
    from kith.interactions.models import Interaction
    from kith.listening.models import Keyword, Mention, Source
    from kith.people.models import ContactPoint

    source_ids = _audit_ids(Source)
    mention_ct = ContentType.objects.get_for_model(Mention)
    ids = list(Mention.objects.filter(source_id__in=source_ids).values_list("id", flat=True))
    for start in range(0, len(ids), 500):
        Interaction.objects.filter(
            related_type=mention_ct, related_id__in=ids[start : start + 500]
        ).delete()
    Source.objects.filter(pk__in=source_ids).delete()
    Keyword.objects.filter(pk__in=_audit_ids(Keyword)).delete()
    ContactPoint.objects.filter(
        channel="mastodon", normalized__endswith=f"@{MASTODON_DOMAIN}"
    ).delete()
