"""The cases panel on a person's page, and the worker's SLA clock."""

import pytest

from kith.core import worker
from kith.service.models import Case
from tests.conftest import client_for, party_page

pytestmark = pytest.mark.django_db


def test_requester_page_lists_the_cases_the_reader_may_see(alice, bob, ana, new_case, other_queue):
    mine = new_case(subject="Printer is on fire")
    hidden = new_case(subject="Invoice twice", queue=other_queue)
    html = party_page(alice, ana)
    assert 'id="cases-panel"' in html
    assert mine.subject in html and hidden.subject in html
    # bob works the Support queue only: the Billing case stays out of his view.
    html = party_page(bob, ana)
    assert mine.subject in html and hidden.subject not in html
    assert f"requester={ana.public_id}" in html


def test_the_case_list_filters_by_requester(alice, ana, new_case):
    from tests.conftest import make_person

    other = make_person(alice, given="Bea", family="Souza", email="bea@example.com")
    new_case(subject="Ana's problem")
    new_case(subject="Bea's problem", requester=other)
    html = client_for(alice).get(f"/service/?status=all&requester={ana.public_id}").content.decode()
    assert "Ana&#x27;s problem" in html and "Bea&#x27;s problem" not in html


def test_the_worker_checks_sla_breaches_periodically(new_case):
    from django.core.cache import cache

    assert "service.check_breaches" in worker.periodic_jobs()
    case = new_case()  # created on a past Monday: its targets are long gone
    cache.delete("kith:periodic:service.check_breaches")
    assert "service.check_breaches" in worker.run_due_jobs()
    assert Case.objects.get(pk=case.pk).breaches.exists()
