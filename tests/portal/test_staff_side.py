"""The staff side of the portal: the case-sharing switch of an organisation, and the
portal panel on party pages."""

from __future__ import annotations

import json

from kith.core.models import AuditEntry
from tests.conftest import ApiClient, client_for


def test_a_manager_switches_case_sharing_on_the_organisation_page(alice, globex, gina):
    client = client_for(alice)
    page = client.get(f"/organizations/{globex.public_id}/").content.decode()
    assert "only their own cases" in page
    response = client.post(
        f"/portal/staff/organizations/{globex.public_id}/case-sharing/", {"enabled": "1"}
    )
    assert response.status_code == 302
    globex.refresh_from_db()
    assert globex.portal_shares_cases is True
    assert AuditEntry.objects.filter(action="organization.portal_sharing_changed").count() == 1
    assert "all its cases" in client.get(f"/organizations/{globex.public_id}/").content.decode()
    # The person page shows the portal login.
    assert "Has a portal login" in client.get(f"/people/{gina.person.public_id}/").content.decode()


def test_agents_and_customers_cannot_switch_it(bob, globex, gina):
    assert (
        client_for(bob)
        .post(f"/portal/staff/organizations/{globex.public_id}/case-sharing/", {"enabled": "1"})
        .status_code
        == 403
    )
    customer = client_for(gina).post(
        f"/portal/staff/organizations/{globex.public_id}/case-sharing/", {"enabled": "1"}
    )
    assert customer.status_code == 302 and customer["Location"] == "/portal/"
    globex.refresh_from_db()
    assert globex.portal_shares_cases is False


def _put(user, url: str, data: dict):
    api = ApiClient(user)
    return api.client.put(
        url, json.dumps(data), content_type="application/json", headers=api.headers
    )


def test_the_api_switch(alice, bob, globex):
    url = f"/api/organizations/{globex.public_id}/portal-case-sharing"
    assert _put(bob, url, {"enabled": True}).status_code == 403
    response = _put(alice, url, {"enabled": True})
    assert response.status_code == 200 and response.json() == {"enabled": True}
    bad = _put(alice, url, {"enabled": "maybe"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "enabled"
    globex.refresh_from_db()
    assert globex.portal_shares_cases is True
