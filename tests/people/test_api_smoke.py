"""Smoke: create, read, list and search a person through the API."""


def test_create_and_get_person(alice, api_as):
    api = api_as(alice)
    r = api.post(
        "/api/people",
        {
            "given_name": "Ana",
            "family_name": "Lima",
            "contact_points": [{"channel": "email", "value": "Ana@Example.com"}],
        },
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["display_name"] == "Ana Lima"
    assert body["contact_points"][0]["normalized"] == "ana@example.com"
    r = api.get(f"/api/people/{body['id']}")
    assert r.status_code == 200
    assert api.get("/api/people").json()["items"][0]["id"] == body["id"]


def test_create_reply_is_the_record_as_read_back(alice, api_as):
    api = api_as(alice)
    r = api.post(
        "/api/people",
        {
            "given_name": "Ana",
            "family_name": "Lima",
            "tags": ["vip", "beta"],
            "interests": ["cycling"],
            "contact_points": [
                {"channel": "phone", "value": "+44 20 7946 0958"},
                {"channel": "email", "value": "ana@example.com"},
                {"channel": "email", "value": "ana.lima@example.org"},
            ],
        },
    )
    assert r.status_code == 201, r.content
    created = r.json()
    assert created["tags"] == ["beta", "vip"]
    assert [cp["channel"] for cp in created["contact_points"]] == ["email", "email", "phone"]
    assert created == api.get(f"/api/people/{created['id']}").json()


def test_create_reads_nothing_back(alice, api_as, django_assert_max_num_queries):
    """A create is checks, inserts and the index: 20 queries before the lean path.

    Counted in the steady state: a first request notes the token's first use and fills
    the process caches (content types), which happens once, not per create.
    """
    api = api_as(alice)
    warm = api.post("/api/people", {"given_name": "Warm", "family_name": "Up"})
    assert warm.status_code == 201, warm.content
    payload = {
        "given_name": "Ana",
        "family_name": "Lima",
        "contact_points": [{"channel": "email", "value": "ana@example.com"}],
    }
    with django_assert_max_num_queries(11):
        r = api.post("/api/people", payload)
    assert r.status_code == 201, r.content
    assert r.json()["contact_points"][0]["normalized"] == "ana@example.com"
