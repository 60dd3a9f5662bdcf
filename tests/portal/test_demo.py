"""The portal's part of ``kith demo``: carol finds cases, one rated, and deflection records."""

from __future__ import annotations

import datetime as dt

from kith.community import services as community_services
from kith.portal import demo
from kith.service.models import Case, CsatResponse, Deflection
from tests.conftest import client_for


def test_load_gives_carol_cases_and_deflections_and_wipe_removes_them(alice, bob, carol):
    space = community_services.create_space(actor=alice, name="Help", audience="public")
    topic = community_services.create_topic(
        actor=alice, space=space, title="How to export contacts", body="Which menu?"
    )
    answer = community_services.reply(actor=bob, topic=topic, body="Use Export in the list.")
    community_services.accept_answer(actor=alice, answer=answer)

    summary = demo.load(seed=7, anchor=dt.date(2026, 1, 15))
    assert summary.startswith("portal: 2 cases for carol")
    cases = Case.objects.filter(requester=carol.person)
    assert cases.count() == 2
    assert CsatResponse.objects.get(case__in=cases).rating == 5
    assert Deflection.objects.filter(user=carol).count() == 1
    page = client_for(carol).get("/portal/cases/?status=all").content.decode()
    assert "CSV export cuts accented names" in page
    waiting = cases.get(subject="CSV export cuts accented names")
    detail = client_for(carol).get(f"/portal/cases/{waiting.public_id}/").content.decode()
    assert "which program" in detail and "Internal:" not in detail

    demo.wipe()
    assert not Deflection.objects.exists()


def test_load_without_the_demo_logins_adds_nothing(db):
    assert demo.load(seed=1, anchor=dt.date(2026, 1, 15)).startswith("portal: no demo customer")
    assert not Case.objects.exists()
