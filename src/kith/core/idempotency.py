"""Idempotency keys for creating POSTs.

A client that retries a POST with the same ``Idempotency-Key`` header gets the first
response again instead of a second record. The key, the stored response and the
created record commit in one transaction, so a crash leaves either all or none.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from ninja import Status
from pydantic import BaseModel

from kith.core.errors import Conflict, ValidationFailed
from kith.core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
# The status of a key claimed by a request still running; never committed as such,
# since the claim and the answer are written in the same transaction.
PENDING = 0


def _request_hash(request: HttpRequest) -> str:
    return hashlib.sha256(request.body or b"").hexdigest()


def idempotent(view: Callable[..., Status]) -> Callable[..., Status]:
    """Wrap a ninja operation returning ``Status(code, body)``: a JSON-able value or a
    validated response schema (stored as its JSON form)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        key = request.headers.get(HEADER, "").strip()
        if not key:
            return view(request, *args, **kwargs)
        if len(key) > 200:
            raise ValidationFailed.single(HEADER, "At most 200 characters.")
        endpoint = f"{request.method} {request.path}"
        digest = _request_hash(request)
        existing = IdempotencyRecord.objects.filter(
            user=request.user, key=key, endpoint=endpoint
        ).first()
        if existing is not None:
            return _replay(existing, digest)
        try:
            with transaction.atomic():
                # Claim the key before doing the work. A concurrent retry's insert of
                # the same key waits on the unique index until this transaction ends,
                # then fails and replays the stored answer: it never runs the view
                # against the row this request created (a 409 or 422 "already exists").
                record = IdempotencyRecord.objects.create(
                    user=request.user,
                    key=key,
                    endpoint=endpoint,
                    request_hash=digest,
                    status_code=PENDING,
                    response_body={},
                )
                result = view(request, *args, **kwargs)
                record.status_code = result.status_code
                body = result.value
                if isinstance(body, BaseModel):  # a validated response schema
                    body = body.model_dump(mode="json")
                record.response_body = json.loads(json.dumps(body, default=str))
                record.save(update_fields=["status_code", "response_body"])
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(
                user=request.user, key=key, endpoint=endpoint
            ).first()
            if existing is None or existing.status_code == PENDING:
                raise
            return _replay(existing, digest)
        return result

    return wrapper


def _replay(record: IdempotencyRecord, digest: str) -> Status:
    if record.request_hash != digest:
        raise Conflict(f"{HEADER} was already used with a different request body.")
    return Status(record.status_code, record.response_body)
