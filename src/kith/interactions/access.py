"""Who may see interactions and transactions: whoever may see their party."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from kith.core.errors import NotFound
from kith.interactions.models import Interaction, Transaction
from kith.people import access as people_access


def scope_interactions(user, qs: QuerySet | None = None) -> QuerySet:
    qs = Interaction.objects.all() if qs is None else qs
    return qs.filter(party__in=people_access.staff_scope(user).values("pk"))


def scope_transactions(user, qs: QuerySet | None = None) -> QuerySet:
    qs = Transaction.objects.all() if qs is None else qs
    return qs.filter(party__in=people_access.staff_scope(user).values("pk"))


def get_interaction(user, public_id: uuid.UUID) -> Interaction:
    found = scope_interactions(user).select_related("party").filter(public_id=public_id).first()
    if found is None:
        raise NotFound("No such interaction.")
    return found


def get_transaction(user, public_id: uuid.UUID) -> Transaction:
    found = scope_transactions(user).select_related("party").filter(public_id=public_id).first()
    if found is None:
        raise NotFound("No such transaction.")
    return found
