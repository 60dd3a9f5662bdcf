"""Deleting a case from its page: the API's rule (admins and managers who may change
the case), into the trash, the queue says so with Undo, and Undo brings it back."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from kith.accounts import services as account_services
from kith.accounts.models import Role
from kith.core.models import TrashItem
from kith.service import services
from kith.service.models import Case
from tests.conftest import PASSWORD, client_for

pytestmark = pytest.mark.django_db


def _delete_url(case: Case) -> str:
    return f"/service/cases/{case.public_id}/delete/"


def _case_url(case: Case) -> str:
    return f"/service/cases/{case.public_id}/"


def test_a_manager_deletes_from_the_case_page_and_undo_restores_it(mia, new_case):
    case = new_case(subject="Printer is on fire")
    client = client_for(mia)
    page = client.get(_case_url(case)).content.decode()
    assert _delete_url(case) in page and 'data-testid="delete-case"' in page

    r = client.post(_delete_url(case), follow=True)
    assert r.redirect_chain == [("/service/", 302)]
    assert not Case.objects.filter(pk=case.pk).exists()
    item = TrashItem.objects.get(kind="case")
    assert item.label == f"#{case.number} Printer is on fire"
    html = r.content.decode()
    assert f"Case #{case.number} “Printer is on fire” deleted." in html
    assert 'data-testid="undo-delete"' in html
    assert f"/trash/{item.public_id}/restore/" in html
    # Gone from the queue (the message names it; no row links to it).
    assert _case_url(case) not in html
    assert client.get(_case_url(case)).status_code == 404

    # The Undo button in the message restores it, with its number and subject.
    undo = re.search(r'action="([^"]+/restore/)"', html)[1]
    back = client.post(undo, follow=True)
    assert back.redirect_chain[-1][0] == _case_url(case)
    restored = Case.objects.get(public_id=case.public_id)
    assert (restored.number, restored.subject) == (case.number, "Printer is on fire")
    assert not TrashItem.objects.filter(kind="case").exists()
    assert _case_url(case) in client.get("/service/").content.decode()


def test_an_admin_may_delete_too(alice, new_case):
    case = new_case()
    r = client_for(alice).post(_delete_url(case))
    assert r.status_code == 302 and r["Location"] == "/service/"
    assert TrashItem.objects.filter(kind="case").count() == 1


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("bob", 403),  # an agent of the case's queue: may change it, not delete it
        ("vic", 404),  # a viewer outside the queue does not see it
        ("other_agent", 404),  # an agent of another queue does not see it
        ("viewer_in_queue", 403),  # a viewer who sees it cannot change it
    ],
)
def test_those_who_may_not_delete_get_403_or_404_and_nothing_changes(
    request, who, status, new_case, alice, vic, bob
):
    case = new_case()
    if who == "other_agent":
        user = account_services.create_user(
            actor=None, username="olga", password=PASSWORD, role=Role.AGENT
        )
        services.create_queue(actor=alice, name="Billing", agents=[user])
    elif who == "viewer_in_queue":
        case.queue.agents.add(vic)
        user = vic
    else:
        user = request.getfixturevalue(who)
    client = client_for(user)
    assert client.post(_delete_url(case)).status_code == status
    assert Case.objects.filter(pk=case.pk).exists()
    assert not TrashItem.objects.exists()
    if status == 403:  # sees the page, without the control
        page = client.get(_case_url(case))
        assert page.status_code == 200
        html = page.content.decode()
        assert _delete_url(case) not in html and 'data-testid="delete-case"' not in html


def test_get_is_405_and_deletes_nothing(mia, new_case):
    case = new_case()
    assert client_for(mia).get(_delete_url(case)).status_code == 405
    assert Case.objects.filter(pk=case.pk).exists()


def test_anonymous_and_customers_are_sent_away(carol, new_case):
    case = new_case()
    anonymous = Client().post(_delete_url(case))
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    customer = client_for(carol).post(_delete_url(case))
    assert customer.status_code == 302 and customer["Location"].rstrip("/").endswith("/portal")
    assert Case.objects.filter(pk=case.pk).exists()


def test_an_htmx_delete_redirects_the_whole_page(mia, new_case):
    case = new_case()
    r = client_for(mia).post(_delete_url(case), headers={"HX-Request": "true"})
    assert r.status_code == 200 and r["HX-Redirect"] == "/service/"
    assert not Case.objects.filter(pk=case.pk).exists()
