"""HTTP API for kith.ideas (thin: parse, check access, call a service or query, serialise).

Reading works for customers and staff (and anonymous visitors when the portal is
public: ``optional_auth``); customers get the public fields only, staff also the links
to deals and cases they may see and the value at stake. Creating POSTs take an
``Idempotency-Key``; lists are cursor paginated; errors have the shared
``{"detail", "code", "errors"}`` shape.
"""

import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from kith.accounts.auth import api_auth
from kith.core.errors import NotFound, ValidationFailed
from kith.core.idempotency import idempotent

from . import access, queries, ranking, services
from .models import Category, Idea, IdeaComment, IdeaLink
from .services import idea_url


def _anonymous(request: HttpRequest) -> bool:
    """Lets a request without credentials through; access decides (public portal only)."""
    return True


optional_auth = [*api_auth, _anonymous]
router = Router(tags=["ideas"])


# ---------------------------------------------------------------- schemas


class IdeaListQuery(Schema):
    rank: str = "votes"
    status: str = ""
    category: str = ""
    q: str = ""
    cursor: str | None = None
    limit: int | None = None


class IdeaIn(Schema):
    title: str
    body: str
    category: str


class IdeaCommentIn(Schema):
    body: str


class IdeaPatch(Schema):
    title: str | None = None
    body: str | None = None


class IdeaStatusIn(Schema):
    status: str
    note: str = ""


class IdeaMergeIn(Schema):
    into: uuid.UUID


class IdeaCreditIn(Schema):
    user: uuid.UUID
    contribution: str = ""


class IdeaLinkIn(Schema):
    deal: uuid.UUID | None = None
    case: uuid.UUID | None = None


class IdeaFollowIn(Schema):
    following: bool = True


class CategoryIn(Schema):
    name: str
    slug: str = ""
    description: str = ""
    product: uuid.UUID | None = None
    vote_budget: int | None = None


class CategoryPatch(Schema):
    description: str | None = None
    vote_budget: int | None = None
    unlimited: bool = False
    archived: bool | None = None


# ---------------------------------------------------------------- serialisers


def _person(user) -> dict[str, Any] | None:
    if user is None:
        return None
    return {
        "id": str(user.public_id),
        "name": user.public_name,  # never an e-mail address
        "staff": not user.is_portal,
    }


def category_out(category: Category) -> dict[str, Any]:
    return {
        "id": str(category.public_id),
        "slug": category.slug,
        "name": category.name,
        "description": category.description,
        "vote_budget": category.vote_budget,
        "archived": category.archived,
    }


def idea_public_out(idea: Idea, *, voted: bool = False) -> dict[str, Any]:
    """What anyone who may read the portal sees of an idea."""
    return {
        "id": str(idea.public_id),
        "title": idea.title,
        "body": idea.body,
        "body_html": idea.body_html,
        "category": category_out(idea.category),
        "status": idea.status,
        "status_note": idea.status_note,
        "status_note_html": idea.status_note_html,
        "status_changed_at": idea.status_changed_at,
        "author": _person(idea.author),
        "vote_count": idea.vote_count,
        "comment_count": idea.comment_count,
        "voted": voted,
        "merged_into": str(idea.merged_into.public_id) if idea.merged_into_id else None,
        "created_at": idea.created_at,
        "edited_at": idea.edited_at,
        "url": idea_url(idea),
    }


def _link_out(link: IdeaLink) -> dict[str, Any]:
    if link.deal_id:
        deal = link.deal
        return {
            "id": str(link.public_id),
            "kind": "deal",
            "record": str(deal.public_id),
            "title": deal.title,
            "amount": str(deal.amount),
            "currency": deal.currency,
            "open": not deal.stage.is_closed,
        }
    case = link.case
    return {
        "id": str(link.public_id),
        "kind": "case",
        "record": str(case.public_id),
        "title": case.subject,
        "status": case.status,
    }


def idea_detail_out(user, idea: Idea) -> dict[str, Any]:
    page = queries.idea_page(user, idea)
    data = idea_public_out(idea, voted=page.voted)
    data |= {
        "following": page.following,
        "votes_left": page.budget_left,
        "contributors": [
            {**_person(c.user), "contribution": c.contribution} for c in page.contributors
        ],
        "history": [
            {
                "from": h.from_status,
                "to": h.to_status,
                "note": h.note,
                "note_html": h.note_html,
                "at": h.created_at,
            }
            for h in page.history
        ],
    }
    if access.is_staff(user):
        stake = page.stake
        data |= {
            "links": [_link_out(link) for link in page.links],
            "value_at_stake": {
                "amount": str(stake.amount),
                "currency": stake.currency or _base(),
                "deals": stake.deals,
                "missing_rates": stake.missing_rates,
            },
        }
    return data


def _base() -> str:
    from kith.sales.models import base_currency

    return base_currency()


def comment_out(comment: IdeaComment) -> dict[str, Any]:
    return {
        "id": str(comment.public_id),
        "author": _person(comment.author),
        "body": comment.body,
        "body_html": comment.body_html,
        "created_at": comment.created_at,
        "edited_at": comment.edited_at,
    }


def _category(request, ref: str, field: str) -> Category:
    try:
        return access.get_category(request.user, ref)
    except NotFound:
        raise ValidationFailed.single(field, "No such category.") from None


def _idea(request, public_id) -> Idea:
    return access.get_idea(request.user, public_id)


# ---------------------------------------------------------------- categories


@router.get("/ideas/categories", auth=optional_auth)
def list_categories(request: HttpRequest):
    access.require_reader(request.user)
    return {"items": [category_out(c) for c in access.scope_categories(request.user)]}


@router.post("/ideas/categories", response={201: dict})
@idempotent
def create_category(request: HttpRequest, payload: CategoryIn):
    product = None
    if payload.product is not None:
        access.require_admin(request.user)
        from kith.sales.models import Product

        product = Product.objects.filter(public_id=payload.product).first()
        if product is None:
            raise ValidationFailed.single("product", "No such product.")
    category = services.create_category(
        actor=request.user,
        name=payload.name,
        slug=payload.slug,
        description=payload.description,
        product=product,
        vote_budget=payload.vote_budget,
    )
    return Status(201, category_out(category))


@router.patch("/ideas/categories/{ref}")
def update_category(request: HttpRequest, ref: str, payload: CategoryPatch):
    access.require_admin(request.user)
    category = access.get_category(request.user, ref)
    changes: dict[str, Any] = {}
    if payload.unlimited:
        changes["vote_budget"] = None
    elif payload.vote_budget is not None:
        changes["vote_budget"] = payload.vote_budget
    if payload.description is not None:
        changes["description"] = payload.description
    if payload.archived is not None:
        changes["archived"] = payload.archived
    category = services.update_category(actor=request.user, category=category, **changes)
    return category_out(category)


# ---------------------------------------------------------------- ideas


@router.get("/ideas", auth=optional_auth)
def list_ideas(request: HttpRequest, query: Query[IdeaListQuery]):
    """Ideas best first by ``rank``: ``votes``, ``hot``, ``new``, ``value`` (staff) or any
    scorer another app registered (``kith.ideas.ranking``)."""
    access.require_reader(request.user)
    category = _category(request, query.category, "category") if query.category else None
    page = queries.list_ideas(
        request.user,
        rank=query.rank,
        status=query.status,
        category=category,
        q=query.q,
        cursor=query.cursor,
        limit=query.limit,
    )
    voted = queries.my_votes(request.user, [i.pk for i in page.items])
    return {
        "items": [idea_public_out(i, voted=i.pk in voted) for i in page.items],
        "next_cursor": page.next_cursor,
        "rankings": [
            "new",
            *(s.name for s in ranking.scorers(staff=access.is_staff(request.user))),
        ],
    }


@router.post("/ideas", response={201: dict})
@idempotent
def create_idea(request: HttpRequest, payload: IdeaIn):
    access.require_participant(request.user)
    category = _category(request, payload.category, "category")
    idea = services.create_idea(
        actor=request.user, title=payload.title, body=payload.body, category=category
    )
    return Status(201, idea_detail_out(request.user, idea))


@router.get("/ideas/mine")
def my_ideas(request: HttpRequest):
    """The caller's own ideas and the ideas they voted for."""
    found = queries.mine(request.user)
    return {
        "ideas": [idea_public_out(i) for i in found["ideas"]],
        "votes": [
            {"idea": idea_public_out(v.idea, voted=True), "voted_at": v.created_at}
            for v in found["votes"]
        ],
    }


@router.get("/ideas/{public_id}", auth=optional_auth)
def get_idea(request: HttpRequest, public_id: uuid.UUID):
    return idea_detail_out(request.user, _idea(request, public_id))


@router.post("/ideas/{public_id}/vote")
def vote(request: HttpRequest, public_id: uuid.UUID):
    """Vote for an idea; voting again is the same one vote (200 either way)."""
    idea = _idea(request, public_id)
    _, created = services.vote(actor=request.user, idea=idea)
    idea.refresh_from_db()
    return {"voted": True, "created": created, "vote_count": idea.vote_count}


@router.delete("/ideas/{public_id}/vote")
def retract_vote(request: HttpRequest, public_id: uuid.UUID):
    idea = _idea(request, public_id)
    if not services.retract_vote(actor=request.user, idea=idea):
        raise NotFound("You have not voted for this idea.")
    idea.refresh_from_db()
    return {"voted": False, "vote_count": idea.vote_count}


@router.put("/ideas/{public_id}/follow")
def follow(request: HttpRequest, public_id: uuid.UUID, payload: IdeaFollowIn):
    idea = _idea(request, public_id)
    services.follow_idea(actor=request.user, idea=idea, following=payload.following)
    return {"following": payload.following}


@router.get("/ideas/{public_id}/comments", auth=optional_auth)
def list_comments(request: HttpRequest, public_id: uuid.UUID):
    idea = _idea(request, public_id)
    return {"items": [comment_out(c) for c in queries.idea_page(request.user, idea).comments]}


@router.post("/ideas/{public_id}/comments", response={201: dict})
@idempotent
def add_comment(request: HttpRequest, public_id: uuid.UUID, payload: IdeaCommentIn):
    idea = _idea(request, public_id)
    comment = services.comment_on_idea(actor=request.user, idea=idea, body=payload.body)
    return Status(201, comment_out(comment))


@router.patch("/ideas/{public_id}")
def edit_idea(request: HttpRequest, public_id: uuid.UUID, payload: IdeaPatch):
    """The author (or a moderator) edits the title and/or body; history is kept."""
    idea = _idea(request, public_id)
    services.edit_idea(actor=request.user, idea=idea, title=payload.title, body=payload.body)
    return idea_detail_out(request.user, _idea(request, public_id))


@router.patch("/ideas/{public_id}/comments/{comment_id}")
def edit_comment(
    request: HttpRequest, public_id: uuid.UUID, comment_id: uuid.UUID, payload: IdeaCommentIn
):
    idea = _idea(request, public_id)
    comment = IdeaComment.objects.filter(idea=idea, public_id=comment_id).first()
    if comment is None:
        raise NotFound("No such comment.")
    return comment_out(
        services.edit_comment(actor=request.user, comment=comment, body=payload.body)
    )


# ---------------------------------------------------------------- triage (staff)


@router.post("/ideas/{public_id}/status")
def change_status(request: HttpRequest, public_id: uuid.UUID, payload: IdeaStatusIn):
    """Move the idea along the workflow; the note is public and reaches voters and followers."""
    idea = _idea(request, public_id)
    idea = services.change_status(
        actor=request.user, idea=idea, status=payload.status, note=payload.note
    )
    return idea_detail_out(request.user, idea)


@router.post("/ideas/{public_id}/merge")
def merge(request: HttpRequest, public_id: uuid.UUID, payload: IdeaMergeIn):
    """Merge this idea (a duplicate) into ``into``; answers the surviving idea."""
    access.require_triage(request.user)
    source = _idea(request, public_id)
    try:
        target = access.get_idea(request.user, payload.into)
    except NotFound:
        raise ValidationFailed.single("into", "No such idea.") from None
    target = services.merge_ideas(actor=request.user, source=source, target=target)
    return idea_detail_out(request.user, target)


@router.post("/ideas/{public_id}/contributors", response={201: dict})
def credit(request: HttpRequest, public_id: uuid.UUID, payload: IdeaCreditIn):
    access.require_triage(request.user)
    idea = _idea(request, public_id)
    user = get_user_model().objects.filter(public_id=payload.user, is_active=True).first()
    if user is None:
        raise ValidationFailed.single("user", "No such user.")
    services.credit_contributor(
        actor=request.user, idea=idea, user=user, contribution=payload.contribution
    )
    return Status(201, idea_detail_out(request.user, idea))


@router.delete("/ideas/{public_id}/contributors/{user_id}")
def uncredit(request: HttpRequest, public_id: uuid.UUID, user_id: uuid.UUID):
    access.require_triage(request.user)
    idea = _idea(request, public_id)
    user = get_user_model().objects.filter(public_id=user_id).first()
    if user is None or not services.remove_credit(actor=request.user, idea=idea, user=user):
        raise NotFound("That person is not credited on this idea.")
    return idea_detail_out(request.user, idea)


@router.post("/ideas/{public_id}/links", response={201: dict})
def link(request: HttpRequest, public_id: uuid.UUID, payload: IdeaLinkIn):
    """Tie the idea to a deal or a case that asks for it (one of ``deal`` or ``case``)."""
    access.require_triage(request.user)
    idea = _idea(request, public_id)
    deal = case = None
    if (payload.deal is None) == (payload.case is None):
        raise ValidationFailed.single("deal", "Give either a deal or a case.")
    if payload.deal is not None:
        from kith.sales.access import scope_deals

        deal = scope_deals(request.user).filter(public_id=payload.deal).first()
        if deal is None:
            raise ValidationFailed.single("deal", "No such deal.")
    else:
        from kith.service.access import scope_cases

        case = scope_cases(request.user).filter(public_id=payload.case).first()
        if case is None:
            raise ValidationFailed.single("case", "No such case.")
    services.link_record(actor=request.user, idea=idea, deal=deal, case=case)
    return Status(201, idea_detail_out(request.user, idea))


@router.delete("/ideas/{public_id}/links/{link_id}")
def unlink(request: HttpRequest, public_id: uuid.UUID, link_id: uuid.UUID):
    access.require_triage(request.user)
    idea = _idea(request, public_id)
    found = next(
        (x for x in access.visible_links(request.user, idea) if x.public_id == link_id), None
    )
    if found is None:
        raise NotFound("No such link.")
    services.unlink_record(actor=request.user, link=found)
    return idea_detail_out(request.user, idea)
