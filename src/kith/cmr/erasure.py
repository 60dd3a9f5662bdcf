"""Erasure: a customer's request, the legal-hold check, and anonymising a person.

The workflow
    ``request_erasure`` files a request (the customer, or staff on their behalf) and
    answers the legal holds found *now* (open deals, open cases, an unpaid balance,
    transactions and cases inside the retention periods of the settings), so the
    customer is told at once what stands in the way. ``process_erasure`` (staff whose
    role is in ``KITH_CMR_ERASURE_ROLES``) checks the holds again: with any, the
    request is refused with those reasons; without, the person is erased. Staff may
    also refuse with a reason of their own (``refuse_erasure``).

What erasing does
    It is driven by the model graph, like the export (``kith.cmr.registry``): every
    model with a path to ``people.Party`` has an **erasure rule** here — the lookups
    that find the person's rows, and whether to blank their free-text fields or delete
    the rows (and their files) — or is **kept** with a reason (no free text, or an
    aggregate). ``tests/cmr/test_erasure.py`` fails for a model in neither list.

    Rows are anonymised, not deleted, wherever they carry aggregates (interactions,
    transactions, deals, votes): counts, amounts and dates stay. The person's own rows
    (party, login, audit entries) have handlers of their own. Then a **sweep** replaces
    every remaining occurrence of the erased values (names, e-mail addresses, phones,
    handles, login names) in every text and JSON column of every table, so text that
    merely *mentions* them (a colleague's note, an outbox payload, a notification, a
    stored import file) is covered too, and a new model needs no code to be swept. The
    identity columns of *other* people (their names, contact points, logins) are left
    out of the sweep: a namesake must keep their name. Finally the person leaves every
    search index (people FTS5 / PostgreSQL tsvector and its word list; community topics
    are re-indexed from their anonymised text), and stored copies of sent mail that
    name them are deleted.

    Irreversible and audited: the audit entry says an erasure happened and how many
    rows of each model it touched, never a value. Erasing an erased person is a 409.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from kith.core import audit, events
from kith.core.errors import Conflict, Forbidden, NotFound
from kith.people.models import ContactPoint, Party

from .models import ErasureRequest, RequestStatus

logger = logging.getLogger("kith.cmr.erasure")

REPLACEMENT = "[erased]"
FORMER_MEMBER = ("A former", "member")  # first and last name: "A former member"
MIN_SWEEP_LENGTH = 4  # shorter values would rub out other people's words
SWEEP_CHUNK = 40


# ---------------------------------------------------------------- the registry


@dataclass(frozen=True)
class ErasureRule:
    label: str
    lookups: tuple[str, ...]  # ORM lookups from the model to the person's Party pk
    scrub: tuple[str, ...] = ()  # text / JSON fields blanked on those rows
    delete: bool = False  # delete the rows (and files in their FileFields) instead
    files: tuple[str, ...] = field(default_factory=tuple)


RULES: dict[str, ErasureRule] = {}
KEPT: dict[str, str] = {}
# Handled by code of their own below (the person, their login, the audit log).
SPECIAL: dict[str, str] = {}


def register_erasure(
    label: str, *lookups: str, scrub: tuple[str, ...] = (), delete: bool = False
) -> None:
    """Erase ``label``'s rows reached through ``lookups``: blank ``scrub`` or delete them."""
    if not lookups or not (scrub or delete):
        raise ValueError("an erasure rule needs lookups and something to scrub or delete")
    KEPT.pop(label, None)
    RULES[label] = ErasureRule(label, tuple(lookups), tuple(scrub), delete)


def register_kept(label: str, reason: str) -> None:
    """Keep ``label``'s rows as they are on erasure (the sweep still runs over them)."""
    if not reason.strip():
        raise ValueError("keeping a model needs a reason")
    RULES.pop(label, None)
    KEPT[label] = reason


def _special(label: str, reason: str) -> None:
    SPECIAL[label] = reason


_special("people.Party", "Names, notes, attributes blanked; status erased; out of the index.")
_special("accounts.User", "Login renamed, deactivated, no password; shown as a former member.")
_special("core.AuditEntry", "Entries about the person keep the action, lose values and labels.")

# people and logins
register_erasure("people.ContactPoint", "party", delete=True)
register_erasure("people.Relationship", "subject", "object", scrub=("note",))
register_erasure("people.SavedView", "user__person", delete=True)
register_erasure("accounts.PortalSignup", "user__person", delete=True)
register_erasure("accounts.ApiToken", "user__person", delete=True)
register_kept("people.ImportJob", "A staff import run; the sweep redacts the person in its file.")
register_erasure("core.IdempotencyRecord", "user__person", delete=True)

# cmr
register_kept("cmr.Consent", "The answers (no text) stay as the proof of what was allowed.")
register_kept(
    "cmr.ConsentReceipt",
    "Signed proof of consent; names the person only by an opaque id, holds no value.",
)
register_erasure("cmr.Preference", "person", delete=True)
register_kept("cmr.SentMessage", "Counts of messages sent (no content): frequency caps.")
register_kept("cmr.AccessLogEntry", "Who read the record and when; ids only (reasons swept).")
register_erasure(
    "cmr.CorrectionRequest", "person", scrub=("current_value", "proposed_value", "note", "reason")
)
register_kept("cmr.ErasureRequest", "Keeps that an erasure happened; holds no erased value.")
register_kept(
    "cmr.TermsAgreement", "Signed proof of the terms agreed; names the person only by an opaque id."
)
register_erasure("cmr.Intent", "person", scrub=("description", "location"))
register_kept("cmr.Offer", "A staff offer (price, product); the sweep redacts the person in it.")

# interactions, sales, service, work
register_erasure("interactions.Interaction", "party", scrub=("summary", "body"))
register_erasure("interactions.Transaction", "party", scrub=("description",))
register_erasure("sales.Deal", "person", scrub=("notes", "next_step", "lost_reason"))
register_kept("sales.DealContact", "Links a deal to a person; no free text.")
register_kept("sales.DealLine", "Products and amounts of a deal: aggregates.")
register_kept("sales.StageChange", "Stage moves of a deal: dates and stages only.")
register_erasure("service.Case", "requester", scrub=("subject", "description"))
register_erasure(
    "service.CaseMessage",
    "case__requester",
    "sender",
    scrub=("from_email", "to_email", "subject", "body_text", "body_html"),
)
register_erasure("service.Attachment", "message__case__requester", "message__sender", delete=True)
register_erasure("service.CsatResponse", "case__requester", scrub=("comment",))
register_erasure("service.Deflection", "party", "user__person", scrub=("subject",))
register_erasure(
    "service.InboundMail", "case__requester", scrub=("from_email", "subject", "detail")
)
register_kept("service.SlaBreach", "Service-level figures of a case: times only.")
register_kept("service.StatusChange", "Status moves of a case: dates and statuses only.")
register_kept("service.Queue", "A staff work queue; about no one.")
register_kept("service.SlaPolicy", "An organisation's service terms; about no one person.")
register_erasure("work.Activity", "party", scrub=("summary", "note", "outcome"))
register_erasure("work.MeetingAttendee", "party", "user__person", scrub=("email", "name"))
register_kept("work.Meeting", "Shared by its attendees; the sweep redacts the person in it.")
register_erasure("work.CalendarFeed", "user__person", delete=True)

# collaboration
register_erasure(
    "collab.Post", "author__person", "author_party", scrub=("body_markdown", "body_html")
)
register_erasure(
    "collab.Comment", "author__person", "author_party", scrub=("body_markdown", "body_html")
)
register_erasure(
    "collab.Attachment",
    "uploaded_by__person",
    "post__author__person",
    "comment__author__person",
    delete=True,
)
register_erasure(
    "collab.PostRevision",
    "edited_by__person",
    "post__author__person",
    "comment__author__person",
    delete=True,
)
register_kept("collab.Reaction", "A reaction (an emoji): an aggregate.")
register_erasure("collab.Follow", "follower__person", delete=True)
register_erasure("collab.Group", "created_by__person", scrub=("description",))
register_kept("collab.Membership", "Membership of a group: no free text.")
register_kept("collab.Mention", "Links a post to a person; the post's text is scrubbed or swept.")
register_erasure("collab.Notification", "user__person", delete=True)
register_erasure("collab.NotificationSettings", "user__person", delete=True)
register_kept("collab.FeedItem", "A cache of posts per reader; no text.")

# community and ideas
register_erasure("community.Topic", "author__person", scrub=("title",))
register_erasure("community.Post", "author__person", scrub=("body", "body_html"))
register_erasure("community.PostRevision", "editor__person", "post__author__person", delete=True)
register_erasure("community.Flag", "flagger__person", scrub=("note",))
for _label in (
    "community.MemberProfile",
    "community.PostRead",
    "community.Vote",
    "community.ReputationEvent",
    "community.BadgeAward",
    "community.Visit",
    "community.SpaceReputation",
):
    register_kept(_label, "Participation figures (votes, reputation, visits): aggregates.")
register_kept("community.Space", "A community space; about no one.")
register_erasure("ideas.Idea", "author__person", scrub=("title", "body", "body_html"))
register_erasure("ideas.IdeaComment", "author__person", scrub=("body", "body_html"))
register_erasure(
    "ideas.IdeaRevision",
    "editor__person",
    "idea__author__person",
    "comment__author__person",
    delete=True,
)
register_erasure("ideas.IdeaContributor", "user__person", scrub=("contribution",))
register_kept("ideas.IdeaFollow", "Following an idea: no text.")
register_kept("ideas.IdeaVote", "A vote: an aggregate.")
register_kept("ideas.IdeaStatusChange", "Staff status notes on an idea; the sweep redacts names.")
register_kept("ideas.IdeaLink", "A staff link from an idea to a deal or case.")

# insights and listening
register_erasure("insights.InfluenceScore", "party", delete=True)
register_kept("insights.InfluenceRun", "A batch run; its scores are deleted per person.")
register_erasure(
    "listening.Mention",
    "person",
    scrub=("text", "author_handle", "author_name", "author_url", "url", "raw", "in_reply_to"),
)
register_kept("listening.Source", "A staff-configured source; the sweep redacts the person in it.")
register_kept(
    "listening.Keyword", "A tracked term set by staff; the sweep redacts the person in it."
)
register_kept("listening.SpikeAlert", "A volume alert on a source or keyword: figures only.")
register_kept("people.IdentityModel", "A trained identity-resolution model: weights, not records.")
register_erasure("people.MatchSuggestion", "left", "right", delete=True)

# trash and staff e-mail
register_erasure("core.TrashItem", "party_id", delete=True)  # a restore would bring them back
register_kept("mail.EmailTemplate", "A staff e-mail template; about no one (names swept).")
register_erasure("mail.OutgoingEmail", "party", delete=True)  # stored copies of sent mail


def _text_field(f: models.Field) -> bool:
    return isinstance(f, models.CharField | models.TextField | models.JSONField)


def _blank(f: models.Field) -> Any:
    if isinstance(f, models.JSONField):
        return f.get_default() if f.has_default() else {}
    if f.null:
        return None
    return "" if f.blank else REPLACEMENT


# ---------------------------------------------------------------- legal holds


@dataclass(frozen=True)
class Hold:
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def holds_for(person: Party) -> list[Hold]:
    """What stops ``person`` being erased now, each explained for the customer."""
    from kith.interactions.models import Transaction
    from kith.sales.models import Deal
    from kith.service.models import OPEN_STATUSES, Case

    out: list[Hold] = []
    deals = Deal.objects.filter(person=person, closed_on__isnull=True).count()
    if deals:
        out.append(Hold("open_deals", f"{deals} open deal(s) with you are still in progress."))
    cases = Case.objects.filter(requester=person, status__in=OPEN_STATUSES).count()
    if cases:
        out.append(Hold("open_cases", f"{cases} of your support case(s) are still open."))
    sums = dict(
        Transaction.objects.filter(party=person)
        .values("kind")
        .annotate(total=Sum("amount"))
        .values_list("kind", "total")
    )
    due = sums.get("order", Decimal(0)) - sums.get("payment", Decimal(0)) - sums.get("refund", 0)
    if due > 0:
        out.append(Hold("open_invoices", "Some of your orders are not paid yet."))
    now = timezone.now()
    keep_tx = settings.KITH_CMR_RETAIN_TRANSACTIONS_DAYS
    if keep_tx > 0:
        since = now - dt.timedelta(days=keep_tx)
        last = (
            Transaction.objects.filter(party=person, occurred_at__gte=since)
            .order_by("-occurred_at")
            .values_list("occurred_at", flat=True)
            .first()
        )
        if last is not None:
            until = (last + dt.timedelta(days=keep_tx)).date()
            out.append(
                Hold(
                    "retention_transactions",
                    f"The law requires us to keep records of your orders and payments for "
                    f"{keep_tx} days; the last one can be erased after {until:%d %B %Y}.",
                )
            )
    keep_cases = settings.KITH_CMR_RETAIN_CASES_DAYS
    if keep_cases > 0:
        since = now - dt.timedelta(days=keep_cases)
        last = (
            Case.objects.filter(requester=person, updated_at__gte=since)
            .order_by("-updated_at")
            .values_list("updated_at", flat=True)
            .first()
        )
        if last is not None:
            until = (last + dt.timedelta(days=keep_cases)).date()
            out.append(
                Hold(
                    "retention_cases",
                    f"Support cases are kept for {keep_cases} days after their last change; "
                    f"yours can be erased after {until:%d %B %Y}.",
                )
            )
    return out


# ---------------------------------------------------------------- who may


def can_erase(user) -> bool:
    return getattr(user, "is_staff_user", False) and user.role in settings.KITH_CMR_ERASURE_ROLES


def require_eraser(user) -> None:
    """403 for staff whose role may not erase; 404 for everybody else."""
    if not getattr(user, "is_staff_user", False):
        raise NotFound("Not found.")
    if not can_erase(user):
        raise Forbidden("Your role cannot erase people.")


# ---------------------------------------------------------------- the workflow


def _erased_conflict() -> Conflict:
    return Conflict("This person was erased already; there is nothing left to erase.")


def request_erasure(*, actor, person: Party) -> ErasureRequest:
    """File a request to erase ``person`` (one pending at a time: asking again answers
    the pending one), with the holds found now."""
    with transaction.atomic():
        locked = Party.objects.select_for_update().get(pk=person.pk)
        if locked.status == Party.Status.ERASED:
            raise _erased_conflict()
        pending = ErasureRequest.objects.filter(person=locked, status=RequestStatus.PENDING).first()
        holds = [h.as_dict() for h in holds_for(locked)]
        if pending is not None:
            if pending.holds != holds:
                ErasureRequest.objects.filter(pk=pending.pk).update(holds=holds)
                pending.holds = holds
            return pending
        req = ErasureRequest.objects.create(
            person=locked,
            requested_by=actor if getattr(actor, "pk", None) else None,
            holds=holds,
        )
        audit.record(
            actor=actor,
            action="erasure.requested",
            obj=req,
            changes={"holds": [None, [h["code"] for h in holds]]},
            party_id=locked.pk,
        )
        events.emit(
            "erasure.requested",
            obj=req,
            actor=actor,
            data={"person": str(locked.public_id), "holds": [h["code"] for h in holds]},
        )
    return req


def _decide(req: ErasureRequest, *, actor, status: str, reason: str, holds: list) -> None:
    ErasureRequest.objects.filter(pk=req.pk).update(
        status=status,
        decided_by=actor if getattr(actor, "pk", None) else None,
        decided_at=timezone.now(),
        reason=reason[:2000],
        holds=holds,
    )
    req.refresh_from_db()


def refuse_erasure(*, actor, request: ErasureRequest, reason: str) -> ErasureRequest:
    """Refuse a pending request with ``reason`` (shown to the customer)."""
    require_eraser(actor)
    reason = " ".join(str(reason or "").split())
    if not reason:
        from kith.core.errors import ValidationFailed

        raise ValidationFailed.single("reason", "Say why the request is refused.")
    with transaction.atomic():
        req = ErasureRequest.objects.select_for_update().get(pk=request.pk)
        if req.status != RequestStatus.PENDING:
            raise Conflict(f"This request was {req.get_status_display().lower()} already.")
        _decide(req, actor=actor, status=RequestStatus.REFUSED, reason=reason, holds=req.holds)
        audit.record(
            actor=actor, action="erasure.refused", obj=req, changes={}, party_id=req.person_id
        )
        events.emit("erasure.refused", obj=req, actor=actor, data={"reason": "staff"})
    return req


def process_erasure(*, actor, request: ErasureRequest) -> ErasureRequest:
    """Check the holds again: refuse with them, or erase the person."""
    require_eraser(actor)
    with transaction.atomic():
        req = ErasureRequest.objects.select_for_update().get(pk=request.pk)
        if req.status == RequestStatus.ERASED:
            raise _erased_conflict()
        if req.status != RequestStatus.PENDING:
            raise Conflict(f"This request was {req.get_status_display().lower()} already.")
        person = Party.objects.select_for_update().get(pk=req.person_id)
        if person.status == Party.Status.ERASED:
            raise _erased_conflict()
        holds = [h.as_dict() for h in holds_for(person)]
        if holds:
            _decide(
                req,
                actor=actor,
                status=RequestStatus.REFUSED,
                reason="We must keep your data for now: " + " ".join(h["message"] for h in holds),
                holds=holds,
            )
            audit.record(
                actor=actor,
                action="erasure.refused",
                obj=req,
                changes={"holds": [None, [h["code"] for h in holds]]},
                party_id=person.pk,
            )
            events.emit("erasure.refused", obj=req, actor=actor, data={"reason": "holds"})
            return req
        summary = erase(actor=actor, person=person)
        _decide(req, actor=actor, status=RequestStatus.ERASED, reason="", holds=[])
        ErasureRequest.objects.filter(pk=req.pk).update(summary=summary)
        req.summary = summary
    return req


def erase_now(*, actor, person: Party) -> ErasureRequest:
    """The staff action: file a request for ``person`` and process it at once."""
    require_eraser(actor)
    if person.status == Party.Status.ERASED:
        raise _erased_conflict()
    return process_erasure(actor=actor, request=request_erasure(actor=actor, person=person))


# ---------------------------------------------------------------- erasing


def _owned(model: type[models.Model], lookups: tuple[str, ...], pk: int) -> models.QuerySet:
    condition = Q()
    for lookup in lookups:
        condition |= Q(**{lookup: pk})
    manager = model._default_manager
    if all("__" not in lookup for lookup in lookups):
        return manager.filter(condition)
    return manager.filter(pk__in=manager.filter(condition).values("pk"))


def erased_values(person: Party) -> list[str]:
    """The values to sweep: the person's names, contact points, login and handles."""
    values: set[str] = set()
    full = " ".join(p for p in (person.given_name, person.family_name) if p)
    values.update({person.display_name, full, person.legal_name})
    for value, normalized in ContactPoint.objects.filter(party=person).values_list(
        "value", "normalized"
    ):
        values.update({value, normalized, value.lstrip("@"), normalized.lstrip("@")})
    user = getattr(person, "user", None) if hasattr(person, "user") else None
    if user is not None:
        values.update({user.username, user.email, user.get_full_name()})
        from kith.accounts.models import PortalSignup

        for row in PortalSignup.objects.filter(user=user).values_list("email", flat=True):
            values.add(row)
    if apps.is_installed("kith.listening"):
        mention = apps.get_model("listening", "Mention")
        for handle, name in mention.objects.filter(person=person).values_list(
            "author_handle", "author_name"
        ):
            values.update({handle, handle.lstrip("@"), name})
    cleaned = {" ".join(str(v or "").split()) for v in values}
    return sorted((v for v in cleaned if len(v) >= MIN_SWEEP_LENGTH), key=len, reverse=True)


def _variants(values: list[str]) -> list[str]:
    """Each value as stored: as given, lower-cased, casefolded, title-cased, and escaped
    the way JSON columns hold it (longest first, so a longer value goes before its parts)."""
    out: set[str] = set()
    for v in values:
        for form in (v, v.lower(), v.casefold(), v.upper(), v.title()):
            out.add(form)
            out.add(json.dumps(form)[1:-1])  # \u-escaped, as SQLite stores JSON
            out.add(json.dumps(form, ensure_ascii=False)[1:-1])
    return sorted((v for v in out if len(v) >= MIN_SWEEP_LENGTH), key=len, reverse=True)


# Other people's identity: a namesake keeps their name, e-mail address and login.
_SWEEP_SKIP = {
    ("people.Party", f)
    for f in ("display_name", "sort_name", "given_name", "family_name", "legal_name")
} | {
    ("people.ContactPoint", "value"),
    ("people.ContactPoint", "normalized"),
    ("accounts.User", "username"),
    ("accounts.User", "first_name"),
    ("accounts.User", "last_name"),
    ("accounts.User", "email"),
    ("accounts.User", "password"),
}


def sweep(values: list[str]) -> int:
    """Replace every occurrence of ``values`` in every text and JSON column of every
    table (one UPDATE per column touching only rows that hold one); rows changed."""
    every = _variants(values)
    if not every:
        return 0
    changed = 0
    # A bounded number of bound parameters and nested REPLACEs per statement.
    for start in range(0, len(every), SWEEP_CHUNK):
        changed += _sweep(every[start : start + SWEEP_CHUNK])
    return changed


def _sweep(variants: list[str]) -> int:
    qn = connection.ops.quote_name
    postgres = connection.vendor == "postgresql"
    changed = 0
    with connection.cursor() as cursor:
        for model in apps.get_models():
            if model._meta.proxy or not model._meta.managed:
                continue
            table = qn(model._meta.db_table)
            for f in model._meta.concrete_fields:
                if not _text_field(f) or (model._meta.label, f.name) in _SWEEP_SKIP:
                    continue
                if getattr(f, "choices", None):
                    continue
                column = qn(f.column)
                is_json = isinstance(f, models.JSONField)
                text = f"{column}::text" if postgres and is_json else column
                expr = text
                for _ in variants:
                    expr = f"REPLACE({expr}, %s, %s)"
                find = "strpos({t}, %s) > 0" if postgres else "instr({t}, %s) > 0"
                where = " OR ".join(find.format(t=text) for _ in variants)
                if postgres and is_json:
                    expr = f"({expr})::jsonb"
                params: list[str] = []
                for v in variants:
                    params += [v, REPLACEMENT]
                cursor.execute(
                    f"UPDATE {table} SET {column} = {expr} WHERE {where}",  # noqa: S608
                    params + variants,
                )
                changed += max(cursor.rowcount, 0)
    return changed


def _erase_party(person: Party) -> None:
    from kith.people import search

    Party.objects.filter(pk=person.pk).update(
        display_name=" ".join(FORMER_MEMBER),
        sort_name=" ".join(FORMER_MEMBER).casefold(),
        given_name="",
        family_name="",
        title="",
        legal_name="",
        birthday=None,
        notes="",
        interests=[],
        attributes={},
        locale="",
        timezone="",
        status=Party.Status.ERASED,
        updated_at=timezone.now(),
    )
    person.tags.clear()
    search.remove([person.pk])


def _erase_user(person: Party) -> None:
    from kith.accounts.models import User

    user = User.objects.filter(person=person).first()
    if user is None:
        return
    user.username = f"former-member-{user.pk}"
    user.first_name, user.last_name = FORMER_MEMBER
    user.email = ""
    user.is_active = False
    user.set_unusable_password()
    user.save(
        update_fields=["username", "first_name", "last_name", "email", "is_active", "password"]
    )
    user.api_tokens.all().delete()
    from django.contrib.sessions.models import Session

    # Sessions hold only the user id, but a deactivated login must not linger signed in.
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            session.delete()


def _erase_audit(person: Party) -> None:
    from kith.core.models import AuditEntry

    AuditEntry.objects.filter(party_id=person.pk).update(changes={}, object_label="")
    # What they did themselves: the labels and changes are their own words.
    AuditEntry.objects.filter(actor__person=person).update(
        actor_label=" ".join(FORMER_MEMBER), changes={}, object_label=""
    )


def _forget_objects(model: type[models.Model], pks: list[int]) -> None:
    """Audit entries and outbox events about rows being erased lose their labels,
    recorded changes and payloads (what was written there is the person's text)."""
    from django.contrib.contenttypes.models import ContentType

    from kith.core.models import AuditEntry, OutboxEvent

    if not pks:
        return
    content_type = ContentType.objects.get_for_model(model)
    for start in range(0, len(pks), 500):
        chunk = pks[start : start + 500]
        AuditEntry.objects.filter(object_type=content_type, object_id__in=chunk).update(
            changes={}, object_label=""
        )
        OutboxEvent.objects.filter(object_type=model._meta.label_lower, object_id__in=chunk).update(
            data={}
        )


def _erase_outbox(person: Party) -> None:
    from kith.core.models import OutboxEvent

    OutboxEvent.objects.filter(object_type="people.party", object_id=person.pk).update(data={})


def _reindex_topics(person: Party, values: list[str]) -> None:
    """Community topics they wrote, or whose document names them, are indexed again."""
    if not apps.is_installed("kith.community"):
        return
    from kith.community import search as topic_search
    from kith.community.models import Post, Topic

    words = {w.casefold() for v in values for w in v.split() if len(w) >= MIN_SWEEP_LENGTH}
    condition = Q(author__person=person)
    for w in words:
        condition |= Q(search_text__icontains=w)
    for topic in Topic.objects.filter(condition).distinct():
        first = Post.objects.filter(topic=topic).order_by("created_at", "id").first()
        topic_search.index_topic(topic, body=first.body if first else "")


def _files_of(queryset: models.QuerySet) -> list[tuple[Any, str]]:
    out = []
    for f in queryset.model._meta.concrete_fields:
        if isinstance(f, models.FileField):
            for name in queryset.values_list(f.name, flat=True):
                if name:
                    out.append((f.storage, name))
    return out


def _delete_files(files: list[tuple[Any, str]]) -> None:
    for storage, name in files:
        try:
            storage.delete(name)
        except OSError:
            logger.exception("could not delete an erased person's file %s", name)


def scrub_sent_mail(values: list[str]) -> int:
    """Delete stored copies of sent mail that name the person (the file backend's
    folder, and the in-memory outbox of tests); how many were removed."""
    needles = [v.casefold() for v in values]

    def names_them(message_bytes: bytes) -> bool:
        msg = email.message_from_bytes(message_bytes, policy=email.policy.default)
        parts = [str(v) for v in msg.values()]
        for part in msg.walk():
            if not part.is_multipart():
                try:
                    parts.append(str(part.get_content()))
                except (LookupError, KeyError, ValueError):
                    parts.append(part.get_payload(decode=True).decode("utf-8", "replace"))
        text = "\n".join(parts).casefold() + message_bytes.decode("utf-8", "replace").casefold()
        return any(n in text for n in needles)

    removed = 0
    folder = getattr(settings, "EMAIL_FILE_PATH", None)
    if settings.EMAIL_BACKEND.endswith("filebased.EmailBackend") and folder:
        for path in Path(folder).glob("*"):
            if path.is_file() and names_them(path.read_bytes()):
                path.unlink(missing_ok=True)
                removed += 1
    from django.core import mail

    outbox = getattr(mail, "outbox", None)
    if outbox:
        keep = [m for m in outbox if not names_them(m.message().as_bytes())]
        removed += len(outbox) - len(keep)
        outbox[:] = keep
    return removed


def erase(*, actor, person: Party) -> dict[str, int]:
    """Anonymise ``person`` everywhere (call ``process_erasure``/``erase_now``; this
    does no permission or hold check). Returns rows touched per model label."""
    summary: dict[str, int] = {}
    files: list[tuple[Any, str]] = []
    with transaction.atomic():
        person = Party.objects.select_for_update().get(pk=person.pk)
        if person.status == Party.Status.ERASED:
            raise _erased_conflict()
        values = erased_values(person)
        for label, rule in RULES.items():
            try:
                model = apps.get_model(label)
            except LookupError:  # an app this installation does not run
                continue
            rows = _owned(model, rule.lookups, person.pk)
            _forget_objects(model, list(rows.values_list("pk", flat=True)))
            if rule.delete:
                files += _files_of(rows)
                count, _ = rows.delete()
            else:
                fields = {name: _blank(model._meta.get_field(name)) for name in rule.scrub}
                count = rows.update(**fields)
            if count:
                summary[label] = count
        _erase_user(person)
        _erase_audit(person)
        _erase_outbox(person)
        _erase_party(person)
        summary["swept"] = sweep(values)
        _reindex_topics(person, values)
        person.refresh_from_db()  # the audit label and event read the anonymised row
        audit.record(
            actor=actor,
            action="person.erased",
            obj=person,
            changes={"rows": summary},
            party_id=person.pk,
        )
        events.emit("person.erased", obj=person, actor=actor, data={"rows": summary})
        transaction.on_commit(lambda: _delete_files(files))
        transaction.on_commit(lambda: scrub_sent_mail(values))
    return summary
