"""Domain events into collaboration: automatic follows, system posts, merges.

**Automatic follows.** On the events in ``FOLLOW_EVENTS`` the record is followed by:
the actor of a ``*.created`` event; the record's ``owner`` / ``assignee`` /
``assigned_to`` (read from the row, whatever the app); and any user named in the
event data under ``owner_id``, ``assignee_id``, ``owner`` or ``assignee`` (a user pk or
public id). Apps that emit other names can be covered with the setting
``KITH_COLLAB_EXTRA_FOLLOW_EVENTS``. This app never imports sales, service or work:
the generic reference (content type + id) is enough.

**System posts.** Events in ``SYSTEM_EVENTS`` become an internal system post on the
record's feed (for ``relationship.*`` the record is the role's subject), grouped so a
burst of changes by one actor is one entry.

**Merges.** ``party_merged`` moves follows, posts and mentions to the survivor.

**Batches.** A bulk import sends one batch event per chunk (``events.emit_batch``);
``auto_follow_batch`` handles it set-wise: one query for the parties, one per distinct
follower for what that user may see, one insert of the new follows.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.dispatch import receiver

from kith.accounts.models import User
from kith.core.events import batch_handler, subscriber
from kith.core.inputs import whole_number
from kith.core.models import OutboxEvent
from kith.people import access as people_access
from kith.people.merging import party_merged
from kith.people.models import Party

from . import services

logger = logging.getLogger("kith.collab")

FOLLOW_EVENTS = (
    "person.created",
    "organization.created",
    "deal.created",
    "deal.assigned",
    "deal.owner_changed",
    "deal.updated",
    "case.created",
    "case.assigned",
    "case.updated",
    "activity.created",
    "activity.assigned",
    "task.created",
    "task.assigned",
    "meeting.created",
    *getattr(settings, "KITH_COLLAB_EXTRA_FOLLOW_EVENTS", ()),
)

SYSTEM_EVENTS = (
    "relationship.created",
    "relationship.ended",
    "relationship.deleted",
    "deal.stage_changed",
    "deal.won",
    "deal.lost",
    "case.status_changed",
    "case.resolved",
    "case.closed",
    "case.reopened",
    "case.assigned",
    "activity.completed",
    "task.completed",
    *getattr(settings, "KITH_COLLAB_EXTRA_SYSTEM_EVENTS", ()),
)

OWNER_FIELDS = ("owner", "assignee", "assigned_to")
DATA_USER_KEYS = ("owner_id", "assignee_id", "owner", "assignee", "assigned_to_id")


def _object(event: OutboxEvent) -> models.Model | None:
    try:
        model = apps.get_model(event.object_type)
    except (LookupError, ValueError):
        return None
    return model._default_manager.filter(pk=event.object_id).first()


def _user_from(value: Any) -> User | None:
    if value in (None, ""):
        return None
    pk = value if isinstance(value, int) else whole_number(value)
    if pk is not None:
        return User.objects.filter(pk=pk, is_active=True).first()
    try:
        return User.objects.filter(public_id=uuid.UUID(str(value)), is_active=True).first()
    except ValueError:
        return User.objects.filter(username=str(value), is_active=True).first()


# Worker-only: following a record one second later is unnoticeable, while doing it in
# the request doubled the cost of creating a person (two more transactions).
@subscriber(*FOLLOW_EVENTS, name="collab.auto_follow", inline=False)
def auto_follow(event: OutboxEvent) -> None:
    obj = _object(event)
    if obj is None or (isinstance(obj, Party) and obj.status != Party.Status.ACTIVE):
        return
    # The actor and the owners in one query: on a create they are mostly the same user.
    ids = {event.actor_id} if event.name.endswith(".created") and event.actor_id else set()
    for name in OWNER_FIELDS:
        uid = getattr(obj, f"{name}_id", None)
        if isinstance(uid, int):
            ids.add(uid)
    users: dict[int, User] = (
        {user.pk: user for user in User.objects.filter(pk__in=ids, is_active=True)} if ids else {}
    )
    for key in DATA_USER_KEYS:
        found = _user_from((event.data or {}).get(key))
        if found is not None:
            users[found.pk] = found
    for user in users.values():
        if user.is_portal:
            continue  # customers are invited explicitly, never followed automatically
        try:
            services.follow(actor=None, follower=user, target=obj, reason="auto")
        except Exception as exc:  # a user who cannot see the record simply does not follow
            logger.info("auto-follow of %s by %s skipped: %s", event.name, user, exc)


@batch_handler("collab.auto_follow")
def auto_follow_batch(batch: OutboxEvent, items: list[OutboxEvent]) -> None:
    """``auto_follow`` for every event of a batch, in set-based queries.

    Parties only (what bulk imports write); a batch about other records goes item by
    item through ``auto_follow``. The same followers as one by one: the actor of a
    ``*.created`` event, the record's owner, users named in the event data; active
    staff only, and only for the parties each of them may see.
    """
    try:
        model = apps.get_model(batch.object_type)
    except (LookupError, ValueError):
        return
    if model is not Party:
        for item in items:
            auto_follow(item)
        return
    owners = {
        pk: owner_id
        for pk, owner_id in Party.objects.filter(
            pk__in={item.object_id for item in items}, status=Party.Status.ACTIVE
        ).values_list("pk", "owner_id")
    }
    named: dict[Any, User | None] = {}
    wanted: dict[int, set[int]] = {}  # user pk -> party pks
    for item in items:
        if item.object_id not in owners:
            continue
        user_ids = set()
        if item.name.endswith(".created") and item.actor_id:
            user_ids.add(item.actor_id)
        if owners[item.object_id]:
            user_ids.add(owners[item.object_id])
        for key in DATA_USER_KEYS:
            value = (item.data or {}).get(key)
            if value in (None, ""):
                continue
            if str(value) not in named:
                named[str(value)] = _user_from(value)
            if named[str(value)] is not None:
                user_ids.add(named[str(value)].pk)
        for user_id in user_ids:
            wanted.setdefault(user_id, set()).add(item.object_id)
    pairs: list[tuple[int, int]] = []
    for user in User.objects.filter(pk__in=list(wanted), is_active=True):
        if user.is_portal:
            continue  # customers are invited explicitly, never followed automatically
        visible = people_access.staff_scope(user).filter(pk__in=wanted[user.pk])
        pairs.extend((pk, user.pk) for pk in visible.values_list("pk", flat=True))
    services.auto_follow_many(target_type=ContentType.objects.get_for_model(Party), pairs=pairs)


def _describe(event: OutboxEvent, obj: models.Model | None) -> str:
    data = event.data or {}
    action = event.name.split(".", 1)[1].replace("_", " ")
    noun = event.name.split(".", 1)[0].capitalize()
    if event.name.startswith("relationship."):
        verb = {"created": "Became", "ended": "Stopped being", "deleted": "No longer recorded as"}
        role = data.get("role_name") or data.get("role") or "a role"
        of = data.get("object_name") or settings.KITH_COMPANY_NAME
        return f"{verb.get(event.name.split('.')[1], action)} {role} of {of}"
    parts = []
    before = data.get("from") or data.get("old") or data.get("from_stage") or data.get("old_status")
    after = (
        data.get("to")
        or data.get("new")
        or data.get("stage")
        or data.get("to_stage")
        or data.get("status")
        or data.get("new_status")
    )
    if before and after:
        parts.append(f"{before} → {after}")
    elif after:
        parts.append(str(after))
    label = str(obj)[:80] if obj is not None else noun
    detail = f": {', '.join(parts)}" if parts else ""
    return f"{noun} {action} ({label}){detail}"


@subscriber(*SYSTEM_EVENTS, name="collab.system_posts")
def system_post(event: OutboxEvent) -> None:
    obj = _object(event)
    target = obj
    if event.name.startswith("relationship."):
        subject = (event.data or {}).get("subject")
        target = Party.objects.filter(public_id=subject).first() if subject else None
    if target is None:
        return
    if isinstance(target, Party) and target.status != Party.Status.ACTIVE:
        return
    actor = User.objects.filter(pk=event.actor_id).first() if event.actor_id else None
    services.record_system_event(
        actor=actor,
        target=target,
        event_name=event.name,
        line=_describe(event, obj),
        occurred_at=event.occurred_at,
    )


@receiver(party_merged, dispatch_uid="collab.party_merged")
def on_party_merged(sender, keep: Party, absorb: Party, **kwargs) -> None:
    services.move_party_references(keep=keep, absorb=absorb)
