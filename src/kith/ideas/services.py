"""Every idea-portal write: categories, ideas, comments, votes, the status workflow,
merges, credits, links to deals and cases, follows.

Keyword-only, one transaction each, an audit entry, a domain event through the outbox
(``idea.created``, ``idea.voted``, ``idea.status_changed``, ``idea.merged``, …) and,
for acts of a person, an interaction on their timeline (channel ``community``, marked
information-seeking or -contributing).

Concurrency: a vote locks the voter's user row (so the per-category budget is counted
once per voter at a time) and then the idea row (so a merge or a status change cannot
slip between the check and the insert); the unique (idea, voter) constraint is the
backstop. Status changes lock the idea; a merge locks both ideas in id order.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from kith.collab.rendering import render_markdown
from kith.core import audit, events
from kith.core.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed

from . import access
from .models import (
    BODY_MAX,
    COMMENT_MAX,
    NOTE_MAX,
    OPEN_STATUSES,
    TITLE_MAX,
    TRANSITIONS,
    Category,
    Idea,
    IdeaComment,
    IdeaContributor,
    IdeaFollow,
    IdeaLink,
    IdeaRevision,
    IdeaStatusChange,
    IdeaVote,
    Status,
)

# ---------------------------------------------------------------- helpers


def _title(title: str | None, errors: list[FieldError]) -> str:
    title = " ".join((title or "").split())
    if not title:
        errors.append(FieldError("title", "This field is required."))
    elif len(title) > TITLE_MAX:
        errors.append(FieldError("title", f"At most {TITLE_MAX} characters."))
    return title


def _text(value: str | None, field: str, limit: int, errors: list, *, required=True) -> str:
    value = (value or "").strip()
    if not value and required:
        errors.append(FieldError(field, "This field is required."))
    elif len(value) > limit:
        errors.append(FieldError(field, f"At most {limit} characters."))
    elif "\x00" in value:
        errors.append(FieldError(field, "Contains a NUL character."))
    return value


def _party_of(user):
    person = getattr(user, "person", None) if user is not None else None
    if person is None or person.status != person.Status.ACTIVE:
        return None
    return person


def _timeline(*, user, kind: str, summary: str, role: str, related, direction="in") -> None:
    """One idea act on ``user``'s person's timeline (staff without a Person: none)."""
    from kith.interactions import services as interaction_services
    from kith.interactions.models import Channel

    party = _party_of(user)
    if party is None:
        return
    interaction_services.log_interaction(
        actor=user,
        party=party,
        channel=Channel.COMMUNITY,
        direction=direction,
        kind=kind,
        summary=summary[:300],
        related=related,
        information_role=role,
    )


def idea_url(idea: Idea) -> str:
    return f"/ideas/{idea.public_id}/"


def _notify(*, users, actor, text: str, idea: Idea) -> int:
    """In-app notification (live over the event stream, e-mailed per each user's
    setting) to every user in ``users`` but the actor."""
    from kith.collab import services as collab_services
    from kith.collab.models import Notification

    sent = 0
    for user in users:
        if actor is not None and user.pk == getattr(actor, "pk", None):
            continue
        if not user.is_active:
            continue
        collab_services.notify(
            user=user,
            verb=Notification.Verb.SYSTEM,
            text=text,
            actor=actor,
            url=idea_url(idea),
        )
        sent += 1
    return sent


def _audience(idea: Idea):
    """Voters and followers of ``idea``, each once."""
    from kith.accounts.models import User

    ids = set(IdeaVote.objects.filter(idea=idea).values_list("voter_id", flat=True))
    ids |= set(IdeaFollow.objects.filter(idea=idea).values_list("user_id", flat=True))
    return User.objects.filter(pk__in=ids).order_by("pk")


def _lock(idea: Idea) -> Idea:
    return Idea.objects.select_for_update().get(pk=idea.pk)


def _follow(idea: Idea, user) -> None:
    IdeaFollow.objects.get_or_create(idea=idea, user=user)


# ---------------------------------------------------------------- categories


def create_category(
    *,
    actor,
    name: str,
    slug: str = "",
    description: str = "",
    product=None,
    vote_budget: int | None = None,
) -> Category:
    """A new category (admins)."""
    access.require_admin(actor)
    errors: list[FieldError] = []
    name = " ".join((name or "").split())
    if not name:
        errors.append(FieldError("name", "This field is required."))
    elif len(name) > 120:
        errors.append(FieldError("name", "At most 120 characters."))
    slug = slugify(slug or name)[:80]
    if name and not slug:
        errors.append(FieldError("slug", "Give a slug of letters, digits and hyphens."))
    elif slug and Category.objects.filter(slug=slug).exists():
        errors.append(FieldError("slug", "A category with this slug exists."))
    if vote_budget is not None and not 1 <= vote_budget <= 1000:
        errors.append(FieldError("vote_budget", "Between 1 and 1000, or empty for no limit."))
    description = _text(description, "description", 2000, errors, required=False)
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        category = Category.objects.create(
            name=name, slug=slug, description=description, product=product, vote_budget=vote_budget
        )
        audit.record(
            actor=actor,
            action="idea.category.created",
            obj=category,
            changes={"name": name, "vote_budget": vote_budget},
        )
        events.emit("idea.category_created", obj=category, actor=actor, data={"slug": slug})
    return category


_UNSET = object()


def update_category(
    *, actor, category: Category, vote_budget=_UNSET, archived=_UNSET, description=_UNSET
) -> Category:
    """Change a category's vote budget, description or archived flag (admins)."""
    access.require_admin(actor)
    errors: list[FieldError] = []
    if vote_budget is not _UNSET and vote_budget is not None and not 1 <= vote_budget <= 1000:
        errors.append(FieldError("vote_budget", "Between 1 and 1000, or empty for no limit."))
    if description is not _UNSET:
        description = _text(description, "description", 2000, errors, required=False)
    if errors:
        raise ValidationFailed(errors=errors)
    changes = {}
    with transaction.atomic():
        category = Category.objects.select_for_update().get(pk=category.pk)
        for name, value in (
            ("vote_budget", vote_budget),
            ("archived", archived),
            ("description", description),
        ):
            if value is not _UNSET and getattr(category, name) != value:
                changes[name] = value
                setattr(category, name, value)
        if changes:
            category.save()
            audit.record(actor=actor, action="idea.category.updated", obj=category, changes=changes)
            events.emit("idea.category_updated", obj=category, actor=actor, data=changes)
    return category


# ---------------------------------------------------------------- ideas and comments


def create_idea(*, actor, title: str, body: str, category: Category) -> Idea:
    """Propose an idea; the author follows it from then on."""
    access.require_participant(actor)
    errors: list[FieldError] = []
    title = _title(title, errors)
    body = _text(body, "body", BODY_MAX, errors)
    if category is None or category.archived:
        errors.append(FieldError("category", "No such category."))
    if errors:
        raise ValidationFailed(errors=errors)
    now = timezone.now()
    with transaction.atomic():
        idea = Idea.objects.create(
            title=title,
            body=body,
            body_html=render_markdown(body),
            category=category,
            author=actor,
            status=Status.NEW,
            status_changed_at=now,
        )
        _follow(idea, actor)
        audit.record(
            actor=actor,
            action="idea.created",
            obj=idea,
            changes={"title": title, "category": category.slug},
            party_id=getattr(_party_of(actor), "pk", None),
        )
        events.emit(
            "idea.created",
            obj=idea,
            actor=actor,
            data={"title": title, "category": str(category.public_id)},
        )
        _timeline(
            user=actor,
            kind="idea.proposed",
            summary=f"Proposed an idea: {title}",
            role="contributing",
            related=idea,
        )
    return idea


def comment_on_idea(*, actor, idea: Idea, body: str) -> IdeaComment:
    """A comment on ``idea`` (not on a merged one); the commenter follows the idea."""
    access.require_participant(actor)
    errors: list[FieldError] = []
    body = _text(body, "body", COMMENT_MAX, errors)
    if idea.merged_into_id is not None:
        errors.append(FieldError("idea", "This idea was merged into another one."))
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        # Locked, so a merge cannot slip between the check and the comment.
        idea = _lock(idea)
        if idea.merged_into_id is not None:
            raise ValidationFailed.single("idea", "This idea was merged into another one.")
        comment = IdeaComment.objects.create(
            idea=idea, author=actor, body=body, body_html=render_markdown(body)
        )
        Idea.objects.filter(pk=idea.pk).update(comment_count=F("comment_count") + 1)
        _follow(idea, actor)
        audit.record(actor=actor, action="idea.commented", obj=comment)
        events.emit("idea.commented", obj=comment, actor=actor, data={"idea": str(idea.public_id)})
        _timeline(
            user=actor,
            kind="idea.comment",
            summary=f"Commented on the idea: {idea.title}",
            role="contributing",
            related=comment,
        )
    return comment


def _require_editor(actor, author_id: int | None, what: str) -> None:
    """The author edits their own text; staff with a writing role (the ideas'
    moderators) edit anyone's."""
    access.require_participant(actor)
    if author_id == actor.pk:
        return
    if access.is_staff_writer(actor):
        return
    raise Forbidden(f"Only its author or a moderator can edit this {what}.")


def edit_idea(*, actor, idea: Idea, title: str | None = None, body: str | None = None) -> Idea:
    """Change an idea's title and/or body; the old text is kept as a revision, the idea
    is marked edited, and the change is audited."""
    _require_editor(actor, idea.author_id, "idea")
    errors: list[FieldError] = []
    if title is None and body is None:
        errors.append(FieldError("body", "Give a new title or body."))
    new_title = _title(title, errors) if title is not None else None
    new_body = _text(body, "body", BODY_MAX, errors) if body is not None else None
    if idea.merged_into_id is not None:
        errors.append(FieldError("idea", "This idea was merged into another one."))
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        row = _lock(idea)
        if row.merged_into_id is not None:  # merged since the caller read it
            raise ValidationFailed.single("idea", "This idea was merged into another one.")
        before = {"title": row.title, "body": row.body}
        after = {"title": new_title or row.title, "body": new_body or row.body}
        changes = audit.diff(before, after)
        if not changes:
            return row
        IdeaRevision.objects.create(idea=row, editor=actor, title=row.title, body=row.body)
        row.title, row.body = after["title"], after["body"]
        row.body_html = render_markdown(row.body)
        row.edited_at = timezone.now()
        row.save(update_fields=["title", "body", "body_html", "edited_at", "updated_at"])
        audit.record(
            actor=actor,
            action="idea.edited",
            obj=row,
            changes=changes,
            party_id=getattr(_party_of(row.author), "pk", None),
        )
        events.emit("idea.edited", obj=row, actor=actor, data={"fields": sorted(changes)})
    return row


def edit_comment(*, actor, comment: IdeaComment, body: str) -> IdeaComment:
    """Change a comment's text (its author or a moderator); history kept, audited."""
    _require_editor(actor, comment.author_id, "comment")
    errors: list[FieldError] = []
    body = _text(body, "body", COMMENT_MAX, errors)
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        row = IdeaComment.objects.select_for_update().get(pk=comment.pk)
        if row.body == body:
            return row
        IdeaRevision.objects.create(comment=row, editor=actor, body=row.body)
        changes = audit.diff({"body": row.body}, {"body": body})
        row.body, row.body_html = body, render_markdown(body)
        row.edited_at = timezone.now()
        row.save(update_fields=["body", "body_html", "edited_at", "updated_at"])
        audit.record(
            actor=actor,
            action="idea.comment_edited",
            obj=row,
            changes=changes,
            party_id=getattr(_party_of(row.author), "pk", None),
        )
        events.emit(
            "idea.comment_edited",
            obj=row,
            actor=actor,
            data={"idea": str(row.idea.public_id)},
        )
    return row


# ---------------------------------------------------------------- votes


def _budget_error(idea: Idea, voter) -> ValidationFailed | None:
    budget = idea.category.vote_budget
    if budget is None:
        return None
    used = IdeaVote.objects.filter(
        voter=voter,
        idea__category_id=idea.category_id,
        idea__status__in=OPEN_STATUSES,
        idea__merged_into__isnull=True,
    ).count()
    if used >= budget:
        return ValidationFailed.single(
            "idea",
            f"You have used all {budget} of your votes in {idea.category.name}; "
            "withdraw one to vote here.",
        )
    return None


def _check_votable(idea: Idea) -> None:
    if idea.merged_into_id is not None:
        raise ValidationFailed.single("idea", "This idea was merged; vote on the one it joined.")
    if idea.status not in OPEN_STATUSES:
        raise ValidationFailed.single(
            "idea", f"This idea is {idea.get_status_display().lower()}; votes are closed."
        )


def vote(*, actor, idea: Idea) -> tuple[IdeaVote, bool]:
    """``actor`` votes for ``idea``; (vote, created). Voting twice is one vote."""
    from kith.accounts.models import User

    access.require_participant(actor)
    with transaction.atomic():
        # The voter's lock first (the budget is per voter), then the idea's.
        list(User.objects.select_for_update().filter(pk=actor.pk).values_list("pk", flat=True))
        idea = Idea.objects.select_for_update().select_related("category").get(pk=idea.pk)
        existing = IdeaVote.objects.filter(idea=idea, voter=actor).first()
        if existing is not None:
            return existing, False
        _check_votable(idea)
        over = _budget_error(idea, actor)
        if over is not None:
            raise over
        try:
            with transaction.atomic():
                row = IdeaVote.objects.create(idea=idea, voter=actor, created_at=timezone.now())
        except IntegrityError:  # only without the locks above (defensive)
            return IdeaVote.objects.get(idea=idea, voter=actor), False
        Idea.objects.filter(pk=idea.pk).update(vote_count=F("vote_count") + 1)
        audit.record(actor=actor, action="idea.voted", obj=idea)
        events.emit("idea.voted", obj=idea, actor=actor, data={"title": idea.title})
        _timeline(
            user=actor,
            kind="idea.vote",
            summary=f"Voted for the idea: {idea.title}",
            role="contributing",
            related=row,
        )
    return row, True


def retract_vote(*, actor, idea: Idea) -> bool:
    """Withdraw ``actor``'s vote (it frees a unit of their budget); False if none."""
    access.require_participant(actor)
    with transaction.atomic():
        idea = _lock(idea)
        deleted, _ = IdeaVote.objects.filter(idea=idea, voter=actor).delete()
        if not deleted:
            return False
        Idea.objects.filter(pk=idea.pk, vote_count__gt=0).update(vote_count=F("vote_count") - 1)
        audit.record(actor=actor, action="idea.vote_retracted", obj=idea)
        events.emit("idea.vote_retracted", obj=idea, actor=actor)
    return True


def follow_idea(*, actor, idea: Idea, following: bool = True) -> bool:
    """Follow (or stop following) an idea's status changes."""
    access.require_participant(actor)
    with transaction.atomic():
        if following:
            _, created = IdeaFollow.objects.get_or_create(idea=idea, user=actor)
            changed = created
        else:
            changed = bool(IdeaFollow.objects.filter(idea=idea, user=actor).delete()[0])
    return changed


# ---------------------------------------------------------------- triage


def change_status(*, actor, idea: Idea, status: str, note: str = "") -> Idea:
    """Move ``idea`` along the workflow with a public note; voters and followers hear of it."""
    access.require_triage(actor)
    errors: list[FieldError] = []
    note = _text(note, "note", NOTE_MAX, errors, required=False)
    if status not in Status.values:
        errors.append(FieldError("status", f"Must be one of: {', '.join(Status.values)}."))
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        idea = _lock(idea)
        if idea.merged_into_id is not None:
            raise ValidationFailed.single("idea", "This idea was merged into another one.")
        old = idea.status
        if status == old:
            raise ValidationFailed.single("status", f"The idea is {idea.get_status_display()}.")
        if status not in TRANSITIONS[old]:
            allowed = ", ".join(TRANSITIONS[old]) or "none (final)"
            raise ValidationFailed.single("status", f"From {old} an idea may move to: {allowed}.")
        now = timezone.now()
        note_html = render_markdown(note) if note else ""
        idea.status = status
        idea.status_note = note
        idea.status_note_html = note_html
        idea.status_changed_at = now
        idea.save(update_fields=["status", "status_note", "status_note_html", "status_changed_at"])
        IdeaStatusChange.objects.create(
            idea=idea,
            from_status=old,
            to_status=status,
            note=note,
            note_html=note_html,
            actor=actor,
        )
        audit.record(
            actor=actor,
            action="idea.status_changed",
            obj=idea,
            changes={"status": [old, status], "note": note[:200]},
        )
        events.emit(
            "idea.status_changed",
            obj=idea,
            actor=actor,
            data={"from": old, "to": status, "note": note[:500]},
        )
        label = Status(status).label.lower()
        if idea.author is not None:
            # The answer the author was waiting for: information they sought.
            _timeline(
                user=idea.author,
                kind="idea.status",
                summary=f"Idea {label}: {idea.title}",
                role="seeking",
                related=idea,
                direction="out",
            )
        text = f"“{idea.title}” is now {label}"
        if note:
            text += f": {' '.join(note.split())}"
        _notify(users=_audience(idea), actor=actor, text=text, idea=idea)
    return idea


def merge_ideas(*, actor, source: Idea, target: Idea) -> Idea:
    """Merge the duplicate ``source`` into ``target``: votes united without double counting
    (a person who voted for both keeps one vote), followers, links and credits moved,
    the source's author credited on the target, and the source's voters told."""
    access.require_triage(actor)
    if source.pk == target.pk:
        raise ValidationFailed.single("into", "An idea cannot be merged into itself.")
    with transaction.atomic():
        locked = {
            row.pk: row
            for row in Idea.objects.select_for_update()
            .filter(pk__in=[source.pk, target.pk])
            .order_by("pk")
        }
        source, target = locked[source.pk], locked[target.pk]
        if source.merged_into_id is not None:
            raise Conflict("This idea was merged already.")
        if target.merged_into_id is not None:
            raise ValidationFailed.single("into", "That idea was itself merged; pick the survivor.")
        source_voters = list(
            IdeaVote.objects.filter(idea=source).select_related("voter").order_by("voter_id")
        )
        already = set(
            IdeaVote.objects.filter(
                idea=target, voter_id__in=[v.voter_id for v in source_voters]
            ).values_list("voter_id", flat=True)
        )
        IdeaVote.objects.filter(idea=source, voter_id__in=already).delete()
        IdeaVote.objects.filter(idea=source).update(idea=target)
        followers = set(IdeaFollow.objects.filter(idea=target).values_list("user_id", flat=True))
        IdeaFollow.objects.filter(idea=source).exclude(user_id__in=followers).update(idea=target)
        credited = set(
            IdeaContributor.objects.filter(idea=target).values_list("user_id", flat=True)
        )
        IdeaContributor.objects.filter(idea=source).exclude(user_id__in=credited).update(
            idea=target
        )
        credited = set(
            IdeaContributor.objects.filter(idea=target).values_list("user_id", flat=True)
        )
        if (
            source.author_id
            and source.author_id != target.author_id
            and source.author_id not in credited
        ):
            IdeaContributor.objects.create(
                idea=target,
                user_id=source.author_id,
                contribution=f"Proposed “{source.title}”"[:200],
                credited_by=actor,
            )
        deals = set(
            IdeaLink.objects.filter(idea=target, deal__isnull=False).values_list(
                "deal_id", flat=True
            )
        )
        cases = set(
            IdeaLink.objects.filter(idea=target, case__isnull=False).values_list(
                "case_id", flat=True
            )
        )
        IdeaLink.objects.filter(idea=source, deal_id__in=deals).delete()
        IdeaLink.objects.filter(idea=source, case_id__in=cases).delete()
        IdeaLink.objects.filter(idea=source).update(idea=target)
        now = timezone.now()
        target.vote_count = IdeaVote.objects.filter(idea=target).count()
        target.save(update_fields=["vote_count"])
        source.vote_count = 0
        source.merged_into = target
        source.merged_at = now
        source.save(update_fields=["vote_count", "merged_into", "merged_at"])
        audit.record(
            actor=actor,
            action="idea.merged",
            obj=source,
            changes={
                "into": str(target.public_id),
                "votes_moved": len(source_voters) - len(already),
            },
        )
        events.emit(
            "idea.merged",
            obj=source,
            actor=actor,
            data={
                "into": str(target.public_id),
                "votes_moved": len(source_voters) - len(already),
                "votes_united": len(already),
            },
        )
        _notify(
            users=[v.voter for v in source_voters],
            actor=actor,
            text=f"“{source.title}” was merged into “{target.title}”; your vote counts there.",
            idea=target,
        )
    return target


def credit_contributor(*, actor, idea: Idea, user, contribution: str = "") -> IdeaContributor:
    """Name ``user`` as a co-creator of ``idea`` (staff)."""
    access.require_triage(actor)
    errors: list[FieldError] = []
    contribution = _text(contribution, "contribution", 200, errors, required=False)
    if user is None or not user.is_active:
        errors.append(FieldError("user", "No such user."))
    elif user.pk == idea.author_id:
        errors.append(FieldError("user", "The author is credited already."))
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        row, created = IdeaContributor.objects.get_or_create(
            idea=idea,
            user=user,
            defaults={"contribution": contribution, "credited_by": actor},
        )
        if not created:
            raise Conflict("That person is credited on this idea already.")
        audit.record(actor=actor, action="idea.credited", obj=idea, changes={"user": user.username})
        events.emit("idea.credited", obj=idea, actor=actor, data={"user": str(user.public_id)})
        _timeline(
            user=user,
            kind="idea.credit",
            summary=f"Credited as co-creator of the idea: {idea.title}",
            role="contributing",
            related=idea,
            direction="out",
        )
    return row


def remove_credit(*, actor, idea: Idea, user) -> bool:
    access.require_triage(actor)
    with transaction.atomic():
        deleted, _ = IdeaContributor.objects.filter(idea=idea, user=user).delete()
        if deleted:
            audit.record(
                actor=actor, action="idea.credit_removed", obj=idea, changes={"user": user.username}
            )
            events.emit("idea.credit_removed", obj=idea, actor=actor)
    return bool(deleted)


def link_record(*, actor, idea: Idea, deal=None, case=None) -> IdeaLink:
    """Tie ``idea`` to a deal or a case that asks for it (staff who may see that record)."""
    from kith.sales.access import scope_deals
    from kith.service.access import scope_cases

    access.require_triage(actor)
    if (deal is None) == (case is None):
        raise ValidationFailed.single("deal", "Give either a deal or a case.")
    if deal is not None and not scope_deals(actor).filter(pk=deal.pk).exists():
        raise ValidationFailed.single("deal", "No such deal.")
    if case is not None and not scope_cases(actor).filter(pk=case.pk).exists():
        raise ValidationFailed.single("case", "No such case.")
    try:
        with transaction.atomic():
            link = IdeaLink.objects.create(idea=idea, deal=deal, case=case, created_by=actor)
            what = f"deal:{deal.public_id}" if deal else f"case:{case.public_id}"
            audit.record(actor=actor, action="idea.linked", obj=idea, changes={"record": what})
            events.emit("idea.linked", obj=idea, actor=actor, data={"record": what})
    except IntegrityError as exc:
        raise Conflict("This record is linked to the idea already.") from exc
    return link


def unlink_record(*, actor, link: IdeaLink) -> None:
    access.require_triage(actor)
    if not access.visible_links(actor, link.idea) or link not in access.visible_links(
        actor, link.idea
    ):
        raise NotFound("No such link.")
    with transaction.atomic():
        idea = link.idea
        link.delete()
        audit.record(actor=actor, action="idea.unlinked", obj=idea)
        events.emit("idea.unlinked", obj=idea, actor=actor)
