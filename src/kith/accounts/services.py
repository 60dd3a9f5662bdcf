"""Users, teams, API tokens and login throttling."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from kith.accounts import login_throttle
from kith.accounts.models import ApiToken, Invitation, PortalSignup, Role, Team, User, Workspace
from kith.core import audit, events, timezones
from kith.core.errors import Conflict, FieldError, NotFound, Throttled, ValidationFailed


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
    """Create an API token; returns the row and the secret token, shown once.

    Staff only (``kith.accounts.assignment.check_token_holder``): a customer's login
    gets none, and nobody but an admin issues one for someone else.
    """
    from kith.accounts.assignment import check_token_holder

    check_token_holder(actor, user)
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
        now = timezone.now()
        # Conditional update: two revocations at once record one (the first) revocation.
        if ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=now, updated_at=now
        ):
            token.revoked_at = now
            audit.record(
                actor=actor, action="api_token.revoked", obj=token, changes={"name": token.name}
            )
        else:
            token.refresh_from_db(fields=["revoked_at"])
    return token


# ---------------------------------------------------------------- login throttling


def check_login_allowed(username: str, ip: str) -> None:
    """Throttled while this client address must wait (``kith.accounts.login_throttle``)."""
    login_throttle.check(username, ip)


def login_with_password(request, *, username: str, password: str, ip: str) -> User:
    """Authenticate or raise; failures make the failing address wait, never the account."""
    login_throttle.check(username, ip)
    user = authenticate(request, username=username, password=password)
    if user is None or not user.is_active:
        login_throttle.record_failure(username, ip)
        raise ValidationFailed(
            "Wrong username or password.",
            errors=[FieldError("password", "Wrong username or password.")],
        )
    login_throttle.record_success(username, ip)
    return user


# ---------------------------------------------------------------- customer portal accounts
#
# Sign-up, e-mail verification and password reset for portal users (customers).
#
# No account enumeration: ``request_signup`` and ``request_password_reset`` answer the
# same for known and unknown addresses and do the same work in both cases (one password
# hash, one e-mail written), so neither the reply nor its timing tells whether an
# address has an account. The e-mail itself goes only to the address's owner.

SIGNUP_SALT = "kith.accounts.portal-signup"
EMAIL_CHANGE_SALT = "kith.accounts.portal-email-change"
SIGNUP_MAX_AGE = 60 * 60 * 48  # a verification link works for 48 hours


def _rate_limit(key: str, *, limit: int, window: int, message: str) -> None:
    """Count one attempt under ``key``; Throttled once ``limit`` is passed in ``window`` s."""
    if cache.add(key, 1, timeout=window):
        return
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        return
    if count > limit:
        raise Throttled(message)


def _throttle_portal(kind: str, *, email: str, ip: str) -> None:
    """Per IP and per address: sign-up and reset requests cannot be sprayed or replayed."""
    # Settings may tune it (KITH_PORTAL_REQUESTS_PER_HOUR); the default suits a person.
    limit = int(getattr(settings, "KITH_PORTAL_REQUESTS_PER_HOUR", 5))
    digest = hashlib.sha256(email.encode()).hexdigest()[:32]
    message = "Too many requests. Try again in an hour."
    _rate_limit(f"kith:portal:{kind}:ip:{ip}", limit=limit * 4, window=3600, message=message)
    _rate_limit(f"kith:portal:{kind}:e:{digest}", limit=limit, window=3600, message=message)


def _clean_email(value: str, field: str = "email") -> str:
    from kith.people.normalize import InvalidContactPoint, normalize_email

    raw = (value or "").strip()
    if not raw:
        raise ValidationFailed.single(field, "This field is required.")
    if len(raw) > 254:
        raise ValidationFailed.single(field, "At most 254 characters.")
    try:
        return normalize_email(raw)
    except InvalidContactPoint:
        raise ValidationFailed.single(field, "Enter a valid e-mail address.") from None


def _clean_name(value: str, field: str) -> str:
    name = " ".join((value or "").split())
    if len(name) > 150:
        raise ValidationFailed.single(field, "At most 150 characters.")
    return name


def portal_user_for_email(email: str) -> User | None:
    """The active login that ``email`` (normalised) belongs to, staff or portal: its
    own address or user name, or an e-mail contact point of its Person."""
    from django.db.models import Q

    from kith.people.models import ContactPoint

    owner = ContactPoint.objects.filter(channel="email", normalized=email).values("party_id")
    return (
        User.objects.filter(is_active=True)
        .filter(models_q_email(email) | Q(person_id__in=owner))
        .order_by("id")
        .first()
    )


def models_q_email(email: str):
    from django.db.models import Q

    return Q(email__iexact=email) | Q(username__iexact=email)


def _send(to: str, subject: str, body: str) -> None:
    from django.core.mail import send_mail

    send_mail(subject, body, None, [to])


def _portal_url(path: str) -> str:
    return f"{settings.KITH_BASE_URL}{path}"


def request_signup(
    *, email: str, password: str, given_name: str = "", family_name: str = "", ip: str = ""
) -> None:
    """Start a sign-up: always answers the same; the e-mail says what happens next.

    An unknown address gets a verification link; an address that already has a login
    gets a note pointing at log-in and password reset. Nothing touches any Person yet.
    """
    from django.contrib.auth.hashers import make_password
    from django.urls import reverse

    errors: list[FieldError] = []
    try:
        address = _clean_email(email)
    except ValidationFailed as exc:
        errors += exc.errors
        address = ""
    try:
        given = _clean_name(given_name, "given_name")
        family = _clean_name(family_name, "family_name")
    except ValidationFailed as exc:
        errors += exc.errors
        given = family = ""
    if len(password or "") > 128:
        errors.append(FieldError("password", "At most 128 characters."))
    else:
        try:
            validate_password(password or "", User(username=address, email=address))
        except DjangoValidationError as exc:
            errors += [FieldError("password", m) for m in exc.messages]
    if errors:
        raise ValidationFailed(errors=errors)
    _throttle_portal("signup", email=address, ip=ip)
    # Hash in both branches: the slow step must not tell the two apart.
    password_hash = make_password(password)
    existing = portal_user_for_email(address)
    company = settings.KITH_COMPANY_NAME
    if existing is not None:
        _send(
            address,
            f"Your {company} account",
            "Someone (we hope you) tried to sign up with this address, but it already has "
            "an account.\n\n"
            f"Log in: {_portal_url(reverse('portal:login'))}\n"
            f"Forgot your password? {_portal_url(reverse('portal:password_reset'))}\n\n"
            "If this was not you, you can ignore this e-mail.",
        )
        return
    with transaction.atomic():
        signup = PortalSignup.objects.create(
            email=address, given_name=given, family_name=family, password_hash=password_hash
        )
        audit.record(
            actor=None, action="portal_signup.requested", obj=signup, changes={"email": address}
        )
    token = signing.TimestampSigner(salt=SIGNUP_SALT).sign(str(signup.public_id))
    link = _portal_url(reverse("portal:verify", args=[token]))
    _send(
        address,
        f"Confirm your e-mail address for {company}",
        f"Welcome! Confirm your e-mail address to finish signing up:\n\n{link}\n\n"
        "The link works for 48 hours. If you did not sign up, ignore this e-mail.",
    )


def verify_signup(*, token: str) -> User:
    """Follow a verification link: create the portal login and link it to its Person.

    The Person is the one whose e-mail contact point has this (now verified) address, if
    there is one without a login; otherwise a new Person is created with it.
    """
    try:
        value = signing.TimestampSigner(salt=SIGNUP_SALT).unsign(token, max_age=SIGNUP_MAX_AGE)
    except signing.SignatureExpired:
        raise ValidationFailed.single(
            "token", "This link has expired. Sign up again to get a new one."
        ) from None
    except signing.BadSignature:
        raise NotFound("This link is not valid.") from None
    try:
        return _verify_signup(value)
    except IntegrityError:
        # Two sign-ups of one address verified at the same moment: the unique e-mail
        # contact point (or user name) lets only one through; the other is told so.
        raise Conflict(
            "This address already has an account. Log in or reset your password."
        ) from None


def _verify_signup(value: str) -> User:
    from kith.people import services as people_services
    from kith.people.models import ContactPoint, Party

    with transaction.atomic():
        signup = PortalSignup.objects.select_for_update().filter(public_id=value).first()
        if signup is None:
            raise NotFound("This link is not valid.")
        if signup.verified_at is not None:
            raise Conflict("This link was already used. Log in with your e-mail and password.")
        if portal_user_for_email(signup.email) is not None:
            raise Conflict("This address already has an account. Log in or reset your password.")
        point = (
            ContactPoint.objects.select_for_update()
            .select_related("party")
            .filter(channel="email", normalized=signup.email)
            .first()
        )
        person = None
        if point is not None:
            party = point.party
            taken = User.objects.filter(person=party).exists()
            if (
                party.kind == Party.Kind.PERSON
                and party.status == Party.Status.ACTIVE
                and not taken
            ):
                person = party
                if not point.verified:
                    ContactPoint.objects.filter(pk=point.pk).update(verified=True)
            else:
                raise Conflict("This address belongs to another account. Contact us for help.")
        if person is None:
            fields = {"given_name": signup.given_name, "family_name": signup.family_name}
            if not signup.given_name and not signup.family_name:
                fields = {"display_name": signup.email.split("@", 1)[0]}
            try:
                person = people_services.create_party(
                    actor=None,
                    data=people_services.PartyInput(
                        kind=Party.Kind.PERSON,
                        fields=fields,
                        contact_points=[
                            people_services.ContactInput(
                                "email", signup.email, primary=True, verified=True
                            )
                        ],
                    ),
                )
            except ValidationFailed as exc:
                if not any(e.field.startswith("contact_points") for e in exc.errors):
                    raise
                # A sign-up of the same address committed after the lookup above: the
                # same answer as the unique index's, which names nobody (create_party's
                # message would name the record to this anonymous visitor).
                raise Conflict(
                    "This address already has an account. Log in or reset your password."
                ) from None
        user = User(
            username=signup.email[:150],
            email=signup.email,
            kind=User.Kind.PORTAL,
            role=Role.VIEWER,
            person=person,
            first_name=(signup.given_name or person.given_name)[:150],
            last_name=(signup.family_name or person.family_name)[:150],
            timezone=person.timezone or "UTC",
        )
        user.password = signup.password_hash
        user.save()
        signup.verified_at = timezone.now()
        signup.user = user
        signup.save(update_fields=["verified_at", "user", "updated_at"])
        audit.record(
            actor=user,
            action="portal_user.verified",
            obj=user,
            changes={"email": signup.email, "linked_existing": point is not None},
            party_id=person.pk,
        )
        events.emit(
            "user.created",
            obj=user,
            actor=user,
            data={"username": user.username, "kind": user.kind, "role": user.role},
        )
        # On the person's timeline: staff see when a customer joined the portal.
        from kith.interactions import services as interaction_services

        interaction_services.log_interaction(
            actor=user,
            party=person,
            channel="portal",
            direction="in",
            kind="portal_signup",
            summary="Signed up to the customer portal",
            source="kith.accounts",
            external_id=f"portal-signup:{signup.public_id}",
        )
    return user


def request_password_reset(*, email: str, ip: str = "") -> None:
    """E-mail a reset link to a portal login's address; the same answer for any address."""
    from django.contrib.auth.tokens import default_token_generator
    from django.urls import reverse
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    address = _clean_email(email)
    _throttle_portal("reset", email=address, ip=ip)
    user = portal_user_for_email(address)
    if user is not None and not user.is_portal:
        user = None  # staff reset their passwords with an admin, not through the portal
    company = settings.KITH_COMPANY_NAME
    if user is None:
        # Same work as the known branch: a token computed, one mail written.
        default_token_generator.make_token(User(password="!", last_login=None))
        _send(
            address,
            f"Password reset for {company}",
            "Someone asked to reset the password of an account at this address, but there "
            "is no customer account here. If it was you, you may have signed up with "
            "another address.",
        )
        return
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    link = _portal_url(reverse("portal:password_reset_confirm", args=[uid, token]))
    _send(
        address,
        f"Password reset for {company}",
        f"Set a new password here:\n\n{link}\n\nIf you did not ask for this, ignore this e-mail.",
    )


def user_for_reset_link(uidb64: str, token: str) -> User:
    """The portal user a reset link is for; NotFound when forged, used or expired."""
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.http import urlsafe_base64_decode

    try:
        pk = int(urlsafe_base64_decode(uidb64).decode())
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        raise NotFound("This link is not valid or has expired.") from None
    user = User.objects.filter(pk=pk, kind=User.Kind.PORTAL, is_active=True).first()
    if user is None or not default_token_generator.check_token(user, token):
        raise NotFound("This link is not valid or has expired.")
    return user


def reset_password(*, uidb64: str, token: str, password: str) -> User:
    """Set a new password through a reset link (the link stops working once used)."""
    user = user_for_reset_link(uidb64, token)
    if len(password or "") > 128:
        raise ValidationFailed.single("password", "At most 128 characters.")
    try:
        validate_password(password or "", user)
    except DjangoValidationError as exc:
        raise ValidationFailed(errors=[FieldError("password", m) for m in exc.messages]) from None
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.set_password(password)
        locked.save(update_fields=["password"])
        audit.record(
            actor=locked, action="user.password_reset", obj=locked, party_id=locked.person_id
        )
    return locked


def update_portal_profile(
    *,
    actor: User,
    given_name: str,
    family_name: str,
    locale: str = "",
    timezone_name: str = "UTC",
) -> User:
    """A customer edits their name, language and time zone (on their login and Person)."""
    from kith.people.models import Party

    errors: list[FieldError] = []
    given = family = ""
    try:
        given = _clean_name(given_name, "given_name")
    except ValidationFailed as exc:
        errors += exc.errors
    try:
        family = _clean_name(family_name, "family_name")
    except ValidationFailed as exc:
        errors += exc.errors
    if not given and not family and not errors:
        errors.append(FieldError("given_name", "Enter at least a given or a family name."))
    locale = (locale or "").strip()
    if locale and (len(locale) > 20 or not locale.replace("-", "").replace("_", "").isalnum()):
        errors.append(FieldError("locale", "A language tag such as en or pt-BR."))
    tz = (timezone_name or "").strip() or "UTC"
    if not timezones.is_valid(tz):
        errors.append(FieldError("timezone", "Not a known time zone."))
    if errors:
        raise ValidationFailed(errors=errors)
    if not actor.is_portal or not actor.person_id:
        raise NotFound("Not found.")
    from kith.people import services as people_services

    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=actor.pk)
        before = {"first_name": user.first_name, "last_name": user.last_name, "tz": user.timezone}
        user.first_name, user.last_name, user.timezone = given, family, tz
        user.save(update_fields=["first_name", "last_name", "timezone"])
        # The Person's side (display name, search document, its own audit and event)
        # belongs to kith.people.
        people_services.update_party(
            actor=user,
            party=Party.objects.get(pk=user.person_id),
            data=people_services.PartyInput(
                fields={
                    "given_name": given,
                    "family_name": family,
                    "locale": locale,
                    "timezone": tz,
                }
            ),
        )
        after = {"first_name": given, "last_name": family, "tz": tz}
        changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
        if changes:
            audit.record(
                actor=user,
                action="portal_user.profile_updated",
                obj=user,
                changes=changes,
                party_id=user.person_id,
            )
    actor.first_name, actor.last_name, actor.timezone = given, family, tz
    return user


def request_email_change(*, actor: User, email: str, ip: str = "") -> None:
    """Send a confirmation link to a new contact address; nothing changes until it is used."""
    from django.urls import reverse

    address = _clean_email(email)
    _throttle_portal("email", email=address, ip=ip)
    token = signing.TimestampSigner(salt=EMAIL_CHANGE_SALT).sign_object(
        {"u": actor.pk, "e": address}
    )
    link = _portal_url(reverse("portal:confirm_email", args=[token]))
    _send(
        address,
        f"Confirm your new e-mail address for {settings.KITH_COMPANY_NAME}",
        f"Confirm this address for your customer account:\n\n{link}\n\n"
        "The link works for 48 hours. If you did not ask for this, ignore this e-mail.",
    )


def confirm_email_change(*, actor: User, token: str) -> User:
    """Make a confirmed address the login's contact e-mail (and a verified contact point)."""
    from kith.people.models import ContactPoint

    try:
        data = signing.TimestampSigner(salt=EMAIL_CHANGE_SALT).unsign_object(
            token, max_age=SIGNUP_MAX_AGE
        )
    except signing.BadSignature:
        raise NotFound("This link is not valid or has expired.") from None
    if data.get("u") != actor.pk:
        raise NotFound("This link is not valid or has expired.")
    address = data["e"]
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=actor.pk)
        other = ContactPoint.objects.filter(channel="email", normalized=address).first()
        if other is not None and other.party_id != user.person_id:
            raise Conflict("This address belongs to another record. Contact us for help.")
        if User.objects.filter(models_q_email(address)).exclude(pk=user.pk).exists():
            raise Conflict("This address belongs to another account.")
        old = user.email
        user.email = address
        user.save(update_fields=["email"])
        if other is None:
            ContactPoint.objects.filter(party_id=user.person_id, channel="email").update(
                primary=False
            )
            point = ContactPoint.objects.create(
                party_id=user.person_id,
                channel="email",
                value=address,
                normalized=address,
                verified=True,
                primary=True,
            )
            # As people.services.add_contact_point announces a new contact point:
            # identity resolution keys the person afresh on it (IdentityKey).
            events.emit(
                "contact_point.added",
                obj=point,
                actor=user,
                data={"party": str(user.person.public_id), "channel": "email"},
            )
        else:
            ContactPoint.objects.filter(pk=other.pk).update(verified=True)
        audit.record(
            actor=user,
            action="portal_user.email_changed",
            obj=user,
            changes={"email": [old, address]},
            party_id=user.person_id,
        )
    return user


def purge_expired_signups(*, now: dt.datetime | None = None) -> int:
    """Delete sign-ups whose verification link has expired unused; returns how many.

    Housekeeping, not a change anyone made: no audit entry per row; the worker's job
    logs the count."""
    cutoff = (now or timezone.now()) - dt.timedelta(seconds=SIGNUP_MAX_AGE)
    deleted, _ = PortalSignup.objects.filter(
        verified_at__isnull=True, created_at__lt=cutoff
    ).delete()
    return deleted


# ---------------------------------------------------------------- administrator settings
#
# Staff invitations, roles, deactivation, teams and the workspace's own company, for
# the settings pages (``kith.web.settings_views``). The views check who may ask
# (admins); the rules that hold whoever asks live here: nobody deactivates themselves,
# and the workspace always keeps one active admin (the admins' rows are locked while
# that is checked, so two admins demoting each other at once cannot both succeed).

INVITE_SALT = "kith.accounts.staff-invitation"
INVITE_MAX_AGE = 60 * 60 * 24 * 7  # an invitation link works for 7 days


def _set_role_fields(user: User, role: str) -> None:
    """Kith's admins are Django superusers (``kith.core.api.require_admin``): keep both."""
    user.role = role
    user.is_superuser = user.is_staff = user.kind == User.Kind.STAFF and role == Role.ADMIN


def _check_role(role: str, errors: list[FieldError]) -> None:
    if role not in Role.values:
        errors.append(FieldError("role", f"Must be one of: {', '.join(Role.labels)}."))


def _lock_admins() -> list[int]:
    """Lock every active admin's row; their ids (the last-admin rule reads them)."""
    return list(
        User.objects.select_for_update()
        .filter(kind=User.Kind.STAFF, role=Role.ADMIN, is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _invitation_link(invitation: Invitation) -> str:
    from django.urls import reverse

    token = signing.TimestampSigner(salt=INVITE_SALT).sign(str(invitation.public_id))
    return _portal_url(reverse("settings:accept", args=[token]))


def _send_invitation(invitation: Invitation, link: str) -> None:
    inviter = invitation.invited_by
    who = (inviter.get_full_name() or inviter.username) if inviter else "An administrator"
    _send(
        invitation.email,
        f"You are invited to {settings.KITH_COMPANY_NAME} on Kith",
        f"{who} invited you to work in Kith.\n\n"
        f"Choose your password here:\n\n{link}\n\n"
        "The link works for 7 days and once. Your user name is this e-mail address.",
    )


def invite_user(
    *, actor, email: str, role: str = Role.AGENT, first_name: str = "", last_name: str = ""
) -> tuple[Invitation, str]:
    """Create an inactive staff login for ``email`` and e-mail it a signed link.

    Returns the invitation and the link (the page shows it to the admin too, for a
    workspace without outgoing mail). The login has no password until the invited
    person chooses one through the link.
    """
    errors: list[FieldError] = []
    try:
        address = _clean_email(email)
    except ValidationFailed as exc:
        errors += exc.errors
        address = ""
    _check_role(role, errors)
    first = last = ""
    try:
        first = _clean_name(first_name, "first_name")
    except ValidationFailed as exc:
        errors += exc.errors
    try:
        last = _clean_name(last_name, "last_name")
    except ValidationFailed as exc:
        errors += exc.errors
    if address and User.objects.filter(models_q_email(address)).exists():
        errors.append(FieldError("email", "A user with this e-mail address exists."))
    if errors:
        raise ValidationFailed(errors=errors)
    try:
        with transaction.atomic():
            user = User(
                username=address[:150],
                email=address,
                kind=User.Kind.STAFF,
                first_name=first,
                last_name=last,
                is_active=False,
            )
            _set_role_fields(user, role)
            user.set_unusable_password()
            user.save()
            invitation = Invitation.objects.create(
                user=user,
                invited_by=actor,
                email=address,
                expires_at=timezone.now() + dt.timedelta(seconds=INVITE_MAX_AGE),
            )
            audit.record(
                actor=actor,
                action="user.invited",
                obj=user,
                changes={"email": address, "role": role},
            )
            events.emit(
                "user.invited",
                obj=user,
                actor=actor,
                data={"username": user.username, "role": role},
            )
    except IntegrityError:  # the same address invited twice at the same moment
        raise ValidationFailed.single("email", "A user with this e-mail address exists.") from None
    link = _invitation_link(invitation)
    _send_invitation(invitation, link)
    return invitation, link


def resend_invitation(*, actor, user: User) -> tuple[Invitation, str]:
    """A new link for a login that never accepted; earlier links stop working."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.has_usable_password() or not locked.invitations.exists():
            raise Conflict("This user has already accepted an invitation.")
        now = timezone.now()
        locked.invitations.filter(accepted_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=now, updated_at=now
        )
        if not locked.is_active and locked.invitations.filter(accepted_at__isnull=False).exists():
            raise Conflict("This user was deactivated; reactivate them instead.")
        invitation = Invitation.objects.create(
            user=locked,
            invited_by=actor,
            email=locked.email,
            expires_at=now + dt.timedelta(seconds=INVITE_MAX_AGE),
        )
        audit.record(actor=actor, action="user.invitation_resent", obj=locked)
    link = _invitation_link(invitation)
    _send_invitation(invitation, link)
    return invitation, link


def invitation_for_token(token: str) -> Invitation:
    """The pending invitation a link stands for.

    NotFound when the link is forged, withdrawn or superseded; ValidationFailed
    (field ``token``) when it expired; Conflict when it was already used.
    """
    try:
        value = signing.TimestampSigner(salt=INVITE_SALT).unsign(token, max_age=INVITE_MAX_AGE)
    except signing.SignatureExpired:
        raise ValidationFailed.single(
            "token", "This invitation has expired. Ask your administrator for a new one."
        ) from None
    except signing.BadSignature:
        raise NotFound("This invitation link is not valid.") from None
    invitation = Invitation.objects.select_related("user").filter(public_id=value).first()
    return _check_invitation(invitation)


def _check_invitation(invitation: Invitation | None) -> Invitation:
    if invitation is None or invitation.revoked_at is not None:
        raise NotFound("This invitation link is not valid.")
    if invitation.accepted_at is not None:
        raise Conflict("This invitation was already used. Log in with your user name.")
    if invitation.expires_at <= timezone.now():
        raise ValidationFailed.single(
            "token", "This invitation has expired. Ask your administrator for a new one."
        )
    return invitation


def accept_invitation(*, token: str, password: str, password_again: str) -> User:
    """The invited person chooses their password: the login becomes active (once)."""
    invitation = invitation_for_token(token)
    errors: list[FieldError] = []
    if len(password or "") > 128:
        errors.append(FieldError("password", "At most 128 characters."))
    else:
        try:
            validate_password(password or "", invitation.user)
        except DjangoValidationError as exc:
            errors += [FieldError("password", m) for m in exc.messages]
    if password != password_again:
        errors.append(FieldError("password_again", "The two passwords differ."))
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        # Under the lock: two tabs submitting the same link activate the login once.
        locked = _check_invitation(
            Invitation.objects.select_for_update().filter(pk=invitation.pk).first()
        )
        user = User.objects.select_for_update().get(pk=locked.user_id)
        user.set_password(password)
        user.is_active = True
        user.save(update_fields=["password", "is_active"])
        now = timezone.now()
        locked.accepted_at = now
        locked.save(update_fields=["accepted_at", "updated_at"])
        user.invitations.exclude(pk=locked.pk).filter(
            accepted_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=now, updated_at=now)
        audit.record(actor=user, action="user.invitation_accepted", obj=user)
        events.emit("user.activated", obj=user, actor=user, data={"username": user.username})
    return user


def user_status(user: User) -> str:
    """``active``, ``invited`` (no password chosen yet) or ``deactivated``."""
    if user.is_active:
        return "active"
    invitations = list(user.invitations.all())
    if not any(i.accepted_at for i in invitations) and any(
        i.revoked_at is None for i in invitations
    ):
        return "invited"
    return "deactivated"


def change_role(*, actor, user: User, role: str) -> User:
    """Give a staff login another role; the last active admin stays an admin."""
    errors: list[FieldError] = []
    _check_role(role, errors)
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        admins = _lock_admins()
        locked = User.objects.select_for_update().filter(pk=user.pk).first()
        if locked is None or locked.kind != User.Kind.STAFF:
            raise NotFound("No such user.")
        before = locked.role
        if before == role:
            return locked
        if locked.pk in admins and len(admins) == 1:
            raise ValidationFailed.single(
                "role", "This is the last active admin; make someone else an admin first."
            )
        _set_role_fields(locked, role)
        locked.save(update_fields=["role", "is_superuser", "is_staff"])
        audit.record(
            actor=actor, action="user.role_changed", obj=locked, changes={"role": [before, role]}
        )
        events.emit("user.role_changed", obj=locked, actor=actor, data={"from": before, "to": role})
    return locked


def set_user_active(*, actor, user: User, active: bool) -> User:
    """Deactivate (never oneself, never the last admin) or reactivate a staff login.

    Deactivating an invited login withdraws its invitation. A deactivated login cannot
    log in and its sessions and API tokens stop working (both check ``is_active``).
    """
    with transaction.atomic():
        admins = _lock_admins()
        locked = User.objects.select_for_update().filter(pk=user.pk).first()
        if locked is None or locked.kind != User.Kind.STAFF:
            raise NotFound("No such user.")
        if not active:
            now = timezone.now()
            withdrawn = locked.invitations.filter(
                accepted_at__isnull=True, revoked_at__isnull=True
            ).update(revoked_at=now, updated_at=now)
            if withdrawn and not locked.is_active:  # an invited login: its link stops working
                audit.record(actor=actor, action="user.invitation_withdrawn", obj=locked)
                return locked
        if locked.is_active == active:
            return locked
        if not active:
            if actor is not None and locked.pk == actor.pk:
                raise ValidationFailed.single("active", "You cannot deactivate yourself.")
            if locked.pk in admins and len(admins) == 1:
                raise ValidationFailed.single(
                    "active", "This is the last active admin; make someone else an admin first."
                )
        elif not locked.has_usable_password():
            raise ValidationFailed.single(
                "active", "This user never chose a password; send a new invitation instead."
            )
        locked.is_active = active
        locked.save(update_fields=["is_active"])
        action = "user.reactivated" if active else "user.deactivated"
        audit.record(actor=actor, action=action, obj=locked)
        events.emit(action, obj=locked, actor=actor, data={"username": locked.username})
    return locked


def _team_name(name: str, *, exclude: int | None = None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationFailed.single("name", "This field is required.")
    if len(name) > 120:
        raise ValidationFailed.single("name", "At most 120 characters.")
    if Team.objects.filter(name__iexact=name).exclude(pk=exclude).exists():
        raise ValidationFailed.single("name", "A team with this name exists.")
    return name


def rename_team(*, actor, team: Team, name: str) -> Team:
    with transaction.atomic():
        locked = Team.objects.select_for_update().get(pk=team.pk)
        clean = _team_name(name, exclude=locked.pk)
        if clean != locked.name:
            before, locked.name = locked.name, clean
            try:
                with transaction.atomic():
                    locked.save(update_fields=["name", "updated_at"])
            except IntegrityError:
                raise ValidationFailed.single("name", "A team with this name exists.") from None
            audit.record(
                actor=actor, action="team.renamed", obj=locked, changes={"name": [before, clean]}
            )
    return locked


def set_team_members(*, actor, team: Team, members: list[User]) -> Team:
    """Make ``members`` (active staff logins) the team's members."""
    if any(not m.is_staff_user for m in members):
        raise ValidationFailed.single("members", "Members must be active staff users.")
    with transaction.atomic():
        locked = Team.objects.select_for_update().get(pk=team.pk)
        before = sorted(locked.members.values_list("username", flat=True))
        locked.members.set(members)
        after = sorted(m.username for m in members)
        if before != after:
            audit.record(
                actor=actor,
                action="team.members_changed",
                obj=locked,
                changes={"members": [before, after]},
            )
    return locked


def add_team_member(*, actor, team: Team, user: User) -> Team:
    """Add one active staff login to a team (nothing changes when it is a member)."""
    if not user.is_staff_user or not user.is_active:
        raise ValidationFailed.single("username", "Members must be active staff users.")
    with transaction.atomic():
        locked = Team.objects.select_for_update().get(pk=team.pk)
        if not locked.members.filter(pk=user.pk).exists():
            locked.members.add(user)
            audit.record(
                actor=actor,
                action="team.member_added",
                obj=locked,
                changes={"member": user.username},
            )
    return locked


def remove_team_member(*, actor, team: Team, user: User) -> Team:
    """Take one login out of a team (nothing changes when it is not a member)."""
    with transaction.atomic():
        locked = Team.objects.select_for_update().get(pk=team.pk)
        if locked.members.filter(pk=user.pk).exists():
            locked.members.remove(user)
            audit.record(
                actor=actor,
                action="team.member_removed",
                obj=locked,
                changes={"member": user.username},
            )
    return locked


# ---------------------------------------------------------------- workspace and first run


def workspace() -> Workspace:
    """The workspace settings row (created on first use)."""
    try:
        row, _ = Workspace.objects.get_or_create(singleton=True)
    except IntegrityError:  # created by another request at the same moment
        row = Workspace.objects.get(singleton=True)
    return row


def set_company(*, actor, name: str, website: str = "") -> Workspace:
    """Create (or rename) the organisation record of the workspace's own company."""
    from kith.people import services as people_services
    from kith.people.models import Party

    clean = " ".join((name or "").split())
    if not clean:
        raise ValidationFailed.single("name", "This field is required.")
    if len(clean) > 300:
        raise ValidationFailed.single("name", "At most 300 characters.")
    workspace()  # the row exists before it is locked
    with transaction.atomic():
        row = Workspace.objects.select_for_update().get(singleton=True)
        company = (
            Party.objects.filter(pk=row.company_id, status=Party.Status.ACTIVE).first()
            if row.company_id
            else None
        )
        if company is None:
            contacts = []
            if (website or "").strip():
                contacts.append(people_services.ContactInput("website", website.strip()))
            company = people_services.create_party(
                actor=actor,
                data=people_services.PartyInput(
                    kind=Party.Kind.ORGANIZATION,
                    fields={"display_name": clean},
                    contact_points=contacts,
                ),
            )
            row.company = company
            row.save(update_fields=["company", "updated_at"])
            audit.record(
                actor=actor, action="workspace.company_set", obj=row, changes={"company": clean}
            )
        elif company.display_name != clean:
            people_services.update_party(
                actor=actor,
                party=company,
                data=people_services.PartyInput(fields={"display_name": clean}),
            )
    return row


def dismiss_onboarding(*, actor) -> Workspace:
    workspace()
    with transaction.atomic():
        row = Workspace.objects.select_for_update().get(singleton=True)
        if row.onboarding_dismissed_at is None:
            row.onboarding_dismissed_at = timezone.now()
            row.save(update_fields=["onboarding_dismissed_at", "updated_at"])
            audit.record(actor=actor, action="workspace.onboarding_dismissed", obj=row)
    return row


def onboarding_steps() -> dict[str, bool]:
    """The first-run checklist, each step read from real data."""
    from kith.people.models import Party

    row = Workspace.objects.filter(singleton=True).select_related("company").first()
    company = row is not None and row.company is not None and row.company.status == "active"
    return {
        "company": company,
        "invite": User.objects.filter(kind=User.Kind.STAFF).count() > 1,
        "contacts": Party.objects.filter(
            kind=Party.Kind.PERSON, status=Party.Status.ACTIVE, user__isnull=True
        ).exists(),
    }


def onboarding_due(user) -> bool:
    """Show the checklist to this user: an active admin, not dismissed, steps left."""
    if not (getattr(user, "is_staff_user", False) and user.role == Role.ADMIN):
        return False
    row = Workspace.objects.filter(singleton=True).first()
    if row is not None and row.onboarding_dismissed_at is not None:
        return False
    return not all(onboarding_steps().values())
