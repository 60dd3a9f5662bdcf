"""The trash in the staff UI: the list (with a kind filter), restore, purge, and the
"Deleted — Undo" message a record page shows after a delete.

Thin: the rules live in :mod:`kith.core.trash` (who sees which item, restore, purge)
and in each app's services (what a kind checks and redoes on restore).
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_POST

from kith.core import trash
from kith.core.models import TrashItem
from kith.core.pagination import paginate
from kith.web.decorators import staff_view

PAGE = 50


def ensure_kinds() -> dict[str, trash.Kind]:
    """Every restorable kind: apps register theirs when their services module loads."""
    import kith.people.services
    import kith.sales.services
    import kith.service.services
    import kith.work.services  # noqa: F401

    return trash.kinds()


def undo_message(request: HttpRequest, item: TrashItem, what: str) -> None:
    """ "<what> deleted. [Undo]": the Undo button restores from the trash in one click."""
    messages.success(
        request,
        format_html(
            '{} deleted. <form method="post" action="{}" class="inline-form" data-testid="undo-delete">'
            '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
            '<button type="submit" class="button button-small">Undo</button></form> '
            '<a href="{}">Trash</a>',
            what,
            reverse("trash_restore", kwargs={"public_id": item.public_id}),
            get_token(request),
            reverse("trash"),
        ),
    )


def record_url(item: TrashItem, obj) -> str:
    kind = ensure_kinds().get(item.kind)
    return kind.url(obj) if kind is not None and kind.url is not None else reverse("trash")


@staff_view
@require_GET
def trash_list(request: HttpRequest) -> HttpResponse:
    kinds = ensure_kinds()
    qs = trash.scope_items(request.user).defer("snapshot")
    kind = request.GET.get("kind", "")
    if kind in kinds:
        qs = qs.filter(kind=kind)
    else:
        kind = ""
    page = paginate(qs, order=("-id",), cursor=request.GET.get("cursor") or None, limit=PAGE)
    for item in page.items:
        item.kind_label = kinds[item.kind].label if item.kind in kinds else item.kind
    return render(
        request,
        "web/trash.html",
        {
            "items": page.items,
            "kind": kind,
            "kinds": [(k.name, k.label) for k in kinds.values()],
            "can_purge": trash.can_purge(request.user),
            "next_cursor": page.next_cursor,
            "now": timezone.now(),
            "retention_days": trash.retention().days,
        },
    )


@staff_view
@require_POST
def trash_restore(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    ensure_kinds()
    item = trash.get_item(request.user, public_id)
    label = item.label
    obj = trash.restore(actor=request.user, item=item)
    messages.success(request, f"“{label}” restored.")
    return redirect(record_url(item, obj))


@staff_view
@require_POST
def trash_purge(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    item = trash.get_item(request.user, public_id)
    trash.purge(actor=request.user, item=item)
    messages.success(request, f"“{item.label}” deleted for good.")
    return redirect("trash")
