"""Administrator settings in the web UI: users and invitations, teams, role vocabulary,
custom fields, the workspace's company and the first-run checklist.

Thin views: who may ask is checked here through the access helpers (admins for users,
teams, fields and the company; admins and managers for the role vocabulary, as in the
API); every rule lives in the services (``kith.accounts.services``,
``kith.people.services``). Pipelines and case queues have their own settings pages in
their apps (``sales:pipelines``, ``service:settings``); the hub links to them.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth import logout as auth_logout
from django.db.models import Count, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from kith.accounts import services as accounts
from kith.accounts.models import Invitation, Team, User
from kith.core.errors import KithError, NotFound, ValidationFailed
from kith.mail import access as mail_access
from kith.mail import services as mail_services
from kith.mail.forms import EmailTemplateForm
from kith.mail.models import EmailTemplate
from kith.mail.placeholders import PLACEHOLDERS
from kith.people import access as people_access
from kith.people import services as people_services
from kith.people import vocabulary
from kith.people.models import FieldDefinition, RoleType
from kith.web.decorators import staff_view
from kith.web.settings_forms import (
    AcceptForm,
    CompanyForm,
    FieldDefinitionForm,
    FieldRenameForm,
    InviteForm,
    RoleChangeForm,
    RoleRenameForm,
    RoleTypeForm,
    TeamForm,
    TeamMembersForm,
    apply_errors,
)

NAV = "settings"


def _render(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    return render(request, f"settings/{template}", {"nav": NAV, **context}, status=status)


def _checklist() -> list[dict]:
    steps = accounts.onboarding_steps()
    return [
        {
            "key": "company",
            "done": steps["company"],
            "title": "Create your company",
            "text": "The organisation record of your own company.",
            "url": reverse("settings:company"),
            "action": "Set up the company",
        },
        {
            "key": "invite",
            "done": steps["invite"],
            "title": "Invite a colleague",
            "text": "They get an e-mail with a link to choose their password.",
            "url": reverse("settings:user_invite"),
            "action": "Invite a user",
        },
        {
            "key": "contacts",
            "done": steps["contacts"],
            "title": "Import your contacts",
            "text": "From a CSV or vCard file, with a dry run first.",
            "url": reverse("people:import"),
            "action": "Import contacts",
        },
    ]


def onboarding_context(user) -> dict | None:
    """The checklist for the home page, or None when this user has nothing to see."""
    if not accounts.onboarding_due(user):
        return None
    steps = _checklist()
    return {"steps": steps, "done": sum(s["done"] for s in steps), "total": len(steps)}


# ---------------------------------------------------------------- hub and first run


@staff_view
@require_http_methods(["GET"])
def home(request: HttpRequest) -> HttpResponse:
    """The settings hub: admins see every section, managers the ones they manage."""
    people_access.require_manager(request.user)
    is_admin = request.user.role == "admin"
    return _render(
        request,
        "home.html",
        {
            "is_admin": is_admin,
            "onboarding": onboarding_context(request.user) if is_admin else None,
        },
    )


@staff_view
@require_http_methods(["GET"])
def welcome(request: HttpRequest) -> HttpResponse:
    """The first-run checklist; each step ticks off from the data itself."""
    people_access.require_admin(request.user)
    steps = _checklist()
    row = accounts.workspace()
    return _render(
        request,
        "welcome.html",
        {
            "steps": steps,
            "done": sum(s["done"] for s in steps),
            "total": len(steps),
            "dismissed": row.onboarding_dismissed_at is not None,
        },
    )


@staff_view
@require_POST
def welcome_dismiss(request: HttpRequest) -> HttpResponse:
    people_access.require_admin(request.user)
    accounts.dismiss_onboarding(actor=request.user)
    messages.info(request, "The setup checklist is hidden. It stays under Settings.")
    return redirect("home")


@staff_view
@require_http_methods(["GET", "POST"])
def company(request: HttpRequest) -> HttpResponse:
    """Create (or rename) the organisation record of the workspace's own company."""
    people_access.require_admin(request.user)
    current = accounts.workspace().company
    status = 200
    if request.method == "POST":
        form = CompanyForm(request.POST)
        if form.is_valid():
            try:
                accounts.set_company(
                    actor=request.user,
                    name=form.cleaned_data["name"],
                    website=form.cleaned_data["website"],
                )
            except ValidationFailed as exc:
                apply_errors(form, exc.errors)
            else:
                messages.success(request, "Your company is set up.")
                return redirect("settings:welcome")
        status = 422
    else:
        form = CompanyForm(initial={"name": current.display_name if current else ""})
    return _render(request, "company.html", {"form": form, "company": current}, status)


# ---------------------------------------------------------------- users


def _users_context(request: HttpRequest) -> dict:
    users = (
        User.objects.filter(kind=User.Kind.STAFF)
        .prefetch_related(
            "teams", Prefetch("invitations", queryset=Invitation.objects.order_by("-created_at"))
        )
        .order_by("username")
    )
    rows = [
        {
            "user": u,
            "status": accounts.user_status(u),
            "form": RoleChangeForm(initial={"role": u.role}),
        }
        for u in users
    ]
    return {"rows": rows}


@staff_view
@require_http_methods(["GET"])
def users(request: HttpRequest) -> HttpResponse:
    people_access.require_admin(request.user)
    return _render(request, "users.html", _users_context(request))


@staff_view
@require_http_methods(["GET", "POST"])
def user_invite(request: HttpRequest) -> HttpResponse:
    """Invite a colleague: an inactive login and an e-mailed, signed, expiring link."""
    people_access.require_admin(request.user)
    status = 200
    if request.method == "POST":
        form = InviteForm(request.POST)
        if form.is_valid():
            try:
                invitation, link = accounts.invite_user(actor=request.user, **form.cleaned_data)
            except ValidationFailed as exc:
                apply_errors(form, exc.errors)
            else:
                return _render(request, "invited.html", {"invitation": invitation, "link": link})
        status = 422
    else:
        form = InviteForm()
    return _render(request, "invite.html", {"form": form}, status)


def _staff_user(public_id: uuid.UUID) -> User:
    user = User.objects.filter(public_id=public_id, kind=User.Kind.STAFF).first()
    if user is None:
        raise NotFound("No such user.")
    return user


def _users_with_error(request: HttpRequest, user: User, exc: KithError) -> HttpResponse:
    context = _users_context(request)
    for row in context["rows"]:
        if row["user"].pk == user.pk:
            row["error"] = "; ".join(e.message for e in exc.errors) or exc.message
    return _render(request, "users.html", context, status=exc.status)


@staff_view
@require_POST
def user_role(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    people_access.require_admin(request.user)
    user = _staff_user(public_id)
    form = RoleChangeForm(request.POST)
    if not form.is_valid():
        return _users_with_error(
            request, user, ValidationFailed.single("role", "Choose one of the roles.")
        )
    try:
        accounts.change_role(actor=request.user, user=user, role=form.cleaned_data["role"])
    except ValidationFailed as exc:
        return _users_with_error(request, user, exc)
    messages.success(request, f"{user.username} is now {form.cleaned_data['role']}.")
    return redirect("settings:users")


@staff_view
@require_POST
def user_active(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    people_access.require_admin(request.user)
    user = _staff_user(public_id)
    active = request.POST.get("active") == "1"
    try:
        accounts.set_user_active(actor=request.user, user=user, active=active)
    except (ValidationFailed, KithError) as exc:
        return _users_with_error(request, user, exc)
    word = "reactivated" if active else "deactivated"
    messages.success(request, f"{user.username} is {word}.")
    return redirect("settings:users")


@staff_view
@require_POST
def user_reinvite(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    people_access.require_admin(request.user)
    user = _staff_user(public_id)
    try:
        invitation, link = accounts.resend_invitation(actor=request.user, user=user)
    except KithError as exc:
        return _users_with_error(request, user, exc)
    return _render(request, "invited.html", {"invitation": invitation, "link": link})


@sensitive_post_parameters("password", "password_again")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def accept(request: HttpRequest, token: str) -> HttpResponse:
    """The invited person's page (public: the signed link is the key): choose a password."""
    try:
        invitation = accounts.invitation_for_token(token)
    except KithError as exc:
        return render(request, "settings/accept_error.html", {"error": exc}, status=exc.status)
    status = 200
    if request.method == "POST":
        form = AcceptForm(request.POST)
        if form.is_valid():
            try:
                accounts.accept_invitation(token=token, **form.cleaned_data)
            except ValidationFailed as exc:
                apply_errors(form, exc.errors)
            except KithError as exc:
                return render(
                    request, "settings/accept_error.html", {"error": exc}, status=exc.status
                )
            else:
                if request.user.is_authenticated:
                    auth_logout(request)  # someone else's session in this browser
                messages.success(request, "Your password is set. Log in with it now.")
                return redirect("login")
        status = 422
    else:
        form = AcceptForm()
    return render(
        request, "settings/accept.html", {"form": form, "invitation": invitation}, status=status
    )


# ---------------------------------------------------------------- teams


@staff_view
@require_http_methods(["GET", "POST"])
def teams(request: HttpRequest) -> HttpResponse:
    people_access.require_admin(request.user)
    status = 200
    form = TeamForm()
    if request.method == "POST":
        form = TeamForm(request.POST)
        if form.is_valid():
            try:
                team = accounts.create_team(actor=request.user, name=form.cleaned_data["name"])
            except ValidationFailed as exc:
                apply_errors(form, exc.errors)
            else:
                messages.success(request, f"Team {team.name} created.")
                return redirect("settings:team", public_id=team.public_id)
        status = 422
    rows = Team.objects.annotate(size=Count("members")).order_by("name")
    return _render(request, "teams.html", {"form": form, "teams": rows}, status)


@staff_view
@require_http_methods(["GET", "POST"])
def team(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Rename a team or choose its members."""
    people_access.require_admin(request.user)
    item = get_object_or_404(Team, public_id=public_id)
    name_form = TeamForm(initial={"name": item.name})
    members_form = TeamMembersForm(initial={"members": list(item.members.all())})
    status = 200
    if request.method == "POST":
        try:
            if request.POST.get("form") == "members":
                members_form = TeamMembersForm(request.POST)
                if not members_form.is_valid():
                    raise ValidationFailed.single("members", "Choose active staff users.")
                accounts.set_team_members(
                    actor=request.user,
                    team=item,
                    members=list(members_form.cleaned_data["members"]),
                )
            else:
                name_form = TeamForm(request.POST)
                if not name_form.is_valid():
                    raise ValidationFailed(errors=[])
                accounts.rename_team(
                    actor=request.user, team=item, name=name_form.cleaned_data["name"]
                )
        except ValidationFailed as exc:
            target = members_form if request.POST.get("form") == "members" else name_form
            if not target.errors:
                apply_errors(target, exc.errors)
            status = 422
        else:
            messages.success(request, "Team saved.")
            return redirect("settings:team", public_id=item.public_id)
    return _render(
        request,
        "team.html",
        {"team": item, "name_form": name_form, "members_form": members_form},
        status,
    )


# ---------------------------------------------------------------- vocabulary and fields


@staff_view
@require_http_methods(["GET", "POST"])
def roles(request: HttpRequest) -> HttpResponse:
    """The role vocabulary (customer, partner, employee…): list and add (managers too)."""
    people_access.require_manager(request.user)
    status = 200
    form = RoleTypeForm()
    if request.method == "POST":
        form = RoleTypeForm(request.POST)
        if form.is_valid():
            try:
                role = people_services.create_role_type(actor=request.user, **form.cleaned_data)
            except ValidationFailed as exc:
                apply_errors(form, exc.errors)
            else:
                messages.success(request, f"Role {role.name} added.")
                return redirect("settings:roles")
        status = 422
    rows = RoleType.objects.annotate(uses=Count("relationships")).order_by("-active", "name")
    return _render(request, "roles.html", {"form": form, "roles": rows}, status)


@staff_view
@require_http_methods(["GET", "POST"])
def fields(request: HttpRequest) -> HttpResponse:
    """Custom fields of people and organisations: list and add (admins, as in the API)."""
    people_access.require_admin(request.user)
    status = 200
    form = FieldDefinitionForm()
    if request.method == "POST":
        form = FieldDefinitionForm(request.POST)
        if form.is_valid():
            cd = form.cleaned_data
            try:
                definition = people_services.define_field(
                    actor=request.user,
                    key=cd["key"] or cd["label"],
                    label=cd["label"],
                    type=cd["type"],
                    choices=form.choice_list(),
                    required=cd["required"],
                    applies_to=cd["applies_to"],
                )
            except ValidationFailed as exc:
                apply_errors(form, exc.errors)
            else:
                messages.success(request, f"Field {definition.label} added.")
                return redirect("settings:fields")
        status = 422
    rows = FieldDefinition.objects.order_by("-active", "label")
    return _render(request, "fields.html", {"form": form, "fields": rows}, status)


def _active_from(request: HttpRequest) -> bool | None:
    """Which button was pressed: retire (False), restore (True) or neither (None)."""
    return {"retire": False, "restore": True}.get(request.POST.get("action", ""))


@staff_view
@require_http_methods(["GET", "POST"])
def role(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Rename a role type, or retire it (its relationships stay; no new ones)."""
    people_access.require_manager(request.user)
    item = get_object_or_404(
        RoleType.objects.annotate(uses=Count("relationships")), public_id=public_id
    )
    form = RoleRenameForm(
        initial={
            "name": item.name,
            "object_label": item.object_label,
            "description": item.description,
        }
    )
    status = 200
    if request.method == "POST":
        active = _active_from(request)
        if active is not None:
            vocabulary.set_role_type_active(actor=request.user, role=item, active=active)
            word = "is offered again" if active else "is retired: kept where used, offered no more"
            messages.success(request, f"Role {item.name} {word}.")
            return redirect("settings:roles")
        form = RoleRenameForm(request.POST)
        if form.is_valid():
            try:
                vocabulary.update_role_type(
                    actor=request.user, role=item, changes=form.cleaned_data
                )
            except ValidationFailed as exc:
                apply_errors(form, exc.errors)
            else:
                messages.success(request, "Role saved.")
                return redirect("settings:roles")
        status = 422
    return _render(request, "role.html", {"form": form, "role": item}, status)


@staff_view
@require_http_methods(["GET", "POST"])
def field(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Rename a custom field, or retire it (values stay; no new record is asked for it)."""
    people_access.require_admin(request.user)
    item = get_object_or_404(FieldDefinition, public_id=public_id)
    form = FieldRenameForm(initial={"label": item.label})
    status = 200
    if request.method == "POST":
        active = _active_from(request)
        if active is not None:
            vocabulary.set_field_active(actor=request.user, definition=item, active=active)
            word = "is offered again" if active else "is retired: values kept, offered no more"
            messages.success(request, f"Field {item.label} {word}.")
            return redirect("settings:fields")
        form = FieldRenameForm(request.POST)
        if form.is_valid():
            try:
                vocabulary.update_field(
                    actor=request.user, definition=item, changes=form.cleaned_data
                )
            except ValidationFailed as exc:
                apply_errors(form, exc.errors)
            else:
                messages.success(request, "Field saved.")
                return redirect("settings:fields")
        status = 422
    return _render(request, "field.html", {"form": form, "field": item}, status)


# ---------------------------------------------------------------- e-mail templates


@staff_view
@require_http_methods(["GET", "POST"])
def email_templates(request: HttpRequest) -> HttpResponse:
    """E-mail templates with placeholders: list and add (admins and managers)."""
    mail_access.require_template_manager(request.user)
    status = 200
    form = EmailTemplateForm()
    if request.method == "POST":
        form = EmailTemplateForm(request.POST)
        if form.is_valid():
            try:
                template = mail_services.create_template(actor=request.user, **form.cleaned_data)
            except ValidationFailed as exc:
                apply_errors(form, exc.errors)
            else:
                messages.success(request, f"Template {template.name} added.")
                return redirect("settings:email_templates")
        status = 422
    return _render(
        request,
        "email_templates.html",
        {
            "form": form,
            "templates": EmailTemplate.objects.order_by("name"),
            "placeholders": PLACEHOLDERS,
        },
        status,
    )


@staff_view
@require_http_methods(["GET", "POST"])
def email_template(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Change or delete one e-mail template."""
    item = mail_access.get_template_for_change(request.user, public_id)
    status = 200
    form = EmailTemplateForm(
        initial={"name": item.name, "subject": item.subject, "body": item.body}
    )
    if request.method == "POST":
        if request.POST.get("action") == "delete":
            mail_services.delete_template(actor=request.user, template=item)
            messages.success(request, f"Template {item.name} deleted.")
            return redirect("settings:email_templates")
        form = EmailTemplateForm(request.POST)
        if form.is_valid():
            try:
                mail_services.update_template(
                    actor=request.user, template=item, changes=form.cleaned_data
                )
            except ValidationFailed as exc:
                apply_errors(form, exc.errors)
            else:
                messages.success(request, "Template saved.")
                return redirect("settings:email_templates")
        status = 422
    return _render(
        request,
        "email_template.html",
        {"form": form, "template": item, "placeholders": PLACEHOLDERS},
        status,
    )
