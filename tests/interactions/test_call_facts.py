"""A call (or meeting) carries its duration and outcome: logged from the person page and
the API, shown on the timeline, refused on other channels with the field named."""

from __future__ import annotations

import pytest

from kith.core.errors import ValidationFailed
from kith.interactions import services
from kith.interactions.models import Interaction
from tests.conftest import ApiClient, client_for, make_person


def test_a_call_has_a_duration_and_an_outcome(alice):
    ana = make_person(alice)
    call, _ = services.log_interaction(
        actor=alice,
        party=ana,
        channel="call",
        summary="Renewal call",
        duration_seconds=750,
        outcome="connected",
    )
    assert (call.duration_seconds, call.get_outcome_display()) == (750, "Connected")
    for kwargs, field in (
        ({"channel": "email", "outcome": "connected"}, "outcome"),
        ({"channel": "call", "outcome": "exploded"}, "outcome"),
        ({"channel": "call", "duration_seconds": 90_000}, "duration_seconds"),
        ({"channel": "call", "duration_seconds": -1}, "duration_seconds"),
    ):
        with pytest.raises(ValidationFailed) as exc:
            services.log_interaction(actor=alice, party=ana, summary="x", **kwargs)
        assert field in [e.field for e in exc.value.errors], kwargs


def test_logged_from_the_person_page_and_shown_on_the_timeline(alice):
    ana = make_person(alice)
    client = client_for(alice)
    url = f"/parties/{ana.public_id}/interactions/"
    response = client.post(
        url,
        {
            "channel": "call",
            "direction": "out",
            "summary": "Discussed pricing",
            "duration_minutes": "12",
            "outcome": "connected",
        },
    )
    assert response.status_code in (200, 302)
    call = Interaction.objects.get(party=ana, summary="Discussed pricing")
    assert call.duration_seconds == 720 and call.outcome == "connected"
    page = client.get(f"/people/{ana.public_id}/").content.decode()
    assert "12 min · Connected" in page
    bad = client.post(
        url, {"channel": "email", "direction": "out", "summary": "x", "outcome": "busy"}
    )
    assert bad.status_code == 422 and "Only calls and meetings" in bad.content.decode()


def test_the_api_takes_and_returns_them(alice):
    ana = make_person(alice)
    api = ApiClient(alice)
    created = api.post(
        f"/api/parties/{ana.public_id}/interactions",
        {
            "channel": "call",
            "summary": "Quick check-in",
            "duration_seconds": 95,
            "outcome": "voicemail",
        },
    )
    assert created.status_code == 201, created.content
    assert created.json()["duration_seconds"] == 95 and created.json()["outcome"] == "voicemail"
    refused = api.post(
        f"/api/parties/{ana.public_id}/interactions",
        {"channel": "call", "summary": "x", "outcome": "nope"},
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "outcome"
