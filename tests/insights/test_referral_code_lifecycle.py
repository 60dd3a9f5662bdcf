"""A referral code's lifecycle: revoked, given an expiry, replaced by a new code.

A revoked or expired code is refused by ``resolve``, by its link and at sign-up; asking
for a code again gives a different one in the same row (one per person), and sign-ups
made with the old code are not claimed through the new one. The API (DELETE and PATCH
beside the existing POST) and the person page's panel follow the same rules and the
same access check; concurrent revocations on PostgreSQL: one succeeds, the rest 409.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from kith.accounts.models import User
from kith.core.errors import Conflict, NotFound, ValidationFailed
from kith.core.models import AuditEntry, OutboxEvent
from kith.insights import referrals
from kith.insights.models_value import PendingReferral, Referral, ReferralCode
from tests.concurrency import require_postgres, run_together
from tests.conftest import PASSWORD, client_for, make_person

LINK = re.compile(r"http://[^\s]+?(/portal/verify/[^\s]+/)")


@pytest.fixture(autouse=True)
def _portal_settings(settings):
    settings.KITH_BASE_URL = "http://portal.test"


def _signup(client: Client, email: str, code: str):
    data = {
        "email": email,
        "password": PASSWORD,
        "given_name": "Nia",
        "family_name": "Novak",
        "referral_code": code,
    }
    return client.post("/portal/signup/", data)


def _verify(client: Client, message) -> User:
    match = LINK.search(message.body)
    assert match, message.body
    assert client.post(match.group(1)).status_code == 302
    return User.objects.get(email=message.to[0])


def _api_url(person) -> str:
    return f"/api/insights/people/{person.public_id}/referral-code"


def _web_url(person, action: str) -> str:
    return f"/insights/value/people/{person.public_id}/referral-code/{action}/"


# ---------------------------------------------------------------- the service


@pytest.mark.django_db
def test_a_revoked_code_is_refused_everywhere_and_revoking_twice_is_a_conflict(
    carol, alice, mailoutbox
):
    code = referrals.code_for(actor=None, person=carol.person)
    revoked = referrals.revoke_code(actor=alice, person=carol.person)
    assert revoked.pk == code.pk and revoked.revoked_at is not None

    opened = Client().get(f"/portal/r/{code.code}/")
    assert opened.status_code == 404 and b"This referral code is not valid." in opened.content
    with pytest.raises(ValidationFailed) as exc:
        referrals.resolve(code.code)
    assert exc.value.status == 422 and exc.value.errors[0].field == "referral_code"
    signup = _signup(Client(), "late@example.org", code.code)
    assert signup.status_code == 422 and b"This referral code is not valid." in signup.content
    assert mailoutbox == [] and not PendingReferral.objects.exists()
    ana = make_person(None, given="Ana", family="Lima", email="ana@example.com")
    with pytest.raises(ValidationFailed):
        referrals.refer_by_code(actor=alice, code=code.code, referred=ana)

    with pytest.raises(Conflict) as twice:
        referrals.revoke_code(actor=alice, person=carol.person)
    assert twice.value.status == 409 and "already revoked" in twice.value.message
    assert (
        AuditEntry.objects.filter(action="insights.referral_code.revoked", object_id=code.pk)
        .values_list("actor", flat=True)
        .get()
        == alice.pk
    )
    assert OutboxEvent.objects.filter(name="referral_code.revoked").count() == 1


@pytest.mark.django_db
def test_a_person_without_a_code_has_nothing_to_revoke_or_expire(alice):
    ana = make_person(None, given="Ana", family="Lima")
    with pytest.raises(NotFound):
        referrals.revoke_code(actor=alice, person=ana)
    with pytest.raises(NotFound):
        referrals.set_code_expiry(
            actor=alice, person=ana, expires_at=timezone.now() + dt.timedelta(days=1)
        )
    assert not ReferralCode.objects.exists()


@pytest.mark.django_db
def test_a_new_code_after_revoking_differs_and_the_old_ones_pending_sign_ups_are_refused(
    carol, alice, mailoutbox
):
    code = referrals.code_for(actor=None, person=carol.person)
    old = code.code
    # A friend signed up with the code and has not verified yet; another already joined.
    early = Client()
    _signup(early, "early@example.org", old)
    _verify(early, mailoutbox[-1])
    assert Referral.objects.get(referrer=carol.person).code == old
    pending = Client()
    _signup(pending, "pending@example.org", old)
    assert PendingReferral.objects.count() == 1
    Client().get(f"/portal/r/{old}/")

    referrals.revoke_code(actor=alice, person=carol.person)
    assert not PendingReferral.objects.exists()  # it could only be refused now
    fresh = referrals.code_for(actor=alice, person=carol.person)
    assert fresh.pk == code.pk  # still one code per person
    assert fresh.code != old and re.fullmatch(r"[A-Z2-9]{8}", fresh.code)
    assert fresh.revoked_at is None and fresh.expires_at is None
    assert fresh.visits == 0 and fresh.last_visit_at is None
    # Asking again keeps the new code.
    assert referrals.code_for(actor=None, person=carol.person).code == fresh.code

    # The old code stays refused; the new one works.
    assert Client().get(f"/portal/r/{old}/").status_code == 404
    assert Client().get(f"/portal/r/{fresh.code}/").status_code == 302
    # The friend who signed up with the old code verifies: no referral is recorded.
    nia = _verify(pending, mailoutbox[-1])
    assert not Referral.objects.filter(referred=nia.person).exists()
    # History: the referral made with the old code keeps it; the audit names both codes.
    assert Referral.objects.get(referrer=carol.person).code == old
    entry = AuditEntry.objects.get(action="insights.referral_code.replaced")
    assert entry.changes["code"] == [old, fresh.code]
    assert entry.changes["visits"] == [1, 0]
    assert entry.actor_id == alice.pk


@pytest.mark.django_db
def test_an_expired_code_is_refused_and_replaced_with_its_pending_sign_ups_dropped(
    carol, mailoutbox
):
    code = referrals.code_for(actor=None, person=carol.person)
    pending = Client()
    _signup(pending, "pending@example.org", code.code)
    ReferralCode.objects.filter(pk=code.pk).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    with pytest.raises(ValidationFailed) as exc:
        referrals.resolve(code.code)
    assert exc.value.errors[0].field == "referral_code"
    assert exc.value.errors[0].message == "This referral code has expired."
    expired = Client().get(f"/portal/r/{code.code}/")
    assert expired.status_code == 404 and b"This referral code has expired." in expired.content

    fresh = referrals.code_for(actor=None, person=carol.person)
    assert fresh.code != code.code and fresh.expires_at is None
    assert not PendingReferral.objects.exists()
    nia = _verify(pending, mailoutbox[-1])
    # Without dropping it, the pending row would now have been claimed through the new
    # code of the same row.
    assert not Referral.objects.filter(referred=nia.person).exists()


@pytest.mark.django_db
def test_an_expiry_in_the_past_is_refused_on_expires_at(carol, alice):
    code = referrals.code_for(actor=None, person=carol.person)
    for past in (timezone.now() - dt.timedelta(seconds=1), timezone.now()):
        with pytest.raises(ValidationFailed) as exc:
            referrals.set_code_expiry(actor=alice, person=carol.person, expires_at=past)
        assert exc.value.status == 422 and [e.field for e in exc.value.errors] == ["expires_at"]
    code.refresh_from_db()
    assert code.expires_at is None

    later = timezone.now() + dt.timedelta(days=30)
    assert referrals.set_code_expiry(
        actor=alice, person=carol.person, expires_at=later
    ).expires_at == (later)
    assert referrals.resolve(code.code) == code  # still valid until then
    assert AuditEntry.objects.filter(action="insights.referral_code.expiry_set").count() == 1
    # Setting the same moment again changes nothing (no second entry).
    referrals.set_code_expiry(actor=alice, person=carol.person, expires_at=later)
    assert AuditEntry.objects.filter(action="insights.referral_code.expiry_set").count() == 1
    assert (
        referrals.set_code_expiry(actor=alice, person=carol.person, expires_at=None).expires_at
        is None
    )
    # A revoked code takes no expiry: a new code is made instead.
    referrals.revoke_code(actor=alice, person=carol.person)
    with pytest.raises(Conflict):
        referrals.set_code_expiry(actor=alice, person=carol.person, expires_at=later)


# ---------------------------------------------------------------- the API


@pytest.mark.django_db
def test_the_api_revokes_sets_the_expiry_and_makes_a_new_code(carol, alice, api_as):
    api = api_as(alice)
    url = _api_url(carol.person)
    assert api.delete(url).status_code == 404  # no code yet
    made = api.post(url)
    assert made.status_code == 200 and made.json()["revoked_at"] is None
    old = made.json()["code"]

    past = api.patch(url, {"expires_at": (timezone.now() - dt.timedelta(days=1)).isoformat()})
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "expires_at"
    later = (timezone.now() + dt.timedelta(days=7)).replace(microsecond=0)
    ok = api.patch(url, {"expires_at": later.isoformat()})
    assert ok.status_code == 200, ok.content
    assert dt.datetime.fromisoformat(ok.json()["expires_at"]) == later
    cleared = api.patch(url, {"expires_at": None})
    assert cleared.status_code == 200 and cleared.json()["expires_at"] is None

    revoked = api.delete(url)
    assert revoked.status_code == 204 and revoked.content == b""
    assert ReferralCode.objects.get(party=carol.person).revoked_at is not None
    again = api.delete(url)
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    assert api.patch(url, {"expires_at": later.isoformat()}).status_code == 409
    fresh = api.post(url)
    assert fresh.status_code == 200 and fresh.json()["code"] != old
    assert fresh.json()["revoked_at"] is None
    assert fresh.json()["link"].endswith(f"/portal/r/{fresh.json()['code']}/")


@pytest.mark.django_db
def test_the_api_gives_each_role_what_the_existing_post_gives(carol, alice, bob, dan, vic, api_as):
    ana = make_person(None, given="Ana", family="Lima", email="ana@example.com")
    private = make_person(dan, given="Priv", family="Ate", owner=dan, visibility="private")
    for person in (ana, private):
        referrals.code_for(actor=None, person=person)
    later = {"expires_at": (timezone.now() + dt.timedelta(days=3)).isoformat()}
    body_of = {"post": None, "patch": later, "delete": None}

    def answers(user, person) -> dict[str, int]:
        api = api_as(user)
        out = {}
        for method in ("post", "patch", "delete"):
            args = (_api_url(person), body_of[method]) if method == "patch" else (_api_url(person),)
            out[method] = getattr(api, method)(*args).status_code
        return out

    # A viewer may read the person but change nothing: 403, like the POST.
    assert answers(vic, ana) == {"post": 403, "patch": 403, "delete": 403}
    # A customer learns nothing of the staff API; another agent nothing of a private record.
    assert answers(carol, ana) == {"post": 404, "patch": 404, "delete": 404}
    assert answers(bob, private) == {"post": 404, "patch": 404, "delete": 404}
    anonymous = Client()
    assert anonymous.delete(_api_url(ana)).status_code == 401
    assert ReferralCode.objects.filter(revoked_at__isnull=False).count() == 0
    assert ReferralCode.objects.filter(expires_at__isnull=False).count() == 0
    # The owner and an agent with write access to a shared record may.
    assert answers(dan, private) == {"post": 200, "patch": 200, "delete": 204}
    assert answers(bob, ana) == {"post": 200, "patch": 200, "delete": 204}


# ---------------------------------------------------------------- the person page


@pytest.mark.django_db
def test_the_panel_shows_the_state_and_revokes_and_sets_the_expiry(carol, alice, vic):
    person = carol.person
    code = referrals.code_for(actor=None, person=person)
    client = client_for(alice)
    page = client.get(f"/people/{person.public_id}/").content.decode()
    assert code.code in page and "no expiry" in page
    assert "Revoke referral code" in page and 'name="expires_on"' in page
    assert '<label for="rc-expires-on">Valid until</label>' in page
    assert "Make a new referral code" not in page

    # A past date: refused with the field's label, not its internal name.
    yesterday = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    refused = client.post(_web_url(person, "expiry"), {"expires_on": yesterday}, follow=True)
    text = refused.content.decode()
    assert "Expiry not saved: Valid until: Choose a moment in the future." in text
    assert "expires_at" not in text
    bad = client.post(_web_url(person, "expiry"), {"expires_on": "31/12/2099"}, follow=True)
    assert "Valid until: Enter a date (YYYY-MM-DD)." in bad.content.decode()
    far = client.post(_web_url(person, "expiry"), {"expires_on": "9999-12-31"}, follow=True)
    assert far.status_code == 200 and "Valid until: Date out of range" in far.content.decode()
    code.refresh_from_db()
    assert code.expires_at is None

    # Today: the code works through the end of today.
    today = timezone.localdate()
    saved = client.post(_web_url(person, "expiry"), {"expires_on": today.isoformat()})
    assert saved.status_code == 302 and saved["Location"].endswith("#value-panel")
    code.refresh_from_db()
    assert timezone.localtime(code.expires_at).date() == today + dt.timedelta(days=1)
    assert referrals.resolve(code.code) == code
    page = client.get(f"/people/{person.public_id}/").content.decode()
    assert "valid until" in page and f'value="{today.isoformat()}"' in page
    client.post(_web_url(person, "expiry"), {"expires_on": ""})
    code.refresh_from_db()
    assert code.expires_at is None

    # A viewer cannot revoke.
    denied = client_for(vic).post(_web_url(person, "revoke"))
    assert denied.status_code in (403, 404)
    code.refresh_from_db()
    assert code.revoked_at is None

    done = client.post(_web_url(person, "revoke"), follow=True).content.decode()
    assert f"Referral code {code.code} revoked" in done
    assert 'data-testid="staff-referral-code-state">revoked' in done
    assert "Make a new referral code" in done and "Revoke referral code" not in done
    again = client.post(_web_url(person, "revoke"), follow=True).content.decode()
    assert "Referral code not revoked: This referral code is already revoked." in again

    client.post(f"/insights/value/people/{person.public_id}/referral-code/")
    fresh = ReferralCode.objects.get(party=person)
    assert fresh.code != code.code and fresh.revoked_at is None
    assert fresh.code in client.get(f"/people/{person.public_id}/").content.decode()


@pytest.mark.django_db
def test_the_panel_shows_an_expired_code_as_expired(carol, alice):
    code = referrals.code_for(actor=None, person=carol.person)
    ReferralCode.objects.filter(pk=code.pk).update(
        expires_at=timezone.now() - dt.timedelta(hours=1)
    )
    page = client_for(alice).get(f"/people/{carol.person.public_id}/").content.decode()
    assert 'data-testid="staff-referral-code-state">expired' in page
    assert "Make a new referral code" in page and "Revoke referral code" in page


# ---------------------------------------------------------------- races (PostgreSQL)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("restore_migration_seed")
def test_concurrent_revocations_one_succeeds_the_others_conflict(alice):
    require_postgres()
    person = make_person(None, given="Rae", family="Race")
    code = referrals.code_for(actor=None, person=person)
    n = 6
    results, errors = run_together(
        lambda i: referrals.revoke_code(actor=alice, person=person), range(n)
    )
    assert len(results) == 1, errors
    assert len(errors) == n - 1 and all(isinstance(e, Conflict) for e in errors), errors
    assert (
        AuditEntry.objects.filter(
            action="insights.referral_code.revoked", object_id=code.pk
        ).count()
        == 1
    )
    assert OutboxEvent.objects.filter(name="referral_code.revoked").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("restore_migration_seed")
def test_concurrent_requests_for_a_new_code_make_one(alice):
    require_postgres()
    person = make_person(None, given="Rae", family="Race")
    old = referrals.code_for(actor=None, person=person).code
    referrals.revoke_code(actor=alice, person=person)
    n = 6
    results, errors = run_together(
        lambda i: referrals.code_for(actor=alice, person=person).code, range(n)
    )
    assert not errors, errors
    assert len(set(results)) == 1 and old not in results
    assert ReferralCode.objects.get(party=person).code == results[0]
    assert AuditEntry.objects.filter(action="insights.referral_code.replaced").count() == 1


@pytest.mark.django_db
def test_the_panel_forms_on_a_person_without_a_code_answer_with_a_message(alice):
    ana = make_person(None, given="Ana", family="Lima")
    client = client_for(alice)
    revoke = client.post(_web_url(ana, "revoke"), follow=True)
    assert revoke.status_code == 200
    assert "Referral code not revoked: This person has no referral code." in revoke.content.decode()
    expiry = client.post(_web_url(ana, "expiry"), {"expires_on": "2100-01-01"}, follow=True)
    assert "Expiry not saved: This person has no referral code." in expiry.content.decode()
    assert not ReferralCode.objects.exists()


def test_the_portal_shows_a_withdrawn_code_and_does_not_let_the_customer_undo_it(alice, carol):
    me = client_for(carol)
    me.post("/portal/referrals/")
    first = ReferralCode.objects.get(party=carol.person).code
    referrals.revoke_code(actor=alice, person=carol.person)
    page = me.get("/portal/referrals/").content.decode()
    assert "was withdrawn" in page and f"/portal/r/{first}/" not in page
    assert "Get a new referral link" not in page
    # Posting the form by hand is refused with the reason; the code stays revoked.
    page = me.post("/portal/referrals/", follow=True).content.decode()
    assert "please contact us if you want a new one" in page
    code = ReferralCode.objects.get(party=carol.person)
    assert code.code == first and code.revoked_at is not None
    # Staff can give a new one.
    assert referrals.code_for(actor=alice, person=carol.person).code != first


def test_the_portal_lets_a_customer_renew_an_expired_code(carol):
    me = client_for(carol)
    me.post("/portal/referrals/")
    ReferralCode.objects.filter(party=carol.person).update(
        expires_at=timezone.now() - dt.timedelta(days=1)
    )
    first = ReferralCode.objects.get(party=carol.person).code
    page = me.get("/portal/referrals/").content.decode()
    assert "expired on" in page and "Get a new referral link" in page
    assert f"/portal/r/{first}/" not in page
    page = me.post("/portal/referrals/", follow=True).content.decode()
    renewed = ReferralCode.objects.get(party=carol.person)
    assert renewed.code != first and renewed.is_live
    assert f"/portal/r/{renewed.code}/" in page
