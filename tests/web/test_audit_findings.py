"""Audit findings in kith.web: the global search must not name records the reader
may not see."""

from __future__ import annotations

from kith.sales import services as sales_services
from kith.web import global_search
from tests.conftest import make_org


def test_deal_hit_does_not_name_an_organisation_the_reader_cannot_see(alice, bob, dan):
    secret = make_org(dan, "Quokka Secret Holdings", owner=dan, visibility="private")
    sales_services.create_deal(
        actor=alice,
        data={"title": "Quokka expansion", "organization": secret, "visibility": "everyone"},
    )
    groups = {g.key: g for g in global_search.search_everything(bob, "Quokka expansion")}
    hits = groups["deals"].hits
    assert [h.title for h in hits] == ["Quokka expansion"]
    assert "Secret Holdings" not in hits[0].subtitle
    # Someone who may see the organisation still gets its name.
    mine = {g.key: g for g in global_search.search_everything(dan, "Quokka expansion")}
    assert "Quokka Secret Holdings" in mine["deals"].hits[0].subtitle
