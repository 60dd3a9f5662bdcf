"""Logins: staff users with a role, portal users (customers) tied to their Person, teams, API tokens."""

from __future__ import annotations

import hashlib
import itertools
import secrets
import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

from kith.core.models import KithModel

# Every change of any user's teams in this process takes the next number; a user
# object's cached team ids (``User.team_ids``) are trusted only under the number they
# were read under. ``next`` on a count is atomic, so concurrent changes cannot collide.
_team_changes = itertools.count(1)
_teams_version = [0]


def teams_changed() -> None:
    """Invalidate every cached ``User.team_ids`` in this process (called on each change
    of team membership and on a team's deletion; see ``accounts.apps``)."""
    _teams_version[0] = next(_team_changes)


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MANAGER = "manager", "Manager"
    AGENT = "agent", "Agent"
    VIEWER = "viewer", "Viewer"


class Team(KithModel):
    name = models.CharField(max_length=120, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A login. Staff have a role; portal users are customers and always have a Person."""

    class Kind(models.TextChoices):
        STAFF = "staff", "Staff"
        PORTAL = "portal", "Portal (customer)"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.STAFF)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.AGENT)
    person = models.OneToOneField(
        "people.Party", null=True, blank=True, on_delete=models.SET_NULL, related_name="user"
    )
    teams = models.ManyToManyField(Team, blank=True, related_name="members")
    timezone = models.CharField(max_length=64, default="UTC")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(kind="portal") | models.Q(person__isnull=False),
                name="portal_user_has_person",
            )
        ]

    @property
    def is_staff_user(self) -> bool:
        return self.kind == self.Kind.STAFF and self.is_active

    @property
    def is_portal(self) -> bool:
        return self.kind == self.Kind.PORTAL

    @property
    def public_name(self) -> str:
        """How this user is named to other readers: their name, else their username,
        but never an e-mail address (portal sign-up makes the address the username,
        and one customer must not learn another's address from a byline)."""
        name = self.get_full_name().strip()
        if name:
            return name
        return "Member" if "@" in (self.username or "") else self.username

    def username_shown_to(self, viewer) -> str | None:
        """This user's username as ``viewer`` may read it: staff see every username
        (they invite and manage members by it); anyone else sees none that is an
        e-mail address."""
        if "@" not in (self.username or "") or getattr(viewer, "is_staff_user", False):
            return self.username
        return None

    @property
    def sees_everything(self) -> bool:
        """Admins and managers see every record whatever its visibility."""
        return self.is_staff_user and self.role in (Role.ADMIN, Role.MANAGER)

    @property
    def can_write(self) -> bool:
        return self.is_staff_user and self.role != Role.VIEWER

    def team_ids(self) -> frozenset[int]:
        """Ids of this user's teams, read once per user object.

        Every app's visibility rule asks for them, some fifteen times while one page is
        built; a request (and a worker task) works on its own freshly loaded user, so
        one read serves it. A membership change in this process makes the next call
        read again; one made by another process is seen from that process's next
        request on, as with any row a request read before another process wrote it.
        (A change rolled back sends no signal: the object that saw it inside the
        transaction keeps it until the next change; requests after it load new users.)
        """
        cached = self.__dict__.get("_team_ids")
        if cached is not None and cached[0] == _teams_version[0]:
            return cached[1]
        version = _teams_version[0]
        ids = (
            frozenset(self.teams.order_by().values_list("id", flat=True))
            if self.pk
            else frozenset()
        )
        self._team_ids = (version, ids)
        return ids


class ApiToken(KithModel):
    """A personal API token. Only a SHA-256 of the secret is stored; the secret is shown once."""

    PREFIX = "kith_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=120)
    key_id = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.PREFIX}{self.key_id}_…)"

    @staticmethod
    def hash_secret(secret: str) -> str:
        # Tokens are 256-bit random, so a fast hash is enough: there is nothing to brute-force.
        return hashlib.sha256(secret.encode()).hexdigest()

    @classmethod
    def generate(cls) -> tuple[str, str, str]:
        """Return (key_id, secret, full token)."""
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        return key_id, secret, f"{cls.PREFIX}{key_id}_{secret}"

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class PortalSignup(KithModel):
    """A customer's sign-up, waiting for the e-mail address to be proven.

    Nothing links to a Person until the link in the verification e-mail is followed:
    an unverified address must never attach a login to someone else's record. The
    password is kept only as a hash, and the row is spent (``verified_at``) once used.
    """

    email = models.CharField(max_length=254, db_index=True)
    given_name = models.CharField(max_length=150, blank=True)
    family_name = models.CharField(max_length=150, blank=True)
    password_hash = models.CharField(max_length=256)
    verified_at = models.DateTimeField(null=True, blank=True)
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return self.email


class Invitation(KithModel):
    """An invitation for a staff login, sent as a signed link that expires.

    The invited ``user`` exists from the start, inactive and without a password, so
    the admin sees them in the user list ("invited") and can change their role. The
    link is only the signed ``public_id`` of this row: the row says whether it was
    used (``accepted_at``) or withdrawn (``revoked_at``, also when a newer one is sent),
    so a link works once, and not after the admin withdrew it.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="invitations")
    invited_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    email = models.CharField(max_length=254)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Invitation for {self.email}"

    @property
    def is_pending(self) -> bool:
        return (
            self.accepted_at is None
            and self.revoked_at is None
            and self.expires_at > timezone.now()
        )


class Workspace(KithModel):
    """The one row of workspace-wide settings: the company's own organisation record
    and whether the admin dismissed the first-run checklist."""

    singleton = models.BooleanField(default=True, unique=True, editable=False)
    company = models.ForeignKey(
        "people.Party", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    onboarding_dismissed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return "Workspace settings"
