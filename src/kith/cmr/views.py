"""Web pages of kith.cmr (thin): the customer's "My data" page in the portal layout,
receipt downloads, the public JWKS, and the consent panel on a person's staff page."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_POST

from kith.core.errors import KithError, ValidationFailed
from kith.people.models import Party
from kith.portal.views import portal_view
from kith.web.decorators import staff_view

from . import access, policy, queries, receipts, services
from .models import Channel, Source


def _bool(value: str | None) -> bool:
    if value in ("1", "true", "on", "yes"):
        return True
    if value in ("0", "false", "off", "no"):
        return False
    raise ValidationFailed.single("granted", "Must be true or false.")


def _time(value: str, field: str) -> dt.time | None:
    if not value:
        return None
    try:
        return dt.time.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed.single(field, "Give a time like 22:00.") from exc


def _int(value: str, field: str) -> int | None:
    if not value:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise ValidationFailed.single(field, "Give a whole number.") from exc


# ---------------------------------------------------------------- public


@require_GET
@cache_control(public=True, max_age=300)
def jwks(request: HttpRequest) -> JsonResponse:
    """The public key set that verifies consent receipts (RFC 7517)."""
    return JsonResponse(receipts.jwks(), content_type="application/jwk-set+json")


# ---------------------------------------------------------------- the customer


def _my_context(request: HttpRequest, person: Party, errors: dict | None = None) -> dict:
    from . import export

    return {
        "held": export.counts(person),
        "contact_points": list(person.contact_points.order_by("-primary", "id")),
        "nav": "my_data",
        "person": person,
        "consents": queries.consent_state(person),
        "purposes": list(queries.purposes()),
        "receipts": list(queries.receipts(person)[:100]),
        "prefs": queries.preferences(person),
        "channels": [c for c in Channel if c != Channel.ANY],
        "topics": policy.TOPICS,
        "errors": errors or {},
        **_trust_context(request, person),
    }


def _trust_context(request: HttpRequest, person: Party) -> dict:
    """My data: the transparency log, correction requests, erasure and its holds."""
    from . import correction, erasure, transparency
    from .models import CorrectionRequest, ErasureRequest, RequestStatus

    erasures = list(ErasureRequest.objects.filter(person=person)[:20])
    return {
        "log": transparency.entries_for(person, viewer=request.user, limit=100),
        "corrections": list(CorrectionRequest.objects.filter(person=person)[:50]),
        "correction_fields": correction.field_choices(),
        "editable": [
            correction.field_choices()[f]
            for f in settings.KITH_CMR_CUSTOMER_EDITABLE_FIELDS
            if f in correction.field_choices()
        ],
        "erasures": erasures,
        "pending_erasure": any(r.status == RequestStatus.PENDING for r in erasures),
        "holds": [h.as_dict() for h in erasure.holds_for(person)],
    }


@portal_view
@require_GET
def my_data(request: HttpRequest) -> HttpResponse:
    person = access.own_person(request.user)
    return render(request, "cmr/my_data.html", _my_context(request, person))


@portal_view
@require_POST
def my_consent(request: HttpRequest) -> HttpResponse:
    person = access.own_person(request.user)
    try:
        receipt = services.set_consent(
            actor=request.user,
            person=person,
            purpose=request.POST.get("purpose", ""),
            granted=_bool(request.POST.get("granted")),
            channel=request.POST.get("channel", Channel.ANY),
            source=Source.PORTAL,
        )
    except KithError as exc:
        messages.error(request, exc.message)
        return render(
            request,
            "cmr/my_data.html",
            _my_context(request, person, {e.field: e.message for e in exc.errors}),
            status=exc.status,
        )
    state = "granted" if receipt.granted else "withdrawn"
    messages.success(request, f"Consent {state}: {receipt.purpose.name}. Your receipt is below.")
    return redirect(reverse("cmr:my_data") + "#receipts")


@portal_view
@require_GET
def my_receipt(request: HttpRequest, receipt_id: str) -> HttpResponse:
    receipt = access.receipt_of(access.own_person(request.user), receipt_id)
    response = HttpResponse(receipt.jws, content_type="application/jwt")
    response["Content-Disposition"] = (
        f'attachment; filename="consent-receipt-{receipt.public_id}.jwt"'
    )
    return response


@portal_view
@require_GET
def my_export(request: HttpRequest) -> HttpResponse:
    """The JSON export as a download."""
    import json

    person = access.own_person(request.user)
    document = services.export_person(actor=request.user, person=person)
    response = HttpResponse(
        json.dumps(document, indent=1, ensure_ascii=False), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="my-data-{person.public_id}.json"'
    return response


@portal_view
@require_GET
def my_vcard(request: HttpRequest) -> HttpResponse:
    from . import export

    person = access.own_person(request.user)
    response = HttpResponse(export.vcard(person), content_type="text/vcard; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{person.public_id}.vcf"'
    return response


@portal_view
@require_POST
def my_preferences(request: HttpRequest) -> HttpResponse:
    person = access.own_person(request.user)
    post = request.POST
    try:
        data = services.PreferenceInput(
            channels=post.getlist("channels"),
            max_per_day=_int(post.get("max_per_day", ""), "max_per_day"),
            max_per_week=_int(post.get("max_per_week", ""), "max_per_week"),
            muted_topics=post.getlist("muted_topics"),
            quiet_start=_time(post.get("quiet_start", ""), "quiet_start"),
            quiet_end=_time(post.get("quiet_end", ""), "quiet_end"),
            timezone=post.get("timezone", "")[:64],
        )
        services.set_preferences(actor=request.user, person=person, data=data)
    except KithError as exc:
        return render(
            request,
            "cmr/my_data.html",
            _my_context(request, person, {e.field: e.message for e in exc.errors}),
            status=exc.status,
        )
    messages.success(request, "Preferences saved.")
    return redirect(reverse("cmr:my_data") + "#preferences")


# ---------------------------------------------------------------- staff


@staff_view
@require_POST
def staff_consent(request: HttpRequest, public_id) -> HttpResponse:
    """Record a consent the person gave or withdrew on the phone."""
    person = access.staff_person_for_change(request.user, public_id)
    try:
        services.set_consent(
            actor=request.user,
            person=person,
            purpose=request.POST.get("purpose", ""),
            granted=_bool(request.POST.get("granted")),
            channel=request.POST.get("channel", Channel.ANY),
            source=Source.STAFF,
        )
    except KithError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Consent recorded.")
    return redirect(reverse("people:person", args=[person.public_id]) + "#cmr-consent")


def party_panel(request: HttpRequest, party: Party) -> str | None:
    """Consent state, preferences and consent history on a person's staff page."""
    if not getattr(request.user, "is_staff_user", False) or party.kind != Party.Kind.PERSON:
        return None
    from kith.people import access as people_access

    return render(
        request,
        "cmr/_party_panel.html",
        {
            "party": party,
            "consents": queries.consent_state(party),
            "purposes": list(queries.purposes()),
            "history": list(queries.receipts(party)[:20]),
            "prefs": queries.preferences(party),
            "can_change": people_access.can_change(request.user, party),
        },
    ).content.decode()


# ---------------------------------------------------------------- correction and erasure


@portal_view
@require_POST
def my_correction(request: HttpRequest) -> HttpResponse:
    """The customer proposes a correction (applied at once for fields they may edit)."""
    from . import correction

    person = access.own_person(request.user)
    try:
        req = correction.propose(
            actor=request.user,
            person=person,
            field=request.POST.get("field", ""),
            value=request.POST.get("value", ""),
            contact_point=request.POST.get("contact_point") or None,
            note=request.POST.get("note", ""),
        )
    except KithError as exc:
        return render(
            request,
            "cmr/my_data.html",
            _my_context(request, person, {e.field: e.message for e in exc.errors}),
            status=exc.status,
        )
    done = "Changed." if req.status == "applied" else "Sent: our staff will check it."
    messages.success(request, done)
    return redirect(reverse("cmr:my_data") + "#corrections")


@portal_view
@require_POST
def my_erasure(request: HttpRequest) -> HttpResponse:
    from . import erasure

    person = access.own_person(request.user)
    req = erasure.request_erasure(actor=request.user, person=person)
    if req.holds:
        messages.info(request, "Request filed. Some data must be kept for now; see why below.")
    else:
        messages.success(request, "Request filed. We will erase your data and confirm it.")
    return redirect(reverse("cmr:my_data") + "#erasure")


def _back_to_person(person: Party) -> HttpResponse:
    return redirect(reverse("people:person", args=[person.public_id]) + "#cmr-trust")


@staff_view
@require_POST
def staff_correction(request: HttpRequest, public_id, request_id) -> HttpResponse:
    """Accept or reject a correction request from the person page."""
    from . import correction

    req = access.correction_for_staff(request.user, request_id, change=True)
    if str(req.person.public_id) != str(public_id):
        from kith.core.errors import NotFound

        raise NotFound("No such request.")
    try:
        correction.decide(
            actor=request.user,
            request=req,
            accept=_bool(request.POST.get("accept")),
            reason=request.POST.get("reason", ""),
        )
    except KithError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Correction decided.")
    return _back_to_person(req.person)


@staff_view
@require_POST
def staff_erase(request: HttpRequest, public_id) -> HttpResponse:
    """Erase the person (roles allowed to erase), or refuse with the holds."""
    from . import erasure

    person = access.staff_person(request.user, public_id)
    erasure.require_eraser(request.user)
    if request.POST.get("confirm") != "yes":
        raise ValidationFailed.single("confirm", "Confirm that the erasure cannot be undone.")
    req = erasure.erase_now(actor=request.user, person=person)
    if req.status == "erased":
        messages.success(request, "The person was erased.")
    else:
        messages.error(request, req.reason)
    return _back_to_person(person)


def trust_panel(request: HttpRequest, party: Party) -> str | None:
    """Transparency log, correction inbox and erasure on a person's staff page."""
    if not getattr(request.user, "is_staff_user", False) or party.kind != Party.Kind.PERSON:
        return None
    from kith.people import access as people_access

    from . import erasure, transparency
    from .models import CorrectionRequest, ErasureRequest

    can_erase = erasure.can_erase(request.user)
    return render(
        request,
        "cmr/_trust_panel.html",
        {
            "party": party,
            "log": transparency.entries_for(party, viewer=request.user, limit=20),
            "corrections": list(CorrectionRequest.objects.filter(person=party)[:20]),
            "erasures": list(ErasureRequest.objects.filter(person=party)[:5]),
            "can_change": people_access.can_change(request.user, party),
            "can_erase": can_erase,
            "holds": [h.as_dict() for h in erasure.holds_for(party)] if can_erase else [],
        },
    ).content.decode()
