"""HTTP API of the trash: list what you may restore, restore, purge (admins).

Thin: :mod:`kith.core.trash` holds the rules; :mod:`kith.web.trash` registers the kinds.
Mounted for staff only (a customer's session answers 404).
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from kith.core import trash
from kith.core.errors import ValidationFailed
from kith.core.pagination import clamp_limit, paginate
from kith.people import access as people_access
from kith.web.trash import ensure_kinds, record_url

router = Router(tags=["trash"])


class TrashQuery(Schema):
    kind: str = Field("", max_length=40, description="person, organization, deal, case, …")
    cursor: str | None = Field(None, max_length=500)
    limit: int | None = Field(None, ge=1, le=200)


class TrashItemOut(Schema):
    id: uuid.UUID
    kind: str
    label: str
    record_id: uuid.UUID | None
    deleted_by: str
    deleted_at: dt.datetime
    expires_at: dt.datetime
    rows: int


class TrashPage(Schema):
    items: list[TrashItemOut]
    next_cursor: str | None


class RestoredOut(Schema):
    kind: str
    id: uuid.UUID | None
    label: str
    url: str


def _out(item) -> dict:
    return {
        "id": item.public_id,
        "kind": item.kind,
        "label": item.label,
        "record_id": item.object_public_id,
        "deleted_by": item.deleted_by_label,
        "deleted_at": item.deleted_at,
        "expires_at": item.expires_at,
        "rows": item.row_count,
    }


@router.get("/trash", response=TrashPage, url_name="list_trash")
def list_trash(request: HttpRequest, query: Query[TrashQuery]):
    """Deleted records you may restore, newest first (admins and managers: all)."""
    people_access.require_staff(request.user)
    kinds = ensure_kinds()
    qs = trash.scope_items(request.user).defer("snapshot")
    if query.kind:
        if query.kind not in kinds:
            raise ValidationFailed.single("kind", f"Must be one of: {', '.join(sorted(kinds))}.")
        qs = qs.filter(kind=query.kind)
    page = paginate(qs, order=("-id",), cursor=query.cursor, limit=clamp_limit(query.limit))
    return {"items": [_out(i) for i in page.items], "next_cursor": page.next_cursor}


@router.post("/trash/{public_id}/restore", response={200: RestoredOut}, url_name="restore_trash")
def restore_trash(request: HttpRequest, public_id: uuid.UUID):
    """Put a deleted record back with everything it held; 409 when something is in the
    way, 410 after the retention."""
    people_access.require_staff(request.user)
    ensure_kinds()
    item = trash.get_item(request.user, public_id)
    obj = trash.restore(actor=request.user, item=item)
    return Status(
        200,
        {
            "kind": item.kind,
            "id": getattr(obj, "public_id", None),
            "label": item.label,
            "url": record_url(item, obj),
        },
    )


@router.delete("/trash/{public_id}", response={204: None}, url_name="purge_trash")
def purge_trash(request: HttpRequest, public_id: uuid.UUID):
    """Delete a trash item for good (admins only)."""
    people_access.require_staff(request.user)
    item = trash.get_item(request.user, public_id)
    trash.purge(actor=request.user, item=item)
    return Status(204, None)
