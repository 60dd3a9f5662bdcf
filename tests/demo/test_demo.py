"""``kith demo``: a realistic, deterministic data set and the demo logins."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import phonenumbers
import pytest
from django.core.management import call_command
from django.db.models import Count

from kith.accounts.models import Role, User
from kith.demo import data
from kith.interactions.models import Interaction, Transaction
from kith.people import access
from kith.people.models import ContactPoint, FieldDefinition, Party, Relationship

SMALL = {"people": 40, "organizations": 6, "interactions": 400}
DAY = data.ANCHOR


def test_the_same_seed_draws_the_same_data():
    first = data.build_dataset(**SMALL)
    second = data.build_dataset(**SMALL)
    assert [p.display_name for p in first.people[:10]] == [
        p.display_name for p in second.people[:10]
    ]
    assert first == second
    other = data.build_dataset(**SMALL, seed=7)
    assert [p.display_name for p in other.people[:10]] != [
        p.display_name for p in first.people[:10]
    ]


def test_dates_stay_inside_the_two_years_before_the_anchor():
    dataset = data.build_dataset(**SMALL)
    start = dt.datetime.combine(DAY - dt.timedelta(days=data.WINDOW_DAYS), dt.time(), dt.UTC)
    end = dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(), dt.UTC)
    assert all(start <= i.occurred_at < end for i in dataset.interactions)
    assert all(start <= t.occurred_at < end for t in dataset.transactions)
    assert all(r.valid_from is None or r.valid_from <= DAY for r in dataset.relationships)


@pytest.fixture
def loaded(db) -> data.LoadResult:
    return data.load(**SMALL)


def test_load_writes_the_counts_asked_for(loaded):
    assert Party.objects.people().count() == 40 == loaded.people
    assert Party.objects.organizations().count() == 6 == loaded.organizations
    # Other apps' demo data (meetings, case replies) add their own interactions.
    core = Interaction.objects.filter(source=data.DEMO_SOURCE)
    assert core.exclude(channel="system").count() == 400
    assert core.filter(channel="system").count() == loaded.role_changes > 0
    assert Transaction.objects.count() == loaded.transactions > 0
    channels = set(Interaction.objects.values_list("channel", flat=True))
    assert {"email", "call", "meeting", "chat", "social", "community", "web"} <= channels
    assert FieldDefinition.objects.filter(key__in=["segment", "newsletter"]).count() == 2


def test_people_hold_several_roles_and_change_them_over_time(loaded):
    assert Party.objects.people().with_several_roles(on=DAY).exists()
    ended = Relationship.objects.filter(valid_to__lt=DAY)
    current = Relationship.objects.current(DAY)
    changed = current.filter(subject__in=ended.values("subject")).values("subject").distinct()
    assert changed.exists()
    # An ended job and a new one: the new employment starts the day after the old one ended.
    moves = [
        (old, new)
        for old in ended.filter(role__slug="employee")
        for new in current.filter(role__slug="employee", subject=old.subject)
    ]
    assert any(new.valid_from == old.valid_to + dt.timedelta(days=1) for old, new in moves)
    # A prospect turned customer: the prospect role ends the day the customer role starts.
    converted = [
        (p, c)
        for p in Relationship.objects.filter(role__slug="prospect", valid_to__isnull=False)
        for c in Relationship.objects.filter(role__slug="customer", subject=p.subject)
    ]
    assert any(p.valid_to == c.valid_from for p, c in converted)
    assert Party.objects.holding("customer", on=DAY).exists()
    assert Party.objects.holding("employee", on=DAY).exists()


def test_contact_points_are_unique_and_valid(loaded):
    dupes = (
        ContactPoint.objects.values("channel", "normalized").annotate(n=Count("id")).filter(n__gt=1)
    )
    assert not dupes.exists()
    assert ContactPoint.objects.filter(channel="email").count() >= 40
    for phone in ContactPoint.objects.filter(channel="phone"):
        assert phonenumbers.is_valid_number(phonenumbers.parse(phone.normalized))
    assert ContactPoint.objects.filter(channel="website").count() == 6


def test_values_are_realistic(loaded):
    for value in Interaction.objects.exclude(sentiment=None).values_list("sentiment", flat=True):
        assert -1 <= value <= 1
    assert Interaction.objects.exclude(sentiment=None).exists()
    tx = Transaction.objects.first()
    assert isinstance(tx.amount, Decimal) and tx.amount > 0
    assert set(Transaction.objects.values_list("kind", flat=True)) >= {"order", "payment"}


def test_demo_logins_have_their_roles(loaded):
    roles = dict(User.objects.filter(kind=User.Kind.STAFF).values_list("username", "role"))
    assert roles == {
        "alice": Role.ADMIN,
        "mia": Role.MANAGER,
        "bob": Role.AGENT,
        "vic": Role.VIEWER,
    }
    carol = User.objects.get(username="carol")
    assert carol.is_portal and carol.person is not None
    assert carol.person.given_name == "Carol"
    assert Party.objects.holding("customer", on=DAY).filter(pk=carol.person_id).exists()
    assert carol.check_password(data.DEMO_PASSWORD)
    # pat: the partner's side of the portal (intents shared with partners) can be tried.
    from kith.collab.access import is_partner

    pat = User.objects.get(username="pat")
    assert pat.is_portal and pat.person_id not in (None, carol.person_id)
    assert is_partner(pat) and not is_partner(carol)
    assert pat.check_password(data.DEMO_PASSWORD)
    assert "pat" in loaded.logins


def test_some_records_are_private_to_bob_or_his_team(loaded):
    bob, vic = User.objects.get(username="bob"), User.objects.get(username="vic")
    private = Party.objects.filter(visibility="private", owner=bob)
    assert private.exists()
    assert Party.objects.filter(visibility="team", team__members=bob).exists()
    assert access.scope_parties(bob).filter(pk__in=private).count() == private.count()
    assert not access.scope_parties(vic).filter(pk__in=private).exists()


def test_load_refuses_a_second_time_and_reset_reloads_the_same_data(loaded):
    names = list(Party.objects.people().order_by("id").values_list("display_name", flat=True))
    with pytest.raises(data.DemoAlreadyLoaded):
        data.load(**SMALL)
    data.wipe()
    assert not Party.objects.exists()
    assert not User.objects.exists()
    data.load(**SMALL)
    again = list(Party.objects.people().order_by("id").values_list("display_name", flat=True))
    assert again == names


@pytest.mark.django_db
def test_the_command_loads_once_and_then_says_so():
    options = {"no_progress": True, **SMALL}
    out = StringIO()
    call_command("demo", stdout=out, **options)
    assert "Demo data loaded" in out.getvalue()
    assert data.DEMO_PASSWORD in out.getvalue()
    out = StringIO()
    call_command("demo", stdout=out, **options)
    assert "loaded already" in out.getvalue()
    assert Party.objects.people().count() == 40
    out = StringIO()
    call_command("demo", stdout=out, reset=True, **options)
    assert "Deleted the demo data" in out.getvalue()
    assert Party.objects.people().count() == 40


def test_no_organisation_employs_most_people_and_competitors_few():
    """The demo had 211 of 346 people at one company, itself a competitor."""
    dataset = data.build_dataset(
        people=346, organizations=40, interactions=0, seed=data.DEFAULT_SEED, anchor=DAY
    )
    parties = {p.key: p for p in dataset.parties}
    employees: dict[int, int] = {}
    competitors = set()
    for rel in dataset.relationships:
        if rel.role == "employee" and (rel.valid_to is None or rel.valid_to >= DAY):
            employees[rel.object] = employees.get(rel.object, 0) + 1
        if rel.role == "competitor":
            competitors.add(rel.subject)
    people = sum(1 for p in parties.values() if p.kind == "person")
    assert max(employees.values()) <= people * 0.15
    assert sum(employees.get(k, 0) for k in competitors) <= people * 0.05


def test_the_command_anchors_on_today_by_default(db, monkeypatch):
    from django.core.management import call_command
    from django.utils import timezone

    seen = {}

    def fake_load(**kwargs):
        seen.update(kwargs)
        raise ValueError("stop here")

    monkeypatch.setattr(data, "demo_loaded", lambda: False)
    monkeypatch.setattr(data, "load", fake_load)
    with pytest.raises(Exception, match="stop here"):
        call_command("demo", "--no-progress")
    assert seen["anchor"] == timezone.localdate()
