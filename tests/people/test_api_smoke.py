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
