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
        **_terms_context(person),
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


# ---------------------------------------------------------------- terms the customer proffers


def _months(value: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed.single("months", "Give a whole number of months.") from exc


def _terms_context(person: Party) -> dict:
    from . import terms
    from .models import AgreementStatus, TermsAgreement

    force = terms.in_force(person)
    agreements = list(TermsAgreement.objects.filter(person=person)[:20])
    for a in agreements:
        a.labels = terms.labels(a.terms)
    return {
        "roster": terms.roster(),
        "terms_in_force": force,
        "terms_months": (force.get(terms.DELETE_AFTER_INACTIVITY) or {}).get("months", ""),
        "agreements": agreements,
        "counter": next((a for a in agreements if a.status == AgreementStatus.COUNTERED), None),
    }


@portal_view
@require_POST
def my_terms(request: HttpRequest) -> HttpResponse:
    """The customer proffers the terms ticked on My data."""
    from . import terms

    person = access.own_person(request.user)
    chosen = request.POST.getlist("terms")
    try:
        items = []
        for term_id in chosen[: len(terms.ROSTER) + 1]:
            item: dict = {"id": term_id}
            if term_id == terms.DELETE_AFTER_INACTIVITY:
                item["months"] = _months(request.POST.get("months", ""))
            items.append(item)
        agreement = terms.proffer(
            actor=request.user, person=person, terms=items, source=Source.PORTAL
        )
    except KithError as exc:
        return render(
            request,
            "cmr/my_data.html",
            _my_context(request, person, {e.field: e.message for e in exc.errors}),
            status=exc.status,
        )
    if agreement.status == "countered":
        messages.info(request, "We propose slightly different terms; see below.")
    else:
        messages.success(request, "Your terms were accepted and are in force.")
    return redirect(reverse("cmr:my_data") + "#terms")


@portal_view
@require_POST
def my_terms_counter(request: HttpRequest, agreement_id) -> HttpResponse:
    from . import terms

    person = access.own_person(request.user)
    try:
        terms.answer_counter(
            actor=request.user,
            person=person,
            agreement_id=agreement_id,
            accept=_bool(request.POST.get("accept")),
        )
    except KithError as exc:
        messages.error(request, exc.message)
    return redirect(reverse("cmr:my_data") + "#terms")


@portal_view
@require_GET
def my_agreement(request: HttpRequest, agreement_id) -> HttpResponse:
    """The signed agreement as a compact JWS file."""
    from .models import TermsAgreement

    person = access.own_person(request.user)
    found = TermsAgreement.objects.filter(person=person, public_id=agreement_id).first()
    if found is None:
        from kith.core.errors import NotFound

        raise NotFound("No such agreement.")
    response = HttpResponse(found.jws, content_type="application/jwt")
    response["Content-Disposition"] = f'attachment; filename="terms-{found.public_id}.jwt"'
    return response


# ---------------------------------------------------------------- intentcasting (customer)


def _intents_context(person: Party, errors: dict | None = None, values=None) -> dict:
    from . import terms
    from .models import Intent

    rows = list(
        Intent.objects.filter(person=person).prefetch_related("offers").order_by("-created_at")[:50]
    )
    return {
        "nav": "my_intents",
        "intents": rows,
        "errors": errors or {},
        "values": values or {},
        "terms_in_force": [terms.term_name(t) for t in terms.in_force(person)],
    }


@portal_view
def my_intents(request: HttpRequest) -> HttpResponse:
    """The customer's intents and the offers on them; POST files a new one."""
    from . import intents

    person = access.own_person(request.user)
    if request.method == "POST":
        post = request.POST
        try:
            days = _int(post.get("days", ""), "days") or intents.DEFAULT_DAYS
            needed = post.get("needed_by", "")
            try:
                needed_by = dt.date.fromisoformat(needed) if needed else None
            except ValueError as exc:
                raise ValidationFailed.single("needed_by", "Give a date like 2026-12-31.") from exc
            intent = intents.file_intent(
                actor=request.user,
                person=person,
                data=intents.IntentInput(
                    category=post.get("category", "")[:200],
                    description=post.get("description", "")[:5000],
                    budget_min=post.get("budget_min", "")[:20],
                    budget_max=post.get("budget_max", "")[:20],
                    currency=post.get("currency", "")[:3],
                    needed_by=needed_by,
                    location=post.get("location", "")[:300],
                    share_with_partners=post.get("share_with_partners") == "on",
                    days=days,
                ),
            )
        except KithError as exc:
            return render(
                request,
                "cmr/my_intents.html",
                _intents_context(person, {e.field: e.message for e in exc.errors}, post),
                status=exc.status,
            )
        messages.success(request, f"Your intent “{intent.category}” was sent to our team.")
        return redirect(reverse("cmr:my_intents") + f"#intent-{intent.public_id}")
    if request.method != "GET":
        return HttpResponse(status=405)
    return render(request, "cmr/my_intents.html", _intents_context(person))


@portal_view
@require_POST
def my_offer(request: HttpRequest, offer_id) -> HttpResponse:
    """Accept or decline an offer."""
    from . import intents

    person = access.own_person(request.user)
    offer = intents.offer_of(person, offer_id)
    try:
        if _bool(request.POST.get("accept")):
            intents.accept_offer(actor=request.user, offer=offer)
            messages.success(request, f"You accepted “{offer.title}”. We will be in touch.")
        else:
            intents.decline_offer(actor=request.user, offer=offer)
            messages.info(request, "Offer declined.")
    except KithError as exc:
        messages.error(request, exc.message)
    return redirect(reverse("cmr:my_intents") + f"#intent-{offer.intent.public_id}")


@portal_view
@require_POST
def my_intent_withdraw(request: HttpRequest, intent_id) -> HttpResponse:
    from . import intents

    intent = intents.intent_of(access.own_person(request.user), intent_id)
    try:
        intents.withdraw_intent(actor=request.user, intent=intent)
        messages.info(request, "Intent withdrawn.")
    except KithError as exc:
        messages.error(request, exc.message)
    return redirect(reverse("cmr:my_intents"))


# ---------------------------------------------------------------- intentcasting (staff)


@staff_view
@require_GET
def intent_queue(request: HttpRequest) -> HttpResponse:
    """Open intents of the people the user may see, with a form to answer each."""
    from kith.people import access as people_access
    from kith.sales.models import Product

    from . import intents

    rows = list(intents.queue_for(request.user)[:100])
    for intent in rows:
        intent.can_offer = people_access.can_change(request.user, intent.person)
    return render(
        request,
        "cmr/intent_queue.html",
        {
            "nav": "intents",
            "intents": rows,
            "products": list(Product.objects.filter(active=True)[:200]),
        },
    )


@staff_view
@require_POST
def staff_offer(request: HttpRequest, public_id, intent_id) -> HttpResponse:
    """Make an offer on a person's intent (from the queue or the person page)."""
    from . import intents

    intent = intents.intent_for_staff(request.user, intent_id, change=True)
    if str(intent.person.public_id) != str(public_id):
        from kith.core.errors import NotFound

        raise NotFound("No such intent.")
    post = request.POST
    try:
        valid = post.get("valid_until", "")
        try:
            valid_until = dt.date.fromisoformat(valid) if valid else None
        except ValueError as exc:
            raise ValidationFailed.single("valid_until", "Give a date like 2026-12-31.") from exc
        offer = intents.make_offer(
            actor=request.user,
            intent=intent,
            data=intents.OfferInput(
                title=post.get("title", "")[:300],
                price=post.get("price", "")[:20],
                description=post.get("description", "")[:5000],
                currency=post.get("currency", "")[:3],
                valid_until=valid_until,
                product=post.get("product") or None,
            ),
        )
    except KithError as exc:
        detail = "; ".join(f"{e.field}: {e.message}" for e in exc.errors) or exc.message
        messages.error(request, detail)
    else:
        messages.success(request, f"Offer “{offer.title}” sent.")
    back = post.get("next", "")
    if back == "queue":
        return redirect(reverse("cmr:intents") + f"#intent-{intent.public_id}")
    return redirect(reverse("people:person", args=[intent.person.public_id]) + "#cmr-intents")


def intents_panel(request: HttpRequest, party: Party) -> str | None:
    """Proffered terms and intents (with their offers) on a person's staff page."""
    if not getattr(request.user, "is_staff_user", False) or party.kind != Party.Kind.PERSON:
        return None
    from kith.people import access as people_access

    from . import terms
    from .models import Intent

    force = terms.in_force(party)
    return render(
        request,
        "cmr/_intents_panel.html",
        {
            "party": party,
            "terms_in_force": [{**t, "name": terms.term_name(t["id"])} for t in force.values()],
            "intents": list(Intent.objects.filter(person=party).prefetch_related("offers")[:10]),
            "can_change": people_access.can_change(request.user, party),
        },
    ).content.decode()


# ---------------------------------------------------------------- erasure refusal (staff)


@staff_view
@require_POST
def staff_refuse_erasure(request: HttpRequest, public_id, request_id) -> HttpResponse:
    """Refuse a pending erasure request with a reason the customer reads."""
    from . import erasure

    req = access.erasure_for_staff(request.user, request_id)
    if str(req.person.public_id) != str(public_id):
        from kith.core.errors import NotFound

        raise NotFound("No such request.")
    erasure.require_eraser(request.user)  # 403 for a role that may not erase
    try:
        erasure.refuse_erasure(
            actor=request.user, request=req, reason=request.POST.get("reason", "")
        )
    except KithError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Erasure request refused; the person sees your reason.")
    return _back_to_person(req.person)


# ---------------------------------------------------------------- purposes admin


def _require_purpose_admin(user) -> None:
    from kith.core.errors import Forbidden

    roles = getattr(settings, "KITH_CMR_PURPOSE_ADMIN_ROLES", ("admin",))
    if user.role not in roles:
        raise Forbidden("Only administrators edit purposes.")


@staff_view
def purposes_admin(request: HttpRequest) -> HttpResponse:
    """List purposes; POST adds one (admins)."""
    from . import purposes

    _require_purpose_admin(request.user)
    errors: dict = {}
    values: dict = {}
    if request.method == "POST":
        values = request.POST
        try:
            purpose = purposes.create_purpose(actor=request.user, data=purposes.form_data(values))
        except KithError as exc:
            errors = {e.field: e.message for e in exc.errors} or {"form": exc.message}
        else:
            messages.success(request, f"Purpose “{purpose.name}” added.")
            return redirect("cmr:purposes")
    elif request.method != "GET":
        return HttpResponse(status=405)
    return render(
        request,
        "cmr/purposes.html",
        {
            "nav": "settings",
            "purposes": list(purposes.all_purposes()),
            "errors": errors,
            "values": values,
        },
        status=422 if errors else 200,
    )


@staff_view
def purpose_edit(request: HttpRequest, purpose_id) -> HttpResponse:
    """Edit one purpose; a new text is a new version (earlier ones stay on receipts)."""
    from . import purposes

    _require_purpose_admin(request.user)
    purpose = purposes.get(purpose_id)
    errors: dict = {}
    if request.method == "POST":
        try:
            purposes.update_purpose(
                actor=request.user, purpose=purpose, data=purposes.form_data(request.POST)
            )
        except KithError as exc:
            errors = {e.field: e.message for e in exc.errors} or {"form": exc.message}
        else:
            messages.success(request, "Purpose saved.")
            return redirect("cmr:purposes")
    elif request.method != "GET":
        return HttpResponse(status=405)
    return render(
        request,
        "cmr/purpose_edit.html",
        {
            "nav": "settings",
            "purpose": purpose,
            "versions": purposes.versions(purpose),
            "errors": errors,
        },
        status=422 if errors else 200,
    )
