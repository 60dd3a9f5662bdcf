"""API authentication: bearer tokens (hashed at rest) or the browser session (with CSRF)."""

from __future__ import annotations

import hmac

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer, SessionAuth

from kith.accounts.models import ApiToken


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
    row = ApiToken.objects.select_related("user").filter(key_id=key_id).first()
    if row is None or not row.is_active or not row.user.is_active:
        return None
    if not hmac.compare_digest(row.key_hash, ApiToken.hash_secret(secret)):
        return None
    now = timezone.now()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row.user


class KithSessionAuth(SessionAuth):
    """Session auth that only admits active users."""

    def authenticate(self, request: HttpRequest, key):
        user = super().authenticate(request, key)
        return user if user is not None and user.is_active else None


api_auth = [TokenAuth(), KithSessionAuth()]
