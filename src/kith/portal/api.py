"""HTTP API of the customer portal (``/api/portal/...``): a customer's own profile,
cases and notifications, scoped like the portal's pages.

Thin: parse, check the caller is a customer, call the owning app's access, services
and queries, serialise. Staff get 404 here (they have the staff API); customers get
404 from the staff API. Creating POSTs take an ``Idempotency-Key``.
"""

import uuid

from django.http import HttpRequest
from django.urls import reverse
from ninja import File, Form, Query, Router, Schema, Status, UploadedFile

from kith.accounts import services as account_services
from kith.collab import queries as collab_queries
from kith.collab import rendering
from kith.collab import services as collab_services
from kith.collab.models import Notification
from kith.core.context import channel
from kith.core.errors import NotFound, ValidationFailed
from kith.core.idempotency import idempotent
from kith.core.pagination import clamp_limit, paginate
from kith.insights import referrals
from kith.service import access as service_access
from kith.service import services as service_services
from kith.service.models import Case, CsatResponse

from . import queries
from .schemas import (
    AcceptedOut,
    CaseDetailOut,
    EmailIn,
    MarkReadIn,
    MarkReadOut,
    NotificationPage,
    PortalCaseIn,
    PortalCaseOut,
    PortalCasePage,
    PortalMessageOut,
    PortalReplyIn,
    ProfileIn,
    ProfileOut,
    RatingIn,
    RatingOut,
    SignupIn,
    SuggestionsIn,
    SuggestionsOut,
)

router = Router(tags=["portal"])

SAME_ANSWER = "If the address can be used, we sent it an e-mail with what to do next."


def _customer(request: HttpRequest):
    user = request.user
    if not getattr(user, "is_portal", False) or not user.is_active:
        raise NotFound("Not found.")
    return user


def _ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


# ---------------------------------------------------------------- accounts (no login)


@router.post("/portal/signup", response={202: AcceptedOut}, auth=None, url_name="portal_signup")
def signup(request: HttpRequest, payload: SignupIn):
    """Start a sign-up. The answer is the same whether or not the address has an
    account; the e-mail sent to it says what to do next."""
    fields = {
        "email": payload.email,
        "password": payload.password,
        "given_name": payload.given_name,
        "family_name": payload.family_name,
        "ip": _ip(request),
    }
    with channel("api"):
        if payload.referral_code.strip():
            # An unknown or expired code is a 422 on referral_code before anything is sent.
            referrals.signup_with_code(referral_code=payload.referral_code, **fields)
        else:
            account_services.request_signup(**fields)
    return Status(202, {"detail": SAME_ANSWER})


@router.post(
    "/portal/password-reset", response={202: AcceptedOut}, auth=None, url_name="portal_reset"
)
def password_reset(request: HttpRequest, payload: EmailIn):
    """E-mail a password-reset link; the same answer for any address."""
    with channel("api"):
        account_services.request_password_reset(email=payload.email, ip=_ip(request))
    return Status(202, {"detail": SAME_ANSWER})


# ---------------------------------------------------------------- profile


def _profile(user) -> dict:
    person = user.person
    return {
        "email": queries.contact_email(user),
        "given_name": person.given_name,
        "family_name": person.family_name,
        "display_name": person.display_name,
        "locale": person.locale,
        "timezone": user.timezone,
    }


@router.get("/portal/profile", response=ProfileOut, url_name="portal_profile")
def get_profile(request: HttpRequest):
    return _profile(_customer(request))


@router.patch("/portal/profile", response=ProfileOut, url_name="portal_profile_update")
def update_profile(request: HttpRequest, payload: ProfileIn):
    user = _customer(request)
    with channel("api"):
        account_services.update_portal_profile(
            actor=user,
            given_name=payload.given_name,
            family_name=payload.family_name,
            locale=payload.locale,
            timezone_name=payload.timezone,
        )
    user.person.refresh_from_db()
    return _profile(user)


@router.post("/portal/profile/email", response={202: AcceptedOut}, url_name="portal_email")
def change_email(request: HttpRequest, payload: EmailIn):
    """Send a confirmation link to a new contact address (it changes once followed)."""
    user = _customer(request)
    account_services.request_email_change(actor=user, email=payload.email, ip=_ip(request))
    return Status(202, {"detail": "We sent a confirmation link to the new address."})


# ---------------------------------------------------------------- cases


def _case_out(case: Case, user, ratings: dict[int, int]) -> dict:
    return {
        "id": case.public_id,
        "number": case.number,
        "reference": case.token,
        "subject": case.subject,
        "status": case.status,
        "requester": case.requester.display_name,
        "mine": case.requester_id == user.person_id,
        "created_at": case.created_at,
        "last_activity_at": case.last_activity_at,
        "rating": ratings.get(case.pk),
    }


def _ratings(case_ids: list[int]) -> dict[int, int]:
    return dict(CsatResponse.objects.filter(case_id__in=case_ids).values_list("case_id", "rating"))


def _message_out(message, user) -> dict:
    if message.kind == "inbound":
        author = (
            "You"
            if message.sender_id == user.person_id
            else (getattr(message.sender, "display_name", "") or "Customer")
        )
    else:
        author = (message.author.get_full_name() if message.author else "") or "Support"
    return {
        "id": message.public_id,
        "kind": message.kind,
        "author": author,
        "mine": message.kind == "inbound" and message.sender_id == user.person_id,
        "body": message.body_text,
        "occurred_at": message.occurred_at,
        "attachments": [
            {
                "id": a.public_id,
                "filename": a.filename,
                "size": a.size,
                "url": reverse("portal:case_attachment", args=[a.public_id]),
            }
            for a in message.attachments.all()
        ],
    }


def _case_detail(case: Case, user) -> dict:
    thread = (
        service_access.customer_messages(user, case)
        .select_related("author", "sender")
        .prefetch_related("attachments")
        .order_by("occurred_at", "id")
    )
    out = _case_out(case, user, _ratings([case.pk]))
    out["messages"] = [_message_out(m, user) for m in thread]
    return out


class CaseListQuery(Schema):
    status: str = ""
    cursor: str | None = None
    limit: int | None = None


@router.get("/portal/cases", response=PortalCasePage, url_name="portal_cases")
def list_cases(request: HttpRequest, query: Query[CaseListQuery]):
    """Your cases, newest first, and your organisation's where it shares them.
    ``status``: ``open``, ``closed`` or empty for all."""
    from kith.core.errors import ValidationFailed

    user = _customer(request)
    qs = service_access.scope_customer_cases(user).select_related("requester")
    if query.status == "open":
        qs = qs.exclude(status__in=("resolved", "closed"))
    elif query.status == "closed":
        qs = qs.filter(status__in=("resolved", "closed"))
    elif query.status:
        raise ValidationFailed.single("status", "One of: open, closed (or empty for all).")
    page = paginate(
        qs, order=("-created_at", "-id"), cursor=query.cursor, limit=clamp_limit(query.limit)
    )
    ratings = _ratings([c.pk for c in page.items])
    return {
        "items": [_case_out(c, user, ratings) for c in page.items],
        "next_cursor": page.next_cursor,
    }


@router.post("/portal/suggestions", response=SuggestionsOut, url_name="portal_suggestions")
def suggestions(request: HttpRequest, payload: SuggestionsIn):
    """The deflection step: answered community topics matching a case's subject. Pass
    the returned ``deflection`` id when creating the case anyway."""
    user = _customer(request)
    found = queries.suggested_answers(user, payload.subject)
    if not found:
        return {"deflection": None, "items": []}
    with channel("api"):
        shown = service_services.record_deflection_shown(
            actor=user, subject=payload.subject, suggestions=found
        )
    return {"deflection": shown.public_id, "items": shown.suggested}


@router.post("/portal/cases", response={201: CaseDetailOut}, url_name="portal_create_case")
@idempotent
def create_case(request: HttpRequest, payload: PortalCaseIn):
    user = _customer(request)
    with channel("api"):
        case = service_services.open_case_as_customer(
            actor=user,
            subject=payload.subject,
            body=payload.body,
            deflection_id=payload.deflection,
        )
    case = service_access.get_customer_case(user, case.public_id)
    return Status(
        201, CaseDetailOut.model_validate(_case_detail(case, user)).model_dump(mode="json")
    )


@router.get("/portal/cases/{public_id}", response=CaseDetailOut, url_name="portal_case")
def get_case(request: HttpRequest, public_id: uuid.UUID):
    """One case with its conversation (internal notes are never part of it)."""
    user = _customer(request)
    return _case_detail(service_access.get_customer_case(user, public_id), user)


@router.post(
    "/portal/cases/{public_id}/messages",
    response={201: PortalMessageOut},
    url_name="portal_case_reply",
)
@idempotent
def reply(request: HttpRequest, public_id: uuid.UUID, payload: PortalReplyIn):
    user = _customer(request)
    case = service_access.get_customer_case(user, public_id)
    with channel("api"):
        message = service_services.reply_as_customer(actor=user, case=case, body=payload.body)
    message = (
        service_access.customer_messages(user, case)
        .select_related("author", "sender")
        .prefetch_related("attachments")
        .get(pk=message.pk)
    )
    return Status(
        201, PortalMessageOut.model_validate(_message_out(message, user)).model_dump(mode="json")
    )


@router.post(
    "/portal/cases/{public_id}/attachments",
    response={201: PortalMessageOut},
    url_name="portal_case_attach",
)
# Not @idempotent: its key is bound to the raw body, which a multipart parse has
# consumed (like collab's attachment upload).
def attach(
    request: HttpRequest,
    public_id: uuid.UUID,
    body: Form[str],
    files: File[list[UploadedFile]] = None,
):
    """A message with files on the customer's own case (multipart: ``body``, ``files``).

    The same service as the portal's reply form, so the same checks: at most
    ``MAX_CUSTOMER_FILES`` files, none empty or over the size limit (each a 422 naming
    ``files``); the stored type is guessed from the file name, never the client's, and
    files are only ever served as downloads."""
    user = _customer(request)
    case = service_access.get_customer_case(user, public_id)
    # Optional in the schema so that access (404) is decided before the files are.
    if not files:
        raise ValidationFailed.single("files", "Attach at least one file.")
    with channel("api"):
        message = service_services.reply_as_customer(
            actor=user, case=case, body=body, files=list(files)
        )
    message = (
        service_access.customer_messages(user, case)
        .select_related("author", "sender")
        .prefetch_related("attachments")
        .get(pk=message.pk)
    )
    return Status(
        201, PortalMessageOut.model_validate(_message_out(message, user)).model_dump(mode="json")
    )


@router.post(
    "/portal/cases/{public_id}/close", response=PortalCaseOut, url_name="portal_case_close"
)
def close_case(request: HttpRequest, public_id: uuid.UUID):
    user = _customer(request)
    case = service_access.get_customer_case(user, public_id)
    with channel("api"):
        service_services.close_as_customer(actor=user, case=case)
    case = service_access.get_customer_case(user, public_id)
    return _case_out(case, user, _ratings([case.pk]))


@router.post(
    "/portal/cases/{public_id}/rating", response={201: RatingOut}, url_name="portal_case_rate"
)
@idempotent
def rate_case(request: HttpRequest, public_id: uuid.UUID, payload: RatingIn):
    user = _customer(request)
    case = service_access.get_customer_case(user, public_id)
    with channel("api"):
        response = service_services.rate_as_customer(
            actor=user, case=case, rating=payload.rating, comment=payload.comment
        )
    return Status(
        201,
        RatingOut.model_validate(
            {
                "rating": response.rating,
                "comment": response.comment,
                "submitted_at": response.submitted_at,
            }
        ).model_dump(mode="json"),
    )


# ---------------------------------------------------------------- notifications


class NotificationQuery(Schema):
    unread: bool = False
    cursor: str | None = None
    limit: int | None = None


def _notification_out(n: Notification) -> dict:
    return {
        "id": n.public_id,
        "verb": n.verb,
        "text": n.text,
        "html": rendering.render_markdown(n.text),
        "url": n.url,
        "read": n.read_at is not None,
        "created_at": n.created_at,
    }


@router.get("/portal/notifications", response=NotificationPage, url_name="portal_notifications")
def list_notifications(request: HttpRequest, query: Query[NotificationQuery]):
    """Your notifications, newest first; ``html`` is the text rendered from Markdown
    and sanitised. Live updates: the event stream at ``/collab/stream/``."""
    user = _customer(request)
    page = collab_queries.notifications(
        user, unread=query.unread, cursor=query.cursor, limit=clamp_limit(query.limit, 30)
    )
    return {
        "items": [_notification_out(n) for n in page.items],
        "next_cursor": page.next_cursor,
        "unread": collab_queries.unread_count(user),
    }


@router.post(
    "/portal/notifications/read", response=MarkReadOut, url_name="portal_notifications_read"
)
def mark_read(request: HttpRequest, payload: MarkReadIn):
    user = _customer(request)
    marked = collab_services.mark_read(actor=user, ids=payload.ids)
    return {"marked": marked, "unread": collab_queries.unread_count(user)}
