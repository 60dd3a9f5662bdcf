"""Tables written on every create carry no index another index already starts with.

Each index is one more B-tree to update (and, on SQLite, pages to write to the WAL) for
every row: a person's create writes three or four contact points, an audit row and a
follow, and its events a delivery row per subscriber; a post writes a feed row per
follower; a listening ingest writes a mention for each post and an interaction for each
matched one. Lookups by these columns still have an index, the composite one that starts
with them.
"""

import pytest
from django.db import connection

from kith.collab.models import FeedItem, Follow
from kith.core.models import AuditEntry, EventDelivery
from kith.interactions.models import Interaction, Transaction
from kith.listening.models import Mention
from kith.people.models import ContactPoint

# model, the column that must not be indexed alone, an index that starts with it
CASES = [
    (ContactPoint, "channel", ["channel", "normalized"]),
    (Follow, "follower_id", ["follower_id", "target_type_id"]),
    (Follow, "target_type_id", ["target_type_id", "target_id", "follower_id"]),
    (AuditEntry, "object_type_id", ["object_type_id", "object_id", "occurred_at"]),
    (Interaction, "party_id", ["party_id", "occurred_at", "id"]),
    (Transaction, "party_id", ["party_id", "occurred_at", "id"]),
    (EventDelivery, "event_id", ["event_id", "subscriber"]),
    (FeedItem, "user_id", ["user_id", "post_id"]),
    (Mention, "source_id", ["source_id", "published_at"]),
    (Mention, "person_id", ["person_id", "published_at"]),
    (Mention, "assignee_id", ["assignee_id", "is_open", "rank", "id"]),
]


@pytest.mark.django_db
@pytest.mark.parametrize("model, column, covering", CASES)
def test_no_index_of_its_own_where_a_composite_starts_with_it(model, column, covering):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
    indexed = [c["columns"] for c in constraints.values() if c["index"] or c["unique"]]
    assert [column] not in indexed
    assert covering in indexed, indexed
