"""The portal's layout and where customers land: the portal home, never the staff UI."""

from __future__ import annotations

from django.test import Client

from tests.conftest import PASSWORD, client_for


def test_portal_home_renders_the_layout_and_navigation(carol):
    html = client_for(carol).get("/portal/").content.decode()
    for label in (
        "Home",
        "My cases",
        "Community",
        "Ideas",
        "My groups",
        "Notifications",
        "Profile",
        "Log out",
    ):
        assert f">{label}" in html, label
    assert "/static/portal/portal.css" in html
    assert "<script>" not in html  # no inline scripts (CSP)


def test_anonymous_visitor_is_sent_to_the_portal_login():
    response = Client().get("/portal/cases/")
    assert response.status_code == 302
    assert response["Location"].startswith("/portal/login/?next=/portal/cases/")


def test_staff_get_404_on_portal_pages(bob):
    assert client_for(bob).get("/portal/").status_code == 404


def test_customer_logging_in_on_the_staff_form_lands_in_the_portal(carol):
    client = Client()
    response = client.post("/login/", {"username": "carol", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/portal/"
    assert client.get("/").url == "/portal/"


def test_customer_logging_in_on_the_portal_form(carol):
    client = Client()
    response = client.post("/portal/login/", {"email": "carol", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/portal/"
    assert client.get("/portal/").status_code == 200


def test_staff_pages_send_customers_to_the_portal(carol, alice):
    from tests.conftest import make_person

    other = make_person(alice, given="Other", family="Person")
    client = client_for(carol)
    for url in ("/people/", f"/people/{other.public_id}/", "/service/", "/sales/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == "/portal/", url
        assert b"Other" not in response.content


def test_logout_is_post_only(carol):
    client = client_for(carol)
    assert client.get("/portal/logout/").status_code == 405
    assert client.post("/portal/logout/").status_code == 302
    assert client.get("/portal/").status_code == 302


def test_nav_links_to_the_community_pages_and_they_use_the_portal_layout(carol):
    client = client_for(carol)
    html = client.get("/portal/").content.decode()
    assert 'href="/community/"' in html
    assert 'href="/community/mine/"' in html and "My questions and answers" in html
    community = client.get("/community/")
    assert community.status_code == 200
    assert "/static/portal/portal.css" in community.content.decode()


def test_nav_links_to_the_idea_pages_and_they_use_the_portal_layout(carol):
    client = client_for(carol)
    html = client.get("/portal/").content.decode()
    assert 'href="/ideas/"' in html
    assert 'href="/ideas/mine/"' in html and "My ideas and votes" in html
    ideas = client.get("/ideas/mine/")
    assert ideas.status_code == 200
    assert "/static/portal/portal.css" in ideas.content.decode()
    assert 'href="/ideas/mine/" aria-current="page"' in ideas.content.decode()
