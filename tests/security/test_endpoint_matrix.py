"""Every API operation and every web URL, for every role, against records that role
must not reach: the answer is 404, 401 or 403 as the policy below says.

The operations come from the OpenAPI spec (``api.get_openapi_schema()``) and the URL
patterns from the URLconf, so a new endpoint is covered the day it is added, and one
with no entry in ``API_POLICY`` / ``WEB_POLICY`` fails ``test_every_*_is_classified``
with a message telling its author to classify it.

Roles: admin (alice), manager (mia), agent (dan, who owns the private records below),
other agent (bob), viewer (vic, in no queue), customer (carol, who has her own Person)
and anonymous. The records: dan's private person and organisation with their contact
point, relationship, interactions and transaction; his private deal with a line and
a contact; a case in a queue only dan works; an internal case note on a person
everybody may see (a mirror: see ``kith.interactions.access``); dan's activity and
meeting; a post and comment on his private person's feed; a private group; dan's API
token and follow; another customer's (eve's) case for the portal.

Categories of the policy (what each role gets):

* ``staff`` — the staff API without a record in the path: anonymous 401, customer
  404; lists read by the other agent and the viewer never contain a private record's id.
* ``staff_record`` — the staff API on one of dan's records: anonymous 401; customer,
  other agent and viewer 404 (whatever the method); dan himself reads it (200).
* ``own`` — a per-user item (a token, a follow): 404 for everyone but its user.
* ``own_list`` — the caller's own collection: anonymous 401; never someone else's items.
* ``social_record`` — collaboration on dan's private records: anonymous 401; customer,
  other agent and viewer 404.
* ``social`` — collaboration without a record: anonymous 401; lists hold no private id.
* ``portal_record`` — a customer's own data in the portal API: anonymous 401, another
  customer and staff 404.
* ``portal`` — the portal API without a record: anonymous 401, staff 404.
* ``admin`` — operators' pages: anonymous 401, customer 404, other staff 403 or 404.
* ``public`` — no login needed (sign-up, CSAT by signed token): never 401, never 5xx;
  a forged token is 404.
* ``community`` — the community app's API (its own access rules, public reads):
  writes need a login (401), nothing answers 5xx.

Every request runs in a savepoint that is rolled back, so an operation that leaked
and wrote cannot disturb the next check. The records are built once per module.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from kith.api import api

# Every test here reads the module's records (and each runs in its own rolled-back
# transaction); the marker also makes pytest-django create the test database even
# when only these tests are selected.
pytestmark = pytest.mark.django_db

# ---------------------------------------------------------------- the policy (API)

S, SR, OWN, OWNL, SOC, SOCR, POR, PORR, PUB, COM = (
    "staff",
    "staff_record",
    "own",
    "own_list",
    "social",
    "social_record",
    "portal",
    "portal_record",
    "public",
    "community",
)

API_POLICY: dict[str, str] = {
    "GET /api/me": OWNL,
    "GET /api/system/outbox": "admin",
    "GET /api/system/tasks": "admin",
    "GET /api/tokens": OWNL,
    "POST /api/tokens": OWNL,
    "DELETE /api/tokens/{public_id}": OWN,
    "POST /api/imports": S,
    "GET /api/imports": S,
    "POST /api/imports/preview": S,
    "GET /api/imports/{public_id}": S,
    "GET /api/imports/{public_id}/errors.csv": S,
    "POST /api/imports/{public_id}/resume": S,
    "POST /api/imports/{public_id}/restart": S,
    "GET /api/people/export.csv": S,
    "GET /api/organizations/export.csv": S,
    "GET /api/people/export.vcf": S,
    "GET /api/organizations/export.vcf": S,
    "GET /api/people": S,
    "GET /api/search": S,
    "GET /api/trash": S,
    "POST /api/trash/{public_id}/restore": SR,
    "DELETE /api/trash/{public_id}": SR,
    "POST /api/people": S,
    "GET /api/people/{public_id}": SR,
    "PATCH /api/people/{public_id}": SR,
    "DELETE /api/people/{public_id}": SR,
    "GET /api/organizations": S,
    "POST /api/organizations": S,
    "GET /api/organizations/{public_id}": SR,
    "PATCH /api/organizations/{public_id}": SR,
    "DELETE /api/organizations/{public_id}": SR,
    "GET /api/organizations/{public_id}/people": SR,
    "PUT /api/organizations/{public_id}/portal-case-sharing": SR,
    "GET /api/parties/{public_id}/contact-points": SR,
    "POST /api/parties/{public_id}/contact-points": SR,
    "PATCH /api/contact-points/{public_id}": SR,
    "DELETE /api/contact-points/{public_id}": SR,
    "GET /api/parties/{public_id}/relationships": SR,
    "POST /api/parties/{public_id}/relationships": SR,
    "PATCH /api/relationships/{public_id}": SR,
    "DELETE /api/relationships/{public_id}": SR,
    "GET /api/users": S,
    "GET /api/users/{public_id}": S,
    "POST /api/users/invitations": "admin",
    "PATCH /api/users/{public_id}": "admin",
    "GET /api/teams": S,
    "GET /api/teams/{public_id}": S,
    "POST /api/teams": "admin",
    "PATCH /api/teams/{public_id}": "admin",
    "PUT /api/teams/{public_id}/members/{username}": "admin",
    "DELETE /api/teams/{public_id}/members/{username}": "admin",
    "GET /api/email-templates": S,
    "POST /api/email-templates": "admin",  # admins and managers
    "GET /api/email-templates/{public_id}": S,
    "PATCH /api/email-templates/{public_id}": "admin",
    "DELETE /api/email-templates/{public_id}": "admin",
    "POST /api/email-templates/{public_id}/render": S,
    "POST /api/people/{public_id}/emails": SR,
    "GET /api/roles": S,
    "POST /api/roles": S,
    "GET /api/fields": S,
    "POST /api/fields": S,
    "GET /api/saved-views": S,
    "POST /api/saved-views": S,
    "GET /api/parties/{public_id}/duplicates": SR,
    "GET /api/parties/{public_id}/merge-preview": SR,
    "POST /api/parties/{public_id}/merge": SR,
    "GET /api/parties/{public_id}/identity-matches": SR,
    "POST /api/parties/{public_id}/identity-matches/reject": SR,
    "POST /api/identity/models": S,
    "GET /api/identity/models/latest": S,
    "GET /api/parties/{public_id}/audit": SR,
    "GET /api/interactions": S,
    "GET /api/interactions/{public_id}": SR,
    "POST /api/parties/{public_id}/interactions": SR,
    "GET /api/transactions": S,
    "GET /api/transactions/{public_id}": SR,
    "POST /api/parties/{public_id}/transactions": SR,
    "GET /api/people/{public_id}/timeline": SR,
    "GET /api/organizations/{public_id}/timeline": SR,
    "GET /api/deals": S,
    "POST /api/deals": S,
    "GET /api/deals/{public_id}": SR,
    "PATCH /api/deals/{public_id}": SR,
    "DELETE /api/deals/{public_id}": SR,
    "POST /api/deals/{public_id}/move": SR,
    "GET /api/deals/{public_id}/history": SR,
    "GET /api/deals/{public_id}/timeline": SR,
    "GET /api/deals/{public_id}/lines": SR,
    "POST /api/deals/{public_id}/lines": SR,
    "PATCH /api/deal-lines/{public_id}": SR,
    "DELETE /api/deal-lines/{public_id}": SR,
    "GET /api/deals/{public_id}/contacts": SR,
    "POST /api/deals/{public_id}/contacts": SR,
    "DELETE /api/deal-contacts/{public_id}": SR,
    "GET /api/products": S,
    "POST /api/products": S,
    "GET /api/products/{public_id}": S,
    "PATCH /api/products/{public_id}": S,
    "DELETE /api/products/{public_id}": S,
    "GET /api/pipelines": S,
    "POST /api/pipelines": S,
    "GET /api/pipelines/{public_id}": S,
    "PATCH /api/pipelines/{public_id}": S,
    "DELETE /api/pipelines/{public_id}": S,
    "POST /api/pipelines/{public_id}/stages": S,
    "PATCH /api/stages/{public_id}": S,
    "DELETE /api/stages/{public_id}": S,
    "GET /api/exchange-rates": S,
    "POST /api/exchange-rates": S,
    "DELETE /api/exchange-rates/{public_id}": S,
    "GET /api/forecast": S,
    "GET /api/conversion": S,
    "GET /api/cases": S,
    "POST /api/cases": S,
    "POST /api/cases/email": S,
    "GET /api/cases/breaches": S,
    "GET /api/cases/deflection": S,
    "GET /api/cases/{public_id}": SR,
    "PATCH /api/cases/{public_id}": SR,
    "DELETE /api/cases/{public_id}": SR,
    "POST /api/cases/{public_id}/transitions": SR,
    "POST /api/cases/{public_id}/assignment": SR,
    "GET /api/cases/{public_id}/messages": SR,
    "POST /api/cases/{public_id}/messages": SR,
    "GET /api/cases/{public_id}/csat-link": SR,
    "GET /api/attachments/{public_id}": S,
    "GET /api/queues": S,
    "POST /api/queues": S,
    "GET /api/queues/{public_id}": S,
    "PATCH /api/queues/{public_id}": S,
    "GET /api/inbound-mail": S,
    "GET /api/calendars": S,
    "POST /api/calendars": S,
    "GET /api/calendars/{public_id}": S,
    "PATCH /api/calendars/{public_id}": S,
    "DELETE /api/calendars/{public_id}": S,
    "GET /api/sla-policies": S,
    "POST /api/sla-policies": S,
    "GET /api/sla-policies/{public_id}": S,
    "PATCH /api/sla-policies/{public_id}": S,
    "GET /api/csat/results": S,
    "GET /api/csat/{token}": PUB,
    "POST /api/csat/{token}": PUB,
    "GET /api/activity-types": S,
    "POST /api/activity-types": S,
    "GET /api/activities": S,
    "POST /api/activities": S,
    "GET /api/activities/{public_id}": SR,
    "PATCH /api/activities/{public_id}": SR,
    "DELETE /api/activities/{public_id}": SR,
    "POST /api/activities/{public_id}/complete": SR,
    "POST /api/activities/{public_id}/reopen": SR,
    "GET /api/meetings": S,
    "POST /api/meetings": S,
    "POST /api/meetings/import": S,
    "POST /api/meetings/import-file": S,
    "GET /api/meetings/{public_id}": SR,
    "PATCH /api/meetings/{public_id}": SR,
    "DELETE /api/meetings/{public_id}": SR,
    "GET /api/calendar-feeds/me": OWNL,
    "POST /api/calendar-feeds/me": OWNL,
    "DELETE /api/calendar-feeds/me": OWNL,
    "GET /api/feed": SOC,
    "GET /api/feeds/{kind}/{public_id}": SOCR,
    "POST /api/feeds/{kind}/{public_id}/posts": SOCR,
    "GET /api/feeds/{kind}/{public_id}/followers": SOCR,
    "POST /api/feeds/{kind}/{public_id}/follow": SOCR,
    "DELETE /api/feeds/{kind}/{public_id}/follow": SOCR,
    "GET /api/follows": OWNL,
    "PATCH /api/follows/{public_id}": OWN,
    "GET /api/posts/{public_id}": SOCR,
    "PATCH /api/posts/{public_id}": SOCR,
    "DELETE /api/posts/{public_id}": SOCR,
    "GET /api/posts/{public_id}/revisions": SOCR,
    "GET /api/posts/{public_id}/comments": SOCR,
    "POST /api/posts/{public_id}/comments": SOCR,
    "PATCH /api/comments/{public_id}": SOCR,
    "DELETE /api/comments/{public_id}": SOCR,
    "POST /api/posts/{public_id}/reactions": SOCR,
    "DELETE /api/posts/{public_id}/reactions/{emoji}": SOCR,
    "POST /api/posts/{public_id}/attachments": SOCR,
    "GET /api/topics": SOC,
    "GET /api/topics/{slug}/posts": SOC,
    "GET /api/groups": SOC,
    "POST /api/groups": SOC,
    "GET /api/groups/{public_id}": SOCR,
    "PATCH /api/groups/{public_id}": SOCR,
    "GET /api/groups/{public_id}/members": SOCR,
    "POST /api/groups/{public_id}/join": SOCR,
    "POST /api/groups/{public_id}/leave": SOCR,
    "POST /api/groups/{public_id}/invitations": SOCR,
    "POST /api/groups/{public_id}/invitation": SOCR,
    "PATCH /api/groups/{public_id}/members/{username}": SOCR,
    "DELETE /api/groups/{public_id}/members/{username}": SOCR,
    "GET /api/notifications": OWNL,
    "GET /api/notifications/unread-count": OWNL,
    "POST /api/notifications/read": OWNL,
    "GET /api/notifications/settings": OWNL,
    "PATCH /api/notifications/settings": OWNL,
    "POST /api/portal/signup": PUB,
    "POST /api/portal/password-reset": PUB,
    "GET /api/portal/profile": POR,
    "PATCH /api/portal/profile": POR,
    "POST /api/portal/profile/email": POR,
    "GET /api/portal/cases": POR,
    "POST /api/portal/cases": POR,
    "POST /api/portal/suggestions": POR,
    "GET /api/portal/cases/{public_id}": PORR,
    "POST /api/portal/cases/{public_id}/messages": PORR,
    "POST /api/portal/cases/{public_id}/attachments": PORR,
    "POST /api/portal/cases/{public_id}/close": PORR,
    "POST /api/portal/cases/{public_id}/rating": PORR,
    "GET /api/insights/influence": S,
    "GET /api/insights/influence/runs/latest": S,
    "POST /api/insights/influence/runs": S,
    "GET /api/insights/influence/people/{person_id}": SR,
    "GET /api/insights/value": S,
    "GET /api/insights/value/runs/latest": S,
    "POST /api/insights/value/runs": S,
    "GET /api/insights/value/segments/{segment}": S,
    "GET /api/insights/value/people/{person_id}": SR,
    "POST /api/insights/referrals": S,
    "DELETE /api/insights/referrals/{referral_id}": S,
    "POST /api/insights/people/{person_id}/referral-code": SR,
    "PATCH /api/insights/people/{person_id}/referral-code": SR,
    "DELETE /api/insights/people/{person_id}/referral-code": SR,
    # research: staff read; panels, surveys and invitations are staff writes
    "GET /api/insights/participation": S,
    "GET /api/insights/panels": S,
    "POST /api/insights/panels": S,
    "GET /api/insights/panels/{panel_id}": S,
    "POST /api/insights/panels/{panel_id}/surveys": S,
    "GET /api/insights/surveys/{survey_id}": S,
    "POST /api/insights/surveys/{survey_id}/invitations": S,
    "POST /api/insights/surveys/{survey_id}/close": S,
    "GET /api/insights/surveys/{survey_id}/results": S,
    "GET /api/portal/notifications": POR,
    "POST /api/portal/notifications/read": POR,
    # Research surveys in the portal: the customer's own invitations (another's: 404).
    "GET /api/portal/surveys": POR,
    "GET /api/portal/surveys/{public_id}": PORR,
    "POST /api/portal/surveys/{public_id}/answers": PORR,
    # kith.cmr: the purposes vocabulary (any signed-in user), the customer's own
    # consents, receipts and preferences, and staff views of one person.
    "GET /api/cmr/purposes": SOC,
    "GET /api/cmr/me/consents": POR,
    "POST /api/cmr/me/consents": POR,
    "GET /api/cmr/me/receipts": POR,
    "GET /api/cmr/me/receipts/{receipt_id}": POR,
    "GET /api/cmr/me/receipts/{receipt_id}/jwt": POR,
    "GET /api/cmr/me/preferences": POR,
    "PUT /api/cmr/me/preferences": POR,
    "GET /api/people/{public_id}/consents": SR,
    "POST /api/people/{public_id}/consents": SR,
    "GET /api/people/{public_id}/consent-receipts": SR,
    "GET /api/people/{public_id}/contact-preferences": SR,
    "GET /api/people/{public_id}/export": SR,
    "GET /api/cmr/me/export": POR,
    "GET /api/cmr/me/vcard": POR,
    "GET /api/cmr/export-schema": SOC,
    # kith.cmr transparency, correction and erasure: the customer's own log and requests
    # (portal), staff views of one person, the inbox and decisions by request id (staff).
    "GET /api/cmr/me/transparency": POR,
    "GET /api/cmr/me/corrections": POR,
    "POST /api/cmr/me/corrections": POR,
    "GET /api/cmr/me/corrections/{request_id}": POR,
    "GET /api/cmr/me/erasure": POR,
    "POST /api/cmr/me/erasure": POR,
    "GET /api/people/{public_id}/transparency": SR,
    "GET /api/people/{public_id}/corrections": SR,
    "GET /api/people/{public_id}/erasure-requests": SR,
    "POST /api/people/{public_id}/erasure": SR,
    "GET /api/cmr/corrections": S,
    "POST /api/cmr/corrections/{request_id}/decision": S,
    "POST /api/cmr/erasure-requests/{request_id}/process": S,
    "POST /api/cmr/erasure-requests/{request_id}/refuse": S,
    # kith.cmr terms the customer proffers and intentcasting: the roster for anyone signed
    # in, the customer's own terms, intents and offers, staff views and the intents queue;
    # partner-intents answers partners only (everybody else 404).
    "GET /api/cmr/terms": SOC,
    "GET /api/cmr/me/terms": POR,
    "POST /api/cmr/me/terms": POR,
    "POST /api/cmr/me/terms/{agreement_id}/counter": POR,
    "GET /api/people/{public_id}/terms": SR,
    "GET /api/cmr/me/intents": POR,
    "POST /api/cmr/me/intents": POR,
    "GET /api/cmr/me/intents/{intent_id}": POR,
    "POST /api/cmr/me/intents/{intent_id}/withdraw": POR,
    "POST /api/cmr/me/offers/{offer_id}/accept": POR,
    "POST /api/cmr/me/offers/{offer_id}/decline": POR,
    "GET /api/cmr/intents": S,
    "GET /api/cmr/intents/{intent_id}": S,
    "POST /api/cmr/intents/{intent_id}/offers": S,
    "GET /api/people/{public_id}/intents": SR,
    "GET /api/cmr/partner-intents": POR,
    "POST /api/cmr/partner-intents/{intent_id}/offers": POR,
    "GET /api/cmr/partner-intents/{intent_id}/offers": POR,
    # kith.listening: staff read, writers work the queue, admins/managers configure;
    # customers 404. The webhook needs no login: its HMAC signature authenticates it.
    "GET /api/listening/sources": S,
    "POST /api/listening/sources": S,
    "GET /api/listening/sources/{source_id}": S,
    "PATCH /api/listening/sources/{source_id}": S,
    "DELETE /api/listening/sources/{source_id}": S,
    "POST /api/listening/sources/{source_id}/rotate-secret": S,
    "POST /api/listening/sources/{source_id}/upload": S,
    "POST /api/listening/webhooks/{source_id}": PUB,
    "GET /api/listening/keywords": S,
    "POST /api/listening/keywords": S,
    "PATCH /api/listening/keywords/{keyword_id}": S,
    "DELETE /api/listening/keywords/{keyword_id}": S,
    "GET /api/listening/mentions": S,
    "GET /api/listening/queue": S,
    "POST /api/listening/mentions/bulk": S,
    "GET /api/listening/mentions/{mention_id}": S,
    "POST /api/listening/mentions/{mention_id}/assign": S,
    "POST /api/listening/mentions/{mention_id}/reply": S,
    "POST /api/listening/mentions/{mention_id}/convert": S,
    "POST /api/listening/mentions/{mention_id}/dismiss": S,
    "POST /api/listening/mentions/{mention_id}/spam": S,
    "POST /api/listening/mentions/{mention_id}/reopen": S,
}
# The community and idea apps answer for their own rules (public reads, trust levels,
# triage): classified here by prefix, so their new operations are covered without an
# entry each.
API_PREFIX_POLICY = {"/api/community/": COM, "/api/ideas": COM}


def _operations() -> list[tuple[str, str, dict]]:
    schema = api.get_openapi_schema()
    ops = []
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            ops.append((method.upper(), path, op))
    return ops


SCHEMA = api.get_openapi_schema()
OPERATIONS = _operations()


def api_category(method: str, path: str) -> str | None:
    key = f"{method} {path}"
    if key in API_POLICY:
        return API_POLICY[key]
    for prefix, category in API_PREFIX_POLICY.items():
        if path.startswith(prefix):
            return category
    return None


def test_every_api_operation_is_classified():
    missing = [f"{m} {p}" for m, p, _ in OPERATIONS if api_category(m, p) is None]
    assert not missing, (
        "New API operations without an access policy; add each to API_POLICY in "
        f"tests/security/test_endpoint_matrix.py with its category: {missing}"
    )


def test_policy_names_no_stale_operations():
    live = {f"{m} {p}" for m, p, _ in OPERATIONS}
    stale = sorted(set(API_POLICY) - live)
    assert not stale, f"API_POLICY names operations that no longer exist: {stale}"


# ---------------------------------------------------------------- the records


@dataclass
class World:
    users: dict[str, Any]
    ids: dict[str, Any]  # what fills path parameters
    secret_ids: set[str]  # public ids nobody but dan (and admins/managers) may see
    own_ids: set[str]  # dan's personal items (token, follow)
    clients: dict[str, Client] = field(default_factory=dict)  # one signed-in client per role


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The records, built once and rolled back when the module ends."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield _build_world()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _build_world() -> World:
    from kith.accounts import services as accounts
    from kith.accounts.models import Role, User
    from kith.collab import services as collab
    from kith.interactions import services as interactions
    from kith.people import services as people
    from kith.people.services import ContactInput
    from kith.sales import services as sales
    from kith.service import services as service
    from kith.work import services as work
    from kith.work.models import ActivityType
    from tests.conftest import PASSWORD, make_org, make_person

    def user(name, role=Role.AGENT, **kw):
        return accounts.create_user(actor=None, username=name, password=PASSWORD, role=role, **kw)

    alice, mia = user("alice", Role.ADMIN), user("mia", Role.MANAGER)
    dan, bob, vic = user("dan"), user("bob"), user("vic", Role.VIEWER)
    carol_person = make_person(None, given="Carol", family="Customer", email="carol@example.com")
    carol = user("carol", Role.VIEWER, kind=User.Kind.PORTAL, person=carol_person)
    eve_person = make_person(None, given="Eve", family="Else", email="eve@example.com")
    user("eve", Role.VIEWER, kind=User.Kind.PORTAL, person=eve_person)

    secret = make_person(dan, given="Sid", family="Secret", owner=dan, visibility="private")
    secret_org = make_org(dan, "Hidden Corp", owner=dan, visibility="private")
    point = people.add_contact_point(
        actor=dan, party=secret, contact=ContactInput("email", "sid@hidden.example")
    )
    rel = people.add_relationship(actor=dan, subject=secret, role="employee", object=secret_org)
    interaction, _ = interactions.log_interaction(
        actor=dan, party=secret, channel="call", summary="Secret call"
    )
    tx, _ = interactions.record_transaction(
        actor=dan, party=secret, kind="order", amount="10.00", currency="EUR"
    )
    deal = sales.create_deal(
        actor=dan, data={"title": "Secret deal", "person": secret, "visibility": "private"}
    )
    line = sales.add_line(actor=dan, deal=deal, description="Widget", unit_price="5.00")
    contact = sales.add_contact(actor=dan, deal=deal, person=secret)
    # A queue only dan works: bob and vic are in no queue of it.
    queue = service.create_queue(actor=alice, name="Dan's queue", agents=[dan])
    public_person = make_person(alice, given="Pat", family="Public")
    case = service.create_case(
        actor=alice,
        data=service.CaseInput(subject="Secret case", requester=public_person, queue=queue),
    )
    note = service.add_message(actor=dan, case=case, kind="note", body="Internal: secret")
    eve_case = service.create_case(
        actor=alice, data=service.CaseInput(subject="Eve's case", requester=eve_person)
    )
    activity = work.create_activity(
        actor=dan,
        type=ActivityType.objects.filter(active=True).first(),
        summary="Secret to-do",
        party=secret,
    )
    start = dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC)
    meeting = work.create_meeting(
        actor=dan,
        data=work.MeetingInput(
            title="Secret meeting", start=start, end=start + dt.timedelta(hours=1), parties=[secret]
        ),
    )
    post = collab.create_post(actor=dan, target=secret, body="Secret post")
    comment = collab.create_comment(actor=dan, post=post, body="Secret comment")
    group = collab.create_group(actor=dan, name="Secret circle", privacy="private")
    follow, _ = collab.follow(actor=dan, target=deal)
    token, _ = accounts.issue_token(actor=dan, user=dan, name="dan's")
    binned = work.delete_activity(
        actor=dan,
        activity=work.create_activity(
            actor=dan,
            type=ActivityType.objects.filter(active=True).first(),
            summary="Binned to-do",
            party=secret,
        ),
    )

    ids = {
        "people": secret.public_id,
        "organizations": secret_org.public_id,
        "parties": secret.public_id,
        "contact-points": point.public_id,
        "relationships": rel.public_id,
        "interactions": [interaction.public_id, note.interaction.public_id],
        "transactions": tx.public_id,
        "deals": deal.public_id,
        "deal-lines": line.public_id,
        "deal-contacts": contact.public_id,
        "cases": case.public_id,
        "activities": activity.public_id,
        "meetings": meeting.public_id,
        "posts": post.public_id,
        "comments": comment.public_id,
        "groups": group.public_id,
        "feeds": secret.public_id,
        "follows": follow.public_id,
        "tokens": token.public_id,
        "portal": eve_case.public_id,
        "queues": queue.public_id,
        "trash": binned.public_id,  # dan's own deletion: nobody else's to restore
    }
    secret_ids = {
        str(v)
        for v in (
            secret.public_id,
            secret_org.public_id,
            point.public_id,
            rel.public_id,
            interaction.public_id,
            note.interaction.public_id,
            tx.public_id,
            deal.public_id,
            line.public_id,
            contact.public_id,
            case.public_id,
            activity.public_id,
            meeting.public_id,
            post.public_id,
            comment.public_id,
            group.public_id,
            binned.public_id,
        )
    }
    users = {
        "admin": alice,
        "manager": mia,
        "agent": dan,
        "other_agent": bob,
        "viewer": vic,
        "customer": carol,
        "anonymous": None,
    }
    return World(
        users=users,
        ids=ids,
        secret_ids=secret_ids,
        own_ids={str(follow.public_id), str(token.public_id)},
        # Signed in once: their sessions live in the module's transaction.
        clients={role: _client(u) for role, u in users.items()},
    )


# ---------------------------------------------------------------- requests


def _client(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _resolve(ref: str) -> dict:
    node: Any = SCHEMA
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def example(schema: dict, depth: int = 0) -> Any:
    """A small value that satisfies ``schema``: the body a well-formed client sends,
    so an access check is reached instead of a 422 on the body's shape."""
    if "$ref" in schema:
        return example(_resolve(schema["$ref"]), depth)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return example(options[0], depth)
    if "allOf" in schema:
        return example(schema["allOf"][0], depth)
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if schema.get("examples"):
        return schema["examples"][0]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    fmt = schema.get("format", "")
    if kind == "object" or "properties" in schema:
        if depth > 3:
            return {}
        required = schema.get("required", [])
        return {
            name: example(sub, depth + 1)
            for name, sub in schema.get("properties", {}).items()
            if name in required
        }
    if kind == "array":
        return []
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return 1
    if kind == "boolean":
        return True
    if fmt == "uuid":
        return str(uuid.uuid4())
    if fmt == "date-time":
        return "2026-03-02T10:00:00Z"
    if fmt == "date":
        return "2026-03-02"
    if fmt == "email":
        return "nobody@example.com"
    return "x" * max(1, schema.get("minLength", 1))


def _body(op: dict) -> tuple[Any, str | None]:
    """A well-formed body: JSON, or a multipart form with a small file in each file field."""
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        return json.dumps(example(content["application/json"]["schema"])), "application/json"
    if "multipart/form-data" in content:
        schema = content["multipart/form-data"]["schema"]
        schema = _resolve(schema["$ref"]) if "$ref" in schema else schema
        form = {}
        for name, sub in schema.get("properties", {}).items():
            sub = _resolve(sub["$ref"]) if "$ref" in sub else sub
            if sub.get("format") == "binary":
                form[name] = SimpleUploadedFile("note.txt", b"hello", content_type="text/plain")
            elif name in schema.get("required", []):
                form[name] = example(sub)
        return form, "multipart"
    return None, None


def _query(op: dict) -> str:
    """Required query parameters, filled with well-formed values."""
    params = {
        p["name"]: example(p.get("schema", {}))
        for p in op.get("parameters", [])
        if p.get("in") == "query" and p.get("required")
    }
    return ("?" + urlencode(params)) if params else ""


def _fill(path: str, world: World, variant: int = 0) -> str:
    segment = path.split("/")[2]
    target = world.ids.get(segment)
    if isinstance(target, list):
        target = target[variant]
    values = {
        "public_id": str(target or uuid.uuid4()),
        "person_id": str(world.ids["people"]),
        "kind": "person",
        "username": "dan",
        "emoji": "+1",
        "token": "forged-token",
        "slug": "x",
        "ref": "x",
        "level": "1",
    }
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m[1], "x"), path)


def _isolated(send, *args, **kwargs):
    """One request in a savepoint rolled back afterwards: a write that leaked cannot
    change what the next role's request sees."""
    with transaction.atomic():
        response = send(*args, **kwargs)
        transaction.set_rollback(True)
    return response


def _call(client: Client, method: str, url: str, op: dict):
    body, content_type = _body(op) if method != "GET" else (None, None)
    url += _query(op)
    send = getattr(client, method.lower())
    if content_type == "multipart":
        return _isolated(send, url, body)
    if body is not None:
        return _isolated(send, url, body, content_type=content_type)
    return _isolated(send, url)


# ---------------------------------------------------------------- expectations

OUTSIDERS = ("other_agent", "viewer", "customer")


def _checks(category: str, method: str) -> list[tuple[str, Any]]:
    """(role, expected) pairs: a set of statuses, or "no_secret" for a list that must
    not contain a private record, or "ok" (dan's positive control)."""
    if category == SR:
        out = [("anonymous", {401})] + [(r, {404}) for r in OUTSIDERS]
        return out + ([("agent", "reach")] if method == "GET" else [])
    if category == "admin":  # operators' pages: admins (and managers where they say so)
        return [("anonymous", {401}), ("customer", {404})] + [
            (r, {403, 404}) for r in ("other_agent", "viewer")
        ]
    if category == S:
        out = [("anonymous", {401}), ("customer", {404})]
        if method == "GET":
            out += [("other_agent", "no_secret"), ("viewer", "no_secret")]
        return out
    if category == OWN:
        return [("anonymous", {401})] + [
            (r, {404}) for r in ("admin", "manager", "other_agent", "viewer", "customer")
        ]
    if category == OWNL:
        out = [("anonymous", {401})]
        if method == "GET":
            out += [(r, "no_own") for r in ("admin", "other_agent", "customer")]
        return out
    if category == SOCR:
        return [("anonymous", {401})] + [(r, {404}) for r in OUTSIDERS]
    if category == SOC:
        out = [("anonymous", {401})]
        if method == "GET":
            out += [(r, "no_secret") for r in OUTSIDERS]
        return out
    if category == PORR:
        return [("anonymous", {401})] + [(r, {404}) for r in ("customer", "other_agent", "admin")]
    if category == POR:
        return [("anonymous", {401})] + [(r, {404}) for r in ("other_agent", "admin")]
    if category == PUB:
        return [("anonymous", "not_401"), ("customer", "not_401")]
    if category == COM:
        return [("anonymous", "community"), ("customer", "no_5xx")]
    raise AssertionError(f"unknown category {category}")


def _api_cases() -> list:
    cases = []
    for method, path, _op in OPERATIONS:
        if api_category(method, path) is None:
            continue
        variants = 2 if path.startswith("/api/interactions/{") else 1
        for variant in range(variants):
            cases.append(pytest.param(method, path, variant, id=f"{method} {path}#{variant}"))
    return cases


def _judge(response, expected, world: World, label: str) -> None:
    status = response.status_code
    assert status < 500, f"{label}: {status} {response.content[:300]!r}"
    if isinstance(expected, set):
        assert status in expected, f"{label}: {status}, expected {sorted(expected)}: " + repr(
            getattr(response, "content", b"")[:300]
        )
        return
    if getattr(response, "streaming", False):
        text = b"".join(response.streaming_content).decode(errors="replace")
    else:
        text = response.content.decode(errors="replace")
    if expected == "reach":  # dan's positive control: his own record is there for him
        assert status not in (401, 403, 404), f"{label}: the owner got {status}"
    elif expected == "no_secret":
        leaked = [i for i in world.secret_ids if i in text]
        assert not leaked, f"{label}: lists private records {leaked}"
    elif expected == "no_own":
        leaked = [i for i in world.own_ids if i in text]
        assert not leaked, f"{label}: lists dan's personal items {leaked}"
    elif expected == "not_401":
        assert status != 401, f"{label}: a public endpoint asked for a login"
    elif expected == "community" and response.request["REQUEST_METHOD"] != "GET":
        assert status in (401, 404, 405), f"{label}: anonymous write answered {status}"


# Bodies the spec cannot describe: two request schemas named MergeIn (people and
# community) share one OpenAPI component, so the generated body lacks ``absorb``.
BODY_OVERRIDES = {
    "POST /api/parties/{public_id}/merge": {"absorb": str(uuid.uuid4())},
    "POST /api/parties/{public_id}/identity-matches/reject": {"other": str(uuid.uuid4())},
}


@pytest.mark.parametrize("method,path,variant", _api_cases())
def test_api_operation(world, method, path, variant):
    op = SCHEMA["paths"][path][method.lower()]
    if f"{method} {path}" in BODY_OVERRIDES:
        op = {**op, "requestBody": {"content": {"application/json": {"schema": {}}}}}
    url = _fill(path, world, variant)
    failures = []
    for role, expected in _checks(api_category(method, path), method):
        if expected == "reach" and _query(op):
            continue  # the positive control needs no extra ids to be meaningful
        override = BODY_OVERRIDES.get(f"{method} {path}")
        if override is not None:
            response = _isolated(
                getattr(world.clients[role], method.lower()),
                url,
                json.dumps(override),
                content_type="application/json",
            )
        else:
            response = _call(world.clients[role], method, url, op)
        try:
            _judge(response, expected, world, f"{role} {method} {url}")
        except AssertionError as exc:
            failures.append(str(exc).split("\n")[0])
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------- the web UI

# Staff pages (kith.web.decorators.staff_view): anonymous → the login page; a customer →
# the portal's home, the same answer for every staff URL. On dan's records the other
# agent and the viewer get 404.
W_STAFF, W_STAFF_RECORD, W_PUBLIC, W_PORTAL, W_PORTAL_RECORD, W_COMMUNITY, W_SOCIAL = (
    "staff",
    "staff_record",
    "public",
    "portal",
    "portal_record",
    "community",
    "social",
)
WEB_RECORD_URL = {
    "people:person",
    "people:person_edit",
    "people:person_merge",
    "people:not_duplicate",
    "people:organization",
    "people:organization_edit",
    "people:organization_merge",
    "people:timeline",
    "people:interaction_add",
    "people:contact_add",
    "people:contact_primary",
    "people:contact_remove",
    "people:role_add",
    "people:role_end",
    "people:inline_edit",
    "mail:compose",
    "sales:deal",
    "sales:deal_edit",
    "sales:deal_delete",
    "sales:deal_move",
    "sales:line_add",
    "sales:line_remove",
    "sales:contact_add",
    "sales:contact_remove",
    "service:case",
    "service:case_edit",
    "service:case_message",
    "service:case_transition",
    "service:case_assign",
    "service:case_delete",
    "work:activity",
    "work:activity_edit",
    "work:activity_delete",
    "work:activity_complete",
    "work:meeting",
    "work:meeting_edit",
    "work:meeting_delete",
    "collab:feed",
    "collab:follow",
    "collab:record",
    "collab:post",
    "collab:comment",
    "collab:edit",
    "collab:delete",
    "collab:react",
    "collab:attach",
    "collab:delete_comment",
    "collab:group",
    "cmr:staff_consent",
    "cmr:staff_correction",
    "cmr:staff_erase",
    "cmr:staff_refuse_erasure",
    "cmr:staff_offer",
    "insights:referred_by",
    "insights:make_referral_code",
    "insights:revoke_referral_code",
    "insights:referral_code_expiry",
}
WEB_PUBLIC = {
    "jwks",
    "home",
    "login",
    "logout",
    "service:csat_public",
    "work:feed",
    "portal:login",
    "portal:logout",
    "portal:signup",
    "portal:verify",
    "portal:password_reset",
    "portal:password_reset_confirm",
    "portal:confirm_email",
    "settings:accept",  # the signed invitation link is the key
    "portal:referral_link",  # a customer's shared referral link (counts the visit)
}
WEB_PORTAL_RECORD = {
    "portal:case",
    "portal:case_reply",
    "portal:case_close",
    "portal:case_rate",
}


def web_category(name: str) -> str | None:
    if name in WEB_RECORD_URL:
        return W_STAFF_RECORD
    if name in WEB_PUBLIC:
        return W_PUBLIC
    if name in WEB_PORTAL_RECORD:
        return W_PORTAL_RECORD
    if name in ("system_status", "search", "trash", "trash_restore", "trash_purge"):
        return W_STAFF
    if name in ("cmr:intents", "cmr:purposes", "cmr:purpose_edit"):  # staff (purposes: admins)
        return W_STAFF
    namespace = name.split(":")[0] if ":" in name else ""
    if namespace in (
        "people",
        "sales",
        "service",
        "work",
        "insights",
        "listening",
        "settings",
        "mail",
    ):
        return W_STAFF
    if namespace == "collab":  # customers and partners use the collaboration pages too
        return W_SOCIAL
    if namespace == "portal" or name.startswith(("cmr:my_", "cmr:partner_")):
        return W_PORTAL
    if namespace in ("community", "ideas"):  # their own access rules (kith.ideas.access)
        return W_COMMUNITY
    return None


def _web_patterns() -> list[tuple[str, str]]:
    def walk(patterns, prefix="", ns=None):
        for p in patterns:
            if isinstance(p, URLResolver):
                inner = ns
                if p.namespace:
                    inner = f"{ns}:{p.namespace}" if ns else p.namespace
                yield from walk(p.url_patterns, prefix + str(p.pattern), inner)
            elif isinstance(p, URLPattern):
                name = f"{ns}:{p.name}" if ns else (p.name or "")
                yield prefix + str(p.pattern), name

    return [(r, n) for r, n in walk(get_resolver().url_patterns) if not r.startswith("api/")]


WEB = _web_patterns()


def test_every_web_url_is_classified():
    missing = [
        f"{route} ({name or 'unnamed'})" for route, name in WEB if web_category(name) is None
    ]
    assert not missing, (
        "Web URLs without an access policy; name them and classify them in "
        f"tests/security/test_endpoint_matrix.py (web_category): {missing}"
    )


WEB_TARGETS = {
    "people": "people",
    "organizations": "organizations",
    "parties": "parties",
    "sales": "deals",
    "service": "cases",
    "work/activities": "activities",
    "work/meetings": "meetings",
    "collab/feed": "feeds",
    "collab/follow": "feeds",
    "collab/records": "feeds",
    "collab/posts": "posts",
    "collab/comments": "comments",
    "collab/groups": "groups",
    "portal/cases": "portal",
    "cmr/people": "people",
    "insights/value/people": "people",
    "mail/people": "people",
}


def _web_url(route: str, world: World) -> str:
    key = next(
        (k for k in sorted(WEB_TARGETS, key=len, reverse=True) if route.startswith(k + "/")), None
    )
    target = world.ids.get(WEB_TARGETS[key]) if key else None
    if isinstance(target, list):
        target = target[0]

    def value(m: re.Match) -> str:
        converter, name = m[1], m[2]
        if converter == "uuid":
            return str(target) if name == "public_id" and target else str(uuid.uuid4())
        if name == "kind":
            return "person"
        return "x"

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", value, route)


def _web_checks(category: str) -> list[tuple[str, Any]]:
    if category == W_STAFF_RECORD:
        return [("anonymous", "login"), ("customer", "portal_home")] + [
            (r, {404, 405}) for r in ("other_agent", "viewer")
        ]
    if category == W_STAFF:
        return [("anonymous", "login"), ("customer", "portal_home")]
    if category == W_PORTAL_RECORD:
        return [("anonymous", "portal_login"), ("customer", {404, 405})]
    if category == W_PORTAL:
        return [("anonymous", "portal_login")]
    if category == W_SOCIAL:
        return [("anonymous", "login")] + [(r, "no_secret") for r in OUTSIDERS]
    # public pages and the community's own rules: no 5xx for anyone
    return [("anonymous", "no_5xx"), ("customer", "no_5xx")]


def _web_cases() -> list:
    return [
        pytest.param(route, name, id=f"/{route}")
        for route, name in WEB
        if web_category(name) is not None
    ]


@pytest.mark.parametrize("route,name", _web_cases())
def test_web_url(world, route, name):
    url = _web_url(route, world)
    failures = []
    for role, expected in _web_checks(web_category(name)):
        for method in ("GET", "POST"):
            client = world.clients[role]
            if name.endswith("logout"):  # would sign the shared client out for good
                client = _client(world.users[role])
            response = _isolated(getattr(client, method.lower()), url)
            try:
                _judge_web(response, expected, world, method, f"{role} {method} {url}")
            except AssertionError as exc:
                failures.append(str(exc).split("\n")[0])
    assert not failures, "\n".join(failures)


def _judge_web(response, expected, world: World, method: str, label: str) -> None:
    status = response.status_code
    assert status < 500, f"{label}: {status}"
    location = response.get("Location", "") or response.get("HX-Redirect", "")
    if expected == "login":
        assert status in (302, 401, 404, 405) and (status != 302 or "/login/" in location), (
            f"{label}: {status} {location}"
        )
    elif expected == "portal_login":
        assert status in (302, 401, 404, 405) and (status != 302 or "login" in location), (
            f"{label}: {status} {location}"
        )
    elif expected == "portal_home":
        assert status in (302, 404, 405) and (
            status != 302 or location.rstrip("/").endswith("/portal")
        ), f"{label}: {status} {location}"
    elif isinstance(expected, set):
        assert status in expected, f"{label}: {status}, expected {sorted(expected)}"
    elif expected == "no_secret" and method == "GET" and not response.streaming:
        text = response.content.decode(errors="replace")
        leaked = [i for i in world.secret_ids if i in text]
        assert not leaked, f"{label}: shows private records {leaked}"
