"""Schemas of the portal API: what a customer sends and sees (never staff-only fields)."""

from __future__ import annotations

import datetime as dt
import uuid

from ninja import Field, Schema


class ProfileOut(Schema):
    email: str
    given_name: str
    family_name: str
    display_name: str
    locale: str
    timezone: str


class ProfileIn(Schema):
    given_name: str = Field("", max_length=150)
    family_name: str = Field("", max_length=150)
    locale: str = Field("", max_length=20)
    timezone: str = Field("UTC", max_length=64)


class PortalAttachmentOut(Schema):
    id: uuid.UUID
    filename: str
    size: int
    url: str


class PortalMessageOut(Schema):
    id: uuid.UUID
    kind: str = Field(description="inbound (from the customer) or reply (from support)")
    author: str
    mine: bool
    body: str
    occurred_at: dt.datetime
    attachments: list[PortalAttachmentOut]


class PortalCaseOut(Schema):
    id: uuid.UUID
    number: int
    reference: str
    subject: str
    status: str
    requester: str
    mine: bool = Field(
        description="You asked this case (else you see it through your organisation)"
    )
    created_at: dt.datetime
    last_activity_at: dt.datetime | None
    rating: int | None


class CaseDetailOut(PortalCaseOut):
    messages: list[PortalMessageOut]


class PortalCasePage(Schema):
    items: list[PortalCaseOut]
    next_cursor: str | None


class PortalCaseIn(Schema):
    subject: str = Field(..., max_length=300)
    body: str = Field(..., max_length=100_000)
    deflection: uuid.UUID | None = Field(
        None, description="The suggestions shown first (from /portal/suggestions), if any"
    )


class SuggestionsIn(Schema):
    subject: str = Field(..., max_length=300)


class SuggestionOut(Schema):
    id: str
    title: str
    url: str


class SuggestionsOut(Schema):
    deflection: uuid.UUID | None
    items: list[SuggestionOut]


class PortalReplyIn(Schema):
    body: str = Field(..., max_length=100_000)


class RatingIn(Schema):
    rating: int = Field(..., ge=1, le=5)
    comment: str = Field("", max_length=5000)


class RatingOut(Schema):
    rating: int
    comment: str
    submitted_at: dt.datetime


class NotificationOut(Schema):
    id: uuid.UUID
    verb: str
    text: str
    html: str
    url: str
    read: bool
    created_at: dt.datetime


class NotificationPage(Schema):
    items: list[NotificationOut]
    next_cursor: str | None
    unread: int


class MarkReadIn(Schema):
    ids: list[uuid.UUID] | None = Field(None, max_length=500, description="Omit for all")


class MarkReadOut(Schema):
    marked: int
    unread: int


class SignupIn(Schema):
    email: str = Field(..., max_length=254)
    password: str = Field(..., max_length=128)
    given_name: str = Field("", max_length=150)
    family_name: str = Field("", max_length=150)
    referral_code: str = Field("", max_length=40, description="A referral code, if any.")


class EmailIn(Schema):
    email: str = Field(..., max_length=254)


class AcceptedOut(Schema):
    detail: str
