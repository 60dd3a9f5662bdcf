"""Users, teams, API tokens and login throttling."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

from kith.accounts.models import ApiToken, Role, Team, User
from kith.core import audit, events
from kith.core.errors import FieldError, Throttled, ValidationFailed


def create_user(
    *,
    actor,
    username: str,
    password: str,
    email: str = "",
    kind: str = User.Kind.STAFF,
    role: str = Role.AGENT,
    person=None,
    first_name: str = "",
    last_name: str = "",
) -> User:
    errors = []
    username = username.strip()
    if not username:
        errors.append(FieldError("username", "This field is required."))
    elif User.objects.filter(username__iexact=username).exists():
        errors.append(FieldError("username", "This username is taken."))
    if kind not in User.Kind.values:
        errors.append(FieldError("kind", "Must be staff or portal."))
    if role not in Role.values:
        errors.append(FieldError("role", f"Must be one of: {', '.join(Role.values)}."))
    if kind == User.Kind.PORTAL and person is None:
        errors.append(FieldError("person", "A portal user must be linked to their person."))
    try:
        validate_password(password, User(username=username, email=email))
    except DjangoValidationError as exc:
        errors += [FieldError("password", m) for m in exc.messages]
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        user = User(
            username=username,
            email=email,
            kind=kind,
            role=role,
            person=person,
            first_name=first_name,
            last_name=last_name,
        )
        user.is_superuser = user.is_staff = kind == User.Kind.STAFF and role == Role.ADMIN
        user.set_password(password)
        user.save()
        audit.record(
            actor=actor,
            action="user.created",
            obj=user,
            changes={"username": username, "kind": kind, "role": role},
            party_id=getattr(person, "pk", None),
        )
        events.emit(
            "user.created",
            obj=user,
            actor=actor,
            data={"username": username, "kind": kind, "role": role},
        )
    return user


def create_team(*, actor, name: str, members: list[User] | None = None) -> Team:
    name = " ".join(name.split())
    if not name:
        raise ValidationFailed.single("name", "This field is required.")
    if Team.objects.filter(name__iexact=name).exists():
        raise ValidationFailed.single("name", "A team with this name exists.")
    with transaction.atomic():
        team = Team.objects.create(name=name)
        if members:
            team.members.add(*members)
        audit.record(actor=actor, action="team.created", obj=team, changes={"name": name})
    return team


def issue_token(
    *, actor, user: User, name: str, expires_at: dt.datetime | None = None
) -> tuple[ApiToken, str]:
    """Create an API token; returns the row and the secret token, shown once."""
    name = " ".join(name.split())[:120]
    if not name:
        raise ValidationFailed.single(
            "name", "Give the token a name so you can recognise it later."
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed.single("expires_at", "Must be in the future.")
    key_id, secret, full = ApiToken.generate()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            key_id=key_id,
            key_hash=ApiToken.hash_secret(secret),
            expires_at=expires_at,
        )
        audit.record(
            actor=actor,
            action="api_token.issued",
            obj=token,
            changes={"name": name, "user": user.username},
        )
    return token, full


def revoke_token(*, actor, token: ApiToken) -> ApiToken:
    with transaction.atomic():
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at", "updated_at"])
            audit.record(
                actor=actor, action="api_token.revoked", obj=token, changes={"name": token.name}
            )
    return token


# ---------------------------------------------------------------- login throttling


def _throttle_keys(username: str, ip: str) -> list[str]:
    digest = hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]
    # Per account (stops guessing one password from many IPs) and per account+IP.
    return [f"kith:login-fail:u:{digest}", f"kith:login-fail:ui:{digest}:{ip}"]


def check_login_allowed(username: str, ip: str) -> None:
    limit = settings.KITH_LOGIN_MAX_FAILURES
    account_key, pair_key = _throttle_keys(username, ip)
    if (cache.get(pair_key) or 0) >= limit or (cache.get(account_key) or 0) >= limit * 4:
        minutes = max(1, settings.KITH_LOGIN_LOCKOUT_SECONDS // 60)
        raise Throttled(f"Too many failed logins. Try again in {minutes} minutes.")


def login_with_password(request, *, username: str, password: str, ip: str) -> User:
    """Authenticate or raise; failures count towards a temporary lock-out."""
    check_login_allowed(username, ip)
    user = authenticate(request, username=username, password=password)
    if user is None or not user.is_active:
        for key in _throttle_keys(username, ip):
            try:
                cache.incr(key)
            except ValueError:
                cache.set(key, 1, timeout=settings.KITH_LOGIN_LOCKOUT_SECONDS)
        raise ValidationFailed(
            "Wrong username or password.",
            errors=[FieldError("password", "Wrong username or password.")],
        )
    for key in _throttle_keys(username, ip)[1:]:
        cache.delete(key)
    return user
