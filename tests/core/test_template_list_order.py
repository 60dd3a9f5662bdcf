"""Every list a template walks through a relation (``{% for x in obj.things.all %}``)
comes out in a fixed order.

Without an ORDER BY, PostgreSQL returns rows in whatever order its plan and the table's
physical layout give (an update moves a row), so a page's teams, files or agents would
shuffle between loads and tests comparing them would flake. A relation walked this way
needs a ``Meta.ordering`` on its model, or the view must prefetch it ordered: then it is
listed below with the place that orders it, and a test of that page checks the order.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.apps import apps
from django.db.models import Model

import kith
from kith.accounts.models import Role, User
from kith.service.models import Queue
from tests.conftest import client_for

TEMPLATE_ROOT = Path(kith.__file__).parent
RELATION_LOOP = re.compile(r"{%\s*(?:for|if)\s[^%]*?\.(\w+)\.all(?!\w)")

# Relations whose model has no default order, ordered instead by the one view that
# walks them (each has a test of its order named here).
ORDERED_BY_THEIR_VIEW = {
    # service.views.settings: Prefetch("agents", User.objects.order_by("username"));
    # tests/core/test_template_list_order.py::test_queue_agents_are_listed_by_username
    "agents",
}


def _relation_loops() -> dict[tuple[str, str], set[str]]:
    """(template's app, relation name) -> the templates that walk it."""
    found: dict[tuple[str, str], set[str]] = {}
    for template in TEMPLATE_ROOT.glob("*/templates/**/*.html"):
        app = template.relative_to(TEMPLATE_ROOT).parts[0]
        for name in RELATION_LOOP.findall(template.read_text(encoding="utf-8")):
            found.setdefault((app, name), set()).add(str(template.relative_to(TEMPLATE_ROOT)))
    return found


def _models_behind(app: str, accessor: str) -> set[type[Model]]:
    """The models a relation called ``accessor`` (forward many-to-many or reverse) leads
    to: from the template's own app's models where one has it (a name like ``comments``
    exists in several apps), else from any model."""
    by_app: dict[str, set[type[Model]]] = {}
    for model in apps.get_models():
        for field in model._meta.get_fields():
            reverse = field.auto_created and not field.concrete
            if (reverse and field.get_accessor_name() == accessor) or (
                not reverse and field.many_to_many and field.name == accessor
            ):
                by_app.setdefault(model._meta.app_label, set()).add(field.related_model)
    if app in by_app:
        return by_app[app]
    return {target for targets in by_app.values() for target in targets}


def test_the_scan_finds_the_loops_it_guards():
    names = {name for _app, name in _relation_loops()}
    # The scan itself must work: these loops exist today, so an empty result is a bug here.
    assert {"teams", "attachments", "stages", "holidays", "comments", "tags"} <= names


def test_every_relation_a_template_walks_has_a_fixed_order():
    unordered = []
    for (app, accessor), templates in sorted(_relation_loops().items()):
        targets = _models_behind(app, accessor)
        assert targets, f"no model has a relation called {accessor!r} ({sorted(templates)})"
        if accessor in ORDERED_BY_THEIR_VIEW:
            continue
        for model in targets:
            if not model._meta.ordering:
                unordered.append(f"{model._meta.label} via .{accessor}.all in {sorted(templates)}")
    assert not unordered, "relations listed in no fixed order:\n" + "\n".join(unordered)


def test_queue_agents_are_listed_by_username(alice):
    """The one relation ordered by its view rather than its model keeps that order."""
    queue = Queue.objects.create(name="Billing")
    for username in ("zed", "mia", "abe"):
        queue.agents.add(User.objects.create_user(username=username, password="x", role=Role.AGENT))
    page = client_for(alice).get("/service/settings/").content.decode()
    row = page[page.index("Billing") :]
    assert row.index("abe") < row.index("mia") < row.index("zed")
