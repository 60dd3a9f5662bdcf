"""vCard 3.0 and 4.0: import through the shared pipeline, export, and round trips."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import vobject

from kith.people import exporting, importing, services, vcard
from kith.people.models import ContactPoint, Party, Relationship
from tests.conftest import make_org, make_person

DATA = Path(__file__).parent / "data"


def run(actor, content, *, kind="people", dry_run=False):
    job = importing.create_import_job(
        actor=actor,
        kind=kind,
        file_format="vcard",
        file_name="contacts.vcf",
        content=content,
        mapping=None,
        dry_run=dry_run,
    )
    return importing.run_import_job(job.pk)


def test_parse_vcard_3_into_import_cells():
    cards = list(vcard.parse_vcards((DATA / "contacts-v3.vcf").read_text()))
    assert [c.number for c in cards] == [1, 2, 3]
    ana = dict((target, value) for target, value, _ in cards[0].cells)
    assert ana["display_name"] == "Ana Lima"
    assert (ana["given_name"], ana["family_name"]) == ("Ana", "Lima")
    assert ana["email"] == "Ana@Example.com"
    assert ana["organization"] == "Acme Ltd"
    assert ana["birthday"] == "1985-04-12"
    assert ana["tags"] == "vip, beta"
    assert ana["notes"] == "Met at the fair, likes tea"
    assert ana["handle:twitter"] == "https://twitter.com/analima"
    bo = dict((target, value) for target, value, _ in cards[1].cells)
    assert bo["postal"] == "1 Infinite Loop, Cupertino, CA 95014, USA"


def test_vcard_3_import(alice):
    job = run(alice, (DATA / "contacts-v3.vcf").read_bytes())
    assert (job.total_rows, job.created_count, job.error_count) == (3, 2, 1)
    assert job.errors[0]["row"] == 3 and job.errors[0]["field"] == "TEL"
    ana = Party.objects.get(display_name="Ana Lima")
    assert ana.title == "Head of Sales"
    assert ana.birthday == dt.date(1985, 4, 12)
    assert ana.contact_points.get(channel="email").normalized == "ana@example.com"
    assert ana.contact_points.get(channel="email").label == "work"
    assert ana.contact_points.get(channel="twitter").normalized == "analima"
    assert sorted(t.name for t in ana.tags.all()) == ["beta", "vip"]
    acme = Party.objects.get(kind="organization", display_name="Acme Ltd")
    assert list(Party.objects.holding("employee", of=acme)) == [ana]
    bo = Party.objects.get(display_name="Bo Chen")
    assert bo.contact_points.get(channel="postal").value.startswith("1 Infinite Loop")
    assert bo.contact_points.get(channel="website").normalized == "bo.example.org"


def test_vcard_4_import(alice):
    job = run(alice, (DATA / "contacts-v4.vcf").read_bytes())
    assert (job.created_count, job.error_count) == (2, 1), job.errors
    # The organisation card is refused by a people import, with the reason.
    assert job.errors[0]["row"] == 2
    assert "organisation" in job.errors[0]["message"]
    cy = Party.objects.get(display_name="Cy Diaz")
    assert cy.contact_points.get(channel="phone").normalized == "+16502530000"
    assert cy.contact_points.get(channel="github").normalized == "cydiaz"
    assert cy.contact_points.get(channel="xmpp").normalized == "cy@jabber.org"
    assert cy.contact_points.get(channel="external").normalized == (
        "person:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1"
    )
    assert (cy.locale, cy.timezone, cy.birthday) == ("es", "Europe/Madrid", dt.date(1990, 1, 2))
    # A birthday without a year cannot be stored; the rest of the card is.
    dee = Party.objects.get(display_name="Dee Evans")
    assert dee.birthday is None
    again = run(alice, (DATA / "contacts-v4.vcf").read_bytes())
    assert (again.created_count, again.unchanged_count) == (0, 2)


def test_vcard_organisations_import(alice):
    job = run(alice, (DATA / "contacts-v4.vcf").read_bytes(), kind="organizations")
    assert job.created_count == 1
    assert {e["row"] for e in job.errors} == {1, 3}
    globex = Party.objects.get(kind="organization")
    assert globex.display_name == "Globex Corporation"
    assert globex.contact_points.get(channel="website").normalized == "globex.example.com"


def test_broken_card_is_a_rejected_row_not_a_failed_file(alice):
    content = (
        "BEGIN:VCARD\nVERSION:3.0\nFN:Ana\nN:;Ana;;;\nEMAIL:ana@example.com\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:3.0\nFN:Bo\nthis line is not a property\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:3.0\nFN:Cy\n"
    )
    job = run(alice, content)
    assert job.created_count == 1
    assert [e["row"] for e in job.errors] == [2, 3]
    assert job.errors[1]["message"] == "The card has no END:VCARD line."


def test_export_vcard_4_and_3(alice):
    acme = make_org(alice, "Acme, Inc")
    ana = make_person(
        alice, given="Ana", family="Lima", email="ana@example.com", phone="+44 20 7946 0958"
    )
    services.update_party(
        actor=alice,
        party=ana,
        data=services.PartyInput(
            fields={"birthday": "1985-04-12", "title": "CTO", "notes": "Likes tea, not coffee"},
            tags=["vip"],
        ),
    )
    services.add_relationship(actor=alice, subject=ana, role="employee", object=acme)
    qs = exporting.export_queryset(alice, exporting.PartyFilters(), kind="person")
    v4 = vcard.parties_to_vcard(exporting.with_list_data(qs))
    card = vobject.readOne(v4)
    assert card.version.value == "4.0"
    assert card.uid.value == f"urn:uuid:{ana.public_id}"
    assert card.fn.value == "Ana Lima"
    assert card.org.value == ["Acme, Inc"]
    assert card.bday.value == "19850412"
    assert card.tel.value == "tel:+442079460958"
    assert card.categories.value == ["vip"]
    assert card.note.value == "Likes tea, not coffee"
    v3 = vobject.readOne(vcard.parties_to_vcard(exporting.with_list_data(qs), version="3.0"))
    assert v3.version.value == "3.0"
    assert v3.bday.value == "1985-04-12"
    assert v3.tel.value == "+44 20 7946 0958"
    org_card = vobject.readOne(vcard.party_to_vcard(acme))
    assert org_card.kind.value == "org"


def _people_fixture(alice):
    acme = make_org(alice, "Acme Ltd")
    ana = make_person(alice, given="Ana", family="Lima", email="ana@example.com")
    services.add_contact_point(
        actor=alice, party=ana, contact=services.ContactInput("github", "analima")
    )
    services.add_contact_point(
        actor=alice,
        party=ana,
        contact=services.ContactInput("postal", "12 Main St, Springfield"),
    )
    services.add_relationship(actor=alice, subject=ana, role="employee", object=acme)
    services.add_relationship(actor=alice, subject=ana, role="customer")
    # No e-mail or phone: found again by the UID only.
    bo = make_person(alice, given="Bo", family="Chen", birthday="1990-01-02")
    services.update_party(actor=alice, party=bo, data=services.PartyInput(tags=["beta", "vip"]))
    return ana, bo


def test_vcard_round_trip_creates_no_duplicates(alice):
    _people_fixture(alice)
    counts = (Party.objects.count(), ContactPoint.objects.count(), Relationship.objects.count())
    for version in ("4.0", "3.0"):
        qs = exporting.export_queryset(alice, exporting.PartyFilters(), kind="person")
        text = "".join(exporting.iter_vcard(qs, version=version))
        job = run(alice, text)
        assert (job.created_count, job.updated_count, job.unchanged_count) == (0, 0, 2), (
            version,
            job.errors,
        )
        assert (
            Party.objects.count(),
            ContactPoint.objects.count(),
            Relationship.objects.count(),
        ) == counts


def test_vcard_round_trip_into_an_empty_database_restores_the_people(alice):
    _people_fixture(alice)
    qs = exporting.export_queryset(alice, exporting.PartyFilters(), kind="person")
    text = "".join(exporting.iter_vcard(qs))
    Party.objects.all().delete()
    job = run(alice, text)
    assert job.created_count == 2, job.errors
    ana = Party.objects.get(display_name="Ana Lima")
    assert {(c.channel, c.normalized) for c in ana.contact_points.all()} >= {
        ("email", "ana@example.com"),
        ("github", "analima"),
        ("postal", "12 main st, springfield"),
    }
    assert Party.objects.holding("employee").filter(pk=ana.pk).exists()
    bo = Party.objects.get(display_name="Bo Chen")
    assert bo.birthday == dt.date(1990, 1, 2)
    assert sorted(t.name for t in bo.tags.all()) == ["beta", "vip"]
    # Running the same file again finds everyone (Bo by the UID stored as external id).
    again = run(alice, text)
    assert (again.created_count, again.unchanged_count) == (0, 2)
