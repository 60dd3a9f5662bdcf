"""Background work for the service desk: sending replies and CSAT invitations, the SLA
breach pass and the IMAP poller. Each task calls the service layer."""

from __future__ import annotations

import contextlib

from django.conf import settings
from django.core.mail import send_mail
from django_tasks import task

from kith.service import services
from kith.service.models import Case, CaseMessage


@task()
def send_case_reply(message_pk: int) -> bool:
    """E-mail one public reply (retried by the worker when SMTP fails)."""
    message = CaseMessage.objects.filter(pk=message_pk).first()
    if message is None:
        return False
    return services.deliver_reply(message)


@task()
def send_csat_invite(case_pk: int) -> bool:
    """After resolution, mail the requester a signed link to rate the service."""
    case = Case.objects.select_related("requester").filter(pk=case_pk).first()
    if case is None:
        return False
    to = services.requester_email(case)
    if not to:
        return False
    # Consent and preferences are asked right before sending; in quiet hours or over a
    # cap the invitation waits when the task backend can defer, else it is dropped.
    from kith.cmr import policy as cmr_policy

    decision = cmr_policy.may_send(
        person=case.requester, purpose="service_messages", topic="surveys"
    )
    if not decision:
        if decision.retry_at is not None:
            with contextlib.suppress(Exception):  # backends without deferral refuse
                send_csat_invite.using(run_after=decision.retry_at).enqueue(case_pk)
        return False
    link = f"{settings.KITH_BASE_URL}/service/csat/{services.csat_token(case)}/"
    send_mail(
        subject=f"How did we do? {case.token} {case.subject}",
        message=(
            f"Your request {case.token} was resolved. Please rate our help from 1 to 5:\n\n"
            f"{link}\n\nThe link works for 30 days.\n"
        ),
        from_email=(
            case.queue.email_address if case.queue_id and case.queue.email_address else None
        )
        or settings.DEFAULT_FROM_EMAIL,
        recipient_list=[to],
    )
    cmr_policy.record_sent(
        person=case.requester, purpose="service_messages", sender="service.csat", topic="surveys"
    )
    return True


@task()
def check_sla_breaches() -> int:
    """Flag, announce and notify missed SLA targets; run it every minute or so."""
    return len(services.check_breaches())


@task()
def poll_imap() -> dict[str, int]:
    """Fetch unseen mail from ``KITH_IMAP_URL`` and ingest it."""
    from kith.service import imap

    return imap.poll(settings.KITH_IMAP_URL)
