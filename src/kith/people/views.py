"""Web UI views for people and organisations (thin: access + services + templates).

Every view is wrapped in ``staff_view``: a login is required, portal users get 404,
times render in the user's time zone, audit entries are marked as coming from the web,
and a merged record redirects to its survivor. Views never write with the ORM: they
parse with a form, call ``access`` and a service, and render.

The record page is made of sections (contacts, roles, timeline) that are also served
on their own, so htmx can post a small form and swap just that section. Without
JavaScript the same forms post normally and the page redirects back (or re-renders
with the errors and status 422).
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from kith.accounts.models import Team
from kith.cmr import transparency
from kith.core import timezones
from kith.core.errors import (
    SAFE_METHODS,
    Conflict,
    FieldError,
    KithError,
    Moved,
    NotFound,
    ValidationFailed,
)
from kith.core.inputs import CleanForm
from kith.core.pagination import decode_cursor, encode_cursor, paginate
from kith.interactions import services as interaction_services
from kith.interactions.access import visible_refs
from kith.interactions.models import Channel, Direction, Interaction
from kith.interactions.queries import organization_member_ids, timeline
from kith.mail import services as mail_services
from kith.people import access, importing, list_prefs, merging, quick_create, search, services
from kith.people.forms import (
    CONTACT_CHANNELS,
    ContactPointForm,
    EndRoleForm,
    ImportUploadForm,
    InteractionForm,
    OrganizationForm,
    PartyForm,
    PersonForm,
    RoleForm,
    SaveViewForm,
    apply_errors,
)
from kith.people.identity import service as identity_service
from kith.people.models import (
    ContactPoint,
    FieldDefinition,
    ImportJob,
    Party,
    Relationship,
    RoleType,
    SavedView,
    Tag,
)
from kith.people.normalize import InvalidContactPoint, normalize_contact
from kith.people.queries import (
    ListCount,
    PartyFilters,
    apply_filters,
    count_rows,
    current_roles,
    people_by_current_role,
    primary_contact,
    with_list_data,
)
from kith.people.tasks import enqueue_import
from kith.web import decorators, panels

PERSON = Party.Kind.PERSON
ORGANIZATION = Party.Kind.ORGANIZATION
LIST_PAGE_SIZE = 50
TIMELINE_PAGE_SIZE = 20
# Selects of organisations (filters, "Add role") list this many; a search narrows further.
ORG_OPTIONS_LIMIT = 200
# The pseudo-channel of the timeline filter that stands for transactions.
MONEY = "transactions"


# ---------------------------------------------------------------- plumbing


def staff_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The shared staff-page wrapper, plus: a merged record's page sends to the survivor."""

    @functools.wraps(view)
    def follow_merges(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Moved as exc:
            return _moved(request, exc)

    return decorators.staff_view(follow_merges)


def _moved(request: HttpRequest, exc: Moved) -> HttpResponse:
    """A merged record: send the browser to the survivor's page."""
    survivor = Party.objects.filter(public_id=exc.new_public_id).first()
    if survivor is None:  # pragma: no cover - get_party only raises Moved for a real survivor
        raise NotFound("No such person or organisation.")
    if request.method in SAFE_METHODS:
        messages.info(request, f"That record was merged into {survivor.display_name}.")
    else:
        # A form sent to the merged record: it is not applied to the survivor (that may
        # not be what was meant); the browser goes to the survivor's page with a GET.
        messages.warning(
            request,
            f"That record was merged into {survivor.display_name}; nothing was changed. "
            "Check this record and try again.",
        )
    url = party_url(survivor)
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def party_url(party: Party, name: str = "") -> str:
    """The UI address of ``party`` (``name`` picks a sub-page such as "edit")."""
    prefix = "person" if party.kind == PERSON else "organization"
    return reverse(f"people:{prefix}{'_' + name if name else ''}", args=[party.public_id])


def _is_fragment(request: HttpRequest, target: str) -> bool:
    """True for an htmx request that wants only the element ``target`` (not a history restore)."""
    return (
        bool(request.htmx)
        and not request.htmx.history_restore_request
        and (request.htmx.target == target)
    )


def _org_options(user, *, q: str = "", exclude: Party | None = None) -> QuerySet:
    qs = access.staff_scope(user).filter(kind=ORGANIZATION, status=Party.Status.ACTIVE)
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    if q.strip():
        qs = qs.filter(display_name__icontains=q.strip())
    return qs.order_by("sort_name", "id")[:ORG_OPTIONS_LIMIT]


def _role_types(kind: str) -> QuerySet:
    return RoleType.objects.filter(active=True, applies_to__in=["any", kind])


def _teams_for(user) -> list[Team]:
    return list(Team.objects.all() if user.sees_everything else user.teams.all())


# ---------------------------------------------------------------- lists


@staff_view
@require_GET
def people_list(request: HttpRequest) -> HttpResponse:
    return _party_list(request, PERSON)


@staff_view
@require_GET
def organization_list(request: HttpRequest) -> HttpResponse:
    return _party_list(request, ORGANIZATION)


def _list_rows(user, parties: list[Party]) -> list[dict[str, Any]]:
    roles = {p.pk: current_roles(p) for p in parties}
    visible = access.visible_ids(user, [r.object_id for rels in roles.values() for r in rels])
    rows = []
    for p in parties:
        shown = [r for r in roles[p.pk] if r.object_id is None or r.object_id in visible]
        parts = [p.title or p.industry] + [
            f"{r.role.name} of {r.object.display_name}" if r.object_id else r.role.name
            for r in shown
        ]
        rows.append(
            {
                "party": p,
                "subtitle": " · ".join(part for part in parts if part),
                "email": primary_contact(p, "email"),
                "phone": primary_contact(p, "phone"),
                "website": primary_contact(p, "website"),
            }
        )
    return rows


# How a list may be sorted (without a search, which ranks): each ends with the id, so the
# order is total and the keyset cursor stable; each leads with an indexed column.
SORTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "name": ("Name A–Z", ("sort_name", "id")),
    "-name": ("Name Z–A", ("-sort_name", "-id")),
    "newest": ("Newest first", ("-created_at", "-id")),
    "oldest": ("Oldest first", ("created_at", "id")),
}


# A search list counts its matches up to this many (a few pages' worth, not every match).
SEARCH_COUNT_CAP = LIST_PAGE_SIZE * 4


def _search_page(
    qs: QuerySet, q: str, cursor: str | None
) -> tuple[list[Party], str | None, ListCount]:
    """One page of ranked search results and how many matched (bounded by the cap).

    Ranks are not a keyset, so the cursor is an offset. One search serves the page and
    the count that "all matching" acts on.
    """
    offset = 0
    if cursor:
        values = decode_cursor(cursor)
        offset = values[0] if values and isinstance(values[0], int) and values[0] > 0 else 0
    counted = max(offset + LIST_PAGE_SIZE, SEARCH_COUNT_CAP)
    found = search.search(qs, q, limit=counted + 1)
    ids = [p.pk for p in found[offset : offset + LIST_PAGE_SIZE]]
    rows = {p.pk: p for p in with_list_data(Party.objects.filter(pk__in=ids))}
    more = len(found) > offset + LIST_PAGE_SIZE
    total = ListCount(min(len(found), counted), len(found) > counted)
    return (
        [rows[i] for i in ids if i in rows],
        encode_cursor([offset + LIST_PAGE_SIZE]) if more else None,
        total,
    )


def _party_list(
    request: HttpRequest,
    kind: str,
    *,
    params=None,
    save_form: SaveViewForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The list page (or its results fragment) filtered by ``params`` (default: the query)."""
    user = request.user
    params = request.GET if params is None else params
    filters = PartyFilters.from_mapping(params)
    filters.kind = kind
    base = access.staff_scope(user).filter(status=Party.Status.ACTIVE)
    errors: list[FieldError] = []
    try:
        qs = apply_filters(base, filters, user=user)
    except ValidationFailed as exc:
        errors, qs = exc.errors, base.filter(kind=kind)
        status = 422
    cursor = params.get("cursor") or None
    sort = params.get("sort") or "name"
    if sort not in SORTS:
        errors.append(FieldError("sort", "Sort by name, -name, newest or oldest."))
        sort, status = "name", 422
    total: ListCount | None = None
    try:
        if filters.q:
            parties, next_cursor, total = _search_page(qs, filters.q, cursor)
        else:
            page = paginate(
                with_list_data(qs), order=SORTS[sort][1], cursor=cursor, limit=LIST_PAGE_SIZE
            )
            parties, next_cursor = page.items, page.next_cursor
            total = None if errors else count_rows(qs)
    except ValidationFailed as exc:  # a tampered cursor: show the first page and say so
        errors += exc.errors
        parties, next_cursor, status = [], None, 422
    list_name = "people" if kind == PERSON else "organizations"
    applied = {k: v for k, v in filters.as_dict().items() if k != "kind"}
    context = {
        "kind": kind,
        "nav": list_name,
        "list_name": list_name,
        "filters": filters,
        "applied": applied,
        "filter_errors": errors,
        "rows": _list_rows(user, parties),
        # How many records the list holds (what "all matching" acts on); none after errors.
        "total": None if errors else total,
        "can_bulk": user.can_write,
        "can_inline": user.can_write,
        "can_delete": user.sees_everything and user.can_write,
        "owners": _bulk_owners(user),
        "next_cursor": next_cursor,
        "is_first_page": not cursor,
        "list_url": reverse("people:list" if kind == PERSON else "people:organizations"),
        "sort": sort,
        "sorts": [(key, label) for key, (label, _) in SORTS.items()],
        "columns": list_prefs.columns_for(user, list_name),
        "column_choices": list(list_prefs.COLUMNS.items()),
    }
    if _is_fragment(request, "results"):
        return render(request, "people/_results.html", context, status=status)
    visible = access.staff_scope(user).filter(status=Party.Status.ACTIVE)
    context.update(
        role_types=_role_types(kind),
        organizations=_org_options(user) if kind == PERSON else [],
        tags=Tag.objects.filter(parties__in=visible.filter(kind=kind)).distinct()[:200],
        saved_views=[
            {
                "name": v.name,
                "url": context["list_url"] + ("?" + urlencode(v.filters) if v.filters else ""),
                "active": v.filters == applied,
            }
            for v in SavedView.objects.filter(user=user, list_name=list_name)
        ],
        save_form=save_form or SaveViewForm(),
        export_url=(
            "/api/people/export.csv" + ("?" + urlencode(applied) if applied else "")
            if kind == PERSON
            else ""
        ),
        can_create=user.can_write,
    )
    return render(request, "people/party_list.html", context, status=status)


def _bulk_owners(user) -> list:
    """Who the bulk "assign owner" offers: active staff (the service checks each hand-over)."""
    from kith.accounts.models import User

    if not user.can_write:
        return []
    return list(
        User.objects.filter(is_active=True)
        .exclude(kind=User.Kind.PORTAL)
        .order_by("username")
        .only("username", "first_name", "last_name")[:200]
    )


@staff_view
@require_POST
def choose_columns(request: HttpRequest) -> HttpResponse:
    """Remember which columns the user wants on a list, then show that list again."""
    list_name = request.POST.get("list", "")
    try:
        list_prefs.choose_columns(
            actor=request.user, list_name=list_name, columns=request.POST.getlist("columns")
        )
    except ValidationFailed as exc:
        return HttpResponse(
            "; ".join(f"{e.field}: {e.message}" for e in exc.errors),
            status=422,
            content_type="text/plain",
        )
    url = reverse("people:organizations" if list_name == "organizations" else "people:list")
    # The list's own filters and sort, re-encoded (only ever a query on the list's URL).
    back = urlencode(parse_qsl(request.POST.get("query", "")[:2000]))
    if back:
        url += "?" + back
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@staff_view
@require_POST
def save_view(request: HttpRequest) -> HttpResponse:
    """Keep the current list filters under a name (per user)."""
    list_name = "organizations" if request.POST.get("list_name") == "organizations" else "people"
    kind = ORGANIZATION if list_name == "organizations" else PERSON
    filters = {
        k: request.POST.get(k, "").strip() for k in ("q", "role", "organization", "tag", "owner")
    }
    form = SaveViewForm(request.POST)
    if form.is_valid():
        try:
            view = services.save_view(
                actor=request.user,
                name=form.cleaned_data["name"],
                filters=filters,
                list_name=list_name,
            )
        except ValidationFailed as exc:
            apply_errors(form, exc.errors)
        else:
            messages.success(request, f"Saved the view “{view.name}”.")
            target = reverse("people:list" if kind == PERSON else "people:organizations")
            return redirect(target + ("?" + urlencode(view.filters) if view.filters else ""))
    # Re-render the list with the filters being saved and the form's errors.
    return _party_list(request, kind, params=filters, save_form=form, status=422)


@staff_view
@require_GET
def organization_options(request: HttpRequest) -> HttpResponse:
    """``<option>`` elements for an organisation picker, narrowed by ``q``."""
    exclude = None
    if request.GET.get("exclude"):
        try:
            exclude = access.get_party(request.user, request.GET["exclude"], follow_merged=False)
        except NotFound:
            exclude = None
    return render(
        request,
        "people/_org_options.html",
        {
            "organizations": _org_options(
                request.user, q=request.GET.get("q", ""), exclude=exclude
            ),
            "selected": request.GET.get("organization", ""),
            "blank_label": request.GET.get("blank", "—"),
        },
    )


PICK_LIMIT = 20


def _pick_kind(raw: str) -> str:
    if raw not in (PERSON, ORGANIZATION):
        raise ValidationFailed.single("kind", "Must be person or organization.")
    return raw


def _pick_row(party: Party) -> dict[str, str]:
    detail = party.title if party.kind == PERSON else party.industry
    return {"id": str(party.public_id), "name": party.display_name, "detail": detail or ""}


@staff_view
@require_GET
def party_pick(request: HttpRequest) -> JsonResponse:
    """Type-ahead for record pickers: the best matches of ``q`` through the search service.

    Ranked by the same index as the people list, so it finds a person created a
    second ago among 100,000 without listing them all.
    """
    kind = _pick_kind(request.GET.get("kind", PERSON))
    q = request.GET.get("q", "")[:200]
    qs = access.staff_scope(request.user).filter(kind=kind, status=Party.Status.ACTIVE)
    found = search.search(qs, q, limit=PICK_LIMIT) if q.strip() else []
    return JsonResponse({"results": [_pick_row(p) for p in found]})


@staff_view
@require_POST
def party_pick_new(request: HttpRequest) -> JsonResponse:
    """ "Create new" from a picker: a person or organisation with just a name."""
    access.require_writer(request.user)
    kind = _pick_kind(request.POST.get("kind", PERSON))
    name = request.POST.get("name", "").strip()[:300]
    fields: dict[str, Any] = {"display_name": name}
    if kind == PERSON:
        given, _, family = name.rpartition(" ")
        fields = {"given_name": given or family, "family_name": family if given else ""}
    try:
        party = services.create_party(
            actor=request.user, data=services.PartyInput(kind=kind, fields=fields)
        )
    except ValidationFailed as exc:
        # One message for the one input the picker has, whichever field the rule named.
        message = exc.errors[0].message if exc.errors else str(exc)
        return JsonResponse(
            {
                "detail": message,
                "code": exc.code,
                "errors": [{"field": "name", "message": message}],
            },
            status=422,
        )
    return JsonResponse(_pick_row(party), status=201)


# ---------------------------------------------------------------- record pages


@staff_view
@require_GET
def person_detail(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    party = access.get_party(request.user, public_id, kind=PERSON)
    # The transparency log (kith.cmr): noted now, written after the response.
    channel = "search" if request.GET.get("via") == "search" else "web"
    asked = transparency.web_gate(request, party, channel)
    return asked or _render_detail(request, party)


@staff_view
@require_GET
def organization_detail(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    party = access.get_party(request.user, public_id, kind=ORGANIZATION)
    return _render_detail(request, party)


def _duration_field(error: FieldError) -> FieldError:
    """The form asks for minutes where the service speaks seconds."""
    if error.field == "duration_seconds":
        return FieldError("duration_minutes", error.message)
    return error


def _render_detail(
    request: HttpRequest, party: Party, *, status: int = 200, **forms
) -> HttpResponse:
    context = {
        **_profile_context(request, party),
        **_contacts_context(request, party, forms.get("contact_form")),
        **_roles_context(request, party, forms.get("role_form"), forms.get("role_error")),
        **_timeline_context(request, party, forms.get("interaction_form")),
        # Deals, cases, activities, the feed: sections other apps add to this page.
        "panels": panels.render_for(request, "party", party),
        # A recent merge into this record can be undone for a while (a safety net).
        "undoable_merge": merging.latest_undoable(party) if request.user.can_write else None,
    }
    context["new_deal_url"] = (
        _new_deal_url(party, context["roles"]) if request.user.can_write else ""
    )
    context["new_case_url"] = (
        _new_case_url(party, context["roles"]) if request.user.can_write else ""
    )
    context["email_url"] = (
        reverse("mail:compose", kwargs={"public_id": party.public_id})
        if request.user.can_write and party.kind == PERSON
        else ""
    )
    return render(request, "people/party_detail.html", context, status=status)


def _current_organization(roles: list[dict[str, Any]]) -> Party | None:
    """The organisation of the person's current role, one the user may see (or None)."""
    for r in roles:
        rel = r["rel"]
        if (
            r["state"] == "current"
            and rel.object_id
            and r["object_visible"]
            and rel.object.kind == ORGANIZATION
        ):
            return rel.object
    return None


def _new_deal_url(party: Party, roles: list[dict[str, Any]]) -> str:
    """ "New deal" from a record page, filled in: the person and the organisation of their
    current role (one the user may see), or the organisation itself."""
    if party.kind == ORGANIZATION:
        return reverse("sales:deal_new") + "?" + urlencode({"organization": party.public_id})
    params = {"person": party.public_id}
    org = _current_organization(roles)
    if org is not None:
        params["organization"] = org.public_id
    return reverse("sales:deal_new") + "?" + urlencode(params)


def _new_case_url(party: Party, roles: list[dict[str, Any]]) -> str:
    """ "New case" from a record page, filled in: the person as requester and the
    organisation of their current role (one the user may see), or the organisation."""
    if party.kind == ORGANIZATION:
        return reverse("service:case_new") + "?" + urlencode({"organization": party.public_id})
    params = {"requester": party.public_id}
    org = _current_organization(roles)
    if org is not None:
        params["organization"] = org.public_id
    return reverse("service:case_new") + "?" + urlencode(params)


@staff_view
@require_POST
def merge_undo(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Undo a merge (its record's public id): both records come back as they were."""
    from kith.people.models import MergeRecord

    record = (
        MergeRecord.objects.filter(public_id=public_id).select_related("keep", "absorb").first()
    )
    if record is None:
        raise NotFound("No such merge.")
    access.get_party_for_change(request.user, record.keep.public_id)
    if not access.is_visible(request.user, record.absorb):
        # Undoing brings back (and names) the absorbed record: only for who may see it.
        raise NotFound("No such merge.")
    keep, absorb = merging.undo_merge(actor=request.user, record=record)
    messages.success(
        request,
        f"Merge undone: {absorb.display_name} and {keep.display_name} are two records again.",
    )
    return redirect(party_url(absorb))


@staff_view
@require_POST
def party_delete(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Delete a person or organisation into the trash; the message offers Undo."""
    from kith.web.trash import undo_message

    party = access.get_party_for_change(request.user, public_id)
    access.require_manager(request.user)
    name, kind = party.display_name, party.kind
    item = services.delete_party(actor=request.user, party=party)
    undo_message(request, item, name)
    return redirect("people:list" if kind == PERSON else "people:organizations")


def _profile_context(request: HttpRequest, party: Party) -> dict[str, Any]:
    user = request.user
    can_change = access.can_change(user, party)
    labels = {
        d.key: d.label for d in FieldDefinition.objects.filter(key__in=list(party.attributes))
    }
    context: dict[str, Any] = {
        "party": party,
        "is_person": party.kind == PERSON,
        "nav": "people" if party.kind == PERSON else "organizations",
        "can_change": can_change,
        "tags": list(party.tags.all()),
        "attributes": [(labels.get(k, k), v) for k, v in sorted(party.attributes.items())],
        # Stored identity-resolution suggestions (with per-field weights), else the exact
        # rules; read from the database only (the model runs in the worker).
        "duplicates": (
            identity_service.suggestions_for(party, scope=access.staff_scope(user))
            if can_change
            else []
        ),
        "company_name": settings.KITH_COMPANY_NAME,
    }
    if party.kind == ORGANIZATION:
        groups = people_by_current_role(party)
        visible = access.visible_ids(
            user, [p.pk for members in groups.values() for p, _ in members]
        )
        shown = {
            role: [(p, rel) for p, rel in members if p.pk in visible]
            for role, members in groups.items()
        }
        context["people_groups"] = [(role, members) for role, members in shown.items() if members]
    return context


def _contacts_context(
    request: HttpRequest, party: Party, form: ContactPointForm | None = None
) -> dict[str, Any]:
    return {
        "party": party,
        "can_change": access.can_change(request.user, party),
        "contact_points": list(party.contact_points.all()),
        "contact_form": form or ContactPointForm(),
        "contact_channels": CONTACT_CHANNELS,
    }


def _roles_context(
    request: HttpRequest,
    party: Party,
    form: RoleForm | None = None,
    role_error: tuple[str, str] | None = None,
) -> dict[str, Any]:
    user = request.user
    today = timezone.localdate()
    rels = list(Relationship.objects.filter(subject=party).select_related("role", "object"))
    visible = access.visible_ids(user, [r.object_id for r in rels])
    roles = []
    for rel in rels:
        if rel.valid_from and rel.valid_from > today:
            state = "upcoming"
        elif rel.is_current(today):
            state = "current"
        else:
            state = "ended"
        roles.append(
            {
                "rel": rel,
                "state": state,
                "object_visible": rel.object_id is None or rel.object_id in visible,
                "can_end": state != "ended" and (rel.valid_to is None or rel.valid_to >= today),
                "error": role_error[1]
                if role_error and role_error[0] == str(rel.public_id)
                else "",
            }
        )
    order = {"current": 0, "upcoming": 1, "ended": 2}
    roles.sort(key=lambda r: (order[r["state"]], -(r["rel"].valid_from or dt.date.min).toordinal()))
    return {
        "party": party,
        "can_change": access.can_change(user, party),
        "roles": roles,
        "role_form": form or RoleForm(initial={"valid_from": today}),
        "role_types": _role_types(party.kind),
        "org_options": _org_options(user, exclude=party),
        "today": today,
        "company_name": settings.KITH_COMPANY_NAME,
        "us_label": f"{settings.KITH_COMPANY_NAME} (us)",
    }


def _timeline_selection(request: HttpRequest) -> list[str]:
    allowed = set(Channel.values) | {MONEY}
    return [c for c in request.GET.getlist("channel") if c in allowed]


def _timeline_url(party: Party, selected: list[str], **extra) -> str:
    params = [("channel", c) for c in selected] + [(k, v) for k, v in extra.items() if v]
    base = reverse("people:timeline", args=[party.public_id])
    return base + ("?" + urlencode(params) if params else "")


def _timeline_context(
    request: HttpRequest, party: Party, form: InteractionForm | None = None
) -> dict[str, Any]:
    user = request.user
    selected = _timeline_selection(request)
    channels = [c for c in selected if c != MONEY]
    cursor = request.GET.get("cursor") or request.GET.get("tcursor") or None
    page = timeline(
        party,
        reader=user,
        cursor=cursor,
        limit=TIMELINE_PAGE_SIZE,
        channels=channels or None,
        include_transactions=not selected or MONEY in selected,
        include_interactions=not selected or bool(channels),
        member_scope=access.staff_scope(user),
    )
    # The query already limits an organisation's people to those the user may see.
    visible = {e.item.party_id for e in page.entries}
    others = {
        p.pk: p
        for p in Party.objects.filter(pk__in=(visible - {party.pk})).only(
            "id", "public_id", "display_name", "kind"
        )
    }
    # E-mails written in Kith say whether they went out (queued, sent, not sent: why).
    delivery = mail_services.delivery_states(
        [
            e.item.pk
            for e in page.entries
            if e.type == "interaction"
            and e.item.kind == "email"
            and e.item.direction == Direction.OUTBOUND
        ]
    )
    entries = [
        {
            "entry": e,
            "item": e.item,
            "who": others.get(e.item.party_id),
            "delivery": delivery.get(e.item.pk) if e.type == "interaction" else None,
        }
        for e in page.entries
        if e.item.party_id in visible
    ]
    member_ids = [party.pk] + (
        organization_member_ids(party, scope=access.staff_scope(user))
        if party.kind == ORGANIZATION
        else []
    )
    present = _present_channels(user, member_ids)
    labels = dict(Channel.choices)
    chips = []
    for value in [c for c in Channel.values if c in present or c in selected] + [MONEY]:
        on = value in selected
        toggled = [c for c in selected if c != value] if on else [*selected, value]
        chips.append(
            {
                "value": value,
                "label": "Money" if value == MONEY else labels[value],
                "on": on,
                "page_url": party_url(party) + _query([("channel", c) for c in toggled]),
                "url": _timeline_url(party, toggled),
            }
        )
    return {
        "party": party,
        "can_change": access.can_change(user, party),
        "entries": entries,
        "next_cursor": page.next_cursor,
        "more_url": _timeline_url(party, selected, cursor=page.next_cursor),
        "more_page_url": party_url(party)
        + _query([("channel", c) for c in selected] + [("tcursor", page.next_cursor or "")]),
        "timeline_url": _timeline_url(party, selected),
        "chips": chips,
        "any_selected": bool(selected),
        "all_page_url": party_url(party) + "#timeline",
        "all_url": _timeline_url(party, []),
        "interaction_form": form or InteractionForm(),
    }


def _present_channels(user, party_ids: list[int]) -> set[str]:
    """The channels the reader has something in: a channel whose only interactions
    mirror records they may not see (internal case notes) gets no chip."""
    rows = Interaction.objects.filter(party_id__in=party_ids)
    present = set(
        rows.filter(related_type__isnull=True).values_list("channel", flat=True).distinct()
    )
    # Bounded: a few hundred distinct sources decide the remaining chips.
    mirrored = list(
        rows.filter(related_type__isnull=False)
        .exclude(channel__in=present)
        .values_list("channel", "related_type_id", "related_id")
        .distinct()[:500]
    )
    allowed = visible_refs(user, [(ct, i) for _c, ct, i in mirrored])
    return present | {c for c, ct, i in mirrored if (ct, i) in allowed}


def _query(params: list[tuple[str, str]]) -> str:
    params = [(k, v) for k, v in params if v]
    return "?" + urlencode(params) if params else ""


@staff_view
@require_GET
def timeline_fragment(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The timeline section, or with ``cursor`` just the next entries (for "Load more")."""
    party = access.get_party(request.user, public_id)
    asked = transparency.web_gate(request, party, "web")
    if asked:
        return asked
    context = _timeline_context(request, party)
    if request.GET.get("cursor"):
        return render(request, "people/_timeline_entries.html", context)
    return render(request, "people/_timeline.html", context)


def _section_saved(
    request: HttpRequest, party: Party, section: str, *, message: str, refresh_timeline: bool
) -> HttpResponse:
    """After a successful write: the fresh section for htmx, else a redirect back (PRG)."""
    if not request.htmx:
        messages.success(request, message)
        return redirect(party_url(party) + f"#{section}")
    builders = {
        "contacts": (_contacts_context, "people/_contacts.html"),
        "roles": (_roles_context, "people/_roles.html"),
        "timeline": (_timeline_context, "people/_timeline.html"),
    }
    build, template = builders[section]
    response = render(request, template, build(request, party))
    if refresh_timeline:
        # Role changes write to the timeline (through an event subscriber); ask it to reload.
        trigger_client_event(response, "kith:timeline-changed")
    return response


def _section_failed(request: HttpRequest, party: Party, section: str, **forms) -> HttpResponse:
    """A rejected write: the section (htmx) or the whole page, with errors, status 422."""
    if not request.htmx:
        return _render_detail(request, party, status=422, **forms)
    if section == "contacts":
        context, template = (
            _contacts_context(request, party, forms.get("contact_form")),
            "people/_contacts.html",
        )
    elif section == "roles":
        context, template = (
            _roles_context(request, party, forms.get("role_form"), forms.get("role_error")),
            "people/_roles.html",
        )
    else:
        context, template = (
            _timeline_context(request, party, forms.get("interaction_form")),
            "people/_timeline.html",
        )
    return render(request, template, context, status=422)


# ---------------------------------------------------------------- contact points


def _contact_point(party: Party, point_id: uuid.UUID) -> ContactPoint:
    point = ContactPoint.objects.filter(party=party, public_id=point_id).first()
    if point is None:
        raise NotFound("No such contact point.")
    return point


@staff_view
@require_POST
def contact_add(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    party = access.get_party_for_change(request.user, public_id)
    form = ContactPointForm(request.POST)
    if form.is_valid():
        try:
            point = services.add_contact_point(
                actor=request.user, party=party, contact=form.to_input()
            )
        except ValidationFailed as exc:
            apply_errors(form, exc.errors)
        else:
            return _section_saved(
                request, party, "contacts", message=f"Added {point.value}.", refresh_timeline=False
            )
    return _section_failed(request, party, "contacts", contact_form=form)


@staff_view
@require_POST
def contact_primary(
    request: HttpRequest, public_id: uuid.UUID, point_id: uuid.UUID
) -> HttpResponse:
    party = access.get_party_for_change(request.user, public_id)
    point = services.update_contact_point(
        actor=request.user, point=_contact_point(party, point_id), primary=True
    )
    return _section_saved(
        request,
        party,
        "contacts",
        message=f"{point.value} is now the primary {point.channel}.",
        refresh_timeline=False,
    )


@staff_view
@require_POST
def contact_remove(request: HttpRequest, public_id: uuid.UUID, point_id: uuid.UUID) -> HttpResponse:
    party = access.get_party_for_change(request.user, public_id)
    point = _contact_point(party, point_id)
    services.remove_contact_point(actor=request.user, point=point)
    return _section_saved(
        request, party, "contacts", message=f"Removed {point.value}.", refresh_timeline=False
    )


# ---------------------------------------------------------------- roles


@staff_view
@require_POST
def role_add(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    party = access.get_party_for_change(request.user, public_id)
    form = RoleForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            target = None
            if data["organization"]:
                # Not following merges here: a merged organisation is the service's error
                # to report on this field, not a reason to leave the page.
                target = access.get_party(
                    request.user, data["organization"], kind=ORGANIZATION, follow_merged=False
                )
            rel = services.add_relationship(
                actor=request.user,
                subject=party,
                role=data["role"],
                object=target,
                valid_from=data["valid_from"],
                valid_to=data["valid_to"],
                note=data["note"],
            )
        except NotFound:
            form.add_error("organization", "No such organisation.")
        except ValidationFailed as exc:
            apply_errors(form, exc.errors, RoleForm.rename)
        else:
            target_name = rel.object.display_name if rel.object_id else "us"
            return _section_saved(
                request,
                party,
                "roles",
                message=f"{party.display_name} is now {rel.role.name} of {target_name}.",
                refresh_timeline=True,
            )
    return _section_failed(request, party, "roles", role_form=form)


@staff_view
@require_POST
def role_end(request: HttpRequest, public_id: uuid.UUID, rel_id: uuid.UUID) -> HttpResponse:
    party = access.get_party_for_change(request.user, public_id)
    rel = (
        Relationship.objects.filter(subject=party, public_id=rel_id)
        .select_related("role", "object")
        .first()
    )
    if rel is None:
        raise NotFound("No such role.")
    form = EndRoleForm(request.POST)
    if form.is_valid():
        try:
            services.end_relationship(
                actor=request.user, relationship=rel, on=form.cleaned_data["on"]
            )
        except ValidationFailed as exc:
            apply_errors(form, exc.errors, EndRoleForm.rename)
        else:
            return _section_saved(
                request, party, "roles", message=f"Ended {rel.role.name}.", refresh_timeline=True
            )
    message = "; ".join(str(m) for errs in form.errors.values() for m in errs)
    return _section_failed(request, party, "roles", role_error=(str(rel.public_id), message))


# ---------------------------------------------------------------- timeline


@staff_view
@require_POST
def interaction_add(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    party = access.get_party_for_change(request.user, public_id)
    form = InteractionForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            interaction_services.log_interaction(
                actor=request.user,
                party=party,
                channel=data["channel"],
                direction=data["direction"],
                summary=data["summary"],
                body=data["body"],
                occurred_at=data["occurred_at"],
                duration_seconds=(
                    data["duration_minutes"] * 60
                    if data.get("duration_minutes") is not None
                    else None
                ),
                outcome=data.get("outcome") or "",
            )
        except ValidationFailed as exc:
            apply_errors(form, [_duration_field(e) for e in exc.errors])
        else:
            return _section_saved(
                request, party, "timeline", message="Interaction logged.", refresh_timeline=False
            )
    return _section_failed(request, party, "timeline", interaction_form=form)


# ---------------------------------------------------------------- create and edit


@staff_view
@require_http_methods(["GET", "POST"])
def person_new(request: HttpRequest) -> HttpResponse:
    return _party_form(request, PersonForm, None)


@staff_view
@require_http_methods(["GET", "POST"])
def organization_new(request: HttpRequest) -> HttpResponse:
    return _party_form(request, OrganizationForm, None)


@staff_view
@require_http_methods(["GET", "POST"])
def person_edit(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    party = access.get_party_for_change(request.user, public_id, kind=PERSON)
    return _party_form(request, PersonForm, party)


@staff_view
@require_http_methods(["GET", "POST"])
def organization_edit(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    party = access.get_party_for_change(request.user, public_id, kind=ORGANIZATION)
    return _party_form(request, OrganizationForm, party)


def _party_form(
    request: HttpRequest, form_class: type[PartyForm], party: Party | None
) -> HttpResponse:
    user = request.user
    access.require_writer(user)
    creating = party is None
    teams = _teams_for(user)
    status = 200
    # Creating a person may also give them a role at an organisation (kith.people.quick_create).
    with_role = creating and form_class.kind == PERSON
    role_form = None
    if request.method == "POST":
        # The record's values as initial: a retired custom field it holds stays on the form.
        initial = form_class.initial_for(party) if party else {}
        form = form_class(request.POST, initial=initial, creating=creating, teams=teams)
        role_form = QuickRoleForm(request.POST, user=user) if with_role else None
        role_ok = role_form.is_valid() if role_form is not None else True
        if form.is_valid() and role_ok:
            data = form.to_input()
            try:
                if role_form is not None:
                    saved = quick_create.create_person_with_role(
                        actor=user, data=data, choice=role_form.choice()
                    )
                elif creating:
                    saved = services.create_party(actor=user, data=data)
                else:
                    saved = services.update_party(actor=user, party=party, data=data)
            except ValidationFailed as exc:
                quick = [e for e in exc.errors if e.field in QuickRoleForm.base_fields]
                apply_errors(form, [e for e in exc.errors if e not in quick], form.contact_rename())
                if role_form is not None:
                    apply_errors(role_form, quick)
            else:
                verb = "Created" if creating else "Saved"
                messages.success(request, f"{verb} {saved.display_name}.")
                return redirect(party_url(saved))
        status = 422
    else:
        initial = form_class.initial_for(party) if party else {}
        form = form_class(initial=initial, creating=creating, teams=teams)
        role_form = QuickRoleForm(user=user) if with_role else None
    kind = form_class.kind
    context = {
        "form": form,
        "role_form": role_form,
        "party": party,
        "kind": kind,
        "creating": creating,
        "nav": "people" if kind == PERSON else "organizations",
        "check_url": reverse("people:check") + f"?kind={kind}",
        "duplicates": _suggestions(user, kind, request.POST) if creating and request.POST else [],
        "timezones": timezones.choices(),
        "cancel_url": party_url(party)
        if party
        else reverse("people:list" if kind == PERSON else "people:organizations"),
    }
    return render(request, "people/party_form.html", context, status=status)


class QuickRoleForm(CleanForm):
    """The optional "role at an organisation" part of the create-person form."""

    role = forms.ChoiceField(required=False, label="Role")
    # A CharField (not a ChoiceField): clean_organization says what is wrong in words.
    organization = forms.CharField(
        required=False,
        label="At organisation",
        # The type-ahead without its own "Create …" (that would write at once, outside
        # this form's one transaction): a new organisation is named in the next field.
        widget=forms.Select(
            attrs={"data-picker": "organization", "data-picker-url": reverse_lazy("people:pick")}
        ),
    )
    new_organization = forms.CharField(
        required=False,
        max_length=300,
        label="…or a new organisation",
        help_text="Created together with the person.",
    )
    role_from = forms.DateField(
        required=False, label="Since", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["role"].choices = [("", "No role")] + [
            (rt.slug, rt.name) for rt in _role_types(PERSON).order_by("name")
        ]
        # Never a list of everyone: the picker searches; only the posted choice is offered.
        self._organization = None
        posted = self.data.get("organization", "") if self.is_bound else ""
        if posted:
            try:
                found = access.get_party(user, posted, kind=ORGANIZATION, follow_merged=False)
            except (KithError, ValueError):
                found = None
            if found is not None and found.status == Party.Status.ACTIVE:
                self._organization = found
        choices = [("", "—")]
        if self._organization is not None:
            choices.append((str(self._organization.public_id), self._organization.display_name))
        self.fields["organization"].widget.choices = choices

    def clean_organization(self) -> str:
        value = self.cleaned_data.get("organization", "")
        if value and self._organization is None:
            raise forms.ValidationError("No such organisation.")
        return value

    def choice(self) -> quick_create.RoleChoice:
        data = self.cleaned_data
        return quick_create.RoleChoice(
            role=data.get("role") or "",
            organization=self._organization if data.get("organization") else None,
            new_organization=data.get("new_organization") or "",
            valid_from=data.get("role_from"),
        )


def _typed_contacts(data) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """Normalised (channel, value) pairs of the e-mail/phone/website typed, and per-field problems."""
    pairs, problems = [], {}
    for name in ("email", "phone", "website"):
        value = (data.get(name) or "").strip()
        if not value:
            continue
        try:
            pairs.append(normalize_contact(name, value))
        except InvalidContactPoint as exc:
            problems[name] = str(exc)
    return pairs, problems


def _typed_name(kind: str, data) -> str:
    if kind == PERSON:
        return " ".join(
            part for part in (data.get("given_name", ""), data.get("family_name", "")) if part
        ).strip()
    return (data.get("display_name") or "").strip()


def _suggestions(user, kind: str, data) -> list[merging.DuplicateSuggestion]:
    pairs, _ = _typed_contacts(data)
    name = _typed_name(kind, data)
    if not pairs and len(name) < 2:
        return []
    return merging.suggest_duplicates(
        scope=access.staff_scope(user), name=name, contacts=pairs, kind=kind
    )


@staff_view
@require_GET
def check_new_party(request: HttpRequest) -> HttpResponse:
    """While a create form is typed: likely duplicates, and live hints on contact fields."""
    kind = ORGANIZATION if request.GET.get("kind") == ORGANIZATION else PERSON
    pairs, problems = _typed_contacts(request.GET)
    taken = {}
    for channel, normalized in pairs:
        point = (
            ContactPoint.objects.filter(channel=channel, normalized=normalized)
            .exclude(channel=ContactPoint.POSTAL)
            .select_related("party")
            .first()
        )
        # Only name the owner when the user may see it; otherwise say it is taken.
        if point is not None:
            seen = access.visible_ids(request.user, [point.party_id])
            taken[channel] = (
                f"Already belongs to {point.party.display_name}."
                if seen
                else "Already belongs to another record."
            )
    hints = {
        name: problems.get(name) or taken.get(name, "")
        for name in ("email", "phone", "website")
        if name in request.GET
    }
    return render(
        request,
        "people/_duplicates.html",
        {
            "duplicates": _suggestions(request.user, kind, request.GET),
            "hints": hints,
            "oob": True,
        },
    )


# ---------------------------------------------------------------- merge


@staff_view
@require_http_methods(["GET", "POST"])
def person_merge(request: HttpRequest, public_id: uuid.UUID, other_id: uuid.UUID) -> HttpResponse:
    return _merge(request, public_id, other_id, PERSON)


@staff_view
@require_http_methods(["GET", "POST"])
def organization_merge(
    request: HttpRequest, public_id: uuid.UUID, other_id: uuid.UUID
) -> HttpResponse:
    return _merge(request, public_id, other_id, ORGANIZATION)


def _move_label(key: str) -> str:
    """``"contact points (party)"`` → ``"contact points"``; other links keep their name."""
    name, _, link = key.partition(" (")
    link = link.rstrip(")").replace("_", " ")
    return name if link in ("", "party", "subject") else f"{name} (as {link})"


FIELD_LABELS = {
    "given_name": "First name",
    "family_name": "Last name",
    "display_name": "Name",
    "title": "Job title",
    "legal_name": "Legal name",
    "birthday": "Birthday",
    "timezone": "Time zone",
    "owner": "Owner",
}


def _merge(
    request: HttpRequest, keep_id: uuid.UUID, absorb_id: uuid.UUID, kind: str
) -> HttpResponse:
    keep = access.get_party_for_change(request.user, keep_id, kind=kind)
    absorb = access.get_party_for_change(request.user, absorb_id, kind=kind)
    prefix = "person" if kind == PERSON else "organization"
    # The richer record survives by default; "swap" (as=chosen) keeps the user's choice.
    if (
        request.method == "GET"
        and request.GET.get("as") != "chosen"
        and merging.richness(absorb) > merging.richness(keep)
    ):
        return redirect(
            reverse(f"people:{prefix}_merge", args=[absorb.public_id, keep.public_id])
            + "?as=chosen"
        )
    plan = merging.preview(keep=keep, absorb=absorb)
    errors: list[str] = []
    status = 200
    choices: dict[str, str] = {}
    if request.method == "POST":
        choices = {
            f.field: request.POST.get(f"choice:{f.field}", f.default) for f in plan.conflicts
        }
        try:
            survivor = merging.merge(actor=request.user, keep=keep, absorb=absorb, choices=choices)
        except ValidationFailed as exc:
            errors = [e.message for e in exc.errors] or [exc.message]
            status = 422
        else:
            messages.success(request, f"Merged {absorb.display_name} into {survivor.display_name}.")
            return redirect(party_url(survivor))
    labels = {d.key: d.label for d in FieldDefinition.objects.all()}
    rows = []
    for choice in plan.fields:
        if choice.keep_value in (None, "") and choice.absorb_value in (None, ""):
            continue
        if choice.field.startswith("attributes."):
            key = choice.field.split(".", 1)[1]
            label = labels.get(key, key)
        else:
            label = FIELD_LABELS.get(choice.field, choice.field.replace("_", " ").capitalize())
        rows.append(
            {
                "choice": choice,
                "label": label,
                "picked": choices.get(choice.field, choice.default),
            }
        )
    context = {
        "plan": plan,
        "keep": keep,
        "absorb": absorb,
        "rows": rows,
        "errors": errors,
        "nav": "people" if kind == PERSON else "organizations",
        "swap_url": reverse(f"people:{prefix}_merge", args=[absorb.public_id, keep.public_id])
        + "?as=chosen",
        "moves": [(_move_label(key), count) for key, count in plan.moves.items()],
        "keep_contacts": list(keep.contact_points.all()),
        "absorb_contacts": list(absorb.contact_points.all()),
        # "Why we think these are the same": the model's per-field weights for this pair.
        "match": identity_service.explain(keep, absorb),
    }
    return render(request, "people/merge.html", context, status=status)


@staff_view
@require_POST
def not_duplicate(request: HttpRequest, public_id: uuid.UUID, other_id: uuid.UUID) -> HttpResponse:
    """Staff say two records are different people: remembered, never suggested again."""
    party = access.get_party_for_change(request.user, public_id)
    other = access.get_party_for_change(request.user, other_id)
    identity_service.reject(actor=request.user, a=party, b=other)
    messages.success(
        request, f"Noted: {other.display_name} is not the same as {party.display_name}."
    )
    return redirect(party_url(party))


# ---------------------------------------------------------------- import

# The uploaded file waits in the session between "upload" and "start" (the mapping step).
IMPORT_DRAFT_KEY = "kith:import-draft"
IMPORT_PREVIEW_ROWS = 5
IMPORT_ERRORS_SHOWN = 200


def _import_format(file_name: str, text: str) -> str:
    name = file_name.casefold()
    # Only the start: upper() of the whole text would copy a large file once more.
    if name.endswith((".vcf", ".vcard")) or text[:200].lstrip().upper().startswith("BEGIN:VCARD"):
        return "vcard"
    return "csv"


def _import_page(request: HttpRequest, context: dict[str, Any], *, status: int = 200):
    context.setdefault("upload_form", ImportUploadForm())
    context.setdefault(
        "recent_jobs", ImportJob.objects.filter(created_by=request.user).order_by("-created_at")[:8]
    )
    context["nav"] = "import"
    return render(request, "people/import.html", context, status=status)


def _mapping_step(
    request: HttpRequest,
    draft: dict[str, Any],
    *,
    mapping: dict[str, str] | None,
    dry_run: bool,
    errors: list[FieldError] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The "check the columns" step: suggested (or chosen) mapping and a checked preview."""
    errors = list(errors or [])
    try:
        preview = importing.preview(
            draft["content"],
            mapping,
            limit=IMPORT_PREVIEW_ROWS,
            kind=draft["kind"],
            file_format=draft["format"],
        )
    except ValidationFailed as exc:
        # A mapping the preview rejects: show the file's suggestion with these errors.
        errors += exc.errors
        preview = importing.preview(
            draft["content"],
            None,
            limit=IMPORT_PREVIEW_ROWS,
            kind=draft["kind"],
            file_format=draft["format"],
        )
        if mapping is not None:
            preview["mapping"] = {h: t for h, t in mapping.items() if t}
        status = 422
    column_errors: dict[str, list[str]] = {}
    general: list[str] = []
    for error in errors:
        if error.field.startswith("mapping."):
            column_errors.setdefault(error.field.removeprefix("mapping."), []).append(error.message)
        else:
            general.append(error.message)
    columns = [
        {
            "index": index,
            "header": header,
            "target": preview["mapping"].get(header, ""),
            "samples": [r["values"].get(header, "") for r in preview["rows"]][:3],
            "errors": column_errors.get(header, []),
        }
        for index, header in enumerate(preview["headers"])
    ]
    return _import_page(
        request,
        {
            "step": "map",
            "draft": draft,
            "preview": preview,
            "columns": columns,
            "general_errors": general,
            "dry_run": dry_run,
            "is_vcard": draft["format"] == "vcard",
        },
        status=status,
    )


@staff_view
@require_http_methods(["GET", "POST"])
def import_start(request: HttpRequest) -> HttpResponse:
    """Upload → check the columns → start; each step is a plain form post."""
    access.require_writer(request.user)
    if request.method == "GET":
        return _import_page(request, {"step": "upload"})
    action = request.POST.get("action", "upload")
    if action == "upload":
        form = ImportUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return _import_page(request, {"step": "upload", "upload_form": form}, status=422)
        upload = form.cleaned_data["file"]
        try:
            text, _warning = importing.decode_content(upload.read())
            file_format = _import_format(upload.name, text)
            # The draft waits in the session: keep only what the import reads.
            text, _left_out = importing.importable_text(text, file_format)
            draft = {
                "token": uuid.uuid4().hex,
                "file_name": upload.name,
                "content": text,
                "kind": form.cleaned_data["kind"],
                "format": file_format,
            }
            # Fail early on an unreadable file, before anything lands in the session.
            importing.preview(text, None, limit=1, kind=draft["kind"], file_format=draft["format"])
        except ValidationFailed as exc:
            apply_errors(form, exc.errors, {"format": "file", "kind": "kind"})
            return _import_page(request, {"step": "upload", "upload_form": form}, status=422)
        request.session[IMPORT_DRAFT_KEY] = draft
        return _mapping_step(request, draft, mapping=None, dry_run=form.cleaned_data["dry_run"])
    draft = request.session.get(IMPORT_DRAFT_KEY)
    if not draft or draft.get("token") != request.POST.get("token"):
        messages.warning(request, "That upload has expired; choose the file again.")
        return redirect("people:import")
    dry_run = request.POST.get("dry_run") == "on"
    mapping = None
    if draft["format"] == "csv":
        headers = importing.read_csv_header(draft["content"])
        mapping = {
            header: request.POST.get(f"map:{index}", "") for index, header in enumerate(headers)
        }
    if action == "check":
        return _mapping_step(request, draft, mapping=mapping, dry_run=dry_run)
    try:
        job = importing.create_import_job(
            actor=request.user,
            kind=draft["kind"],
            file_format=draft["format"],
            file_name=draft["file_name"],
            content=draft["content"],
            mapping=mapping,
            dry_run=dry_run,
        )
    except ValidationFailed as exc:
        return _mapping_step(
            request, draft, mapping=mapping, dry_run=dry_run, errors=exc.errors, status=422
        )
    request.session.pop(IMPORT_DRAFT_KEY, None)
    enqueue_import(job)
    return redirect("people:import_job", public_id=job.public_id)


def _import_job(request: HttpRequest, public_id: uuid.UUID) -> ImportJob:
    """The job, for its creator or an admin/manager; anyone else finds nothing."""
    job = ImportJob.objects.filter(public_id=public_id).first()
    if job is None or not (job.created_by_id == request.user.pk or request.user.sees_everything):
        raise NotFound("No such import.")
    return job


def _job_context(job: ImportJob) -> dict[str, Any]:
    # A job whose process died stops the polling and offers to resume or restart.
    stalled = job.is_stale()
    finished = stalled or job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED)
    return {
        "job": job,
        "finished": finished,
        "stalled": stalled,
        "can_run_again": stalled or job.status == ImportJob.Status.FAILED,
        "errors_shown": job.errors[:IMPORT_ERRORS_SHOWN] if finished else [],
        "more_errors": max(0, len(job.errors) - IMPORT_ERRORS_SHOWN) if finished else 0,
        "errors_csv_url": f"/api/imports/{job.public_id}/errors.csv",
        "kind_url": reverse("people:list" if job.kind == "people" else "people:organizations"),
    }


@staff_view
@require_GET
def import_job(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    job = _import_job(request, public_id)
    return render(request, "people/import_job.html", {**_job_context(job), "nav": "import"})


@staff_view
@require_POST
def import_again(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Resume a stalled or failed import after its last saved row, or restart it."""
    access.require_writer(request.user)
    job = _import_job(request, public_id)
    again = (
        importing.restart_import_job
        if request.POST.get("action") == "restart"
        else importing.resume_import_job
    )
    try:
        job = again(actor=request.user, job=job)
    except Conflict as exc:
        messages.warning(request, exc.message)
        return redirect("people:import_job", public_id=job.public_id)
    enqueue_import(job)
    return redirect("people:import_job", public_id=job.public_id)


@staff_view
@require_GET
def import_progress(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The progress panel; it polls itself every 500 ms until the job has finished."""
    job = _import_job(request, public_id)
    return render(request, "people/_import_progress.html", _job_context(job))


# ---------------------------------------------------------------- bulk actions


@staff_view
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    """Act on the ticked rows of a list, or on every row matching its filters.

    Export streams the selection as CSV; the other actions go through
    :mod:`kith.people.bulk_edit` and come back to the list with what was done and, for
    each record refused, why.
    """
    from kith.accounts.models import User
    from kith.people import bulk_edit, exporting
    from kith.people.api_imports import _CSV, _download

    kind = ORGANIZATION if request.POST.get("kind") == ORGANIZATION else PERSON
    list_url = reverse("people:list" if kind == PERSON else "people:organizations")
    action = request.POST.get("action", "")
    matching = None
    if request.POST.get("scope") == "matching":
        filters = PartyFilters.from_mapping(request.POST)
        matching = exporting.export_queryset(request.user, filters, kind=kind)
    try:
        parties = bulk_edit.selection(
            request.user, ids=request.POST.getlist("ids"), kind=kind, matching=matching
        )
        if action == "export":
            qs = Party.objects.filter(pk__in=[p.pk for p in parties]).order_by("sort_name", "id")
            return _download(exporting.iter_csv(qs, kind=kind), _CSV, f"{kind}-selection")
        value: Any = None
        if action == "assign_owner":
            # Named bulk_*: the list's own filters (tag, owner) travel in the same form.
            username = request.POST.get("bulk_owner", "").strip()
            value = (
                User.objects.filter(username=username, is_active=True).first() if username else None
            )
            if username and value is None:
                raise ValidationFailed.single("owner", f"No active user called {username}.")
        elif action in ("add_tag", "remove_tag"):
            value = request.POST.get("bulk_tag", "")
        result = bulk_edit.apply(request.user, action, parties, value=value)
    except ValidationFailed as exc:
        for error in exc.errors:
            messages.error(request, error.message)
        return redirect(list_url)
    verb = {
        "assign_owner": "Owner changed on",
        "add_tag": "Tag added to",
        "remove_tag": "Tag removed from",
        "delete": "Deleted",
    }[action]
    messages.success(request, f"{verb} {result.done} record{'s' if result.done != 1 else ''}.")
    if action == "delete" and result.done:
        # Each deleted record went to the trash: say where to undo it.
        messages.info(
            request,
            format_html('They are in the <a href="{}">trash</a>, to restore.', reverse("trash")),
        )
    for name, reason in result.failed[:20]:
        messages.error(request, f"{name}: {reason}")
    if len(result.failed) > 20:
        messages.error(request, f"…and {len(result.failed) - 20} more not changed.")
    return redirect(list_url)
