"""Staff pages of kith.cmr: the purposes admin (add, edit, text versions; admins only)
and refusing an erasure request with a reason the customer reads."""

from __future__ import annotations

from kith.cmr import erasure, services
from kith.cmr.models import ConsentReceipt, ErasureRequest, Purpose
from kith.core.models import AuditEntry
from tests.conftest import client_for

NEW = {
    "key": "event_invitations",
    "name": "Event invitations",
    "text": "We may invite you to our events.",
    "category": "Marketing",
    "consent_type": "EXPLICIT",
    "order": "50",
    "active": "on",
}


def test_admin_adds_a_purpose_customers_can_then_grant(alice, carol):
    admin = client_for(alice)
    assert admin.get("/cmr/purposes/").status_code == 200
    added = admin.post("/cmr/purposes/", NEW)
    assert added.status_code == 302, added.content[:500]
    purpose = Purpose.objects.get(key="event_invitations")
    assert purpose.active and purpose.order == 50
    receipt = services.set_consent(
        actor=carol, person=carol.person, purpose="event_invitations", granted=True, source="portal"
    )
    assert receipt.text_shown == "We may invite you to our events."
    again = admin.post("/cmr/purposes/", NEW)
    assert again.status_code == 422 and b"A purpose with this key exists" in again.content
    for bad, message in (
        ({**NEW, "key": "Bad Key"}, b"lower-case"),
        ({**NEW, "key": "ok_key", "name": ""}, b"This field is required"),
        ({**NEW, "key": "ok_key2", "third_party_disclosure": "on"}, b"Name who the data"),
        ({**NEW, "key": "ok_key3", "order": "x"}, b"whole number"),
    ):
        answer = admin.post("/cmr/purposes/", bad)
        assert answer.status_code == 422 and message in answer.content
    assert Purpose.objects.filter(key__startswith="ok_key").count() == 0


def test_editing_the_text_makes_a_version_and_old_receipts_keep_theirs(alice, carol):
    purpose = Purpose.objects.get(key="marketing_email")
    first = purpose.text
    old = services.set_consent(
        actor=carol, person=carol.person, purpose="marketing_email", granted=True, source="portal"
    )
    admin = client_for(alice)
    url = f"/cmr/purposes/{purpose.public_id}/"
    form = {
        "name": purpose.name,
        "text": "News and offers, at most twice a month.",
        "category": purpose.category,
        "consent_type": purpose.consent_type,
        "order": str(purpose.order),
        "active": "on",
    }
    assert admin.post(url, form).status_code == 302
    purpose.refresh_from_db()
    assert purpose.text == "News and offers, at most twice a month."
    assert ConsentReceipt.objects.get(pk=old.pk).text_shown == first
    page = admin.get(url).content.decode()
    assert "News and offers, at most twice a month." in page and first in page
    assert AuditEntry.objects.filter(action="purpose.updated").count() == 1


def test_only_admins_edit_purposes(bob, carol):
    assert client_for(bob).get("/cmr/purposes/").status_code == 403
    assert client_for(bob).post("/cmr/purposes/", NEW).status_code == 403
    assert client_for(carol).get("/cmr/purposes/").status_code == 302  # to the portal
    assert not Purpose.objects.filter(key="event_invitations").exists()


def test_staff_refuse_an_erasure_request_with_a_reason_the_customer_reads(alice, bob, carol):
    req = erasure.request_erasure(actor=carol, person=carol.person)
    url = f"/cmr/people/{carol.person.public_id}/erasure/{req.public_id}/refuse/"
    page = client_for(alice).get(f"/people/{carol.person.public_id}/").content.decode()
    assert url in page  # the form is on the person page
    # A role that may not erase cannot refuse either.
    assert client_for(bob).post(url, {"reason": "No"}).status_code == 403
    empty = client_for(alice).post(url, {"reason": "  "})
    assert empty.status_code == 302
    assert ErasureRequest.objects.get(pk=req.pk).status == "pending"
    done = client_for(alice).post(url, {"reason": "You have an active warranty claim."})
    assert done.status_code == 302
    req.refresh_from_db()
    assert req.status == "refused" and req.reason == "You have an active warranty claim."
    mine = client_for(carol).get("/cmr/my/").content.decode()
    assert "You have an active warranty claim." in mine


def test_the_intents_queue_is_reachable_from_the_sales_tabs(alice):
    """Staff find customers' intents where they work on deals, one click away."""
    admin = client_for(alice)
    board = admin.get("/sales/")
    assert board.status_code == 200
    assert b'href="/cmr/intents/"' in board.content
    assert admin.get("/cmr/intents/").status_code == 200
