"""Listening web UI: the queue (order, filters, actions, bulk), the live stream's frames,
the sources page, dashboards with CSV, the person panel; staff only."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json

import pytest
from django.utils import timezone

from kith.listening import live, pipeline, services, views
from kith.listening.incoming import IncomingMention
from kith.listening.models import Keyword, Mention, Source
from kith.people.models import ContactPoint
from tests.conftest import client_for, make_person, party_page

pytestmark = pytest.mark.django_db
_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def _fixed_sentiment(monkeypatch):
    """Sentiment by a word, so tests do not depend on the model's judgement."""

    def score(texts):
        return [
            ("negative", 0.95)
            if "broken" in t
            else ("positive", 0.8)
            if "love" in t
            else ("neutral", 0.6)
            for t in texts
        ]

    monkeypatch.setattr(pipeline, "score_sentiment", score)


@pytest.fixture
def src(db) -> Source:
    return Source.objects.create(kind="webhook", name="Hook", first_response_minutes=60)


def incoming(text: str, **kw) -> IncomingMention:
    kw.setdefault("channel", "mastodon")
    kw.setdefault("published_at", timezone.now() - dt.timedelta(minutes=5))
    return IncomingMention(external_id=f"e{next(_ids)}", text=text, **kw)


def rows_in(html: str) -> list[str]:
    """Mention texts in the order the queue shows them."""
    import re

    return re.findall(r'<td class="mention-text">.*?<p>(.*?)</p>', html, re.S)


def test_queue_orders_by_priority_and_escapes_mention_text(src, bob):
    services.ingest(
        src,
        [
            incoming("I love it", author_followers=10),
            incoming("the app is broken <script>alert(1)</script>", author_followers=5000),
            incoming("just a note", author_followers=10),
        ],
    )
    response = client_for(bob).get("/listening/")
    assert response.status_code == 200
    html = response.content.decode()
    shown = rows_in(html)
    assert shown[0].startswith("the app is broken")  # negative and influential first
    assert "<script>alert(1)</script>" not in html
    assert 'data-listening-stream="/listening/stream/"' in html
    assert 'href="/listening/"' in html  # in the staff navigation


def test_queue_filters(src, bob, alice):
    other = Source.objects.create(kind="webhook", name="Other")
    Keyword.objects.create(term="Acme", normalized="acme")
    services.ingest(src, [incoming("acme is broken"), incoming("hello there")])
    services.ingest(other, [incoming("the acme thing")])
    c = client_for(bob)

    def texts(query: str) -> list[str]:
        response = c.get("/listening/?" + query)
        assert response.status_code == 200
        return sorted(rows_in(response.content.decode()))

    assert texts("sentiment=negative") == ["acme is broken"]
    assert texts(f"source={other.public_id}") == ["the acme thing"]
    assert texts("keyword=acme") == ["acme is broken", "the acme thing"]
    first = Mention.objects.get(text="hello there")
    services.assign_mention(actor=alice, mention=first, assignee=bob)
    assert texts("assignee=me") == ["hello there"]
    assert texts("assignee=none") == ["acme is broken", "the acme thing"]
    services.dismiss(actor=alice, mention=first)
    assert texts("status=dismissed") == ["hello there"]
    # Nonsense filters are ignored, never a 500.
    assert len(texts("status=zz&sentiment=x&assignee=zz&source=nope&page=-3")) == 2


def test_assign_reply_dismiss_spam_from_the_queue(src, bob, vic):
    services.ingest(src, [incoming(f"post {i}") for i in range(4)])
    m0, m1, m2, m3 = Mention.objects.order_by("id")
    c = client_for(bob)
    r = c.post(f"/listening/mentions/{m0.public_id}/assign/", {"assignee": "me"})
    assert r.status_code == 302
    m0.refresh_from_db()
    assert m0.assignee == bob and m0.status == "assigned"
    r = c.post(
        f"/listening/mentions/{m1.public_id}/reply/", {"reply_url": "https://m.social/@acme/1"}
    )
    m1.refresh_from_db()
    assert m1.status == "replied" and m1.reply_url == "https://m.social/@acme/1"
    # A bad link is a message naming the field, the mention stays open.
    r = c.post(
        f"/listening/mentions/{m2.public_id}/reply/",
        {"reply_url": "javascript:alert(1)"},
        follow=True,
    )
    assert r.status_code == 200 and "http(s) link" in r.content.decode()
    m2.refresh_from_db()
    assert m2.status == "new"
    c.post(f"/listening/mentions/{m2.public_id}/dismiss/")
    c.post(f"/listening/mentions/{m3.public_id}/spam/")
    assert {m.status for m in Mention.objects.filter(pk__in=[m2.pk, m3.pk])} == {
        "dismissed",
        "spam",
    }
    # Acting twice is a conflict shown as a message, not an error page.
    r = c.post(f"/listening/mentions/{m3.public_id}/spam/", follow=True)
    assert r.status_code == 200 and "already spam" in r.content.decode()
    # A viewer reads but may not act.
    assert client_for(vic).get("/listening/").status_code == 200
    assert client_for(vic).post(f"/listening/mentions/{m0.public_id}/dismiss/").status_code == 403


def test_convert_to_case_goes_to_the_case_and_links_back(
    src, alice, bob, dan, django_capture_on_commit_callbacks
):
    ana = make_person(alice, given="Ana", family="Lima")
    ContactPoint.objects.create(
        party=ana, channel="mastodon", value="@ana@m.social", normalized="ana@m.social"
    )
    services.ingest(src, [incoming("the app is broken", author_handle="@ana@m.social")])
    mention = Mention.objects.get()
    html = client_for(bob).get("/listening/").content.decode()
    assert f'href="/people/{ana.public_id}/"' in html  # the matched person, linked
    with django_capture_on_commit_callbacks(execute=True):  # events delivered inline
        r = client_for(bob).post(
            f"/listening/mentions/{mention.public_id}/convert/", {"kind": "case"}
        )
    mention.refresh_from_db()
    assert mention.status == "converted" and mention.converted_kind == "case"
    assert r.status_code == 302 and r["Location"] == mention.converted_url
    assert mention.converted_url.startswith("/service/")
    # Unmatched author: converting to a case needs a person: the message says so.
    services.ingest(src, [incoming("broken again", author_handle="@who@m.social")])
    other = Mention.objects.get(author_handle="@who@m.social")
    r = client_for(bob).post(
        f"/listening/mentions/{other.public_id}/convert/", {"kind": "case"}, follow=True
    )
    assert "not matched to a person" in r.content.decode()
    r = client_for(bob).post(
        f"/listening/mentions/{other.public_id}/convert/", {"kind": "boat"}, follow=True
    )
    assert "kind: Choose case, idea or lead." in r.content.decode()
    # The person's page shows the mention in the listening panel, with the case link.
    page = party_page(bob, ana)
    assert 'id="listening-panel"' in page and "the app is broken" in page
    assert mention.converted_url in page
    # The case is on the person's timeline too, for those who may see the case: bob
    # converted it outside any queue, so the case is his (he can open it) and another
    # agent in no queue does not see it; once however often the event comes.
    assert "Case opened from a mention" in page
    assert client_for(bob).get(mention.converted_url).status_code == 200
    assert "Case opened from a mention" not in party_page(dan, ana)
    page = party_page(alice, ana)
    assert "Case opened from a mention on Hook: @ana@m.social: the app is broken" in page
    from kith.core.events import subscriptions
    from kith.core.models import OutboxEvent
    from kith.interactions.models import Interaction

    event = OutboxEvent.objects.filter(name="mention.converted").get()
    subscriptions()["listening.converted_on_timeline"].handler(event)
    entries = Interaction.objects.filter(party=ana, kind="mention_to_case")
    assert entries.count() == 1 and entries.get().related_id == mention.converted_id


def test_bulk_actions(src, bob, alice):
    services.ingest(src, [incoming(f"bulk {i}") for i in range(3)])
    ids = [str(m.public_id) for m in Mention.objects.order_by("id")]
    c = client_for(bob)
    r = c.post("/listening/queue/bulk/", {"action": "dismiss", "mention": ids[:2]}, follow=True)
    assert "2 mentions updated." in r.content.decode()
    r = c.post(
        "/listening/queue/bulk/",
        {"action": "assign", "assignee": str(alice.pk), "mention": ids},
        follow=True,
    )
    text = r.content.decode()
    assert "1 mention updated." in text and "2 could not be" in text
    assert Mention.objects.get(public_id=ids[2]).assignee == alice
    r = c.post("/listening/queue/bulk/", {"action": "explode", "mention": ids}, follow=True)
    assert "One of:" in r.content.decode()
    r = c.post("/listening/queue/bulk/", {"action": "dismiss"}, follow=True)
    assert "Tick at least one mention." in r.content.decode()


def test_queue_rows_fragment_and_stream_frames(src, bob):
    services.ingest(src, [incoming("fragment me")])
    r = client_for(bob).get("/listening/queue/rows/?sentiment=neutral")
    assert r.status_code == 200
    html = r.content.decode()
    assert html.lstrip().startswith('<div id="queue-rows"') and "fragment me" in html
    # A broker message becomes a 'changed' frame with only the id and the event name.
    frame = views._frame({"type": "mention", "event": "mention.received", "mention": "abc"})
    assert frame.startswith(b"event: changed\n")
    assert json.loads(frame.split(b"data: ", 1)[1]) == {
        "mention": "abc",
        "event": "mention.received",
    }
    assert views._frame({"type": "post"}) is None


def test_the_queue_sends_one_actions_template_not_six_forms_per_row(src, bob, vic):
    services.ingest(src, [incoming(f"row {i}") for i in range(5)])
    html = client_for(bob).get("/listening/?sentiment=neutral").content.decode()
    assert len(rows_in(html)) == 5
    # Each row: "Assign to me" and a link to its actions page; the convert, reply,
    # dismiss and spam forms come once, in the template, under a placeholder id.
    assert html.count("/convert/") == 3 and html.count("/spam/") == 1
    assert html.count('id="mention-actions-template"') == 1
    assert f"/listening/mentions/{views.ACTIONS_PLACEHOLDER}/convert/" in html
    for m in Mention.objects.all():
        assert f'href="/listening/mentions/{m.public_id}/?next=' in html
    # Actions return to the queue page with its filters, also from the re-read fragment
    # (whose own URL is not a page); the pager points at the page too.
    fragment = client_for(bob).get("/listening/queue/rows/?sentiment=neutral").content.decode()
    assert 'name="next" value="/listening/?status=open&amp;sentiment=neutral"' in fragment
    assert "/listening/queue/rows/" not in fragment.split(">", 1)[1]
    assert fragment.count("<form") == 5  # "Assign to me", one per row
    # A viewer works nothing: no template, no actions.
    assert "mention-actions-template" not in client_for(vic).get("/listening/").content.decode()


def test_a_mentions_actions_page_works_without_javascript(src, bob, vic, carol):
    services.ingest(src, [incoming("no script here")])
    mention = Mention.objects.get()
    url = f"/listening/mentions/{mention.public_id}/"
    html = client_for(bob).get(url + "?next=/listening/%3Fstatus%3Dall").content.decode()
    assert "no script here" in html and 'href="/listening/?status=all"' in html
    for action in ("assign", "convert", "reply", "dismiss", "spam"):
        assert f'action="/listening/mentions/{mention.public_id}/{action}/"' in html
    assert 'name="next" value="/listening/?status=all"' in html
    # The back link never leaves the queue.
    html = client_for(bob).get(url + "?next=https://evil.example/").content.decode()
    assert "evil.example" not in html and 'name="next" value="/listening/"' in html
    r = client_for(bob).post(f"{url}dismiss/", {"next": "/listening/?status=all"})
    assert r.status_code == 302 and r["Location"] == "/listening/?status=all"
    assert "no longer open" in client_for(bob).get(url).content.decode()
    assert client_for(vic).get(url).status_code == 403
    assert client_for(carol).get(url).status_code == 302
    assert client_for(bob).get("/listening/mentions/" + str(src.public_id) + "/").status_code == 404


def test_new_and_changed_mentions_are_published_live(
    src, alice, monkeypatch, django_capture_on_commit_callbacks
):
    from kith.core import events

    sent = []
    monkeypatch.setattr(
        live.live, "publish", lambda channel, message: sent.append((channel, message))
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.ingest(src, [incoming("live one"), incoming("live two")])
    events.deliver_pending()  # a batch is the worker's to deliver
    assert sent == [
        (live.QUEUE_CHANNEL, {"type": "mention", "event": "mention.received", "mention": ""})
    ]  # one message for the batch, not one per mention
    sent.clear()
    mention = Mention.objects.first()
    with django_capture_on_commit_callbacks(execute=True):
        services.dismiss(actor=alice, mention=mention)
    assert sent == [
        (
            live.QUEUE_CHANNEL,
            {"type": "mention", "event": "mention.dismissed", "mention": str(mention.public_id)},
        )
    ]


def test_the_stream_sees_new_mentions_without_the_worker(src, bob, settings):
    """A webhook's mention is a bulk event; the stream notices the new row by itself."""
    settings.KITH_COLLAB_SSE_MAX_SECONDS = 5
    settings.KITH_LISTENING_QUEUE_POLL_SECONDS = 0.01
    settings.KITH_COLLAB_SSE_HEARTBEAT_SECONDS = 5
    r = client_for(bob).get("/listening/stream/")
    chunks = iter(r.streaming_content)
    assert next(chunks).startswith(b"retry:")
    assert b"event: hello" in next(chunks)
    services.ingest(src, [incoming("arrives")])
    frame = next(chunks)
    assert frame.startswith(b"event: changed") and b"mention.received" in frame
    r.close()


def test_stream_answers_event_stream_for_staff(bob, settings):
    settings.KITH_COLLAB_SSE_MAX_SECONDS = 0.01
    r = client_for(bob).get("/listening/stream/")
    assert r.status_code == 200 and r["Content-Type"] == "text/event-stream"
    body = b"".join(r.streaming_content)
    assert b"event: hello" in body and b"event: bye" in body


def test_customers_and_anonymous_get_nothing(src, carol, client):
    for url in (
        "/listening/",
        "/listening/dashboards/",
        "/listening/sources/",
        "/listening/stream/",
    ):
        assert client.get(url).status_code == 302  # to the login page
        r = client_for(carol).get(url)
        assert r.status_code == 302 and r["Location"] == "/portal/"


# ------------------------------------------------------------------ sources
def test_sources_page_shows_error_state_and_pause_resume(alice, bob):
    broken = Source.objects.create(
        kind="feed",
        name="Broken feed",
        config={"url": "https://example.com/feed"},
        status="error",
        error_code="invalid_feed",
        error_message="Not a feed: <html> at line 1",
        last_polled_at=timezone.now(),
        consecutive_failures=3,
    )
    html = client_for(bob).get("/listening/sources/").content.decode()
    assert (
        "invalid_feed" in html
        and "Not a feed: &lt;html&gt;" in html
        and "3 failures in a row" in html
    )
    assert "Add a source" not in html  # agents do not configure
    assert client_for(bob).post(f"/listening/sources/{broken.public_id}/pause/").status_code == 403
    c = client_for(alice)
    c.post(f"/listening/sources/{broken.public_id}/pause/", {"enabled": "0"})
    broken.refresh_from_db()
    assert broken.enabled is False
    assert "Resume" in c.get("/listening/sources/").content.decode()
    c.post(f"/listening/sources/{broken.public_id}/pause/", {"enabled": "1"})
    broken.refresh_from_db()
    assert broken.enabled is True


def test_add_source_field_errors_are_shown_by_label(alice):
    c = client_for(alice)
    r = c.post(
        "/listening/sources/new/",
        {"kind": "feed", "name": "", "url": "not a url", "first_response_minutes": "60"},
    )
    assert r.status_code == 422
    html = r.content.decode()
    assert 'id="id_name_error"' in html
    assert 'id="id_url_error"' in html
    assert not Source.objects.exists()
    r = c.post(
        "/listening/sources/new/",
        {
            "kind": "feed",
            "name": "Blog",
            "url": "https://blog.example.com/feed.xml",
            "first_response_minutes": "60",
        },
    )
    assert r.status_code == 302
    src = Source.objects.get()
    assert src.config == {"url": "https://blog.example.com/feed.xml"} and src.owner == alice


def test_webhook_secret_is_shown_once(alice):
    c = client_for(alice)
    r = c.post(
        "/listening/sources/new/",
        {"kind": "webhook", "name": "Zapier", "first_response_minutes": "30"},
    )
    assert r.status_code == 200
    src = Source.objects.get()
    secret = services.webhook_secret(src)
    assert secret and secret in r.content.decode()
    edit = c.get(f"/listening/sources/{src.public_id}/").content.decode()
    assert secret not in edit


# ------------------------------------------------------------------ dashboards
def test_dashboards_render_every_chart_with_csv_links(src, bob):
    Keyword.objects.create(term="Acme", normalized="acme")
    services.ingest(
        src, [incoming("acme is broken", author_handle="@x@m.social"), incoming("acme I love it")]
    )
    today = timezone.localdate()
    r = client_for(bob).get(
        f"/listening/dashboards/?from={today - dt.timedelta(days=6)}&to={today}"
    )
    assert r.status_code == 200
    html = r.content.decode()
    for name in ("volume", "negative-share", "share-of-voice", "top-authors", "response-times"):
        assert f"/listening/dashboards/{name}.csv?from=" in html, name
    assert html.count("<svg") >= 3
    assert "<script" not in html.split("<main", 1)[1].split("</main>", 1)[0]
    csv_r = client_for(bob).get(
        f"/listening/dashboards/share-of-voice.csv?from={today - dt.timedelta(days=6)}&to={today}"
    )
    assert csv_r.status_code == 200 and csv_r["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(csv_r.content.decode())))
    assert rows[0] == ["Day", "Acme"] and rows[-1] == [today.isoformat(), "2"]
    authors = client_for(bob).get("/listening/dashboards/top-authors.csv").content.decode()
    assert "'@x@m.social" in authors  # formula guard on a leading @


def test_dashboard_errors_name_the_field(bob):
    c = client_for(bob)
    r = c.get("/listening/dashboards/?from=2026-02-30")
    assert r.status_code == 422 and 'id="d-from-error"' in r.content.decode()
    r = c.get("/listening/dashboards/volume.csv?to=nope")
    assert r.status_code == 422
    assert c.get("/listening/dashboards/nothing.csv").status_code == 404


def test_bulk_upload_reports_rejected_rows_and_stores_nothing_then_all(alice):
    from django.core.files.uploadedfile import SimpleUploadedFile

    src = Source.objects.create(kind="upload", name="Export")
    c = client_for(alice)
    assert 'name="file"' in c.get("/listening/sources/").content.decode()
    bad = b"id,text,published_at\n1,fine post,2026-11-01T10:00:00Z\n2,,2026-11-01T10:00:00Z\n"
    r = c.post(
        f"/listening/sources/{src.public_id}/upload/",
        {"file": SimpleUploadedFile("export.csv", bad, content_type="text/csv")},
    )
    assert r.status_code == 422
    html = r.content.decode()
    assert "Nothing was stored" in html and "Rejected rows (1)" in html and "row 3" in html
    assert not Mention.objects.exists()
    good = b"id,text\n1,fine post\n2,another fine post\n"
    r = c.post(
        f"/listening/sources/{src.public_id}/upload/",
        {"file": SimpleUploadedFile("export.csv", good, content_type="text/csv")},
    )
    assert r.status_code == 200 and "2 new mentions" in r.content.decode()
    assert Mention.objects.filter(source=src).count() == 2
    r = c.post(f"/listening/sources/{src.public_id}/upload/", {})
    assert r.status_code == 422 and "file: Choose a JSON Lines or CSV file." in r.content.decode()


def test_queue_pages_without_counting(src, bob, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    services.ingest(src, [incoming(f"paged {i}") for i in range(5)])
    c = client_for(bob)
    first = c.get("/listening/").content.decode()
    assert len(rows_in(first)) == 2 and "page=2" in first and "Previous" not in first
    last = c.get("/listening/?page=3").content.decode()
    assert len(rows_in(last)) == 1 and "Next</a>" not in last and "page=2" in last
    seen = set()
    for n in (1, 2, 3):
        seen |= set(rows_in(c.get(f"/listening/?page={n}").content.decode()))
    assert len(seen) == 5
    assert len(rows_in(c.get("/listening/?page=99999").content.decode())) == 2  # out of range: 1


def test_the_source_form_shows_every_field(alice):
    from kith.listening.forms import SourceForm

    html = client_for(alice).get("/listening/sources/new/").content.decode()
    for name in SourceForm.base_fields:
        assert f'name="{name}"' in html, name
