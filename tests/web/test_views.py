"""The server-rendered web UI, driven through Django's test client.

Covers logging in (and the lock-out), the people list with filters and live search,
the record page (roles, timeline), inline validation (422), adding a role, merging,
permissions (viewer, portal user) and the import screen end to end.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from kith.interactions import services as interaction_services
from kith.interactions.models import Interaction
from kith.people import services
from kith.people.models import ImportJob, Party, Relationship, SavedView
from tests.conftest import PASSWORD, client_for, make_org, make_person

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def person_url(party: Party, name: str = "") -> str:
    return reverse(f"people:person{'_' + name if name else ''}", args=[party.public_id])


# ---------------------------------------------------------------- login


def test_login_page_and_successful_login(alice):
    client = Client()
    r = client.get("/login/")
    assert r.status_code == 200
    assert b'name="username"' in r.content
    r = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert r.status_code == 302
    r = client.get(r["Location"], follow=True)
    assert r.status_code == 200
    # Staff land on their dashboard.
    assert r.request["PATH_INFO"] == "/" and b"My day" in r.content


def test_login_keeps_a_safe_next_and_drops_an_external_one(alice):
    client = Client()
    r = client.post(
        "/login/", {"username": "alice", "password": PASSWORD, "next": "/organizations/"}
    )
    assert r["Location"] == "/organizations/"
    client = Client()
    r = client.post(
        "/login/", {"username": "alice", "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert r["Location"] == "/"


def test_wrong_password_shows_error_then_locks_out(alice, settings):
    client = Client()
    r = client.post("/login/", {"username": "alice", "password": "nope"})
    assert r.status_code == 422
    assert b"Wrong username or password." in r.content
    assert "_auth_user_id" not in client.session
    for _ in range(settings.KITH_LOGIN_MAX_FAILURES - 1):
        client.post("/login/", {"username": "alice", "password": "nope"})
    # Locked out now, even with the right password.
    r = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert r.status_code == 429
    assert b"Too many failed logins" in r.content
    assert "_auth_user_id" not in client.session


def test_logout_is_post_only(alice):
    client = client_for(alice)
    assert client.get("/logout/").status_code == 405
    r = client.post("/logout/")
    assert r.status_code == 302
    assert client.get("/people/").status_code == 302  # back to the login page


def test_pages_need_a_login():
    r = Client().get("/people/")
    assert r.status_code == 302
    assert r["Location"] == "/login/?next=/people/"
    # htmx asks for a full-page redirect rather than swapping the login form into a fragment.
    r = Client().get(
        "/people/", {"q": "a"}, headers={**HTMX, "HX-Current-URL": "http://testserver/people/"}
    )
    assert r["HX-Redirect"] == "/login/?next=/people/"


# ---------------------------------------------------------------- people list


@pytest.fixture
def crowd(alice):
    acme = make_org(alice, "Acme Ltd")
    ana = make_person(alice, given="Ana", family="Lima", email="ana@example.com")
    bea = make_person(alice, given="Bea", family="Souza", phone="+44 20 7946 0958")
    cid = make_person(alice, given="Cid", family="Moreno")
    services.add_relationship(actor=alice, subject=ana, role="customer", object=acme)
    services.add_relationship(actor=alice, subject=bea, role="employee", object=acme)
    services.update_party(
        actor=alice, party=cid, data=services.PartyInput(kind="person", tags=["vip"])
    )
    return {"acme": acme, "ana": ana, "bea": bea, "cid": cid}


def test_people_list_renders(alice, crowd):
    r = client_for(alice).get("/people/")
    assert r.status_code == 200
    body = r.content.decode()
    for name in ("Ana Lima", "Bea Souza", "Cid Moreno"):
        assert name in body
    assert "Customer of Acme Ltd" in body
    assert "/api/people/export.csv" in body


def test_people_list_filters_by_role_organisation_and_tag(alice, crowd):
    client = client_for(alice)
    body = client.get("/people/", {"role": "customer"}).content.decode()
    assert "Ana Lima" in body and "Bea Souza" not in body
    body = client.get("/people/", {"organization": str(crowd["acme"].public_id)}).content.decode()
    assert "Ana Lima" in body and "Bea Souza" in body and "Cid Moreno" not in body
    body = client.get("/people/", {"tag": "vip"}).content.decode()
    assert "Cid Moreno" in body and "Ana Lima" not in body
    # The export link carries the same filters.
    assert "/api/people/export.csv?tag=vip" in body


def test_people_list_bad_organisation_filter_is_a_422_not_a_500(alice, crowd):
    r = client_for(alice).get("/people/", {"organization": "not-a-uuid"})
    assert r.status_code == 422
    assert b"Must be an organisation id." in r.content


def test_search_fragment_for_htmx(alice, crowd):
    r = client_for(alice).get("/people/", {"q": "bea"}, headers={**HTMX, "HX-Target": "results"})
    assert r.status_code == 200
    body = r.content.decode()
    assert "Bea Souza" in body and "Ana Lima" not in body
    assert "<html" not in body  # only the results, not the page


def test_people_list_paginates_with_a_cursor(alice):
    for i in range(55):
        make_person(alice, given=f"P{i:02d}", family="Person")
    client = client_for(alice)
    r = client.get("/people/")
    body = r.content.decode()
    assert "P00 Person" in body and "P54 Person" not in body
    next_url = r.context["next_cursor"]
    assert next_url
    body = client.get("/people/", {"cursor": next_url}).content.decode()
    assert "P54 Person" in body and "P00 Person" not in body


def test_save_a_view_and_list_it(alice, crowd):
    client = client_for(alice)
    r = client.post(
        "/people/views/", {"name": "Our customers", "role": "customer", "list_name": "people"}
    )
    assert r.status_code == 302
    assert "role=customer" in r["Location"]
    view = SavedView.objects.get(user=alice)
    assert view.filters == {"role": "customer"}
    body = client.get("/people/").content.decode()
    assert "Our customers" in body
    # A nameless view is refused next to the field.
    r = client.post("/people/views/", {"name": " ", "role": "customer", "list_name": "people"})
    assert r.status_code == 422


def test_organisations_list(alice, crowd):
    r = client_for(alice).get("/organizations/")
    assert r.status_code == 200
    assert b"Acme Ltd" in r.content
    assert b"Ana Lima" not in r.content


# ---------------------------------------------------------------- record pages


def test_person_page_shows_roles_and_timeline(alice, crowd, django_capture_on_commit_callbacks):
    ana, acme = crowd["ana"], crowd["acme"]
    with django_capture_on_commit_callbacks(execute=True):
        rel = services.add_relationship(
            actor=alice,
            subject=ana,
            role="prospect",
            object=acme,
            valid_from=dt.date(2020, 1, 1),
            valid_to=dt.date(2021, 1, 1),
        )
    interaction_services.log_interaction(
        actor=alice, party=ana, channel="call", summary="Talked about renewals", direction="out"
    )
    r = client_for(alice).get(person_url(ana))
    assert r.status_code == 200
    body = r.content.decode()
    assert "Customer" in body and "Prospect" in body
    assert "ended" in body  # the past prospect role is listed with its dates
    assert "1 Jan 2020" in body
    assert "Talked about renewals" in body
    assert "Became Prospect of Acme Ltd" in body
    # The ended role offers no "End role" action; the current one does.
    assert reverse("people:role_end", args=[ana.public_id, rel.public_id]) not in body
    current = Relationship.objects.get(subject=ana, role__slug="customer")
    assert reverse("people:role_end", args=[ana.public_id, current.public_id]) in body


def test_timeline_channel_filter_and_load_more(alice, crowd):
    ana = crowd["ana"]
    for i in range(25):
        interaction_services.log_interaction(
            actor=alice, party=ana, channel="email", summary=f"Mail {i:02d}"
        )
    interaction_services.log_interaction(actor=alice, party=ana, channel="call", summary="A call")
    client = client_for(alice)
    url = reverse("people:timeline", args=[ana.public_id])
    body = client.get(url, {"channel": "call"}, headers=HTMX).content.decode()
    assert "A call" in body and "Mail 00" not in body
    r = client.get(url, headers=HTMX)
    assert r.context["next_cursor"]
    more = client.get(url, {"cursor": r.context["next_cursor"]}, headers=HTMX).content.decode()
    assert "Mail 00" in more and 'id="timeline"' not in more


def test_organisation_page_groups_people_by_role(alice, crowd):
    r = client_for(alice).get(reverse("people:organization", args=[crowd["acme"].public_id]))
    assert r.status_code == 200
    body = r.content.decode()
    assert "Ana Lima" in body and "Bea Souza" in body
    assert "Employee" in body and "Customer" in body


def test_person_url_for_an_organisation_is_404(alice, crowd):
    r = client_for(alice).get(person_url(crowd["acme"]))
    assert r.status_code == 404


# ---------------------------------------------------------------- create and edit


def test_create_person_with_invalid_email_rerenders_with_field_error(alice):
    client = client_for(alice)
    before = Party.objects.count()
    r = client.post(
        "/people/new/",
        {
            "given_name": "Dora",
            "family_name": "Dias",
            "email": "not-an-email",
            "visibility": "everyone",
        },
    )
    assert r.status_code == 422
    assert Party.objects.count() == before
    form = r.context["form"]
    assert form.errors["email"]
    body = r.content.decode()
    assert 'id="id_email_error"' in body
    assert 'aria-invalid="true"' in body


def test_create_person_needs_a_name(alice):
    r = client_for(alice).post("/people/new/", {"visibility": "everyone"})
    assert r.status_code == 422
    assert r.context["form"].errors["given_name"] == ["A person needs a name."]


def test_create_person_and_edit(alice):
    client = client_for(alice)
    r = client.post(
        "/people/new/",
        {
            "given_name": "Dora",
            "family_name": "Dias",
            "email": "Dora@Example.com",
            "phone": "+44 20 7946 0000",
            "tags": "vip, berlin",
            "interests": "cycling",
            "visibility": "everyone",
        },
    )
    assert r.status_code == 302
    dora = Party.objects.get(display_name="Dora Dias")
    assert r["Location"] == person_url(dora)
    assert sorted(t.name for t in dora.tags.all()) == ["berlin", "vip"]
    assert dora.contact_points.filter(channel="email", normalized="dora@example.com").exists()
    r = client.get(person_url(dora, "edit"))
    assert r.status_code == 200
    assert b'value="Dora"' in r.content
    r = client.post(
        person_url(dora, "edit"),
        {
            "given_name": "Dora",
            "family_name": "Dias",
            "title": "CTO",
            "timezone": "Mars/Base",
            "visibility": "everyone",
        },
    )
    assert r.status_code == 422
    assert "Unknown time zone" in r.context["form"].errors["timezone"][0]
    r = client.post(
        person_url(dora, "edit"),
        {
            "given_name": "Dora",
            "family_name": "Dias",
            "title": "CTO",
            "visibility": "everyone",
            "tags": "vip",
        },
    )
    assert r.status_code == 302
    dora.refresh_from_db()
    assert dora.title == "CTO"


def test_create_duplicate_email_is_a_field_error(alice, crowd):
    r = client_for(alice).post(
        "/people/new/",
        {
            "given_name": "Ana",
            "family_name": "L.",
            "email": "ANA@example.com",
            "visibility": "everyone",
        },
    )
    assert r.status_code == 422
    assert "Already belongs to Ana Lima" in r.context["form"].errors["email"][0]
    # The duplicates panel is filled server-side too, without JavaScript.
    assert any(d.party == crowd["ana"] for d in r.context["duplicates"])


def test_duplicate_check_panel(alice, crowd):
    r = client_for(alice).get(
        "/parties/check/",
        {
            "kind": "person",
            "given_name": "",
            "family_name": "",
            "email": "ana@example.com",
            "phone": "12",
        },
        headers=HTMX,
    )
    assert r.status_code == 200
    body = r.content.decode()
    assert "Ana Lima" in body
    assert 'id="live-email"' in body and "Already belongs to Ana Lima." in body
    assert 'id="live-phone"' in body and "phone" in body.split('id="live-phone"')[1].lower()


def test_create_organisation(alice):
    r = client_for(alice).post(
        "/organizations/new/",
        {"display_name": "Globex", "website": "globex.example", "visibility": "everyone"},
    )
    assert r.status_code == 302
    globex = Party.objects.get(display_name="Globex")
    assert globex.kind == "organization"


# ---------------------------------------------------------------- contact points, roles, interactions


def test_add_role_via_the_form_shows_on_the_timeline(
    alice, crowd, django_capture_on_commit_callbacks
):
    cid, acme = crowd["cid"], crowd["acme"]
    client = client_for(alice)
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(
            reverse("people:role_add", args=[cid.public_id]),
            {"role": "customer", "organization": str(acme.public_id), "valid_from": "2024-03-01"},
        )
    assert r.status_code == 302
    rel = Relationship.objects.get(subject=cid)
    assert rel.role.slug == "customer" and rel.object == acme
    assert rel.valid_from == dt.date(2024, 3, 1)
    body = client.get(person_url(cid)).content.decode()
    assert "Became Customer of Acme Ltd" in body


def test_add_role_with_htmx_returns_the_section_and_asks_the_timeline_to_reload(alice, crowd):
    cid, acme = crowd["cid"], crowd["acme"]
    r = client_for(alice).post(
        reverse("people:role_add", args=[cid.public_id]),
        {"role": "customer", "organization": str(acme.public_id)},
        headers=HTMX,
    )
    assert r.status_code == 200
    assert "kith:timeline-changed" in r["HX-Trigger"]
    body = r.content.decode()
    assert body.lstrip().startswith('<section id="roles"')
    assert "Acme Ltd" in body


def test_add_role_errors_are_inline(alice, crowd):
    ana, acme = crowd["ana"], crowd["acme"]
    client = client_for(alice)
    # Already a customer of Acme: overlapping period.
    r = client.post(
        reverse("people:role_add", args=[ana.public_id]),
        {"role": "customer", "organization": str(acme.public_id)},
        headers=HTMX,
    )
    assert r.status_code == 422
    assert "overlapping period" in r.content.decode()
    # Dates in the wrong order, without htmx: the whole page with the error.
    r = client.post(
        reverse("people:role_add", args=[ana.public_id]),
        {"role": "partner", "valid_from": "2024-05-01", "valid_to": "2024-01-01"},
    )
    assert r.status_code == 422
    assert r.context["role_form"].errors["valid_to"]
    # An organisation the user cannot see (or that does not exist).
    r = client.post(
        reverse("people:role_add", args=[ana.public_id]),
        {"role": "partner", "organization": "7b0c6f5e-0000-4000-8000-000000000000"},
        headers=HTMX,
    )
    assert r.status_code == 422
    assert "No such organisation." in r.content.decode()


def test_end_role(alice, crowd):
    ana = crowd["ana"]
    rel = Relationship.objects.get(subject=ana)
    r = client_for(alice).post(
        reverse("people:role_end", args=[ana.public_id, rel.public_id]),
        {"on": "2030-01-31"},
    )
    assert r.status_code == 302
    rel.refresh_from_db()
    assert rel.valid_to == dt.date(2030, 1, 31)


def test_contact_points_add_make_primary_remove(alice, crowd):
    ana = crowd["ana"]
    client = client_for(alice)
    url = reverse("people:contact_add", args=[ana.public_id])
    r = client.post(url, {"channel": "email", "value": "bad"}, headers=HTMX)
    assert r.status_code == 422
    assert "field-errors" in r.content.decode()
    r = client.post(url, {"channel": "email", "value": "ana@work.example"}, headers=HTMX)
    assert r.status_code == 200
    point = ana.contact_points.get(normalized="ana@work.example")
    assert not point.primary
    client.post(reverse("people:contact_primary", args=[ana.public_id, point.public_id]))
    point.refresh_from_db()
    assert point.primary
    client.post(reverse("people:contact_remove", args=[ana.public_id, point.public_id]))
    assert not ana.contact_points.filter(pk=point.pk).exists()


def test_log_interaction(alice, crowd):
    ana = crowd["ana"]
    client = client_for(alice)
    url = reverse("people:interaction_add", args=[ana.public_id])
    r = client.post(url, {"channel": "meeting", "direction": "out", "summary": ""}, headers=HTMX)
    assert r.status_code == 422
    r = client.post(
        url,
        {
            "channel": "meeting",
            "direction": "out",
            "summary": "Coffee in Lisbon",
            "body": "Wants the new plan.",
            "occurred_at": "2025-06-01T10:30",
        },
        headers=HTMX,
    )
    assert r.status_code == 200
    assert "Coffee in Lisbon" in r.content.decode()
    item = Interaction.objects.get(summary="Coffee in Lisbon")
    assert item.occurred_at == dt.datetime(2025, 6, 1, 10, 30, tzinfo=dt.UTC)


def test_times_show_in_the_users_timezone(alice, crowd):
    alice.timezone = "America/New_York"
    alice.save()
    interaction_services.log_interaction(
        actor=alice,
        party=crowd["ana"],
        channel="call",
        summary="Evening call",
        occurred_at=dt.datetime(2025, 1, 10, 23, 30, tzinfo=dt.UTC),
    )
    body = client_for(alice).get(person_url(crowd["ana"])).content.decode()
    assert "10 Jan 2025, 18:30" in body


# ---------------------------------------------------------------- merge


def test_merge_screen_and_old_url_redirects(alice):
    keep = make_person(alice, given="Ana", family="Lima", email="ana@example.com", title="CEO")
    dup = make_person(
        alice, given="Ana", family="Lima", email="ana.lima@example.com", title="Founder"
    )
    client = client_for(alice)
    page = client.get(person_url(keep))
    assert "Review merge" in page.content.decode()
    url = reverse("people:person_merge", args=[keep.public_id, dup.public_id])
    r = client.get(url)
    assert r.status_code == 200
    body = r.content.decode()
    assert 'name="choice:title"' in body  # the conflict has a choice
    assert "Founder" in body and "CEO" in body
    r = client.post(url, {"choice:title": "absorb"})
    assert r.status_code == 302
    assert r["Location"] == person_url(keep)
    keep.refresh_from_db()
    dup.refresh_from_db()
    assert dup.status == "merged" and dup.merged_into == keep
    assert keep.title == "Founder"
    assert keep.contact_points.count() == 2
    # The absorbed record's old address leads to the survivor.
    r = client.get(person_url(dup))
    assert r.status_code == 302
    assert r["Location"] == person_url(keep)
    r = client.get(person_url(dup, "edit"))
    assert r["Location"] == person_url(keep)


def test_merge_blockers_are_shown(alice, crowd):
    url = reverse("people:person_merge", args=[crowd["ana"].public_id, crowd["ana"].public_id])
    r = client_for(alice).post(url, {})
    assert r.status_code == 422
    assert "cannot be merged into itself" in r.content.decode()


# ---------------------------------------------------------------- permissions


def test_viewer_cannot_create_or_change(vic, alice, crowd):
    client = client_for(vic)
    assert client.get("/people/").status_code == 200
    r = client.get("/people/new/")
    assert r.status_code == 403
    assert b"cannot create or change records" in r.content
    assert client.post("/people/new/", {"given_name": "X"}).status_code == 403
    page = client.get(person_url(crowd["ana"]))
    assert page.status_code == 200
    assert b"Add role" not in page.content
    r = client.post(reverse("people:role_add", args=[crowd["ana"].public_id]), {"role": "partner"})
    assert r.status_code == 403


def test_agent_does_not_see_private_records_of_others(bob, dan, alice):
    secret = make_person(dan, given="Secret", family="Person", owner=dan, visibility="private")
    client = client_for(bob)
    assert b"Secret Person" not in client.get("/people/").content
    assert client.get(person_url(secret)).status_code == 404


def test_portal_user_cannot_see_staff_pages(carol, crowd):
    # Customers are sent to the portal's home, whatever the staff URL: the same answer
    # for every page, so nothing about any record leaks.
    client = client_for(carol)
    for url in ("/", "/people/", "/organizations/", person_url(crowd["ana"]), "/import/"):
        r = client.get(url)
        assert r.status_code == 302 and r["Location"] == "/portal/", url
    # Not even their own record through the staff UI.
    r = client.get(person_url(carol.person))
    assert r.status_code == 302 and r["Location"] == "/portal/"


# ---------------------------------------------------------------- import


CSV = (
    "First name,Last name,Email,Company\n"
    "Eva,Green,eva@example.com,Acme Ltd\n"
    "Finn,Black,not-an-email,\n"
    "Gus,White,gus@example.com,\n"
)


def test_import_screen_end_to_end(alice):
    client = client_for(alice)
    assert client.get("/import/").status_code == 200
    upload = SimpleUploadedFile("contacts.csv", CSV.encode(), content_type="text/csv")
    r = client.post("/import/", {"action": "upload", "file": upload, "kind": "people"})
    assert r.status_code == 200
    body = r.content.decode()
    assert "Check the columns" in body
    columns = r.context["columns"]
    assert [c["target"] for c in columns] == ["given_name", "family_name", "email", "organization"]
    token = r.context["draft"]["token"]
    mapping = {f"map:{c['index']}": c["target"] for c in columns}
    r = client.post("/import/", {"action": "start", "token": token, **mapping})
    assert r.status_code == 302
    job = ImportJob.objects.get()
    assert r["Location"] == reverse("people:import_job", args=[job.public_id])
    job.refresh_from_db()
    assert job.status == "done"  # the ImmediateBackend ran it
    assert job.created_count == 2 and job.error_count == 1
    page = client.get(r["Location"])
    body = page.content.decode()
    assert "Rejected rows" in body
    assert f"/api/imports/{job.public_id}/errors.csv" in body
    assert 'hx-trigger="every 500ms"' not in body  # finished: no more polling
    assert Party.objects.filter(display_name="Eva Green").exists()
    fragment = client.get(reverse("people:import_progress", args=[job.public_id]), headers=HTMX)
    assert fragment.status_code == 200 and b"100%" in fragment.content


def test_import_dry_run_writes_nothing(alice):
    client = client_for(alice)
    upload = SimpleUploadedFile("contacts.csv", CSV.encode(), content_type="text/csv")
    r = client.post(
        "/import/", {"action": "upload", "file": upload, "kind": "people", "dry_run": "on"}
    )
    token = r.context["draft"]["token"]
    mapping = {f"map:{c['index']}": c["target"] for c in r.context["columns"]}
    r = client.post("/import/", {"action": "start", "token": token, "dry_run": "on", **mapping})
    job = ImportJob.objects.get()
    assert job.dry_run and job.status == "done"
    assert not Party.objects.filter(display_name="Eva Green").exists()


def test_import_bad_mapping_and_bad_file_are_422(alice):
    client = client_for(alice)
    upload = SimpleUploadedFile("contacts.csv", CSV.encode(), content_type="text/csv")
    r = client.post("/import/", {"action": "upload", "file": upload, "kind": "people"})
    token = r.context["draft"]["token"]
    # Two columns into one single-value target.
    r = client.post(
        "/import/",
        {"action": "start", "token": token, "map:0": "given_name", "map:1": "given_name"},
    )
    assert r.status_code == 422
    assert ImportJob.objects.count() == 0
    assert any(c["errors"] for c in r.context["columns"])
    empty = SimpleUploadedFile("empty.csv", b"", content_type="text/csv")
    r = client.post("/import/", {"action": "upload", "file": empty, "kind": "people"})
    assert r.status_code == 422


def test_import_job_of_someone_else_is_404(alice, bob):
    client = client_for(alice)
    upload = SimpleUploadedFile("contacts.csv", CSV.encode(), content_type="text/csv")
    r = client.post("/import/", {"action": "upload", "file": upload, "kind": "people"})
    mapping = {f"map:{c['index']}": c["target"] for c in r.context["columns"]}
    client.post("/import/", {"action": "start", "token": r.context["draft"]["token"], **mapping})
    job = ImportJob.objects.get()
    assert (
        client_for(bob).get(reverse("people:import_job", args=[job.public_id])).status_code == 404
    )
