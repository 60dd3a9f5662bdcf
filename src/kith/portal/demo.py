"""Demo customer portal for ``kith demo``: what carol (the demo customer) finds when she
logs in, and deflection figures staff can read.

Through the same services a customer and an agent use, on the demo audit channel: two
cases of carol's (one waiting on her with a public reply and an internal note she never
sees, one resolved and rated), her organisation sharing its cases with its contacts,
and deflection records — suggestions shown for a few subjects that match answered
community topics, some read and confirmed, one followed by a case anyway. ``wipe``
removes what ``load`` wrote that the other apps' wipes do not (the cases go with
kith.service's demo, by their ``case.created`` entries).
"""

from __future__ import annotations

import datetime as dt
import random

DEFLECTION_SUBJECTS = ("export", "import", "sync", "merge", "filter", "share", "archive")


def load(*, seed: int, anchor: dt.date) -> str:
    """Write carol's portal data; returns a one-line summary."""
    from kith.accounts.models import User
    from kith.people import services as people_services
    from kith.portal import queries
    from kith.service import services
    from kith.service.inbound import _organization_of

    carol = User.objects.filter(username="carol", kind=User.Kind.PORTAL).first()
    agent = (
        User.objects.filter(username="bob").first() or User.objects.filter(username="alice").first()
    )
    admin = User.objects.filter(username="alice").first()
    if carol is None or agent is None or admin is None:
        return "portal: no demo customer login (carol), nothing added"
    rng = random.Random(seed + 909)
    now = dt.datetime.combine(anchor, dt.time(15, 0), tzinfo=dt.UTC)

    old = services.open_case_as_customer(
        actor=carol,
        subject="Invoice PDF shows the wrong VAT number",
        body="The invoice for last month shows our old VAT number. Can you fix it?",
        at=now - dt.timedelta(days=12),
    )
    services.add_message(
        actor=agent,
        case=old,
        kind="reply",
        body="Thanks — we updated your VAT number and re-issued the invoice.",
        at=now - dt.timedelta(days=11, hours=20),
        send_email=False,
    )
    services.change_status(
        actor=agent, case=old, status="resolved", at=now - dt.timedelta(days=11, hours=19)
    )
    services.rate_as_customer(
        actor=carol,
        case=old,
        rating=5,
        comment="Quick and friendly.",
        at=now - dt.timedelta(days=11),
    )

    current = services.open_case_as_customer(
        actor=carol,
        subject="CSV export cuts accented names",
        body="When I export contacts, names like José come out as JosÃ©.",
        at=now - dt.timedelta(days=2),
    )
    services.add_message(
        actor=agent,
        case=current,
        kind="reply",
        body="Could you tell us which program you open the file with?",
        at=now - dt.timedelta(days=1, hours=22),
        send_email=False,
    )
    services.add_message(
        actor=agent,
        case=current,
        kind="note",
        body="Internal: probably Excel's default encoding; check the BOM option.",
        at=now - dt.timedelta(days=1, hours=21),
    )
    services.change_status(
        actor=agent,
        case=current,
        status="pending_customer",
        at=now - dt.timedelta(days=1, hours=21),
    )

    org = _organization_of(carol.person)
    if org is not None:
        people_services.set_portal_case_sharing(actor=admin, organization=org, enabled=True)

    shown = viewed = confirmed = 0
    for verb in DEFLECTION_SUBJECTS:
        found = queries.suggested_answers(carol, f"how to {verb}")
        if not found:
            continue
        row = services.record_deflection_shown(
            actor=carol, subject=f"How do I {verb} contacts?", suggestions=found
        )
        shown += 1
        if rng.random() < 0.7:
            services.record_deflection_view(
                actor=carol, deflection_id=row.public_id, topic_id=found[0]["id"]
            )
            viewed += 1
            if rng.random() < 0.5:
                services.confirm_deflection(actor=carol, deflection_id=row.public_id)
                confirmed += 1
    return (
        f"portal: 2 cases for carol (one rated), {shown} deflection offers, "
        f"{viewed} answers read, {confirmed} confirmed"
    )


def wipe() -> None:
    """Delete the deflection records of the demo customer (the cases go with kith.service)."""
    from kith.service.models import Deflection

    Deflection.objects.filter(user__username="carol", user__kind="portal").delete()
