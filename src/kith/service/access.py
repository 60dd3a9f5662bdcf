"""Who may see or change cases, queues, SLA settings and conversation messages.

* admins and managers see and change every case, and manage queues, calendars and
  SLA policies;
* agents see the cases of the queues they belong to and the cases assigned to them,
  and change what they see;
* viewers see what an agent in their queues would, and change nothing (403);
* portal users (customers) get nothing from the staff API (404) and UI (sent to the
  portal). They see their own cases, and their organisation's when it shares them
  (``scope_customer_cases``); the only customer-facing read of a conversation is
  ``customer_messages``, which never returns internal notes.

An invisible case is reported as not found (404), never as forbidden.
"""

from __future__ import annotations

import uuid

from django.db.models import Q, QuerySet

from kith.core.errors import Forbidden, NotFound
from kith.people import access as people_access
from kith.service.models import Case, CaseMessage


def _parse(public_id) -> uuid.UUID:
    try:
        return public_id if isinstance(public_id, uuid.UUID) else uuid.UUID(str(public_id))
    except ValueError as exc:
        raise NotFound("No such case.") from exc


def case_filter(user) -> Q | None:
    """A Q limiting cases to those ``user`` may see; None means all."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_staff_user", False):
        return Q(pk__in=[])
    if user.sees_everything:
        return None
    return Q(queue__in=user.queues.values("pk")) | Q(assignee_id=user.pk)


def scope_cases(user, queryset: QuerySet | None = None) -> QuerySet:
    qs = Case.objects.all() if queryset is None else queryset
    condition = case_filter(user)
    return qs if condition is None else qs.filter(condition)


def get_case(user, public_id) -> Case:
    """The case ``user`` may see, or NotFound."""
    pid = _parse(public_id)
    found = (
        scope_cases(user)
        .select_related("requester", "organization", "queue", "assignee", "sla_policy")
        .filter(public_id=pid)
        .first()
    )
    if found is None:
        raise NotFound("No such case.")
    return found


def can_change(user, case: Case) -> bool:
    if not getattr(user, "can_write", False):
        return False
    return scope_cases(user, Case.objects.filter(pk=case.pk)).exists()


def get_case_for_change(user, public_id) -> Case:
    """The case to change: NotFound when invisible, Forbidden when read-only."""
    case = get_case(user, public_id)
    if not can_change(user, case):
        raise Forbidden("Your role can view this case but not change it.")
    return case


def can_delete(user, case: Case) -> bool:
    """Deleting a case (into the trash) is for admins and managers who may change it."""
    return getattr(user, "sees_everything", False) and can_change(user, case)


def get_case_for_delete(user, public_id) -> Case:
    """The case to delete, for the API and the web UI alike: NotFound when invisible,
    Forbidden when read-only or when the user is not an admin or manager."""
    case = get_case_for_change(user, public_id)
    require_manager(user)
    return case


def require_staff(user) -> None:
    people_access.require_staff(user)


def require_writer(user) -> None:
    require_staff(user)
    people_access.require_writer(user)


def require_manager(user) -> None:
    """Queues, calendars and SLA policies are managed by admins and managers."""
    require_staff(user)
    people_access.require_manager(user)


def staff_messages(user, case: Case) -> QuerySet:
    """The whole conversation (notes included) for staff who may see ``case``."""
    if not getattr(user, "is_staff_user", False):
        raise NotFound("No such case.")
    get_case(user, case.public_id)
    return CaseMessage.objects.filter(case=case)


def customer_case_filter(user) -> Q:
    """The cases a portal user (customer) may see: those they asked, and those of an
    organisation they currently belong to when that organisation shares its cases with
    its contacts (``Party.portal_shares_cases``). Nothing for anyone else."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_portal", False):
        return Q(pk__in=[])
    if not user.is_active or not user.person_id:
        return Q(pk__in=[])
    from kith.people.models import Party, Relationship

    sharing_orgs = (
        Relationship.objects.current()
        .filter(
            subject_id=user.person_id,
            object__kind=Party.Kind.ORGANIZATION,
            object__portal_shares_cases=True,
            object__status=Party.Status.ACTIVE,
        )
        .values("object_id")
    )
    return Q(requester_id=user.person_id) | Q(organization_id__in=sharing_orgs)


def scope_customer_cases(user, queryset: QuerySet | None = None) -> QuerySet:
    qs = Case.objects.all() if queryset is None else queryset
    return qs.filter(customer_case_filter(user))


def get_customer_case(user, public_id) -> Case:
    """The case a customer may see, or NotFound (never Forbidden: no existence leaks)."""
    pid = _parse(public_id)
    found = (
        scope_customer_cases(user)
        .select_related("requester", "organization", "assignee")
        .filter(public_id=pid)
        .first()
    )
    if found is None:
        raise NotFound("No such case.")
    return found


def customer_messages(user, case: Case) -> QuerySet:
    """The conversation as its customer may see it: public messages only, and only for
    a portal login that may see the case. Every customer-facing page must read through here."""
    if not getattr(user, "is_authenticated", False):
        raise NotFound("No such case.")
    if user.is_portal and not scope_customer_cases(user, Case.objects.filter(pk=case.pk)).exists():
        raise NotFound("No such case.")
    return CaseMessage.objects.public().filter(case=case)


def visible_messages(user, case: Case) -> QuerySet:
    """Staff see everything they may see; portal users see public messages of their own cases."""
    if getattr(user, "is_portal", False):
        return customer_messages(user, case)
    return staff_messages(user, case)
