"""The pipelines page: managers and admins change pipelines and stages through the services.

Viewers and agents see the pipelines read-only (403 on every change), portal users find
nothing (404). Failing forms come back 422 with the field's error next to it; refused
deletes come back with the service's reason.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from kith.sales.models import Pipeline, Stage

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "pipeline-admin"}


@pytest.fixture
def web():
    def login(user) -> Client:
        c = Client()
        c.force_login(user)
        return c

    return login


def _names(pipeline: Pipeline) -> list[str]:
    return list(pipeline.stages.order_by("order", "id").values_list("name", flat=True))


# ---------------------------------------------------------------- roles


@pytest.mark.parametrize("who", ["alice", "mia"])
def test_managers_see_the_forms(request, web, who, pipeline):
    body = web(request.getfixturevalue(who)).get(reverse("sales:pipelines")).content.decode()
    assert "Create pipeline" in body and "Add stage" in body
    assert reverse("sales:stage_move", args=[pipeline.stages.first().public_id]) in body


@pytest.mark.parametrize("who", ["bob", "vic"])
def test_agents_and_viewers_read_only(request, web, who, pipeline, stages):
    c = web(request.getfixturevalue(who))
    page = c.get(reverse("sales:pipelines"))
    body = page.content.decode()
    assert page.status_code == 200
    assert "Negotiation" in body and "75%" in body
    assert "Create pipeline" not in body and "Add stage" not in body
    lead = stages["Lead"]
    attempts = [
        (reverse("sales:pipelines"), {"name": "X", "first_stage": "A", "first_probability": 5}),
        (reverse("sales:pipeline_edit", args=[pipeline.public_id]), {"name": "Renamed"}),
        (reverse("sales:pipeline_delete", args=[pipeline.public_id]), {}),
        (
            reverse("sales:stage_add", args=[pipeline.public_id]),
            {"name": "New", "probability": 5, "outcome": "open"},
        ),
        (
            reverse("sales:stage_edit", args=[lead.public_id]),
            {"name": "Lead2", "probability": 5, "outcome": "open"},
        ),
        (reverse("sales:stage_move", args=[lead.public_id]), {"direction": "down"}),
        (reverse("sales:stage_delete", args=[lead.public_id]), {}),
    ]
    for url, data in attempts:
        assert c.post(url, data).status_code == 403, url
    pipeline.refresh_from_db()
    assert pipeline.name != "Renamed" and not Pipeline.objects.filter(name="X").exists()
    assert _names(pipeline) == ["Lead", "Qualified", "Proposal", "Negotiation", "Won", "Lost"]


def test_portal_users_are_sent_to_the_portal(web, carol, pipeline, stages):
    c = web(carol)
    for response in (
        c.get(reverse("sales:pipelines")),
        c.post(reverse("sales:pipeline_edit", args=[pipeline.public_id]), {"name": "Z"}),
        c.post(reverse("sales:stage_delete", args=[stages["Lead"].public_id])),
    ):
        assert response.status_code == 302 and response["Location"] == "/portal/"
    assert Stage.objects.filter(pk=stages["Lead"].pk).exists()


def test_anonymous_is_sent_to_login(pipeline):
    r = Client().get(reverse("sales:pipelines"))
    assert r.status_code == 302 and "login" in r["Location"]


# ---------------------------------------------------------------- pipelines


def test_create_rename_and_delete_a_pipeline(web, mia):
    c = web(mia)
    r = c.post(
        reverse("sales:pipelines"),
        {"name": "Renewals", "first_stage": "Due", "first_probability": 60},
    )
    assert r.status_code == 302
    created = Pipeline.objects.get(name="Renewals")
    assert _names(created) == ["Due"] and created.stages.get().probability == 60
    assert not created.is_default

    r = c.post(
        reverse("sales:pipeline_edit", args=[created.public_id]),
        {"name": "Renewals 2027", "active": "on"},
        **HTMX,
    )
    assert r.status_code == 200 and "Renewals 2027" in r.content.decode()
    created.refresh_from_db()
    assert created.name == "Renewals 2027" and created.active

    r = c.post(reverse("sales:pipeline_delete", args=[created.public_id]))
    assert r.status_code == 302
    assert not Pipeline.objects.filter(pk=created.pk).exists()


def test_new_pipeline_errors_show_on_their_fields(web, alice, pipeline):
    c = web(alice)
    r = c.post(
        reverse("sales:pipelines"),
        {"name": pipeline.name.upper(), "first_stage": "A", "first_probability": 150},
        **HTMX,
    )
    body = r.content.decode()
    assert r.status_code == 422
    assert body.lstrip().startswith('<div id="pipeline-admin">')  # the fragment, not the page
    assert 'id="id_new_first_probability_error"' in body  # the form's 0–100 check
    r = c.post(
        reverse("sales:pipelines"),
        {"name": pipeline.name.upper(), "first_stage": "A", "first_probability": 10},
        **HTMX,
    )
    body = r.content.decode()
    assert r.status_code == 422  # the service's unique-name rule
    assert 'id="id_new_name_error"' in body and "Another pipeline has this name." in body
    assert Pipeline.objects.count() == 1


def test_rename_to_a_taken_name_is_refused_inline(web, mia, pipeline):
    other = web(mia)
    other.post(
        reverse("sales:pipelines"),
        {"name": "Renewals", "first_stage": "Due", "first_probability": 50},
    )
    renewals = Pipeline.objects.get(name="Renewals")
    r = other.post(
        reverse("sales:pipeline_edit", args=[renewals.public_id]), {"name": pipeline.name}, **HTMX
    )
    key = renewals.public_id.hex
    assert r.status_code == 422
    assert f'id="id_{key}_name_error"' in r.content.decode()
    renewals.refresh_from_db()
    assert renewals.name == "Renewals"


def test_delete_pipeline_with_deals_is_refused(web, mia, make_deal, pipeline):
    make_deal()
    c = web(mia)
    plain = c.post(reverse("sales:pipeline_delete", args=[pipeline.public_id]))
    assert plain.status_code == 409
    assert "This pipeline has deals" in plain.content.decode()
    with_htmx = c.post(reverse("sales:pipeline_delete", args=[pipeline.public_id]), **HTMX)
    assert with_htmx.status_code == 422  # the status htmx swaps, so the reason shows
    assert "This pipeline has deals" in with_htmx.content.decode()
    assert Pipeline.objects.filter(pk=pipeline.pk).exists()


# ---------------------------------------------------------------- stages


def test_add_and_edit_a_stage(web, alice, pipeline, stages):
    c = web(alice)
    r = c.post(
        reverse("sales:stage_add", args=[pipeline.public_id]),
        {"name": "Demo", "probability": 40, "outcome": "open"},
    )
    assert r.status_code == 302
    demo = pipeline.stages.get(name="Demo")
    assert demo.probability == 40 and not demo.is_closed
    assert _names(pipeline)[-1] == "Demo"

    r = c.post(
        reverse("sales:stage_edit", args=[demo.public_id]),
        {"name": "Demo call", "probability": 45, "outcome": "lost"},
        **HTMX,
    )
    assert r.status_code == 200
    demo.refresh_from_db()
    assert (demo.name, demo.probability, demo.is_lost, demo.is_won) == (
        "Demo call",
        45,
        True,
        False,
    )


def test_stage_validation_errors_show_the_field(web, mia, pipeline, stages):
    c = web(mia)
    add = c.post(
        reverse("sales:stage_add", args=[pipeline.public_id]),
        {"name": "lead", "probability": 101, "outcome": "open"},
        **HTMX,
    )
    key = pipeline.public_id.hex
    body = add.content.decode()
    assert add.status_code == 422
    assert f'id="id_add{key}_probability_error"' in body  # the form's 0–100 check
    add = c.post(
        reverse("sales:stage_add", args=[pipeline.public_id]),
        {"name": "lead", "probability": 5, "outcome": "open"},
        **HTMX,
    )
    assert add.status_code == 422  # the service's duplicate-name rule
    assert f'id="id_add{key}_name_error"' in add.content.decode()
    assert "already has a stage with this name" in add.content.decode()

    lead = stages["Lead"]
    edit = c.post(
        reverse("sales:stage_edit", args=[lead.public_id]),
        {"name": "", "probability": 10, "outcome": "open"},
    )
    assert edit.status_code == 422
    assert f'id="id_{lead.public_id.hex}_name_error"' in edit.content.decode()
    assert pipeline.stages.count() == 6


def test_outcome_change_refused_when_deals_are_in_the_stage(web, mia, make_deal, stages):
    lead = stages["Lead"]
    make_deal(stage=lead)
    r = web(mia).post(
        reverse("sales:stage_edit", args=[lead.public_id]),
        {"name": "Lead", "probability": 10, "outcome": "won"},
        **HTMX,
    )
    assert r.status_code == 422
    body = r.content.decode()
    assert f'id="id_{lead.public_id.hex}_outcome_error"' in body
    assert "its outcome cannot change" in body
    lead.refresh_from_db()
    assert not lead.is_won


def test_move_stages_up_and_down(web, mia, pipeline, stages):
    c = web(mia)
    url = reverse("sales:stage_move", args=[stages["Proposal"].public_id])
    assert c.post(url, {"direction": "up"}).status_code == 302
    assert _names(pipeline)[:3] == ["Lead", "Proposal", "Qualified"]
    r = c.post(url, {"direction": "up"}, **HTMX)
    assert r.status_code == 200
    assert _names(pipeline)[:3] == ["Proposal", "Lead", "Qualified"]
    # Already first: nothing moves, nothing breaks.
    assert c.post(url, {"direction": "up"}).status_code == 302
    assert _names(pipeline)[:3] == ["Proposal", "Lead", "Qualified"]
    lost = reverse("sales:stage_move", args=[stages["Lost"].public_id])
    c.post(lost, {"direction": "down"})
    assert _names(pipeline)[-1] == "Lost"
    c.post(reverse("sales:stage_move", args=[stages["Won"].public_id]), {"direction": "down"})
    assert _names(pipeline)[-2:] == ["Lost", "Won"]
    orders = list(pipeline.stages.order_by("order").values_list("order", flat=True))
    assert orders == [1, 2, 3, 4, 5, 6]
    bad = c.post(url, {"direction": "sideways"})
    assert bad.status_code == 422


def test_move_buttons_are_real_buttons(web, mia, pipeline, stages):
    body = web(mia).get(reverse("sales:pipelines")).content.decode()
    key = stages["Lead"].public_id.hex
    assert f'<button type="submit" name="direction" value="up" id="up-{key}"' in body
    assert 'aria-label="Move Lead down"' in body


def test_delete_stage(web, alice, pipeline):
    c = web(alice)
    c.post(
        reverse("sales:stage_add", args=[pipeline.public_id]),
        {"name": "Spare", "probability": 5, "outcome": "open"},
    )
    spare = pipeline.stages.get(name="Spare")
    r = c.post(reverse("sales:stage_delete", args=[spare.public_id]), **HTMX)
    assert r.status_code == 200 and "Spare" not in r.content.decode()
    assert not Stage.objects.filter(pk=spare.pk).exists()


def test_delete_stage_in_use_is_refused(web, mia, make_deal, stages):
    lead = stages["Lead"]
    make_deal(stage=lead)
    c = web(mia)
    r = c.post(reverse("sales:stage_delete", args=[lead.public_id]))
    assert r.status_code == 409
    assert "Deals are in this stage" in r.content.decode()
    r = c.post(reverse("sales:stage_delete", args=[lead.public_id]), **HTMX)
    assert r.status_code == 422 and "Deals are in this stage" in r.content.decode()
    assert Stage.objects.filter(pk=lead.pk).exists()


def test_last_open_stage_cannot_go(web, mia):
    c = web(mia)
    c.post(
        reverse("sales:pipelines"), {"name": "Tiny", "first_stage": "Only", "first_probability": 5}
    )
    only = Stage.objects.get(pipeline__name="Tiny")
    r = c.post(reverse("sales:stage_delete", args=[only.public_id]))
    assert r.status_code == 422 and "at least one open stage" in r.content.decode()
    assert Stage.objects.filter(pk=only.pk).exists()


def test_unknown_records_are_404(web, mia):
    import uuid

    c = web(mia)
    missing = uuid.uuid4()
    assert c.post(reverse("sales:stage_delete", args=[missing])).status_code == 404
    assert c.post(reverse("sales:pipeline_edit", args=[missing]), {"name": "x"}).status_code == 404
