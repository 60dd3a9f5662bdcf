"""Sales writes from an old copy of a row (loaded before another request committed) must
not undo that request's change."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kith.sales import services
from kith.sales.models import Deal, Product

pytestmark = pytest.mark.django_db


def test_product_edits_of_different_fields_both_stay(alice):
    product = services.create_product(
        actor=alice, data={"name": "Widget", "sku": "W-1", "unit_price": "10.00"}
    )
    one, two = Product.objects.get(pk=product.pk), Product.objects.get(pk=product.pk)
    services.update_product(actor=alice, product=one, data={"unit_price": "12.50"})
    services.update_product(actor=alice, product=two, data={"name": "Widget Pro"})
    row = Product.objects.get(pk=product.pk)
    assert (row.name, row.unit_price) == ("Widget Pro", Decimal("12.50"))


def test_a_deal_edit_from_an_old_copy_keeps_a_stage_move(make_deal, stages, alice):
    deal = make_deal(amount=Decimal("100.00"))
    stale = Deal.objects.get(pk=deal.pk)
    services.move_deal(actor=alice, deal=deal, stage=stages["Won"])
    services.update_deal(actor=alice, deal=stale, data={"next_step": "Send invoice"})
    row = Deal.objects.get(pk=deal.pk)
    assert row.stage_id == stages["Won"].pk and row.next_step == "Send invoice"
    assert row.closed_on is not None


def test_a_move_from_an_old_copy_starts_where_the_deal_is(make_deal, stages, alice):
    deal = make_deal()
    stale = Deal.objects.get(pk=deal.pk)
    services.move_deal(actor=alice, deal=deal, stage=stages["Proposal"])
    services.move_deal(actor=alice, deal=stale, stage=stages["Negotiation"])
    last = deal.stage_changes.order_by("-id").first()
    assert last.from_stage_id == stages["Proposal"].pk
