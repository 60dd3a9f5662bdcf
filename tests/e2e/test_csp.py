"""In a real browser, under the Content-Security-Policy: the main pages load without a
single violation, the behaviour moved out of inline handlers still works, and a post with
a remote image makes the browser fetch nothing from outside."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import Page, expect

from kith.accounts import services as account_services
from kith.accounts.models import Role
from kith.collab import services as collab_services
from kith.sales import services as sales_services
from kith.sales.models import Deal
from tests.conftest import PASSWORD, make_person

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def data():
    alice = account_services.create_user(
        actor=None, username="alice", password=PASSWORD, role=Role.ADMIN
    )
    ana = make_person(alice, given="Ana", family="Lima")
    deal = sales_services.create_deal(
        actor=alice,
        data={
            "title": "Acme platform",
            "person": ana,
            "amount": "1000",
            "currency": "EUR",
            "expected_close_date": dt.date.today(),
        },
    )
    return {"alice": alice, "ana": ana, "deal": deal}


def _watch(page: Page) -> tuple[list[str], list[str]]:
    """Collect CSP violations (console) and every request that leaves the live server."""
    violations: list[str] = []
    outside: list[str] = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return violations, outside


def _log_in(page: Page) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))


def test_main_pages_load_without_csp_violations(new_page, data):
    page = new_page()
    violations, _ = _watch(page)
    _log_in(page)
    paths = [
        "/people/",
        f"/people/{data['ana'].public_id}/",
        "/organizations/",
        "/sales/",
        f"/sales/deals/{data['deal'].public_id}/",
        "/sales/forecast/",
        "/service/",
        "/work/",
        "/work/calendar/",
        "/collab/",
        "/import/",
        "/api/docs",
    ]
    for path in paths:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        assert response.headers["content-security-policy"].startswith("default-src 'self'")
        page.wait_for_load_state("networkidle")
    assert violations == []


def test_confirm_and_select_behaviour_moved_to_static_js(new_page, data):
    page = new_page()
    violations, _ = _watch(page)
    _log_in(page)
    page.goto(f"/sales/deals/{data['deal'].public_id}/")
    seen = []
    page.once("dialog", lambda dialog: (seen.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Delete").click()
    assert seen == ["Delete this deal?"]
    assert Deal.objects.filter(pk=data["deal"].pk).exists()  # dismissed: nothing deleted
    page.goto("/work/calendar/")
    feed = page.locator("[data-select-on-focus]")
    if feed.count():
        feed.focus()
        selected = page.evaluate(
            "() => { const f = document.querySelector('[data-select-on-focus]');"
            " return f.selectionEnd - f.selectionStart; }"
        )
        assert selected == len(feed.input_value())
    assert violations == []


def test_a_post_with_a_remote_image_fetches_nothing_remote(new_page, data, live_server):
    collab_services.create_post(
        actor=data["alice"],
        target=data["ana"],
        body='Look ![pixel](http://tracker.invalid/p.gif) and <img src="http://tracker.invalid/q.gif">',
    )
    page = new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    _log_in(page)
    page.goto(f"/people/{data['ana'].public_id}/")
    expect(page.get_by_role("link", name="pixel")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert not [url for url in requests if "tracker.invalid" in url]
    assert all(url.startswith(live_server.url) or url.startswith("data:") for url in requests)
