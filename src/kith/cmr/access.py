"""Who may see or change consents, receipts and preferences.

* a customer (portal user) reaches only their own person's records; anything else,
  including another customer's receipt, is 404;
* staff read a person's consent history and preferences when they may see the person
  (``kith.people.access``), and record a consent given on the phone when they may
  change the person;
* everyone else gets 404.
"""

from __future__ import annotations

import uuid

from kith.core.errors import NotFound
from kith.people import access as people_access
from kith.people.models import Party

from .models import ConsentReceipt


def own_person(user) -> Party:
    """The signed-in customer's person, or 404 for anybody who is not a customer."""
    if (
        not getattr(user, "is_authenticated", False)
        or not getattr(user, "is_portal", False)
        or not user.is_active
        or user.person_id is None
    ):
        raise NotFound("Not found.")
    return user.person


def staff_person(user, public_id) -> Party:
    """A person staff ``user`` may see (404 otherwise, and for customers)."""
    people_access.require_staff(user)
    return people_access.get_party(user, public_id, kind=Party.Kind.PERSON)


def staff_person_for_change(user, public_id) -> Party:
    """A person staff ``user`` may change: 404 when invisible, 403 when read-only."""
    people_access.require_staff(user)
    return people_access.get_party_for_change(user, public_id, kind=Party.Kind.PERSON)


def receipt_of(person: Party, public_id) -> ConsentReceipt:
    """One of ``person``'s receipts, or 404 (a malformed id is 404 too)."""
    try:
        pid = public_id if isinstance(public_id, uuid.UUID) else uuid.UUID(str(public_id))
    except ValueError as exc:
        raise NotFound("No such receipt.") from exc
    found = ConsentReceipt.objects.filter(person=person, public_id=pid).first()
    if found is None:
        raise NotFound("No such receipt.")
    return found


def correction_for_staff(user, public_id, *, change: bool = False):
    """A correction request whose person ``user`` may see (404), and change when
    ``change`` (403 for a read-only role)."""
    from .models import CorrectionRequest

    people_access.require_staff(user)
    try:
        pid = public_id if isinstance(public_id, uuid.UUID) else uuid.UUID(str(public_id))
    except ValueError as exc:
        raise NotFound("No such request.") from exc
    found = CorrectionRequest.objects.select_related("person").filter(public_id=pid).first()
    if found is None:
        raise NotFound("No such request.")
    getter = staff_person_for_change if change else staff_person
    getter(user, found.person.public_id)
    return found


def erasure_for_staff(user, public_id):
    """An erasure request whose person ``user`` may see (404 otherwise)."""
    from .models import ErasureRequest

    people_access.require_staff(user)
    try:
        pid = public_id if isinstance(public_id, uuid.UUID) else uuid.UUID(str(public_id))
    except ValueError as exc:
        raise NotFound("No such request.") from exc
    found = ErasureRequest.objects.select_related("person").filter(public_id=pid).first()
    if found is None:
        raise NotFound("No such request.")
    people_access.get_party(user, found.person.public_id, kind=Party.Kind.PERSON)
    return found
