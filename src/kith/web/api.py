"""HTTP API for searching everything (the command palette's data, for other clients).

Thin: the hits come from :mod:`kith.web.global_search`, scoped by each app's access rules.
"""

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from kith.web import global_search

router = Router(tags=["search"])


class SearchParams(Schema):
    q: str = Field("", max_length=global_search.MAX_QUERY, description="What to look for")
    per_group: int = Field(global_search.PER_GROUP, ge=1, le=20)


class SearchHitOut(Schema):
    kind: str
    title: str
    subtitle: str
    url: str


class SearchGroupOut(Schema):
    key: str
    label: str
    hits: list[SearchHitOut]


class SearchOut(Schema):
    q: str
    groups: list[SearchGroupOut]


@router.get("/search", response=SearchOut, summary="Search every kind of record you may see")
def search(request: HttpRequest, params: Query[SearchParams]) -> dict:
    groups = global_search.search_everything(request.user, params.q, per_group=params.per_group)
    return {"q": params.q, "groups": groups}
