"""Record-page panels: other apps add sections to a person's page, each with its own access."""

import pytest

from kith.web import panels
from tests.conftest import client_for, make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def registered():
    saved = dict(panels._panels)
    yield
    panels._panels.clear()
    panels._panels.update(saved)


def test_panels_render_in_their_column_and_order_and_may_hide(alice, vic, registered):
    person = make_person(alice, given="Panel", family="Person")

    def deals(request, party):
        return f'<section id="deals-panel">Deals of {party.display_name}</section>'

    def secret(request, party):
        shown = request.user.can_write
        return "<section id='secret-panel'>writers only</section>" if shown else None

    panels.register("party", "test.deals", deals, order=20)
    panels.register("party", "test.first", lambda r, p: "<section id='first'>1</section>", order=10)
    panels.register("party", "test.secret", secret, column="side")
    url = f"/people/{person.public_id}/"

    html = client_for(alice).get(url).content.decode()
    assert "Deals of Panel Person" in html and "writers only" in html
    assert html.index("id='first'") < html.index('id="deals-panel"')
    # A side panel sits before the main column's timeline.
    assert html.index("secret-panel") < html.index('id="deals-panel"')

    html = client_for(vic).get(url).content.decode()
    assert "Deals of Panel Person" in html and "writers only" not in html


def test_register_rejects_an_unknown_column(registered):
    with pytest.raises(ValueError):
        panels.register("party", "x", lambda r, p: None, column="footer")


def dotted_renderer(request, party):
    return f"<section id='dotted'>by path: {party.display_name}</section>"


def test_a_panel_registered_by_dotted_path_renders(alice, registered):
    person = make_person(alice, given="Dotted", family="Path")
    panels.register("party", "test.dotted", "tests.web.test_panels.dotted_renderer")
    html = client_for(alice).get(f"/people/{person.public_id}/").content.decode()
    assert "by path: Dotted Path" in html


def test_start_up_imports_no_views():
    # Every command (kith import, the worker, the bulk process) runs every app's ready();
    # the apps' views, ninja schemas and templates load with the first page instead.
    import os
    import subprocess
    import sys

    code = (
        "import django, sys; django.setup(); "
        "print(sorted(m for m in sys.modules if m.startswith('kith.') and 'views' in m))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "kith.settings"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout
