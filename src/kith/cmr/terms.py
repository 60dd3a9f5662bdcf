"""Terms the customer proffers (IEEE 7012 style machine-readable personal privacy terms).

The customer picks terms from a small standard roster; the company's policy (settings)
accepts them at once or counter-offers; both sides keep the signed agreement (a JWS with
the consent-receipt key, verifiable against ``/.well-known/jwks.json``). What is in
force is the latest accepted agreement, and every process obeys it:

* ``no_sharing`` — no purpose with a third-party disclosure (partner sharing) may be
  consented or used: such consents are withdrawn when the terms are accepted, a later
  grant is refused (409), ``policy.has_consent`` / ``may_send`` / ``may_share`` say no,
  and intents are not shown to partners;
* ``no_tracking`` — the tracking purposes (``KITH_CMR_TRACKING_PURPOSES``, default
  ``profiling``) likewise: withdrawn, refused, and profiling jobs leave the person out
  (they read the withdrawn consent);
* ``delete_after_inactivity`` (``months``) — the retention sweep (``inactivity_sweep``,
  a daily worker job) erases a person with no activity of theirs for that long, unless
  a legal hold (``kith.cmr.erasure.holds_for``) stands in the way.

Company policy: ``KITH_CMR_TERMS_MIN_INACTIVITY_MONTHS`` (default 6) is the shortest
inactivity period accepted; a shorter one is counter-offered with that minimum, and the
customer accepts or declines the counter-offer.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from kith.core import audit, events
from kith.core.errors import Conflict, NotFound, ValidationFailed
from kith.people.models import Party

from . import receipts
from .models import AgreementStatus, Purpose, Source, TermsAgreement

logger = logging.getLogger("kith.cmr.terms")

VERSION = "KI-TERMS-v1"
STANDARD = "IEEE 7012 machine-readable personal privacy terms (Kith roster v1)"
MAX_MONTHS = 120

NO_SHARING = "no_sharing"
NO_TRACKING = "no_tracking"
DELETE_AFTER_INACTIVITY = "delete_after_inactivity"


@dataclass(frozen=True)
class Term:
    id: str
    name: str
    text: str
    params: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "text": self.text, "params": list(self.params)}


ROSTER: dict[str, Term] = {
    NO_SHARING: Term(
        NO_SHARING,
        "No data sharing with third parties",
        "You do not share my data with anyone outside your company, partners included.",
    ),
    NO_TRACKING: Term(
        NO_TRACKING,
        "No tracking beyond the service",
        "You use my data only to serve me: no profiling, analytics or personalisation.",
    ),
    DELETE_AFTER_INACTIVITY: Term(
        DELETE_AFTER_INACTIVITY,
        "Delete my data after a time without activity",
        "If I have had no contact with you for the given number of months, you erase my "
        "data (except what the law makes you keep).",
        params=("months",),
    ),
}


def roster() -> list[dict[str, Any]]:
    """The standard terms a customer may proffer (public vocabulary)."""
    return [t.as_dict() for t in ROSTER.values()]


def min_months() -> int:
    return int(getattr(settings, "KITH_CMR_TERMS_MIN_INACTIVITY_MONTHS", 6))


def tracking_purposes() -> tuple[str, ...]:
    return tuple(getattr(settings, "KITH_CMR_TRACKING_PURPOSES", ("profiling",)))


def clean_terms(raw: Any) -> list[dict[str, Any]]:
    """Validate a proffered list like ``[{"id": "no_sharing"}, {"id":
    "delete_after_inactivity", "months": 12}]``; 422 naming ``terms`` otherwise."""
    if not isinstance(raw, list) or len(raw) > len(ROSTER):
        raise ValidationFailed.single("terms", f"A list of at most {len(ROSTER)} terms.")
    out: dict[str, dict[str, Any]] = {}
    for item in raw:
        if not isinstance(item, dict) or item.get("id") not in ROSTER:
            ident = item.get("id") if isinstance(item, dict) else item
            raise ValidationFailed.single("terms", f"Unknown term {str(ident)[:60]!r}.")
        term = ROSTER[item["id"]]
        extra = set(item) - {"id", *term.params}
        if extra:
            raise ValidationFailed.single(
                "terms", f"{term.id} takes no {', '.join(sorted(map(str, extra)))[:100]}."
            )
        entry: dict[str, Any] = {"id": term.id}
        if "months" in term.params:
            months = item.get("months")
            if isinstance(months, bool) or not isinstance(months, int):
                raise ValidationFailed.single("months", "Give a whole number of months.")
            if not 1 <= months <= MAX_MONTHS:
                raise ValidationFailed.single("months", f"Between 1 and {MAX_MONTHS} months.")
            entry["months"] = months
        out[term.id] = entry
    return [out[k] for k in ROSTER if k in out]


def _counter(proffered: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """The company's answer by its policy: the same terms, or a counter-offer and why."""
    floor = min_months()
    countered = []
    note = ""
    for entry in proffered:
        if entry["id"] == DELETE_AFTER_INACTIVITY and entry["months"] < floor:
            entry = {**entry, "months": floor}
            note = (
                f"We keep customer records for at least {floor} months after the last "
                "contact (for returns and warranty claims); we offer that instead."
            )
        countered.append(entry)
    return countered, note


# ---------------------------------------------------------------- what is in force


def current(person: Party) -> TermsAgreement | None:
    """The agreement in force (the latest accepted), if any."""
    return (
        TermsAgreement.objects.filter(person=person, status=AgreementStatus.ACCEPTED)
        .order_by("-decided_at", "-id")
        .first()
    )


def in_force(person: Party) -> dict[str, dict[str, Any]]:
    """The accepted terms of ``person`` by id (empty when none)."""
    terms = (
        TermsAgreement.objects.filter(person=person, status=AgreementStatus.ACCEPTED)
        .order_by("-decided_at", "-id")
        .values_list("terms", flat=True)
        .first()
    )
    return {t["id"]: t for t in (terms or []) if isinstance(t, dict) and "id" in t}


def blocking_term(terms: dict[str, dict[str, Any]], purpose: Purpose) -> str | None:
    """The id of the term in ``terms`` that forbids ``purpose``, if one does."""
    if NO_SHARING in terms and purpose.third_party_disclosure:
        return NO_SHARING
    if NO_TRACKING in terms and purpose.key in tracking_purposes():
        return NO_TRACKING
    return None


def blocked_purposes(terms: dict[str, dict[str, Any]]) -> list[Purpose]:
    return [p for p in Purpose.objects.all() if blocking_term(terms, p)]


def term_name(term_id: str) -> str:
    found = ROSTER.get(term_id)
    return found.name if found else term_id


def labels(items: list[dict[str, Any]]) -> list[str]:
    """Human names of a terms list: "Delete my data … (12 months)"."""
    out = []
    for t in items or []:
        name = term_name(t.get("id", ""))
        out.append(f"{name} ({t['months']} months)" if t.get("months") else name)
    return out


# ---------------------------------------------------------------- the record


def _record(agreement: TermsAgreement, person: Party) -> dict[str, Any]:
    company = getattr(settings, "KITH_COMPANY_NAME", "Kith")
    return {
        "version": VERSION,
        "standard": STANDARD,
        "agreementID": str(agreement.public_id),
        "timestamp": int(agreement.decided_at.timestamp()) if agreement.decided_at else None,
        "piiPrincipalId": str(person.public_id),
        "controller": company,
        "policyUrl": getattr(settings, "KITH_CMR_POLICY_URL", "")
        or f"{getattr(settings, 'KITH_BASE_URL', '')}/privacy",
        "proffered": agreement.proffered,
        "terms": agreement.terms,
        "status": agreement.status,
        "note": agreement.note,
        "roster": {t["id"]: ROSTER[t["id"]].text for t in agreement.proffered},
        "x-kith": {"kid": receipts.key_id(), "source": agreement.source},
    }


def _sign(agreement: TermsAgreement, person: Party) -> None:
    agreement.record = _record(agreement, person)
    agreement.jws = receipts.sign(agreement.record)
    agreement.key_id = receipts.key_id()


def _locked(person: Party) -> Party:
    locked = Party.objects.select_for_update().get(pk=person.pk)
    if locked.status == Party.Status.ERASED:
        raise Conflict("This person was erased; nothing can be recorded for them.")
    if locked.kind != Party.Kind.PERSON:
        raise ValidationFailed.single("person", "Terms belong to people.")
    return locked


def _timeline(actor, person: Party, summary: str, related) -> None:
    from kith.interactions import services as interaction_services
    from kith.interactions.models import Channel, Direction

    interaction_services.log_interaction(
        actor=actor if getattr(actor, "pk", None) else None,
        party=person,
        channel=Channel.PORTAL,
        direction=Direction.INBOUND,
        kind="terms",
        summary=summary[:300],
        related=related,
    )


def _put_in_force(actor, person: Party, agreement: TermsAgreement) -> None:
    """Supersede the agreement before and withdraw every consent the terms forbid."""
    from . import services
    from .models import Consent

    TermsAgreement.objects.filter(person=person, status=AgreementStatus.ACCEPTED).exclude(
        pk=agreement.pk
    ).update(status=AgreementStatus.SUPERSEDED)
    terms = {t["id"]: t for t in agreement.terms}
    for purpose in blocked_purposes(terms):
        granted = Consent.objects.filter(person=person, purpose=purpose, granted=True)
        channels = set(granted.values_list("channel", flat=True))
        if purpose.default_granted or not Consent.objects.filter(person=person, purpose=purpose):
            channels.add("any")
        for channel in sorted(channels):
            services.set_consent(
                actor=actor,
                person=person,
                purpose=purpose.key,
                granted=False,
                channel=channel,
                source=agreement.source,
                text_shown=f"Withdrawn by your terms: {term_name(blocking_term(terms, purpose))}.",
            )


def proffer(*, actor, person: Party, terms: Any, source: str = Source.PORTAL) -> TermsAgreement:
    """The customer proffers ``terms``; the company accepts them at once (and they are
    in force) or counter-offers (status ``countered``; what was in force stays)."""
    proffered = clean_terms(terms)
    if source not in Source.values:
        raise ValidationFailed.single("source", f"Must be one of {', '.join(Source.values)}.")
    answer, note = _counter(proffered)
    with transaction.atomic():
        locked = _locked(person)
        TermsAgreement.objects.filter(person=locked, status=AgreementStatus.COUNTERED).update(
            status=AgreementStatus.DECLINED
        )
        status = AgreementStatus.COUNTERED if note else AgreementStatus.ACCEPTED
        agreement = TermsAgreement(
            person=locked,
            proffered=proffered,
            terms=answer,
            status=status,
            note=note,
            source=source,
            actor=actor if getattr(actor, "pk", None) else None,
            decided_at=timezone.now(),
        )
        _sign(agreement, locked)
        agreement.save()
        if status == AgreementStatus.ACCEPTED:
            _put_in_force(actor, locked, agreement)
        names = ", ".join(term_name(t["id"]) for t in proffered) or "none"
        audit.record(
            actor=actor,
            action=f"terms.{status}",
            obj=agreement,
            changes={"terms": [None, [t["id"] for t in answer]]},
            party_id=locked.pk,
        )
        events.emit(
            f"terms.{status}",
            obj=agreement,
            actor=actor,
            data={"person": str(locked.public_id), "terms": answer},
        )
        verb = "accepted" if status == AgreementStatus.ACCEPTED else "counter-offered"
        _timeline(actor, locked, f"Proffered terms {verb}: {names}", agreement)
    return agreement


def answer_counter(*, actor, person: Party, agreement_id: Any, accept: bool) -> TermsAgreement:
    """The customer takes (``accept``) or declines the company's counter-offer."""
    with transaction.atomic():
        locked = _locked(person)
        agreement = (
            TermsAgreement.objects.select_for_update()
            .filter(person=locked, public_id=_uuid(agreement_id))
            .first()
        )
        if agreement is None:
            raise NotFound("No such agreement.")
        if agreement.status != AgreementStatus.COUNTERED:
            raise Conflict("There is no counter-offer waiting on this agreement.")
        agreement.status = AgreementStatus.ACCEPTED if accept else AgreementStatus.DECLINED
        agreement.decided_at = timezone.now()
        _sign(agreement, locked)
        agreement.save()
        if accept:
            _put_in_force(actor, locked, agreement)
        audit.record(
            actor=actor,
            action=f"terms.counter_{'accepted' if accept else 'declined'}",
            obj=agreement,
            changes={},
            party_id=locked.pk,
        )
        events.emit(
            f"terms.{agreement.status}",
            obj=agreement,
            actor=actor,
            data={"person": str(locked.public_id), "terms": agreement.terms},
        )
        _timeline(
            actor,
            locked,
            f"Counter-offer on terms {'accepted' if accept else 'declined'}",
            agreement,
        )
    return agreement


def _uuid(value: Any):
    import uuid

    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError as exc:
        raise NotFound("No such agreement.") from exc


# ---------------------------------------------------------------- the retention sweep


def last_activity(person: Party) -> dt.datetime | None:
    """The latest sign of the person themselves: an inbound interaction, a transaction,
    a portal login, or agreeing their terms."""
    from kith.accounts.models import User
    from kith.interactions.models import Direction, Interaction, Transaction

    moments = [
        Interaction.objects.filter(party=person, direction=Direction.INBOUND)
        .exclude(kind="terms")
        .aggregate(m=Max("occurred_at"))["m"],
        Transaction.objects.filter(party=person).aggregate(m=Max("occurred_at"))["m"],
        User.objects.filter(person=person).aggregate(m=Max("last_login"))["m"],
        TermsAgreement.objects.filter(person=person).aggregate(m=Max("decided_at"))["m"],
    ]
    found = [m for m in moments if m is not None]
    return max(found) if found else None


def inactivity_sweep(now: dt.datetime | None = None) -> list[int]:
    """Erase everyone whose ``delete_after_inactivity`` term has run out (the daily
    worker job). A person with a legal hold is left for now (logged). Returns the
    erased people's ids. Idempotent: an erased person has no terms in force to match."""
    from . import erasure
    from .models import RequestStatus

    now = now or timezone.now()
    erased: list[int] = []
    candidates = (
        TermsAgreement.objects.filter(
            status=AgreementStatus.ACCEPTED, person__status=Party.Status.ACTIVE
        )
        .select_related("person")
        .order_by("person_id")
    )
    for agreement in candidates:
        term = next((t for t in agreement.terms if t.get("id") == DELETE_AFTER_INACTIVITY), None)
        if term is None:
            continue
        person = agreement.person
        last = last_activity(person) or agreement.created_at
        if last > now - dt.timedelta(days=30 * int(term["months"])):
            continue
        if erasure.holds_for(person):
            logger.info("inactivity erasure of party %s held back by a legal hold", person.pk)
            continue
        with transaction.atomic():
            req = erasure.request_erasure(actor=None, person=person)
            summary = erasure.erase(actor=None, person=person)
            erasure._decide(
                req,
                actor=None,
                status=RequestStatus.ERASED,
                reason=f"Erased after {term['months']} months without activity, as your "
                "terms asked.",
                holds=[],
            )
            type(req).objects.filter(pk=req.pk).update(summary=summary)
        erased.append(person.pk)
    return erased
