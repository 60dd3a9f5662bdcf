"""HTTP API for users and teams: what the Settings pages do, for scripts.

Staff read the lists (who works here, which teams exist); admins invite, change
roles, deactivate and reactivate, create and rename teams and change their members.
The same services as ``/settings/`` (``kith.accounts.services``); customers get 404.
"""

import datetime as dt
import uuid

from django.db.models import Prefetch
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from kith.accounts import services
from kith.accounts.models import Invitation, Role, Team, User
from kith.core.errors import NotFound, ValidationFailed
from kith.core.idempotency import idempotent
from kith.people import access as people_access

router = Router(tags=["users and teams"])


class StaffUserOut(Schema):
    id: uuid.UUID
    username: str
    email: str
    first_name: str
    last_name: str
    role: str
    status: str = Field(..., description="active, invited or deactivated")
    teams: list[str]
    last_login: dt.datetime | None


class UserInviteIn(Schema):
    email: str = Field(..., max_length=254)
    role: str = Field(Role.AGENT, max_length=10, examples=["agent"])
    first_name: str = Field("", max_length=150)
    last_name: str = Field("", max_length=150)


class UserInvitedOut(StaffUserOut):
    invitation_link: str = Field(..., description="The signed link (also e-mailed)")
    invitation_expires_at: dt.datetime


class StaffUserPatch(Schema):
    role: str | None = Field(None, max_length=10)
    active: bool | None = None


class StaffTeamOut(Schema):
    id: uuid.UUID
    name: str
    members: list[str]
    created_at: dt.datetime


class StaffTeamIn(Schema):
    name: str = Field(..., max_length=120)
    members: list[str] = Field(default_factory=list, max_length=500)


class StaffTeamPatch(Schema):
    name: str = Field(..., max_length=120)


def _staff_users():
    return User.objects.filter(kind=User.Kind.STAFF).prefetch_related(
        "teams", Prefetch("invitations", queryset=Invitation.objects.order_by("-created_at"))
    )


def _user_out(user: User) -> dict:
    return {
        "id": user.public_id,
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "role": user.role,
        "status": services.user_status(user),
        "teams": sorted(t.name for t in user.teams.all()),
        "last_login": user.last_login,
    }


def _team_out(team: Team) -> dict:
    return {
        "id": team.public_id,
        "name": team.name,
        "members": sorted(m.username for m in team.members.all()),
        "created_at": team.created_at,
    }


def _user(public_id: uuid.UUID) -> User:
    user = _staff_users().filter(public_id=public_id).first()
    if user is None:
        raise NotFound("No such user.")
    return user


def _team(public_id: uuid.UUID) -> Team:
    team = Team.objects.prefetch_related("members").filter(public_id=public_id).first()
    if team is None:
        raise NotFound("No such team.")
    return team


def _member(username: str, field: str = "username") -> User:
    user = User.objects.filter(username=username, kind=User.Kind.STAFF).first()
    if user is None:
        raise ValidationFailed.single(field, f"No staff user '{username[:150]}'.")
    return user


# ---------------------------------------------------------------- users


@router.get("/users", response=list[StaffUserOut], url_name="list_users")
def list_users(request: HttpRequest):
    """Staff logins (never customers), by user name."""
    people_access.require_staff(request.user)
    return [_user_out(u) for u in _staff_users().order_by("username")]


@router.post("/users/invitations", response={201: UserInvitedOut}, url_name="invite_user")
@idempotent
def invite_user(request: HttpRequest, payload: UserInviteIn):
    """Invite a colleague (admins): an inactive login and an e-mailed, expiring link."""
    people_access.require_admin(request.user)
    invitation, link = services.invite_user(actor=request.user, **payload.model_dump())
    return Status(
        201,
        {
            **_user_out(_user(invitation.user.public_id)),
            "invitation_link": link,
            "invitation_expires_at": invitation.expires_at,
        },
    )


@router.get("/users/{public_id}", response=StaffUserOut, url_name="get_user")
def get_user(request: HttpRequest, public_id: uuid.UUID):
    people_access.require_staff(request.user)
    return _user_out(_user(public_id))


@router.patch("/users/{public_id}", response=StaffUserOut, url_name="update_user")
def update_user(request: HttpRequest, public_id: uuid.UUID, payload: StaffUserPatch):
    """Change a login's role and/or deactivate (``active: false``) or reactivate it (admins)."""
    people_access.require_admin(request.user)
    user = _user(public_id)
    sent = payload.model_dump(exclude_unset=True)
    if sent.get("role") is None and sent.get("active") is None:
        raise ValidationFailed.single("role", "Send a role, active, or both.")
    if sent.get("role") is not None:
        user = services.change_role(actor=request.user, user=user, role=sent["role"])
    if sent.get("active") is not None:
        user = services.set_user_active(actor=request.user, user=user, active=sent["active"])
    return _user_out(_user(public_id))


# ---------------------------------------------------------------- teams


@router.get("/teams", response=list[StaffTeamOut], url_name="list_teams")
def list_teams(request: HttpRequest):
    people_access.require_staff(request.user)
    return [_team_out(t) for t in Team.objects.prefetch_related("members").order_by("name")]


@router.get("/teams/{public_id}", response=StaffTeamOut, url_name="get_team")
def get_team(request: HttpRequest, public_id: uuid.UUID):
    people_access.require_staff(request.user)
    return _team_out(_team(public_id))


@router.post("/teams", response={201: StaffTeamOut}, url_name="create_team")
@idempotent
def create_team(request: HttpRequest, payload: StaffTeamIn):
    people_access.require_admin(request.user)
    members = [_member(name, "members") for name in payload.members]
    if any(not m.is_active for m in members):
        raise ValidationFailed.single("members", "Members must be active staff users.")
    team = services.create_team(actor=request.user, name=payload.name, members=members)
    return Status(201, _team_out(_team(team.public_id)))


@router.patch("/teams/{public_id}", response=StaffTeamOut, url_name="rename_team")
def rename_team(request: HttpRequest, public_id: uuid.UUID, payload: StaffTeamPatch):
    people_access.require_admin(request.user)
    team = services.rename_team(actor=request.user, team=_team(public_id), name=payload.name)
    return _team_out(_team(team.public_id))


@router.put(
    "/teams/{public_id}/members/{username}", response=StaffTeamOut, url_name="add_team_member"
)
def add_team_member(request: HttpRequest, public_id: uuid.UUID, username: str):
    people_access.require_admin(request.user)
    team = services.add_team_member(
        actor=request.user, team=_team(public_id), user=_member(username)
    )
    return _team_out(_team(team.public_id))


@router.delete(
    "/teams/{public_id}/members/{username}", response=StaffTeamOut, url_name="remove_team_member"
)
def remove_team_member(request: HttpRequest, public_id: uuid.UUID, username: str):
    people_access.require_admin(request.user)
    team = services.remove_team_member(
        actor=request.user, team=_team(public_id), user=_member(username)
    )
    return _team_out(_team(team.public_id))
