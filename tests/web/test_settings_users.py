"""Settings → users: invitations (signed, expiring, single use), roles, deactivation,
the last-admin rule and who may reach these pages."""

from __future__ import annotations

import re
import time
from unittest import mock

import pytest
from django.core import mail, signing
from django.test import Client

from kith.accounts import services
from kith.accounts.models import Invitation, Role, User
from kith.core.errors import NotFound, ValidationFailed
from tests.conftest import PASSWORD, client_for

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-long-and-new-password-42"


def _link_path(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def _invite(alice, email="nina@example.com", role="agent"):
    return client_for(alice).post(
        "/settings/users/invite/",
        {"email": email, "first_name": "Nina", "last_name": "Novak", "role": role},
    )


def test_admin_sees_users_with_status(alice, bob):
    r = client_for(alice).get("/settings/users/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "alice" in html and "bob" in html and "Active" in html


@pytest.mark.parametrize(
    "path",
    [
        "/settings/users/",
        "/settings/users/invite/",
        "/settings/teams/",
        "/settings/fields/",
        "/settings/company/",
        "/settings/welcome/",
    ],
)
def test_admin_pages_refuse_managers_agents_and_viewers(path, mia, bob, vic):
    for user in (mia, bob, vic):
        assert client_for(user).get(path).status_code == 403, (user.username, path)
        assert client_for(user).post(path, {}).status_code in (403, 405), (user.username, path)


def test_settings_hub_for_managers_not_agents(alice, mia, bob, vic):
    assert client_for(alice).get("/settings/").status_code == 200
    page = client_for(mia).get("/settings/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/settings/roles/" in html and "/settings/users/" not in html
    assert client_for(bob).get("/settings/").status_code == 403
    assert client_for(vic).get("/settings/").status_code == 403


def test_anonymous_goes_to_login_and_customer_to_portal(carol):
    r = Client().get("/settings/users/")
    assert r.status_code == 302 and "/login/" in r["Location"]
    r = client_for(carol).get("/settings/users/")
    assert r.status_code == 302 and r["Location"].rstrip("/").endswith("/portal")


def test_settings_link_in_nav_for_admins_and_managers_only(alice, mia, bob):
    assert 'href="/settings/"' in client_for(alice).get("/people/").content.decode()
    assert 'href="/settings/"' in client_for(mia).get("/people/").content.decode()
    assert 'href="/settings/"' not in client_for(bob).get("/people/").content.decode()


def test_invite_accept_and_log_in(alice):
    r = _invite(alice)
    assert r.status_code == 200
    user = User.objects.get(username="nina@example.com")
    assert not user.is_active and not user.has_usable_password()
    assert user.role == "agent" and user.first_name == "Nina"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["nina@example.com"]
    link = re.search(r"https?://\S+/settings/invitations/\S+/", mail.outbox[0].body)[0]
    assert link in r.content.decode()  # shown to the admin too
    listing = client_for(alice).get("/settings/users/").content.decode()
    assert "Invited" in listing

    browser = Client()
    page = browser.get(_link_path(link))
    assert page.status_code == 200 and "nina@example.com" in page.content.decode()
    r = browser.post(_link_path(link), {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert r.status_code == 302 and r["Location"] == "/login/"
    user.refresh_from_db()
    assert user.is_active and user.check_password(NEW_PASSWORD)
    assert browser.login(username="nina@example.com", password=NEW_PASSWORD)
    # Used once: the link no longer works.
    again = Client().get(_link_path(link))
    assert again.status_code == 409
    assert (
        Client()
        .post(_link_path(link), {"password": "x" * 20, "password_again": "x" * 20})
        .status_code
        == 409
    )
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_invite_bad_input_shows_errors_by_label(alice, bob):
    r = client_for(alice).post(
        "/settings/users/invite/", {"email": "not-an-address", "role": "agent"}
    )
    assert r.status_code == 422
    html = r.content.decode()
    assert "E-mail address: Enter a valid e-mail address." in html
    assert "email:" not in html
    r = client_for(alice).post(
        "/settings/users/invite/", {"email": "nina@example.com", "role": "wizard"}
    )
    assert r.status_code == 422 and "Role: Select a valid choice." in r.content.decode()
    bob.email = "bob@example.com"
    bob.save()
    r = _invite(alice, email="BOB@example.com")
    assert r.status_code == 422
    assert "E-mail address: A user with this e-mail address exists." in r.content.decode()
    assert not Invitation.objects.exists()


def test_accept_bad_passwords_show_errors_and_keep_the_link(alice):
    _, link = services.invite_user(actor=alice, email="nina@example.com")
    r = Client().post(_link_path(link), {"password": "short", "password_again": "other"})
    assert r.status_code == 422
    html = r.content.decode()
    assert "Password:" in html and "Password again: The two passwords differ." in html
    assert not User.objects.get(username="nina@example.com").is_active
    r = Client().post(_link_path(link), {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert r.status_code == 302


def test_forged_or_tampered_link_is_404(alice):
    _, link = services.invite_user(actor=alice, email="nina@example.com")
    path = _link_path(link)
    tampered = path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:]
    assert Client().get(tampered).status_code == 404
    assert Client().get("/settings/invitations/nonsense/").status_code == 404
    # A valid signature over something that is not an invitation.
    other = signing.TimestampSigner(salt=services.INVITE_SALT).sign(
        "00000000-0000-0000-0000-000000000000"
    )
    assert Client().get(f"/settings/invitations/{other}/").status_code == 404
    # Signed with another salt (a portal sign-up link) is no invitation either.
    invitation = Invitation.objects.get()
    portal = signing.TimestampSigner(salt=services.SIGNUP_SALT).sign(str(invitation.public_id))
    assert Client().get(f"/settings/invitations/{portal}/").status_code == 404


def test_expired_link_is_refused(alice):
    real = time.time
    with mock.patch("django.core.signing.time.time", lambda: real() - 8 * 24 * 3600):
        token = signing.TimestampSigner(salt=services.INVITE_SALT).sign("x")
    with pytest.raises(ValidationFailed) as exc:
        services.invitation_for_token(token)
    assert exc.value.errors[0].field == "token"
    _, link = services.invite_user(actor=alice, email="nina@example.com")
    with mock.patch("django.core.signing.time.time", lambda: real() + 8 * 24 * 3600):
        r = Client().get(_link_path(link))
        assert r.status_code == 422 and "expired" in r.content.decode()
        r = Client().post(
            _link_path(link), {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
        )
        assert r.status_code == 422
    assert not User.objects.get(username="nina@example.com").is_active


def test_resent_invitation_replaces_the_old_link(alice):
    user = services.invite_user(actor=alice, email="nina@example.com")[0].user
    first = _link_path(re.search(r"https?://\S+/", mail.outbox[0].body)[0])
    r = client_for(alice).post(f"/settings/users/{user.public_id}/reinvite/")
    assert r.status_code == 200
    second = _link_path(re.search(r"https?://\S+/", mail.outbox[1].body)[0])
    assert first != second
    assert Client().get(first).status_code == 404
    assert Client().get(second).status_code == 200


def test_withdrawn_invitation_stops_working(alice):
    invitation, link = services.invite_user(actor=alice, email="nina@example.com")
    r = client_for(alice).post(
        f"/settings/users/{invitation.user.public_id}/active/", {"active": "0"}
    )
    assert r.status_code == 302
    assert Client().get(_link_path(link)).status_code == 404
    listing = client_for(alice).get("/settings/users/").content.decode()
    assert "Deactivated" in listing


def test_change_role_keeps_superuser_in_step(alice, bob):
    r = client_for(alice).post(f"/settings/users/{bob.public_id}/role/", {"role": "admin"})
    assert r.status_code == 302
    bob.refresh_from_db()
    assert bob.role == "admin" and bob.is_superuser
    client_for(alice).post(f"/settings/users/{bob.public_id}/role/", {"role": "viewer"})
    bob.refresh_from_db()
    assert bob.role == "viewer" and not bob.is_superuser


def test_bad_role_is_422(alice, bob):
    r = client_for(alice).post(f"/settings/users/{bob.public_id}/role/", {"role": "wizard"})
    assert r.status_code == 422
    bob.refresh_from_db()
    assert bob.role == "agent"


def test_last_admin_cannot_be_demoted_or_deactivated(alice, bob):
    r = client_for(alice).post(f"/settings/users/{alice.public_id}/role/", {"role": "manager"})
    assert r.status_code == 422 and "last active admin" in r.content.decode()
    alice.refresh_from_db()
    assert alice.role == "admin"
    with pytest.raises(ValidationFailed):
        services.set_user_active(actor=bob, user=alice, active=False)
    # With a second admin, either may step down.
    services.change_role(actor=alice, user=bob, role=Role.ADMIN)
    services.change_role(actor=alice, user=alice, role=Role.MANAGER)
    alice.refresh_from_db()
    assert alice.role == "manager" and not alice.is_superuser


def test_nobody_deactivates_themselves(alice, bob):
    services.change_role(actor=alice, user=bob, role=Role.ADMIN)
    r = client_for(alice).post(f"/settings/users/{alice.public_id}/active/", {"active": "0"})
    assert r.status_code == 422 and "cannot deactivate yourself" in r.content.decode()
    alice.refresh_from_db()
    assert alice.is_active


def test_deactivate_and_reactivate(alice, bob):
    client = client_for(bob)
    assert client.get("/people/").status_code == 200
    r = client_for(alice).post(f"/settings/users/{bob.public_id}/active/", {"active": "0"})
    assert r.status_code == 302
    bob.refresh_from_db()
    assert not bob.is_active
    # The open session stops working and the password no longer logs in.
    assert client.get("/people/").status_code == 302
    assert not Client().login(username="bob", password=PASSWORD)
    client_for(alice).post(f"/settings/users/{bob.public_id}/active/", {"active": "1"})
    bob.refresh_from_db()
    assert bob.is_active and Client().login(username="bob", password=PASSWORD)


def test_invited_user_is_reactivated_only_by_a_new_invitation(alice):
    user = services.invite_user(actor=alice, email="nina@example.com")[0].user
    services.set_user_active(actor=alice, user=user, active=False)
    with pytest.raises(ValidationFailed):
        services.set_user_active(actor=alice, user=user, active=True)


def test_portal_users_are_not_staff_settings(alice, carol):
    r = client_for(alice).post(f"/settings/users/{carol.public_id}/role/", {"role": "admin"})
    assert r.status_code == 404
    with pytest.raises(NotFound):
        services.change_role(actor=alice, user=carol, role=Role.ADMIN)
    carol.refresh_from_db()
    assert carol.role == "viewer" and not carol.is_superuser
