"""Participation inequality: Gini and Lorenz of known distributions, the 90-9-1 shares of a
space, an empty space's clear answer, the monthly trend, the staff page and the API."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest
from django.utils import timezone

from kith.accounts.models import User
from kith.community.models import Post, PostRead, Space, Topic, Visit
from kith.core.errors import ValidationFailed
from kith.insights import participation
from kith.people.models import Party
from tests.conftest import client_for

# ---------------------------------------------------------------- pure functions


def test_gini_of_known_distributions():
    assert participation.gini([5, 5, 5, 5]) == pytest.approx(0.0)
    # One member of n makes every contribution: (n - 1) / n.
    assert participation.gini([0] * 9 + [7]) == pytest.approx(0.9)
    assert participation.gini([1, 2, 3, 4, 5]) == pytest.approx(20 / 75)
    rng = np.random.default_rng(7)
    # Continuous uniform: 1/3; exponential: 1/2 (large samples).
    assert participation.gini(rng.uniform(0, 1, 200_000)) == pytest.approx(1 / 3, abs=0.005)
    assert participation.gini(rng.exponential(1.0, 200_000)) == pytest.approx(0.5, abs=0.005)


def test_gini_of_nothing_and_of_silence():
    assert participation.gini([]) is None
    assert participation.gini([0, 0, 0]) == 0.0
    with pytest.raises(ValueError):
        participation.gini([1, -1])


def test_lorenz_curve():
    assert participation.lorenz([]) == []
    equal = participation.lorenz([3, 3, 3, 3], points=5)
    assert [p for p, _ in equal] == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
    assert [y for _, y in equal] == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
    one = participation.lorenz([0, 0, 0, 10], points=5)
    assert [y for _, y in one] == pytest.approx([0, 0, 0, 0, 1.0])
    curve = participation.lorenz(list(range(20)))
    ys = [y for _, y in curve]
    assert ys[0] == 0 and ys[-1] == pytest.approx(1.0)
    assert all(b >= a for a, b in itertools.pairwise(ys))
    assert all(y <= p + 1e-12 for p, y in curve)  # never above the line of equality
    silent = participation.lorenz([0, 0])
    assert [y for _, y in silent] == pytest.approx(list(np.linspace(0, 1, 11)))


def test_levels_scale_with_the_period():
    assert participation.heavy_threshold(30, 5) == 5
    assert participation.heavy_threshold(90, 5) == 15
    assert participation.level_of(0, days=30, heavy_per_month=5) == "lurker"
    assert participation.level_of(4, days=30, heavy_per_month=5) == "contributor"
    assert participation.level_of(5, days=30, heavy_per_month=5) == "heavy"


# ---------------------------------------------------------------- from community activity


def _member(n: int) -> User:
    person = Party.objects.create(kind="person", display_name=f"M {n}", sort_name=f"m {n}")
    return User.objects.create(username=f"member{n}", kind="portal", role="viewer", person=person)


def _topic(space: Space, author: User) -> Topic:
    return Topic.objects.create(
        space=space, title="Hello", author=author, last_activity_at=timezone.now()
    )


def _post(topic: Topic, author: User, kind: str = "answer") -> Post:
    return Post.objects.create(topic=topic, kind=kind, author=author, body="x", body_html="x")


@pytest.fixture
def community(db, alice):
    """100 members of one space: 90 read only, 9 wrote one post, 1 wrote 40. Staff (alice)
    wrote 30 posts, which must not count; a second space has no activity at all."""
    space = Space.objects.create(name="Help", slug="help")
    quiet = Space.objects.create(name="Quiet corner", slug="quiet")
    members = [_member(i) for i in range(100)]
    topic = _topic(space, members[99])
    for _ in range(30):
        _post(topic, alice)
    opening = _post(topic, members[99], kind="question")
    for _ in range(39):
        _post(topic, members[99])
    for m in members[90:99]:
        _post(topic, m)
    for m in members[:90]:
        PostRead.objects.create(user=m, post=opening, created_at=timezone.now())
    return space, quiet, members


def test_a_space_shows_the_90_9_1_pattern(community):
    space, _, _ = community
    report = participation.participation(space=space, days=30)
    assert report.members == 100
    assert report.counts == {"lurker": 90, "contributor": 9, "heavy": 1}
    assert report.shares == pytest.approx({"lurker": 0.9, "contributor": 0.09, "heavy": 0.01})
    assert report.contributions == 49  # staff posts left out
    assert report.contribution_shares["heavy"] == pytest.approx(40 / 49)
    assert report.gini == pytest.approx(participation.gini([0] * 90 + [1] * 9 + [40]))
    assert report.gini > 0.9
    assert report.lorenz[0] == (0.0, 0.0) and report.lorenz[-1][1] == pytest.approx(1.0)
    assert report.message == ""


def test_an_empty_space_is_a_clear_result(community):
    _, quiet, _ = community
    report = participation.participation(space=quiet, days=30)
    assert report.empty and report.members == 0
    assert report.gini is None and report.lorenz == []
    assert report.shares == {"lurker": 0.0, "contributor": 0.0, "heavy": 0.0}
    assert "No one was active" in report.message


def test_overall_counts_visits_and_old_activity_falls_out(community):
    _, _, members = community
    visitor = _member(500)
    Visit.objects.create(user=visitor, day=timezone.now().date())
    report = participation.participation(days=30)
    assert report.members == 101 and report.counts["lurker"] == 91
    # Posts from 40 days ago are outside a 30-day window.
    Post.objects.filter(author=members[99]).update(
        created_at=timezone.now() - dt.timedelta(days=40)
    )
    report = participation.participation(days=30)
    assert report.counts["heavy"] == 0


def test_the_trend_is_month_by_month(community):
    space, _, members = community
    Post.objects.filter(author=members[95]).update(
        created_at=timezone.now().replace(day=1) - dt.timedelta(days=20)
    )
    months = participation.trend(space=space, months=3)
    assert [m.month for m in months] == sorted(m.month for m in months)
    assert months[-1].month == timezone.now().date().replace(day=1)
    assert months[-1].members == 99  # members[95]'s only post moved to last month
    assert months[-2].members == 1 and months[-2].shares["contributor"] == 1.0
    assert months[0].members == 0 and months[0].gini is None


def test_bad_input_is_a_422(db):
    with pytest.raises(ValidationFailed):
        participation.participation(days=0)
    with pytest.raises(ValidationFailed):
        participation.trend(months=0)


def test_the_api(community, api_as, alice, carol):
    space, quiet, _ = community
    response = api_as(alice).get("/api/insights/participation", space=str(space.public_id))
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["report"]["counts"] == {"lurker": 90, "contributor": 9, "heavy": 1}
    assert len(data["trend"]) == 12 and data["spaces"] == []
    empty = api_as(alice).get("/api/insights/participation", space=str(quiet.public_id)).json()
    assert empty["report"]["members"] == 0 and empty["report"]["gini"] is None
    assert empty["report"]["message"]
    overall = api_as(alice).get("/api/insights/participation").json()
    assert {s["space_name"] for s in overall["spaces"]} == {"Help", "Quiet corner"}
    assert api_as(alice).get("/api/insights/participation", days=0).status_code == 422
    unknown = "00000000-0000-0000-0000-000000000000"
    assert api_as(alice).get("/api/insights/participation", space=unknown).status_code == 404
    assert api_as(carol).get("/api/insights/participation").status_code == 404


def test_the_staff_page_draws_the_lorenz_curve(community, alice):
    space, quiet, _ = community
    client = client_for(alice)
    html = client.get("/insights/participation/").content.decode()
    assert "Lorenz curve of contributions" in html and "<svg" in html
    assert "Quiet corner" in html and "No one active in this period." in html
    page = client.get(f"/insights/participation/?space={space.public_id}&days=30")
    assert page.status_code == 200
    assert 'data-share="lurker">90%' in page.content.decode()
    empty = client.get(f"/insights/participation/?space={quiet.public_id}").content.decode()
    assert 'data-testid="participation-empty"' in empty
    assert client.get("/insights/participation/?space=nonsense").status_code == 404


def _csv(response) -> list[list[str]]:
    import csv
    import io

    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_csv_downloads_carry_the_charts_numbers(community, alice, carol):
    space, quiet, _ = community
    client = client_for(alice)
    page = client.get(f"/insights/participation/?space={space.public_id}&days=30")
    assert f"/insights/participation/summary.csv?days=30&amp;space={space.public_id}" in (
        page.content.decode()
    )
    q = f"?space={space.public_id}&days=30"
    summary = _csv(client.get(f"/insights/participation/summary.csv{q}"))
    assert summary[0] == ["level", "members", "share_of_members", "share_of_contributions"]
    by_level = {row[0]: row for row in summary[1:]}
    assert by_level["lurker"][1:3] == ["90", "0.9"]
    assert by_level["contributor"][1:3] == ["9", "0.09"]
    assert by_level["heavy"][1:3] == ["1", "0.01"]
    assert float(by_level["heavy"][3]) == pytest.approx(40 / 49, abs=1e-6)
    report = participation.participation(space=space, days=30)
    assert float(by_level["gini"][2]) == pytest.approx(report.gini, abs=1e-6)
    assert by_level["contributions"][1] == "49"

    lorenz = _csv(client.get(f"/insights/participation/lorenz.csv{q}"))
    assert lorenz[0] == ["share_of_members", "share_of_contributions"]
    points = [float(x) for row in lorenz[1:] for x in row]
    assert points == pytest.approx([x for point in report.lorenz for x in point], abs=1e-6)

    trend = _csv(client.get(f"/insights/participation/trend.csv{q}"))
    assert trend[0] == ["month", "active_members", "lurker", "contributor", "heavy", "gini"]
    assert len(trend) == 13
    assert trend[-1][0] == timezone.now().strftime("%Y-%m") and trend[-1][1] == "100"

    # Overall: one row per space, the empty one included with no Gini.
    spaces = _csv(client.get("/insights/participation/spaces.csv?days=30"))
    rows = {row[0]: row for row in spaces[1:]}
    assert set(rows) == {"Help", "Quiet corner"}
    assert rows["Help"][2:6] == ["100", "0.9", "0.09", "0.01"]
    assert rows["Quiet corner"][2] == "0" and rows["Quiet corner"][6] == ""
    overall = _csv(client.get("/insights/participation/summary.csv"))
    assert {row[0] for row in overall[1:]} >= {"lurker", "contributor", "heavy", "gini"}

    # Per space there is no per-space table; unknown parts and spaces are 404s.
    assert client.get(f"/insights/participation/spaces.csv{q}").status_code == 404
    assert client.get("/insights/participation/nonsense.csv").status_code == 404
    assert client.get("/insights/participation/summary.csv?space=nonsense").status_code == 404
    empty = _csv(client.get(f"/insights/participation/lorenz.csv?space={quiet.public_id}"))
    assert empty == [["share_of_members", "share_of_contributions"]]
    # Customers never get the numbers.
    assert client_for(carol).get("/insights/participation/summary.csv").status_code in (
        302,
        403,
        404,
    )
