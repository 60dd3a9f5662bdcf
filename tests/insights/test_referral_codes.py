"""Referral codes end to end: a customer's code and link, the link counting visits and
leading to the sign-up, the referral recorded when the new customer verifies, staff
recording "referred by" (web form and API), and the rules: an unknown or expired code is
a clear 422/404, no self-referral, one referrer per person."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from kith.accounts.models import User
from kith.core.errors import Conflict, ValidationFailed
from kith.insights import referrals
from kith.insights.models_value import PendingReferral, Referral, ReferralCode
from tests.conftest import PASSWORD, client_for, make_person

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://[^\s]+?(/portal/verify/[^\s]+/)")


@pytest.fixture(autouse=True)
def _portal_settings(settings):
    settings.KITH_BASE_URL = "http://portal.test"


def _signup(client: Client, email: str, **extra):
    data = {"email": email, "password": PASSWORD, "given_name": "Nia", "family_name": "Novak"}
    data.update(extra)
    return client.post("/portal/signup/", data)


def _verify(client: Client, message) -> User:
    match = LINK.search(message.body)
    assert match, message.body
    assert client.post(match.group(1)).status_code == 302
    return User.objects.get(email=message.to[0])


def test_a_customer_gets_a_code_and_a_friend_signs_up_through_the_link(carol, mailoutbox):
    me = client_for(carol)
    page = me.get("/portal/referrals/")
    assert page.status_code == 200 and b"Get my referral link" in page.content
    assert me.post("/portal/referrals/").status_code == 302
    code = ReferralCode.objects.get(party=carol.person)
    assert re.fullmatch(r"[A-Z2-9]{8}", code.code)
    page = me.get("/portal/referrals/").content.decode()
    assert code.code in page and f"/portal/r/{code.code}/" in page
    assert 'data-testid="referred-count"><strong>0</strong>' in page
    # A second request keeps the same code.
    me.post("/portal/referrals/")
    assert ReferralCode.objects.filter(party=carol.person).count() == 1

    friend = Client()
    opened = friend.get(f"/portal/r/{code.code.lower()}/")
    assert opened.status_code == 302 and opened["Location"].endswith(f"?ref={code.code}")
    code.refresh_from_db()
    assert code.visits == 1 and code.last_visit_at is not None
    form = friend.get(opened["Location"]).content.decode()
    assert f'name="referral_code" value="{code.code}"' in form
    # The session remembers the code even without ?ref=.
    assert f'value="{code.code}"' in friend.get("/portal/signup/").content.decode()
    assert _signup(friend, "nia@example.org", referral_code=code.code).status_code == 200
    assert PendingReferral.objects.count() == 1
    assert not Referral.objects.exists()  # not until the address is verified
    nia = _verify(friend, mailoutbox[-1])
    ref = Referral.objects.get(referred=nia.person)
    assert ref.referrer == carol.person and ref.source == "code" and ref.code == code.code
    assert not PendingReferral.objects.exists()
    # Carol sees a count and a date, never the name.
    page = me.get("/portal/referrals/").content.decode()
    assert 'data-testid="referred-count"><strong>1</strong>' in page
    assert "Nia" not in page and "Novak" not in page


def test_invalid_and_expired_codes_are_clear_errors(carol, mailoutbox):
    code = referrals.code_for(actor=None, person=carol.person)
    bad = Client().get("/portal/r/NOSUCHCODE/")
    assert bad.status_code == 404 and b"This referral code is not valid." in bad.content
    response = _signup(Client(), "x@example.org", referral_code="WRONG123")
    assert response.status_code == 422
    assert b"This referral code is not valid." in response.content
    assert mailoutbox == []  # nothing was started
    ReferralCode.objects.filter(pk=code.pk).update(expires_at=timezone.now() - dt.timedelta(days=1))
    expired = Client().get(f"/portal/r/{code.code}/")
    assert expired.status_code == 404 and b"This referral code has expired." in expired.content
    code.refresh_from_db()
    assert code.visits == 0
    with pytest.raises(ValidationFailed) as exc:
        referrals.resolve(code.code)
    assert exc.value.errors[0].field == "referral_code"
    ReferralCode.objects.filter(pk=code.pk).update(expires_at=None, revoked_at=timezone.now())
    assert Client().get(f"/portal/r/{code.code}/").status_code == 404


def test_the_api_signup_checks_the_code(carol, api_as, mailoutbox):
    from django.test import Client as C

    body = {"email": "api@example.org", "password": PASSWORD, "referral_code": "NOPE2345"}
    response = C().post("/api/portal/signup", body, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "referral_code"
    code = referrals.code_for(actor=None, person=carol.person)
    body["referral_code"] = code.code
    response = C().post("/api/portal/signup", body, content_type="application/json")
    assert response.status_code == 202 and PendingReferral.objects.count() == 1


def test_no_self_referral_and_one_referrer_per_person(carol, alice, mailoutbox):
    code = referrals.code_for(actor=None, person=carol.person)
    with pytest.raises(ValidationFailed) as exc:
        referrals.refer_by_code(actor=alice, code=code.code, referred=carol.person)
    assert exc.value.errors[0].field == "code"
    other = make_person(None, given="Otto", family="Other", email="otto@example.com")
    referrals.refer_by_code(actor=alice, code=code.code, referred=other)
    second = make_person(None, given="Sam", family="Second", email="sam@example.com")
    second_code = referrals.code_for(actor=None, person=second)
    with pytest.raises(Conflict):
        referrals.refer_by_code(actor=alice, code=second_code.code, referred=other)
    assert Referral.objects.filter(referred=other).count() == 1
    # A sign-up with one's own address through one's own code records nothing.
    client = Client()
    _signup(client, "sam@example.com", referral_code=second_code.code)
    sam = _verify(client, mailoutbox[-1])
    assert sam.person == second and not Referral.objects.filter(referred=second).exists()


def test_staff_record_referred_by_on_the_person_page(carol, alice, vic):
    code = referrals.code_for(actor=None, person=carol.person)
    ana = make_person(None, given="Ana", family="Lima", email="ana@example.com")
    bea = make_person(None, given="Bea", family="Brown", email="bea@example.com")
    client = client_for(alice)
    page = client.get(f"/people/{ana.public_id}/").content.decode()
    assert "Record “referred by”" in page and "Make a referral code" in page
    url = f"/insights/value/people/{ana.public_id}/referred-by/"
    bad = client.post(url, {"code": "WRONG234"}, follow=True).content.decode()
    assert "This referral code is not valid." in bad and not Referral.objects.exists()
    ok = client.post(url, {"code": code.code})
    assert ok.status_code == 302
    assert Referral.objects.get(referred=ana).referrer == carol.person
    again = client.post(url, {"referrer_email": "bea@example.com"}, follow=True)
    assert "already has a referrer" in again.content.decode()
    by_email = f"/insights/value/people/{bea.public_id}/referred-by/"
    client.post(by_email, {"referrer_email": "ANA@example.com"})
    assert Referral.objects.get(referred=bea).referrer == ana
    page = client.get(f"/people/{bea.public_id}/").content.decode()
    assert "Referred by" in page and "Ana Lima" in page
    # Making a code from the person page.
    client.post(f"/insights/value/people/{bea.public_id}/referral-code/")
    code_bea = ReferralCode.objects.get(party=bea)
    assert code_bea.code in client.get(f"/people/{bea.public_id}/").content.decode()
    # A viewer may not write.
    cee = make_person(None, given="Cee", family="C", email="cee@example.com")
    denied = client_for(vic).post(
        f"/insights/value/people/{cee.public_id}/referred-by/", {"code": code.code}
    )
    assert denied.status_code in (403, 404)
    assert not Referral.objects.filter(referred=cee).exists()


def test_the_api_records_a_referral_by_code(carol, alice, api_as):
    code = referrals.code_for(actor=None, person=carol.person)
    ana = make_person(None, given="Ana", family="Lima", email="ana@example.com")
    api = api_as(alice)
    made = api.post("/api/insights/people/" + str(carol.person.public_id) + "/referral-code")
    assert made.status_code == 200 and made.json()["code"] == code.code
    assert made.json()["link"].endswith(f"/portal/r/{code.code}/")
    bad = api.post("/api/insights/referrals", {"referred": str(ana.public_id), "code": "NOPE"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "code"
    none = api.post("/api/insights/referrals", {"referred": str(ana.public_id)})
    assert none.status_code == 422 and none.json()["errors"][0]["field"] == "referrer"
    self_ref = api.post(
        "/api/insights/referrals", {"referred": str(carol.person.public_id), "code": code.code}
    )
    assert self_ref.status_code == 422
    ok = api.post("/api/insights/referrals", {"referred": str(ana.public_id), "code": code.code})
    assert ok.status_code == 201, ok.content
    assert ok.json()["referrer"] == str(carol.person.public_id) and ok.json()["source"] == "code"
    dup = api.post("/api/insights/referrals", {"referred": str(ana.public_id), "code": code.code})
    assert dup.status_code == 409


def test_a_private_persons_code_does_not_reveal_them(alice, bob, dan):
    secret = make_person(dan, given="Priv", family="Ate", owner=dan, visibility="private")
    code = referrals.code_for(actor=None, person=secret)
    ana = make_person(None, given="Ana", family="Lima", email="ana@example.com")
    response = client_for(bob).post(
        f"/insights/value/people/{ana.public_id}/referred-by/", {"code": code.code}, follow=True
    )
    assert "This referral code is not valid." in response.content.decode()
    assert "Priv" not in response.content.decode()
    assert not Referral.objects.exists()


def test_stale_pending_referrals_are_purged_and_not_claimed(carol, mailoutbox):
    from kith.core import worker

    code = referrals.code_for(actor=None, person=carol.person)
    client = Client()
    _signup(client, "late@example.org", referral_code=code.code)
    PendingReferral.objects.update(created_at=timezone.now() - dt.timedelta(days=8))
    assert "insights.referrals.purge" in worker.periodic_jobs()
    worker.periodic_jobs()["insights.referrals.purge"].func()
    assert not PendingReferral.objects.exists()
