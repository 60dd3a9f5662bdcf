"""Sign-up, e-mail verification, password reset and profile of portal users.

The rules under test: a login is linked to a Person by a *verified* e-mail only; the
answers to sign-up and reset do not tell known addresses from unknown ones; both are
throttled.
"""

from __future__ import annotations

import re

import pytest
from django.core import signing
from django.test import Client

from kith.accounts.models import PortalSignup, User
from kith.core.models import OutboxEvent
from kith.interactions.models import Interaction
from kith.people.models import ContactPoint, Party
from tests.conftest import PASSWORD, client_for, make_person

LINK = re.compile(r"http://[^\s]+?(/portal/[^\s]+/)")


def _signup(client: Client, email: str, **extra) -> object:
    data = {"email": email, "password": PASSWORD, "given_name": "Nia", "family_name": "Novak"}
    data.update(extra)
    return client.post("/portal/signup/", data)


def _link(message) -> str:
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(1)


def _without_csrf(html: bytes) -> str:
    return re.sub(r'="[A-Za-z0-9]{32,}"', "", html.decode())


@pytest.fixture(autouse=True)
def _portal_settings(settings):
    settings.KITH_BASE_URL = "http://portal.test"
    settings.KITH_PORTAL_REQUESTS_PER_HOUR = 5


def test_signup_then_verify_creates_a_person_and_logs_in(db, mailoutbox):
    client = Client()
    response = _signup(client, "Nia.Novak@Example.org")
    assert response.status_code == 200
    assert b"Check your e-mail" in response.content
    assert not User.objects.filter(email="nia.novak@example.org").exists()
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["nia.novak@example.org"]
    link = _link(mailoutbox[0])
    assert link.startswith("/portal/verify/")
    # Following the link shows a button; only the POST verifies (mail scanners open links).
    assert client.get(link).status_code == 200
    assert not User.objects.filter(email="nia.novak@example.org").exists()
    response = client.post(link)
    assert response.status_code == 302 and response["Location"] == "/portal/"
    user = User.objects.get(email="nia.novak@example.org")
    assert user.is_portal and user.person.display_name == "Nia Novak"
    point = ContactPoint.objects.get(party=user.person, channel="email")
    assert point.verified and point.normalized == "nia.novak@example.org"
    assert client.get("/portal/").status_code == 200
    joined = Interaction.objects.get(party=user.person, kind="portal_signup")
    assert joined.channel == "portal"
    # The link is spent.
    assert client.post(link).status_code == 409


def test_unverified_signup_never_attaches_to_an_existing_person(db, mailoutbox):
    """Someone signs up with another person's address: nothing links to that record
    unless the link sent to that address is followed."""
    victim = make_person(None, given="Vera", family="Victim", email="vera@example.com")
    attacker = Client()
    response = _signup(attacker, "vera@example.com", given_name="Mallory", family_name="M")
    assert response.status_code == 200
    assert not User.objects.filter(person=victim).exists()
    assert not User.objects.filter(email="vera@example.com").exists()
    victim.refresh_from_db()
    assert victim.display_name == "Vera Victim"  # the sign-up's name changed nothing
    # The attacker cannot log in with the password they chose.
    attempt = attacker.post("/portal/login/", {"email": "vera@example.com", "password": PASSWORD})
    assert attempt.status_code == 422
    # A forged verification link does not work either.
    signup = PortalSignup.objects.get(email="vera@example.com")
    forged = signing.TimestampSigner(salt="wrong-salt").sign(str(signup.public_id))
    assert attacker.post(f"/portal/verify/{forged}/").status_code == 404
    assert not User.objects.filter(person=victim).exists()


def test_verified_signup_links_the_existing_person(db, mailoutbox):
    existing = make_person(None, given="Olga", family="Owner", email="OLGA@example.com")
    client = Client()
    _signup(client, "olga@EXAMPLE.com", given_name="Olga", family_name="Owner")
    client.post(_link(mailoutbox[0]))
    user = User.objects.get(email="olga@example.com")
    assert user.person_id == existing.pk
    assert Party.objects.filter(kind="person", display_name="Olga Owner").count() == 1
    assert ContactPoint.objects.get(party=existing, channel="email").verified


def test_signup_answers_the_same_for_known_and_unknown_addresses(carol, mailoutbox):
    known = _signup(Client(), "carol@example.com")
    unknown = _signup(Client(), "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    assert _without_csrf(known.content).replace("carol@example.com", "X") == _without_csrf(
        unknown.content
    ).replace("nobody@example.com", "X")
    # Each address gets exactly one mail; only its owner learns which kind it was.
    assert [m.to for m in mailoutbox] == [["carol@example.com"], ["nobody@example.com"]]
    assert "already has an account" in mailoutbox[0].body
    assert "/portal/verify/" not in mailoutbox[0].body
    assert "/portal/verify/" in mailoutbox[1].body
    # The API answers the same way.
    api_known = Client().post(
        "/api/portal/signup",
        {"email": "carol@example.com", "password": PASSWORD},
        content_type="application/json",
    )
    api_unknown = Client().post(
        "/api/portal/signup",
        {"email": "other@example.com", "password": PASSWORD},
        content_type="application/json",
    )
    assert api_known.status_code == api_unknown.status_code == 202
    assert api_known.json() == api_unknown.json()


def test_signup_validates_fields_precisely(db, mailoutbox):
    response = _signup(Client(), "not-an-address", password="x")
    assert response.status_code == 422
    html = response.content.decode()
    assert "Enter a valid e-mail address." in html
    assert "id_password-error" in html
    api = Client().post(
        "/api/portal/signup",
        {"email": "a@example.com", "password": "x" * 129},
        content_type="application/json",
    )
    assert api.status_code == 422 and api.json()["errors"][0]["field"] == "password"
    assert mailoutbox == []


def test_signup_is_throttled(db, mailoutbox, settings):
    settings.KITH_PORTAL_REQUESTS_PER_HOUR = 2
    client = Client()
    codes = [_signup(client, "same@example.com").status_code for _ in range(4)]
    assert codes == [200, 200, 429, 429]
    assert len(mailoutbox) == 2


def test_expired_verification_link(db, mailoutbox, monkeypatch):
    client = Client()
    _signup(client, "late@example.com")
    link = _link(mailoutbox[0])
    from kith.accounts import services

    monkeypatch.setattr(services, "SIGNUP_MAX_AGE", -1)
    response = client.post(link)
    assert response.status_code == 422 and b"expired" in response.content
    assert not User.objects.filter(email="late@example.com").exists()


def test_login_is_throttled_and_shared_with_the_staff_form(carol, settings):
    settings.KITH_LOGIN_MAX_FAILURES = 2
    client = Client()
    for _ in range(2):
        assert (
            client.post("/portal/login/", {"email": "carol", "password": "no"}).status_code == 422
        )
    locked = client.post("/portal/login/", {"email": "carol", "password": PASSWORD})
    assert locked.status_code == 429
    assert client.get("/portal/").status_code == 302  # not logged in


def test_login_by_email_after_signup(db, mailoutbox):
    client = Client()
    _signup(client, "eve@example.com")
    client.post(_link(mailoutbox[0]))
    client.post("/portal/logout/")
    response = Client().post("/portal/login/", {"email": "Eve@Example.com", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/portal/"


def test_password_reset_flow_and_same_answer(carol, mailoutbox):
    carol.email = "carol@example.com"
    carol.save()
    known = Client().post("/portal/password-reset/", {"email": "carol@example.com"})
    unknown = Client().post("/portal/password-reset/", {"email": "ghost@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert _without_csrf(known.content).replace("carol@example.com", "X") == _without_csrf(
        unknown.content
    ).replace("ghost@example.com", "X")
    assert [m.to for m in mailoutbox] == [["carol@example.com"], ["ghost@example.com"]]
    assert "/portal/password-reset/" not in mailoutbox[1].body
    link = _link(mailoutbox[0])
    client = Client()
    assert client.get(link).status_code == 200
    weak = client.post(link, {"password": "123"})
    assert weak.status_code == 422
    done = client.post(link, {"password": "a-new-long-passphrase"})
    assert done.status_code == 302 and done["Location"] == "/portal/login/"
    assert Client().login(username="carol", password="a-new-long-passphrase")
    # Used once: the token no longer works (the password hash it was made from changed).
    assert client.get(link).status_code == 404


def test_staff_accounts_cannot_be_reset_through_the_portal(alice, mailoutbox):
    alice.email = "alice@example.com"
    alice.save()
    Client().post("/portal/password-reset/", {"email": "alice@example.com"})
    assert len(mailoutbox) == 1
    assert "/portal/password-reset/" not in mailoutbox[0].body


def test_profile_updates_login_and_person(carol):
    client = client_for(carol)
    response = client.post(
        "/portal/profile/",
        {
            "given_name": "Caro",
            "family_name": "Line",
            "locale": "pt-BR",
            "timezone": "Europe/Lisbon",
        },
    )
    assert response.status_code == 302
    carol.refresh_from_db()
    person = carol.person
    person.refresh_from_db()
    assert (carol.first_name, carol.timezone) == ("Caro", "Europe/Lisbon")
    assert (person.display_name, person.locale, person.timezone) == (
        "Caro Line",
        "pt-BR",
        "Europe/Lisbon",
    )
    bad = client.post(
        "/portal/profile/", {"given_name": "x" * 151, "family_name": "", "timezone": "Mars/Base"}
    )
    assert bad.status_code == 422
    assert "At most 150 characters." in bad.content.decode()
    assert "Not a known time zone." in bad.content.decode()


def test_contact_email_change_needs_confirmation(carol, mailoutbox):
    client = client_for(carol)
    client.post("/portal/profile/email/", {"email": "carol.new@example.com"})
    carol.refresh_from_db()
    assert carol.email != "carol.new@example.com"
    link = _link(mailoutbox[0])
    # Another customer cannot use carol's link.
    other = make_person(None, given="Oscar", family="Other", email="oscar@example.com")
    oscar = User.objects.create_user(
        username="oscar", password=PASSWORD, kind="portal", role="viewer", person=other
    )
    assert client_for(oscar).post(link).status_code == 404
    assert client.post(link).status_code == 302
    carol.refresh_from_db()
    assert carol.email == "carol.new@example.com"
    point = ContactPoint.objects.get(normalized="carol.new@example.com")
    assert point.verified
    # Announced like any new contact point (identity resolution re-keys carol on it).
    added = OutboxEvent.objects.get(name="contact_point.added", object_id=point.pk)
    assert added.data["party"] == str(carol.person.public_id)


def test_expired_unverified_signups_are_purged(db, mailoutbox):
    import datetime as dt

    from django.utils import timezone

    from kith.accounts.services import purge_expired_signups
    from kith.core import worker

    _signup(Client(), "old@example.com")
    _signup(Client(), "new@example.com")
    verified = Client()
    _signup(verified, "done@example.com")
    verified.post(_link(mailoutbox[2]))
    PortalSignup.objects.exclude(email="new@example.com").update(
        created_at=timezone.now() - dt.timedelta(hours=49)
    )
    assert purge_expired_signups() == 1
    assert sorted(PortalSignup.objects.values_list("email", flat=True)) == [
        "done@example.com",
        "new@example.com",
    ]
    assert "accounts.purge_signups" in worker.periodic_jobs()


def test_known_and_unknown_addresses_cost_the_same_work(carol, mailoutbox, monkeypatch):
    """The slow step (hashing the password) runs once in both branches, so response
    times do not tell a known address from an unknown one."""
    from django.contrib.auth import hashers

    calls: list[str] = []
    real = hashers.make_password

    def counting(password, *args, **kwargs):
        calls.append(password)
        return real(password, *args, **kwargs)

    monkeypatch.setattr(hashers, "make_password", counting)
    _signup(Client(), "carol@example.com")
    known = len(calls)
    _signup(Client(), "stranger@example.com")
    assert known == 1 and len(calls) - known == 1


def test_an_address_taken_after_the_lookup_is_a_409_that_names_nobody(
    alice, mailoutbox, monkeypatch
):
    """The window of a sign-up race: another record takes the address between the
    verification's lookup and its create. create_party's 422 would name that record."""
    from kith.people import services as people_services

    client = Client()
    _signup(client, "late@example.org")
    link = _link(mailoutbox[0])
    real_create = people_services.create_party

    def taken_meanwhile(*, actor, data):
        monkeypatch.setattr(people_services, "create_party", real_create)
        make_person(alice, given="Secret", family="Holder", email="late@example.org")
        return real_create(actor=actor, data=data)

    monkeypatch.setattr(people_services, "create_party", taken_meanwhile)
    response = client.post(link)
    assert response.status_code == 409
    assert b"already has an account" in response.content
    assert b"Secret" not in response.content and b"Holder" not in response.content
    assert not User.objects.filter(email="late@example.org").exists()
    assert not PortalSignup.objects.filter(verified_at__isnull=False).exists()
