"""The record page leads with the timeline, above the long panels."""

import pytest

from kith.people import services
from kith.people.views import party_url
from kith.web import panels
from tests.conftest import client_for, make_org, make_person, party_page

pytestmark = pytest.mark.django_db


@pytest.fixture
def deals_panel():
    def render(request, party):
        return '<section id="deals-panel">Deals</section>'

    panels.register("party", "test.layout-deals", render, order=20)
    yield
    panels._panels.pop(("party", "test.layout-deals"), None)


def test_the_person_timeline_comes_before_the_main_panels(alice, deals_panel):
    ana = make_person(alice)
    html = party_page(alice, ana)
    assert html.index('id="timeline"') < html.index('id="deals-panel"')
    # Still after the header, and the profile stays in the side column.
    assert html.index("<h1>") < html.index('id="timeline"')
    assert html.index('class="detail-main"') < html.index('id="timeline"')


def test_the_organisation_timeline_comes_before_its_people(alice):
    acme = make_org(alice)
    ana = make_person(alice)
    services.add_relationship(actor=alice, subject=ana, role="employee", object=acme)
    response = client_for(alice).get(party_url(acme))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index('id="timeline"') < html.index('id="people-h"')


def test_the_stylesheet_puts_the_main_column_first_on_phones():
    from pathlib import Path

    import kith

    css = (Path(kith.__file__).parent / "web/static/kith/kith.css").read_text()
    phone = css.split("@media (max-width: 959.98px)")[1].split("}")[0]
    assert ".detail-main { order: -1;" in phone
