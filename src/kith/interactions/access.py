"""Who may see interactions and transactions.

A transaction is seen by whoever may see its party. An interaction likewise, with one
more rule, **a mirror obeys its source**: an interaction that mirrors another record
(``related_type`` / ``related_id``: a case message, a deal event, a collaboration post,
a finished activity, later a community answer or a listening mention) is shown only
to those who may see that record. An internal case note copied onto the requester's
timeline is therefore invisible to a viewer in no queue, whatever they may see of the
person.

The check is one registry, filled by the apps that own mirrored kinds from their
``AppConfig.ready()``::

    from kith.interactions.access import register_mirror
    register_mirror("service.case", lambda user: service_access.scope_cases(user))

The function answers a queryset of the source records ``user`` may see, or ``None``
for "all of them". ``mirror_filter(user)`` turns the registry into one SQL condition
(a correlated ``EXISTS`` per kind, evaluated only for rows of that kind, so a
timeline page still reads one index range). An interaction that points at a kind
nobody registered is shown to admins and managers only: a new app's mirrors are
hidden until it says who may see them, never leaked.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, OuterRef, Q, QuerySet

from kith.core.errors import NotFound
from kith.interactions.models import Interaction, Transaction
from kith.people import access as people_access

MirrorScope = Callable[[Any], QuerySet | None]

# "app_label.model" → the function answering the source records a user may see.
_MIRRORS: dict[str, MirrorScope] = {}


def register_mirror(model_label: str, scope: MirrorScope) -> None:
    """Declare who may see interactions mirroring records of ``model_label``.

    ``scope(user)`` returns a queryset of the records of that model ``user`` may see
    (``None``: every record). Registering the same label again replaces the rule.
    """
    _MIRRORS[model_label.lower()] = scope


def registered_mirrors() -> dict[str, MirrorScope]:
    """The registry (a copy), for checks and tests."""
    return dict(_MIRRORS)


def source_scope(user, model_label: str) -> QuerySet | None:
    """The records of ``model_label`` that ``user`` may see, through the registry.

    Raises KeyError for an unregistered kind. Used by apps whose own records point at
    other records (a collaboration post on a deal) to reuse the same rule in SQL.
    """
    return _MIRRORS[model_label.lower()](user)


def _content_type_id(label: str) -> int | None:
    try:
        model = apps.get_model(label)
    except LookupError:
        return None
    return ContentType.objects.get_for_model(model).pk


def mirror_filter(user) -> Q | None:
    """A Q on Interaction keeping what ``user`` may see of mirrored records; None: no limit.

    Rows that mirror nothing pass; rows mirroring a registered kind pass when their
    source is in that kind's scope; rows mirroring an unregistered kind pass for admins
    and managers only.
    """
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return Q(pk__in=[])
    sees_everything = bool(getattr(user, "sees_everything", False)) and not getattr(
        user, "is_portal", False
    )
    condition = Q(related_type__isnull=True)
    registered: list[int] = []
    unlimited = True
    for label, scope in _MIRRORS.items():
        ct_id = _content_type_id(label)
        if ct_id is None:
            continue
        registered.append(ct_id)
        sources = scope(user)
        if sources is None:
            condition |= Q(related_type_id=ct_id)
            continue
        unlimited = False
        condition |= Q(related_type_id=ct_id) & Q(Exists(sources.filter(pk=OuterRef("related_id"))))
    if sees_everything:
        if unlimited:
            return None
        condition |= Q(related_type__isnull=False) & ~Q(related_type_id__in=registered)
    return condition


def scope_interactions(user, qs: QuerySet | None = None) -> QuerySet:
    """Interactions of parties ``user`` may see, less mirrors of records they may not."""
    qs = Interaction.objects.all() if qs is None else qs
    qs = qs.filter(party__in=people_access.staff_scope(user).values("pk"))
    return filter_mirrors(user, qs)


def filter_mirrors(user, qs: QuerySet) -> QuerySet:
    """``qs`` (interactions) without the mirrors of records ``user`` may not see."""
    condition = mirror_filter(user)
    return qs if condition is None else qs.filter(condition)


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
