"""E-mail templates and one-to-one e-mail from a person's page.

``send_email`` logs the message on the person's timeline (an outbound e-mail
interaction) and an ``OutgoingEmail`` row in one transaction, then queues delivery
after commit; the worker sends it (``kith.mail.tasks``), asking the person's consent
and channel choice right before it leaves, as a case reply does.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from kith.core import audit, events
from kith.core.errors import FieldError, ValidationFailed
from kith.interactions import services as interaction_services
from kith.interactions.models import Channel, Direction
from kith.mail import placeholders
from kith.mail.models import EmailTemplate, OutgoingEmail
from kith.people import access as people_access
from kith.people.models import ContactPoint, Party, Relationship

TEMPLATE_FIELDS = ("name", "subject", "body")
MAX_SUBJECT = 300
MAX_TEMPLATE_BODY = 50_000
MAX_BODY = 100_000


# ---------------------------------------------------------------- templates


def _template_errors(
    *, name: str, subject: str, body: str, exclude: int | None = None
) -> list[FieldError]:
    errors: list[FieldError] = []
    if not name:
        errors.append(FieldError("name", "This field is required."))
    elif len(name) > 120:
        errors.append(FieldError("name", "At most 120 characters."))
    else:
        clash = EmailTemplate.objects.filter(name__iexact=name)
        if exclude is not None:
            clash = clash.exclude(pk=exclude)
        if clash.exists():
            errors.append(FieldError("name", "A template with this name exists."))
    errors += _subject_errors(subject)
    if subject:
        errors += placeholders.check(subject, "subject")
    if not body.strip():
        errors.append(FieldError("body", "This field is required."))
    elif len(body) > MAX_TEMPLATE_BODY:
        errors.append(FieldError("body", f"At most {MAX_TEMPLATE_BODY} characters."))
    else:
        errors += placeholders.check(body, "body")
    return errors


def _subject_errors(subject: str) -> list[FieldError]:
    if not subject:
        return [FieldError("subject", "This field is required.")]
    if len(subject) > MAX_SUBJECT:
        return [FieldError("subject", f"At most {MAX_SUBJECT} characters.")]
    if "\n" in subject or "\r" in subject:
        # A line break in a header would let the text add headers of its own.
        return [FieldError("subject", "One line only.")]
    return []


def create_template(*, actor, name: str, subject: str, body: str) -> EmailTemplate:
    """Add an e-mail template (admins and managers; checked by the caller's access)."""
    name, subject = " ".join(name.split()), subject.strip()
    errors = _template_errors(name=name, subject=subject, body=body)
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        template = EmailTemplate.objects.create(
            name=name,
            subject=subject,
            body=body,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit.record(actor=actor, action="email_template.created", obj=template)
        events.emit("email_template.created", obj=template, actor=actor, data={"name": name})
    return template


def update_template(*, actor, template: EmailTemplate, changes: dict[str, Any]) -> EmailTemplate:
    """Change a template's name, subject or body (only the keys given)."""
    unknown = set(changes) - set(TEMPLATE_FIELDS)
    if unknown:
        raise ValidationFailed(errors=[FieldError(k, "Unknown field.") for k in sorted(unknown)])
    with transaction.atomic():
        row = EmailTemplate.objects.select_for_update().get(pk=template.pk)
        values = {
            "name": " ".join(str(changes.get("name", row.name)).split()),
            "subject": str(changes.get("subject", row.subject)).strip(),
            "body": str(changes.get("body", row.body)),
        }
        errors = _template_errors(**values, exclude=row.pk)
        if errors:
            raise ValidationFailed(errors=errors)
        diff = {k: v for k, v in values.items() if getattr(row, k) != v}
        for key, value in diff.items():
            setattr(row, key, value)
        if diff:
            row.save(update_fields=[*diff, "updated_at"])
            audit.record(actor=actor, action="email_template.updated", obj=row, changes=list(diff))
            events.emit("email_template.updated", obj=row, actor=actor, data={"name": row.name})
    return row


def delete_template(*, actor, template: EmailTemplate) -> None:
    """Remove a template; e-mails sent with it keep their text."""
    with transaction.atomic():
        audit.record(
            actor=actor, action="email_template.deleted", obj=template, changes=[template.name]
        )
        events.emit(
            "email_template.deleted", obj=template, actor=actor, data={"name": template.name}
        )
        EmailTemplate.objects.filter(pk=template.pk).delete()


# ---------------------------------------------------------------- filling in


def email_addresses(person: Party) -> list[str]:
    """The person's e-mail addresses, primary first."""
    return list(
        ContactPoint.objects.filter(party=person, channel=ContactPoint.EMAIL)
        .order_by("-primary", "id")
        .values_list("value", flat=True)
    )


def _organisation(actor, person: Party) -> str:
    """The name of the organisation of the person's current role, one ``actor`` may see."""
    rel = (
        Relationship.objects.current()
        .filter(
            subject=person,
            object__kind=Party.Kind.ORGANIZATION,
            object__in=people_access.staff_scope(actor).values("pk"),
        )
        .select_related("object")
        # The latest role started wins; undated ones last (PostgreSQL sorts NULL first).
        .order_by(F("valid_from").desc(nulls_last=True), "-id")
        .first()
    )
    return rel.object.display_name if rel else ""


def placeholder_values(*, actor, person: Party) -> dict[str, str]:
    """What each placeholder stands for, for ``person`` written to by ``actor``."""
    from kith.accounts import services as accounts

    company = accounts.workspace().company
    emails = email_addresses(person)
    return {
        "first_name": person.given_name or person.display_name,
        "last_name": person.family_name,
        "full_name": person.display_name,
        "job_title": person.title,
        "organisation": _organisation(actor, person),
        "email": emails[0] if emails else "",
        "my_name": (actor.get_full_name() or actor.username) if actor else "",
        "my_email": getattr(actor, "email", "") or "",
        "company": company.display_name if company else "",
    }


def render_template(*, actor, template: EmailTemplate, person: Party) -> tuple[str, str]:
    """(subject, body) of ``template`` filled in for ``person``."""
    values = placeholder_values(actor=actor, person=person)
    subject = " ".join(placeholders.render(template.subject, values).split())
    return subject, placeholders.render(template.body, values)


# ---------------------------------------------------------------- sending


def send_email(
    *,
    actor,
    person: Party,
    subject: str,
    body: str,
    to: str = "",
    template: EmailTemplate | None = None,
) -> OutgoingEmail:
    """E-mail ``person`` (to their primary address, or ``to``, one of theirs).

    Logged on their timeline at once; delivered by the worker after commit.
    """
    subject = subject.strip()
    errors = _subject_errors(subject)
    if not body.strip():
        errors.append(FieldError("body", "This field is required."))
    elif len(body) > MAX_BODY:
        errors.append(FieldError("body", f"At most {MAX_BODY} characters."))
    addresses = email_addresses(person)
    if not addresses:
        errors.append(FieldError("to", "This person has no e-mail address; add one first."))
    elif to and to not in addresses:
        errors.append(FieldError("to", "Choose one of this person's e-mail addresses."))
    if person.kind != Party.Kind.PERSON or person.status != Party.Status.ACTIVE:
        errors.append(FieldError("person", "Only an active person can be e-mailed."))
    if errors:
        raise ValidationFailed(errors=errors)
    from kith.cmr import policy as cmr_policy

    # One-to-one correspondence: consent and channel choice count, not marketing caps.
    decision = cmr_policy.may_send(person=person, purpose="service_messages", conversational=True)
    if not decision:
        raise ValidationFailed.single("to", f"Not allowed: {decision.reason}")
    with transaction.atomic():
        interaction, _ = interaction_services.log_interaction(
            actor=actor,
            party=person,
            channel=Channel.EMAIL,
            direction=Direction.OUTBOUND,
            kind="email",
            summary=subject[:300],
            body=body,
        )
        outgoing = OutgoingEmail.objects.create(
            party=person,
            interaction=interaction,
            sender=actor if getattr(actor, "is_authenticated", False) else None,
            template=template,
            to_address=to or addresses[0],
            reply_to=getattr(actor, "email", "") or "",
            subject=subject,
            body=body,
        )
        audit.record(
            actor=actor,
            action="email.queued",
            obj=outgoing,
            changes={"subject": subject, "template": template.name if template else ""},
            party_id=person.pk,
        )
        events.emit(
            "email.queued",
            obj=outgoing,
            actor=actor,
            data={"party": str(person.public_id), "subject": subject},
        )
        transaction.on_commit(lambda pk=outgoing.pk: _enqueue(pk))
    return outgoing


def delivery_states(interaction_ids: list[int]) -> dict[int, dict[str, str]]:
    """Delivery (status, label, error) of the e-mails behind these timeline entries,
    keyed by interaction id; one query, for the timeline to show beside each e-mail."""
    if not interaction_ids:
        return {}
    labels = dict(OutgoingEmail.Status.choices)
    rows = OutgoingEmail.objects.filter(interaction_id__in=interaction_ids).values_list(
        "interaction_id", "status", "error"
    )
    return {
        iid: {"status": status, "label": labels.get(status, status), "error": error}
        for iid, status, error in rows
    }


def _enqueue(pk: int) -> None:
    from kith.mail import tasks  # tasks import services

    tasks.deliver_email.enqueue(pk)


def deliver(outgoing_pk: int, *, connection=None) -> bool:
    """Send one queued e-mail; notes success or the error. Sends each row at most once:
    the row is claimed by a conditional update before the mail leaves."""
    from django.core.mail import EmailMessage

    from kith.cmr import policy as cmr_policy

    row = OutgoingEmail.objects.select_related("party").filter(pk=outgoing_pk).first()
    if row is None or row.status == OutgoingEmail.Status.SENT:
        return row is not None
    decision = cmr_policy.may_send(
        person=row.party, purpose="service_messages", conversational=True
    )
    if not decision:
        OutgoingEmail.objects.filter(pk=row.pk, status=OutgoingEmail.Status.QUEUED).update(
            status=OutgoingEmail.Status.FAILED, error=f"Not sent: {decision.reason}"[:500]
        )
        return False
    mail = EmailMessage(
        subject=row.subject,
        body=row.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[row.to_address],
        reply_to=[row.reply_to] if row.reply_to else None,
        connection=connection,
    )
    # Claim the row before the mail leaves: of two workers running the same job (the
    # queue delivers at least once), only the one whose conditional update matched sends.
    claimed = OutgoingEmail.objects.filter(pk=row.pk, status=row.status).update(
        status=OutgoingEmail.Status.SENT, sent_at=timezone.now(), error=""
    )
    if not claimed:
        return OutgoingEmail.objects.filter(pk=row.pk, status=OutgoingEmail.Status.SENT).exists()
    try:
        mail.send()
    except Exception as exc:  # the task retries; keep the reason for the UI
        OutgoingEmail.objects.filter(pk=row.pk).update(
            status=row.status, sent_at=None, error=str(exc)[:500]
        )
        raise
    cmr_policy.record_sent(person=row.party, purpose="service_messages", sender="mail.compose")
    return True
