"""API authentication: bearer tokens (hashed at rest) or the browser session (with CSRF)."""

from __future__ import annotations

import hmac
import logging

from django.db import OperationalError, transaction
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer, SessionAuth

from kith.accounts.models import ApiToken
from kith.core.errors import NotFound
from kith.core.prepared import get_with_related

logger = logging.getLogger("kith.accounts")


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


def user_for_token(token: str):
    """The active user behind ``token``, or None. Touches ``last_used_at`` at most once a minute."""
    if not token.startswith(ApiToken.PREFIX):
        return None
    key_id, _, secret = token[len(ApiToken.PREFIX) :].partition("_")
    if not key_id or not secret:
        return None
    # Every API request passes here: one prepared query (kith.core.prepared), the same
    # rows as ApiToken.objects.select_related("user").filter(key_id=key_id).first().
    row = get_with_related(ApiToken, column="key_id", value=key_id, related="user")
    if row is None or not row.is_active or not row.user.is_active:
        return None
    if not hmac.compare_digest(row.key_hash, ApiToken.hash_secret(secret)):
        return None
    now = timezone.now()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        _touch(row.pk, now)
    return row.user


def _touch(token_pk: int, now) -> None:
    """Note when a token was last used, if the database takes the write now.

    The note is bookkeeping: a request must not fail because a long write elsewhere
    (a background job on SQLite) holds the lock; a later request notes it instead.
    """
    try:
        with transaction.atomic():
            ApiToken.objects.filter(pk=token_pk).update(last_used_at=now)
    except OperationalError:
        logger.info("API token %s: last use not noted (database busy)", token_pk)


class KithSessionAuth(SessionAuth):
    """Session auth that only admits active users.

    The CSRF check guards a signed-in browser session; a request without one is not
    authenticated at all, so it answers 401 (JSON), not ninja's 403 "CSRF check
    failed" that would send a client looking for a token instead of credentials.
    """

    def __call__(self, request: HttpRequest):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        return super().__call__(request)

    def authenticate(self, request: HttpRequest, key):
        user = super().authenticate(request, key)
        return user if user is not None and user.is_active else None


api_auth = [TokenAuth(), KithSessionAuth()]


def _refuse_customer(user):
    """A customer's login on a staff-only router: not found, before any input is read."""
    if user is not None and getattr(user, "is_portal", False):
        raise NotFound("Not found.")
    return user


class StaffTokenAuth(TokenAuth):
    """Bearer tokens for staff-only routers (a customer's token finds nothing there)."""

    def authenticate(self, request: HttpRequest, token: str):
        return _refuse_customer(super().authenticate(request, token))


class StaffSessionAuth(KithSessionAuth):
    """Sessions for staff-only routers: a customer gets 404 before the CSRF check."""

    def __call__(self, request: HttpRequest):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            _refuse_customer(user)
        return super().__call__(request)


# The staff API's routers (people, timeline, sales, service, work, imports): anonymous
# callers get 401, customers 404 whatever the body, so neither learns what is there.
staff_api_auth = [StaffTokenAuth(), StaffSessionAuth()]
