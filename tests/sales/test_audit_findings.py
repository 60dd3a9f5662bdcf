"""Audit findings in kith.sales."""

from __future__ import annotations

from tests.conftest import client_for, make_org


def test_edit_form_does_not_name_an_organisation_the_editor_cannot_see(alice, bob, dan, make_deal):
    secret = make_org(dan, "Wombat Secret Corp", owner=dan, visibility="private")
    deal = make_deal(title="Open deal", organization=secret, owner=alice)
    page = client_for(bob).get(f"/sales/deals/{deal.public_id}/edit/")
    assert page.status_code == 200
    assert "Wombat Secret Corp" not in page.content.decode()
    # The admin still sees the name in the form.
    page = client_for(alice).get(f"/sales/deals/{deal.public_id}/edit/")
    assert "Wombat Secret Corp" in page.content.decode()
