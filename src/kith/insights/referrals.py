"""Referral codes and links: a customer's personal code, its link, and referrals made with it.

* Each person may get one code (``code_for``): short, random, without look-alike
  characters. Its link is ``/portal/r/<code>/``: opening it counts a visit and leads
  to the portal sign-up with the code filled in.
* Staff may revoke a code (``revoke_code``) or give it an expiry (``set_code_expiry``).
  A revoked or expired code is refused everywhere (``resolve``); asking for a code
  again then gives a *new* one in the same row (one per person): the old code, its
  visits and dates go to the audit entry, pending sign-ups made with it are dropped
  (they would have been refused), and referrals already recorded keep the old code.
* A sign-up with a code (``signup_with_code``) checks the code *before* anything else
  (an unknown, revoked or expired code is a 422 on ``referral_code``), then starts the
  ordinary sign-up and keeps a pending referral under a hash of the address. When the
  address is verified (``claim_pending``), the new customer is recorded as referred by
  the code's owner — unless that would be a self-referral or they already have a
  referrer (one per person), in which case nothing is recorded.
* Staff (web form, API) record "referred by" with a code (``refer_by_code``): the same
  checks, as 422 / 409.

The referral itself is ``value.record_referral`` (audit, event, one referrer per person),
so CRV counts code referrals like any other.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from kith.core import audit, events
from kith.core.errors import Conflict, FieldError, KithError, NotFound, ValidationFailed
from kith.people.models import Party

from .models_value import PendingReferral, Referral, ReferralCode

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L
CODE_LENGTH = 8
PENDING_DAYS = 7

__all__ = [
    "claim_pending",
    "code_for",
    "normalise",
    "record_visit",
    "refer_by_code",
    "resolve",
    "revoke_code",
    "set_code_expiry",
    "signup_with_code",
]


def normalise(raw: str | None) -> str:
    """A code as typed (spaces, dashes, lower case) in its stored form."""
    return "".join(c for c in (raw or "").upper() if c.isalnum())[:40]


def _hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _random_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def _require_active_person(person: Party) -> None:
    if person.kind != Party.Kind.PERSON or person.status != Party.Status.ACTIVE:
        raise ValidationFailed.single("person", "Only an active person has a referral code.")


def code_for(*, actor, person: Party) -> ReferralCode:
    """The person's valid referral code: made on first use, and made anew (in the same
    row, one per person) when the current one is revoked or expired."""
    _require_active_person(person)
    existing = ReferralCode.objects.filter(party=person).first()
    if existing is not None:
        if existing.is_live:
            return existing
        if existing.revoked_at is not None and not getattr(actor, "is_staff_user", False):
            # Staff revoke a code for a reason (abuse, a leaked link): the customer may
            # renew an expired code themselves, but not undo a revocation.
            raise Conflict(
                "Your referral code was withdrawn; please contact us if you want a new one."
            )
        return _replace(actor=actor, person=person)
    for _ in range(5):  # a clash among 31^8 codes is rare; try again if it happens
        code = _random_code()
        try:
            with transaction.atomic():
                made = ReferralCode.objects.create(party=person, code=code)
                audit.record(
                    actor=actor,
                    action="insights.referral_code.created",
                    obj=made,
                    party_id=person.pk,
                )
                events.emit("referral_code.created", obj=made, actor=actor)
            return made
        except IntegrityError:
            existing = ReferralCode.objects.filter(party=person).first()
            if existing is not None:  # made at the same moment by another request
                return code_for(actor=actor, person=person)
    raise Conflict("Could not make a referral code; please try again.")


# What a replacement resets, and what its audit entry keeps of the old code.
SNAPSHOT_FIELDS = ("code", "revoked_at", "expires_at", "visits", "last_visit_at")


def _snapshot(row: ReferralCode) -> dict:
    return {name: getattr(row, name) for name in SNAPSHOT_FIELDS}


def _locked_code(person: Party) -> ReferralCode:
    """The person's code, row-locked for a change in the caller's transaction; 404 if none."""
    row = ReferralCode.objects.select_for_update().filter(party=person).first()
    if row is None:
        raise NotFound("This person has no referral code.")
    return row


def _replace(*, actor, person: Party) -> ReferralCode:
    """Give the person a new code in place of their revoked or expired one."""
    for _ in range(5):
        code = _random_code()
        try:
            with transaction.atomic():
                row = ReferralCode.objects.select_for_update().filter(party=person).first()
                if row is None:  # erased meanwhile: make one afresh
                    break
                if row.is_live:  # replaced by another request meanwhile
                    return row
                before = _snapshot(row)
                # Sign-ups made with the old code could only be refused now; with the
                # row carrying a new code they must not be claimed through it either.
                dropped, _ = PendingReferral.objects.filter(code=row).delete()
                row.code = code
                row.revoked_at = None
                row.expires_at = None
                row.visits = 0
                row.last_visit_at = None
                row.save(update_fields=[*SNAPSHOT_FIELDS, "updated_at"])
                changes = audit.diff(before, _snapshot(row))
                if dropped:
                    changes["pending_dropped"] = dropped
                audit.record(
                    actor=actor,
                    action="insights.referral_code.replaced",
                    obj=row,
                    changes=changes,
                    party_id=person.pk,
                )
                events.emit("referral_code.replaced", obj=row, actor=actor)
            return row
        except IntegrityError:  # the new code clashed with another person's
            continue
    else:
        raise Conflict("Could not make a referral code; please try again.")
    return code_for(actor=actor, person=person)


def revoke_code(*, actor, person: Party) -> ReferralCode:
    """Revoke the person's code: its link and code are refused from now on (409 when
    it is already revoked, 404 when the person has none)."""
    with transaction.atomic():
        row = _locked_code(person)
        if row.revoked_at is not None:
            raise Conflict("This referral code is already revoked.")
        row.revoked_at = timezone.now()
        row.save(update_fields=["revoked_at", "updated_at"])
        # Sign-ups already made with it would be refused when claimed; drop them now.
        dropped, _ = PendingReferral.objects.filter(code=row).delete()
        changes: dict = {"code": row.code, "revoked_at": [None, row.revoked_at]}
        if dropped:
            changes["pending_dropped"] = dropped
        audit.record(
            actor=actor,
            action="insights.referral_code.revoked",
            obj=row,
            changes=changes,
            party_id=person.pk,
        )
        events.emit("referral_code.revoked", obj=row, actor=actor)
    return row


def set_code_expiry(*, actor, person: Party, expires_at: dt.datetime | None) -> ReferralCode:
    """Give the person's code an expiry (a moment in the future) or none (``None``).

    A past moment is a 422 on ``expires_at``; a revoked code is a 409 (a new code is
    made by asking for one); no code is a 404.
    """
    if expires_at is not None:
        if timezone.is_naive(expires_at):
            expires_at = timezone.make_aware(expires_at)
        if expires_at <= timezone.now():
            raise ValidationFailed.single("expires_at", "Choose a moment in the future.")
    with transaction.atomic():
        row = _locked_code(person)
        if row.revoked_at is not None:
            raise Conflict("This referral code is revoked; make a new one instead.")
        if row.expires_at == expires_at:
            return row
        before = row.expires_at
        row.expires_at = expires_at
        row.save(update_fields=["expires_at", "updated_at"])
        audit.record(
            actor=actor,
            action="insights.referral_code.expiry_set",
            obj=row,
            changes={"code": row.code, "expires_at": [before, expires_at]},
            party_id=person.pk,
        )
        events.emit("referral_code.expiry_set", obj=row, actor=actor)
    return row


def resolve(raw: str | None, *, field: str = "referral_code") -> ReferralCode:
    """The valid code ``raw`` names, else a 422 on ``field`` saying why."""
    code = normalise(raw)
    if not code:
        raise ValidationFailed.single(field, "Enter a referral code.")
    found = (
        ReferralCode.objects.select_related("party").filter(code=code).first()
        if len(code) <= 16
        else None
    )
    if found is None or found.revoked_at is not None:
        raise ValidationFailed.single(field, "This referral code is not valid.")
    if found.expires_at is not None and found.expires_at <= timezone.now():
        raise ValidationFailed.single(field, "This referral code has expired.")
    if found.party.status != Party.Status.ACTIVE:
        raise ValidationFailed.single(field, "This referral code is not valid.")
    return found


def record_visit(*, code: str) -> ReferralCode:
    """Count one opening of the code's link (a conditional update: no lost counts)."""
    found = resolve(code)
    ReferralCode.objects.filter(pk=found.pk).update(
        visits=F("visits") + 1, last_visit_at=timezone.now()
    )
    return found


def signup_with_code(
    *,
    referral_code: str,
    email: str,
    password: str,
    given_name: str = "",
    family_name: str = "",
    ip: str = "",
) -> None:
    """A portal sign-up made through a referral code (see the module docstring)."""
    from kith.accounts import services as account_services

    found = resolve(referral_code)
    account_services.request_signup(
        email=email, password=password, given_name=given_name, family_name=family_name, ip=ip
    )
    PendingReferral.objects.create(code=found, email_hash=_hash(email), created_at=timezone.now())


def claim_pending(*, user) -> Referral | None:
    """Record the referral a just-verified customer signed up with, if any and allowed."""
    person = getattr(user, "person", None)
    if person is None or not user.email:
        return None
    digest = _hash(user.email)
    since = timezone.now() - dt.timedelta(days=PENDING_DAYS)
    with transaction.atomic():
        pending = list(
            PendingReferral.objects.select_for_update()
            .select_related("code__party")
            .filter(email_hash=digest)
            .order_by("-created_at", "-id")
        )
        PendingReferral.objects.filter(pk__in=[p.pk for p in pending]).delete()
    fresh = [p for p in pending if p.created_at >= since]
    if not fresh:
        return None
    code = fresh[0].code
    try:
        return refer_by_code(actor=user, code=code.code, referred=person)
    except KithError:
        # Self-referral, a referrer already recorded, or a code revoked meanwhile: the
        # sign-up itself succeeded; there is simply no referral to record.
        return None


def refer_by_code(*, actor, code: str, referred: Party, staff_scope: bool = False) -> Referral:
    """Record that the owner of ``code`` referred ``referred`` (422 / 409 as the rules say).

    ``staff_scope``: the code must belong to a person ``actor`` may see (a code of a
    private record answers as an unknown one, so the owner's name does not leak).
    """
    from . import access, value

    found = resolve(code, field="code")
    if staff_scope and not access.visible_party_ids(actor).filter(id=found.party_id).exists():
        raise ValidationFailed.single("code", "This referral code is not valid.")
    if found.party_id == referred.pk:
        raise ValidationFailed(
            errors=[FieldError("code", "A person cannot use their own referral code.")]
        )
    if Referral.objects.filter(referred=referred).exists():
        raise Conflict(f"{referred.display_name} already has a referrer.")
    return value.record_referral(
        actor=actor, referrer=found.party, referred=referred, code=found.code
    )


def purge_stale_pending() -> int:
    """Delete pending referrals older than a week (their sign-up link has long expired)."""
    cutoff = timezone.now() - dt.timedelta(days=PENDING_DAYS)
    deleted, _ = PendingReferral.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def referred_summary(person: Party) -> dict:
    """What a customer may see of the people they brought: how many, and when (no names)."""
    dates = list(
        Referral.objects.filter(referrer=person)
        .order_by("-occurred_on", "-id")
        .values_list("occurred_on", flat=True)
    )
    return {"count": len(dates), "dates": dates}
