"""No 5xx from input in the web UI: crawl it as each kind of login over the demo data and
send every page hostile query strings and every form hostile values.

The pages and forms are found by following the links the pages themselves render (the
demo data set, with every app's extension), so a page or form added later is covered
without a new test. Only the answer's class is checked: 2xx, 3xx or a 4xx with a message
are all fine; a 5xx is the defect (an unhandled exception behind user input).
"""

from __future__ import annotations

import random
import urllib.parse
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.test import Client
from django.urls import Resolver404, resolve

from kith.demo import data as demo

pytestmark = pytest.mark.django_db

# Values a careless or hostile user types: empty, far too long, NUL bytes, markup,
# impossible dates, numbers out of range, ids of nothing, other scripts.
HOSTILE_TEXT = (
    "",
    "x" * 20_000,
    "a\x00b",
    "<script>alert(1)</script>",
    "2026-02-30",
    "-1e309",
    "not-a-uuid",
    "00000000-0000-0000-0000-000000000000",
    "🙂" * 300,
    "'; DROP TABLE people; --",
)
# Paths never followed or posted to: they end the session or hold the connection open.
NEVER = ("/logout/", "/portal/logout/", "/static/", "/api/", "/media/")
PAGE_LIMIT = {"alice": 220, "bob": 90, "carol": 60, "pat": 40}


@dataclass
class Form:
    action: str
    fields: list[tuple[str, str, str]] = field(default_factory=list)  # (name, type, value)
    options: dict[str, list[str]] = field(default_factory=dict)


class _PageParser(HTMLParser):
    """The links and POST forms of one page (forms in <template>s included)."""

    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.links: list[str] = []
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(urllib.parse.urljoin(self.base, a["href"]))
        elif tag == "form":
            method = a.get("method", "get").lower()
            action = urllib.parse.urljoin(self.base, a.get("action") or self.base)
            if method == "post":
                self._form = Form(action)
                self.forms.append(self._form)
            else:
                self._form = None
                self.links.append(action)
        elif self._form is None:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in a:
                kind = kind + ":unchecked"
            self._form.fields.append((a["name"], kind, a.get("value", "")))
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
            self._form.fields.append((a["name"], "select", ""))
            self._form.options[a["name"]] = []
        elif tag == "option" and self._select:
            self._form.options[self._select].append(a.get("value", ""))
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self._form.fields.append((a["name"], "textarea", ""))
        elif tag == "button" and a.get("name"):
            self._form.fields.append((a["name"], "submit", a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def _local_path(url: str) -> str | None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("", "http") or parts.netloc not in ("", "testserver"):
        return None
    path = parts.path or "/"
    if any(path.startswith(p) for p in NEVER + tuple(settings.KITH_ASYNC_PATHS)):
        return None
    return urllib.parse.urlunsplit(("", "", path, parts.query, ""))


def _route(path: str) -> str | None:
    try:
        match = resolve(urllib.parse.urlsplit(path).path)
    except Resolver404:
        return None
    return match.view_name


def _get(client: Client, path: str, failures: list[str]):
    response = client.get(path)
    if response.status_code >= 500:
        failures.append(f"GET {path} answered {response.status_code}")
    return response


def _crawl(
    client: Client, start: str, limit: int, failures: list[str]
) -> tuple[list[str], list[Form]]:
    """Breadth first from ``start``: one page per (route, query keys), at most ``limit``."""
    seen: set[tuple] = set()
    queue = [start]
    pages: list[str] = []
    forms: dict[tuple, Form] = {}
    while queue and len(pages) < limit:
        path = queue.pop(0)
        route = _route(path)
        query_keys = tuple(sorted(urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)))
        key = (route, query_keys)
        if route is None or key in seen:
            continue
        seen.add(key)
        response = _get(client, path, failures)
        pages.append(path)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        parser = _PageParser("http://testserver" + path)
        parser.feed(response.content.decode("utf-8", "replace"))
        queue.extend(p for link in parser.links if (p := _local_path(link)))
        for form in parser.forms:
            action = _local_path(form.action)
            if action is None:
                continue
            form.action = action
            form_key = (_route(action), tuple(sorted(name for name, _, _ in form.fields)))
            forms.setdefault(form_key, form)
    return pages, list(forms.values())


def _hostile_queries(path: str, rng: random.Random) -> list[str]:
    """The page again with each of its query parameters, and the usual ones, poisoned."""
    parts = urllib.parse.urlsplit(path)
    keys = set(urllib.parse.parse_qs(parts.query)) | {"page", "cursor", "q", "sort", "on"}
    out = []
    for _ in range(2):
        query = urllib.parse.urlencode({k: rng.choice(HOSTILE_TEXT[1:]) for k in sorted(keys)})
        out.append(urllib.parse.urlunsplit(("", "", parts.path, query, "")))
    return out


def _hostile_post(form: Form, rng: random.Random, *, keep_hidden: bool) -> dict:
    """The form's fields filled with hostile values; hidden fields (ids, the record's
    version) kept as rendered or poisoned too."""
    body: dict[str, object] = {}
    for name, kind, value in form.fields:
        if kind in ("hidden", "submit") and keep_hidden:
            body[name] = value
        elif kind.endswith(":unchecked"):
            if rng.random() < 0.5:
                body[name] = value or "on"
        elif kind == "file":
            continue  # uploads have their own bounded-input tests
        elif kind == "select" and keep_hidden and form.options.get(name) and rng.random() < 0.3:
            body[name] = rng.choice(form.options[name])
        else:
            body[name] = rng.choice(HOSTILE_TEXT)
    return body


def _fuzz_as(username: str, start: str) -> tuple[int, int, list[str]]:
    """Crawl as ``username``, then poison every page's query and every form; answers
    the pages and forms found and every request that answered 5xx."""
    client = Client(raise_request_exception=False)
    assert client.login(username=username, password=demo.DEMO_PASSWORD)
    rng = random.Random(f"kith-web-fuzz-{username}")
    failures: list[str] = []
    pages, forms = _crawl(client, start, PAGE_LIMIT[username], failures)
    for path in pages:
        for hostile in _hostile_queries(path, rng):
            _get(client, hostile, failures)
    for form in forms:
        for keep_hidden in (True, False):
            body = _hostile_post(form, rng, keep_hidden=keep_hidden)
            response = client.post(form.action, body)
            if response.status_code >= 500:
                failures.append(
                    f"POST {form.action} answered {response.status_code} with {body!r:.300}"
                )
    return len(pages), len(forms), failures


@pytest.fixture
def demo_data(db):
    demo.load(people=40, organizations=6, interactions=300)


@pytest.mark.parametrize(
    "username,start",
    [("alice", "/"), ("bob", "/"), ("carol", "/portal/"), ("pat", "/portal/")],
)
def test_no_page_or_form_answers_5xx_to_hostile_input(demo_data, username, start):
    pages, forms, failures = _fuzz_as(username, start)
    assert failures == []
    # The crawl really walked the UI (a broken start page or parser would find nothing).
    assert pages >= min(PAGE_LIMIT[username], 20)
    assert forms >= 3


# What a login that may change no staff record can still do through the staff forms: its
# own collaboration (react, comment, follow, its notification settings, leave a group), its
# own ideas, and its own calendar feed. Anything else in the audit log is a leak.
PERSONAL_ACTIONS = {
    "reaction.added",
    "reaction.removed",
    "comment.created",
    "interaction.logged",
    "follow.created",
    "follow.updated",
    "follow.removed",
    "notification_settings.updated",
    "membership.removed",
    "idea.created",
    "idea.commented",
    "idea.comment_edited",
    "calendar_feed.created",
}


def _as_rendered(form: Form) -> dict:
    """The form sent as a user would send it unchanged: rendered values, first choices."""
    body: dict[str, object] = {}
    for name, kind, value in form.fields:
        if kind.endswith(":unchecked") or kind == "file":
            continue
        if kind == "select":
            body[name] = next((o for o in form.options.get(name, []) if o), "")
        else:
            body[name] = value or ("Probe 12" if kind not in ("hidden", "submit") else value)
    return body


def test_viewers_customers_and_partners_change_nothing_through_staff_forms(demo_data):
    from kith.accounts.models import User
    from kith.core.models import AuditEntry

    admin = Client(raise_request_exception=False)
    assert admin.login(username="alice", password=demo.DEMO_PASSWORD)
    _, forms = _crawl(admin, "/", PAGE_LIMIT["alice"], [])
    assert len(forms) >= 50
    for username in ("vic", "carol", "pat"):
        user = User.objects.get(username=username)
        client = Client(raise_request_exception=False)
        assert client.login(username=username, password=demo.DEMO_PASSWORD)
        since = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
        for form in forms:
            client.post(form.action, _as_rendered(form))
        done = set(
            AuditEntry.objects.filter(actor=user, id__gt=since).values_list("action", flat=True)
        )
        assert done - PERSONAL_ACTIONS == set(), username
