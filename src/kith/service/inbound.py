"""E-mail to case: the service that turns one inbound message into a case or a reply.

Part of the service layer (one transaction, audit, events), kept apart from
``services.py`` because of its size. The three entry points (``.eml`` upload, the
IMAP poller, the inbound SMTP endpoint) all call ``ingest_email``.

Threading, in order: a known Message-ID in In-Reply-To or References, then the case
token (``[#CASE-1042]``) in the subject. Auto-replies and bounces are logged and
dropped, never made into cases (a vacation reply must not open a ticket, and replying
to it would start a mail loop). A message seen before (same Message-ID) is a no-op,
so a poller that crashes after fetching can safely fetch again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from kith.core import audit, events
from kith.core.errors import ValidationFailed
from kith.people import services as people_services
from kith.people.models import ContactPoint, Party
from kith.people.normalize import InvalidContactPoint, normalize_email
from kith.service import mailparse, services
from kith.service.models import (
    Attachment,
    Case,
    CaseMessage,
    InboundMail,
    Origin,
    Queue,
    Status,
)

MAX_RAW_BYTES = 40 * 1024 * 1024


@dataclass
class IngestResult:
    outcome: str
    case: Case | None = None
    message: CaseMessage | None = None
    detail: str = ""

    @property
    def created(self) -> bool:
        return self.outcome == InboundMail.Outcome.CREATED


def resolve_sender(*, email_address: str, name: str = "") -> Party:
    """The person behind an address: matched on the normalised e-mail first (through the
    people's contact points, following merges), else created as a new person."""
    try:
        normalized = normalize_email(email_address)
    except InvalidContactPoint:
        raise ValidationFailed.single("from", "The sender address is not valid.") from None
    point = (
        ContactPoint.objects.select_related("party")
        .filter(channel=ContactPoint.EMAIL, normalized=normalized)
        .first()
    )
    if point is not None:
        party = point.party
        seen: set[int] = set()
        while party.status == Party.Status.MERGED and party.merged_into_id and party.pk not in seen:
            seen.add(party.pk)
            party = Party.objects.get(pk=party.merged_into_id)
        if party.status == Party.Status.ACTIVE and party.kind == Party.Kind.PERSON:
            return party
    given, family = _split_name(name, normalized)
    contacts = []
    if point is None:
        contacts = [people_services.ContactInput(ContactPoint.EMAIL, email_address.strip())]
    return people_services.create_party(
        actor=None,
        data=people_services.PartyInput(
            kind=Party.Kind.PERSON,
            fields={"given_name": given, "family_name": family},
            contact_points=contacts,
        ),
    )


def _split_name(name: str, address: str) -> tuple[str, str]:
    name = " ".join((name or "").replace('"', "").split())
    if "," in name:  # "Lima, Ana"
        family, _, given = name.partition(",")
        return given.strip()[:150], family.strip()[:150]
    if not name:
        return address.split("@", 1)[0][:150], ""
    parts = name.split(" ")
    if len(parts) == 1:
        return parts[0][:150], ""
    return " ".join(parts[:-1])[:150], parts[-1][:150]


def _find_case(parsed: mailparse.ParsedMail, sender: Party) -> Case | None:
    """The case this message answers, among those ``sender`` takes part in.

    Reply headers and a ``[#CASE-n]`` token are only claims: anyone can copy a case
    number into a subject or a Message-ID into In-Reply-To. A message threads into a
    case only when its sender is part of that case's conversation
    (``_takes_part``); otherwise it is a new request of its own, so an outsider can
    never write into (or reopen) someone else's case.
    """
    candidates: list[int] = []
    ids = parsed.thread_ids
    if ids:
        known = dict(
            CaseMessage.objects.filter(message_id__in=ids).values_list("message_id", "case_id")
        )
        candidates += [known[mid] for mid in ids if mid in known]
    numbers = [int(m.group(1)) for m in services.TOKEN_RE.finditer(parsed.subject or "")]
    if numbers:
        by_number = dict(Case.objects.filter(number__in=numbers).values_list("number", "pk"))
        candidates += [by_number[n] for n in numbers if n in by_number]
    for pk in dict.fromkeys(candidates):
        case = Case.objects.filter(pk=pk).first()
        if case is not None and _takes_part(sender, case):
            return case
    return None


def _takes_part(sender: Party, case: Case) -> bool:
    """Whether ``sender`` may add to ``case`` by e-mail: its requester, someone who
    wrote on it before or was copied on the customer's mail about it, or a current
    member of the case's organisation."""
    from kith.people.models import Relationship

    if sender.pk == case.requester_id:
        return True
    inbound_mail = CaseMessage.objects.filter(case=case, kind=CaseMessage.Kind.INBOUND)
    if inbound_mail.filter(sender=sender).exists():
        return True
    own = set(
        ContactPoint.objects.filter(party=sender, channel=ContactPoint.EMAIL).values_list(
            "normalized", flat=True
        )
    )
    if own:
        for listed in inbound_mail.exclude(to_email="").values_list("to_email", flat=True):
            for address in listed.split(","):
                try:
                    if normalize_email(address.strip()) in own:
                        return True
                except InvalidContactPoint:
                    continue
    return bool(
        case.organization_id
        and Relationship.objects.current()
        .filter(subject=sender, object_id=case.organization_id)
        .exists()
    )


def _queue_for(parsed: mailparse.ParsedMail, queue: Queue | None) -> Queue | None:
    if queue is not None:
        return queue
    addresses = []
    for addr in parsed.to:
        try:
            addresses.append(normalize_email(addr))
        except InvalidContactPoint:
            continue
    if addresses:
        found = Queue.objects.filter(email_address__in=addresses).order_by("id").first()
        if found is not None:
            return found
    return Queue.objects.filter(is_default=True).first()


def _log(
    source: str, parsed: mailparse.ParsedMail, outcome: str, detail: str = "", case=None
) -> None:
    InboundMail.objects.create(
        source=source[:20],
        message_id=parsed.message_id,
        from_email=parsed.from_email[:254],
        subject=parsed.subject[:300],
        outcome=outcome,
        detail=detail[:300],
        case=case,
    )


def ingest_email(
    *,
    raw: bytes,
    source: str,
    actor=None,
    queue: Queue | None = None,
    at: dt.datetime | None = None,
) -> IngestResult:
    """Turn one raw RFC 5322 message into a new case or a message on an existing one."""
    if not raw or len(raw) > MAX_RAW_BYTES:
        raise ValidationFailed.single("file", "Empty or larger than 40 MB.")
    try:
        parsed = mailparse.parse(raw)
    except mailparse.UnreadableMail as exc:
        _log(source, mailparse.ParsedMail(), InboundMail.Outcome.REJECTED, str(exc))
        raise ValidationFailed.single("file", str(exc)) from None
    when = at or parsed.date or timezone.now()
    if when > timezone.now() + dt.timedelta(minutes=5):
        when = timezone.now()  # a sender's clock in the future must not reorder the thread
    with transaction.atomic():
        if parsed.bounce or parsed.auto_reply:
            outcome = (
                InboundMail.Outcome.BOUNCE if parsed.bounce else InboundMail.Outcome.AUTO_REPLY
            )
            _log(source, parsed, outcome, parsed.reason)
            return IngestResult(outcome, detail=parsed.reason)
        if not parsed.from_email:
            _log(source, parsed, InboundMail.Outcome.REJECTED, "no sender address")
            raise ValidationFailed.single("file", "The message has no From address.")
        if parsed.message_id:
            existing = (
                CaseMessage.objects.select_related("case")
                .filter(message_id=parsed.message_id, kind=CaseMessage.Kind.INBOUND)
                .first()
            )
            if existing is not None:
                _log(source, parsed, InboundMail.Outcome.DUPLICATE, case=existing.case)
                return IngestResult(
                    InboundMail.Outcome.DUPLICATE, case=existing.case, message=existing
                )
        try:
            sender = resolve_sender(email_address=parsed.from_email, name=parsed.from_name)
        except ValidationFailed:
            _log(source, parsed, InboundMail.Outcome.REJECTED, "invalid sender address")
            raise
        body = mailparse.strip_quoted(parsed.text)
        case = _find_case(parsed, sender)
        created = case is None
        if created:
            case = services.create_case(
                actor=actor,
                data=services.CaseInput(
                    subject=parsed.subject or "(no subject)",
                    description=body,
                    requester=sender,
                    organization=_organization_of(sender),
                    origin=Origin.EMAIL,
                    queue=_queue_for(parsed, queue),
                ),
                at=when,
            )
        message = CaseMessage.objects.create(
            case=case,
            kind=CaseMessage.Kind.INBOUND,
            sender=sender,
            from_email=parsed.from_email[:254],
            to_email=", ".join(parsed.to)[:1000],
            subject=parsed.subject,
            body_text=body,
            body_html=parsed.html,
            message_id=parsed.message_id,
            in_reply_to=parsed.in_reply_to,
            references=" ".join(parsed.references),
            occurred_at=when,
        )
        for item in parsed.attachments:
            attachment = Attachment(
                message=message,
                filename=item.filename,
                content_type=item.content_type,
                size=len(item.content),
            )
            attachment.file.save(item.filename, ContentFile(item.content), save=False)
            attachment.save()
        services.log_message_interaction(message, actor=actor)
        Case.objects.filter(pk=case.pk).update(last_activity_at=when)
        audit.record(
            actor=actor,
            action="case.email_received",
            obj=case,
            changes={"message_id": parsed.message_id, "from": parsed.from_email},
            party_id=case.requester_id,
        )
        events.emit(
            "case.message_added",
            obj=case,
            actor=actor,
            data={"message": str(message.public_id), "kind": "inbound", "number": case.number},
        )
        # The customer answered: a waiting or finished case needs attention again.
        if not created and case.status in (Status.PENDING_CUSTOMER, Status.RESOLVED, Status.CLOSED):
            case = services.change_status(actor=actor, case=case, status=Status.OPEN, at=when)
        outcome = InboundMail.Outcome.CREATED if created else InboundMail.Outcome.THREADED
        _log(source, parsed, outcome, case=case)
    return IngestResult(outcome, case=case, message=message)


def _organization_of(person: Party) -> Party | None:
    """The organisation the person currently works for, if exactly one."""
    from kith.people.models import Relationship

    orgs = list(
        Relationship.objects.current()
        .filter(subject=person, object__kind=Party.Kind.ORGANIZATION)
        .values_list("object_id", flat=True)
        .distinct()[:2]
    )
    if len(orgs) == 1:
        return Party.objects.get(pk=orgs[0])
    return None
