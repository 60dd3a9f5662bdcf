"""Synthetic benchmark data, bulk-loaded with the database driver.

Going through the ORM would take an hour for a million interactions; this writes rows
straight with the driver: SQLite ``executemany`` inside one transaction, PostgreSQL
``COPY``. Column lists come from the Django models, so a column added later is filled
with its model default instead of breaking the loader; only the columns a benchmark
cares about are generated here.

Names come from pools drawn once with Faker (several locales), so 100,000 people share
first and family names the way real contact lists do. A person is a realistic record:
a work e-mail, most have a phone and a postal address, some a second e-mail and a
social handle, a job title, notes and custom attributes (``FIELD_DEFINITIONS``).
Interactions are skewed: a few people have thousands, most have a handful, as with
real customers.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import random
import re
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from faker import Faker

FAKER_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "pt_BR", "nl_NL")
CHANNELS = (
    ("email", 35),
    ("call", 10),
    ("meeting", 5),
    ("chat", 12),
    ("social", 12),
    ("community", 10),
    ("portal", 6),
    ("web", 8),
    ("survey", 2),
)
SUMMARIES = (
    "Asked about pricing",
    "Requested a quote for the Team plan",
    "Reported a problem with CSV import",
    "Thanked us for the quick fix",
    "Quarterly check-in call",
    "Demo of the reporting module",
    "Chat: how to merge duplicate contacts",
    "Mentioned us on LinkedIn",
    "Asked in the community about the API",
    "Downloaded an invoice in the portal",
    "Visited the pricing page",
    "NPS response: 9/10",
    "Renewal reminder sent",
    "Followed up on the proposal",
)
# Custom attributes every benchmark database defines (key, label, type, choices); the
# loader and the benchmark's creates fill them.
FIELD_DEFINITIONS = (
    ("segment", "Segment", "choice", ["smb", "mid-market", "enterprise", "public"]),
    ("employees", "Employees", "number", []),
    ("renewal", "Renewal date", "date", []),
    ("newsletter", "Newsletter", "boolean", []),
)
TITLES = ("Buyer", "CTO", "Head of Support", "Analyst", "Founder", "Office manager", "")
NOTES = (
    "Met at the Berlin trade fair; interested in the reporting module.",
    "Prefers e-mail over calls. Renewal handled by procurement.",
    "Champion for the rollout in the EMEA team.",
    "Asked for a reference customer in retail.",
    "",
    "",
)


def attributes(rng: random.Random) -> dict[str, Any]:
    """Custom attribute values for one person (most have some, a few have none)."""
    out: dict[str, Any] = {}
    if rng.random() < 0.7:
        out["segment"] = rng.choice(FIELD_DEFINITIONS[0][3])
    if rng.random() < 0.5:
        out["employees"] = rng.choice((5, 12, 40, 250, 1200, 8000))
    if rng.random() < 0.4:
        out["renewal"] = (ANCHOR.date() + dt.timedelta(days=rng.randint(1, 700))).isoformat()
    if rng.random() < 0.5:
        out["newsletter"] = rng.random() < 0.5
    return out


def postal_address(rng: random.Random) -> str:
    """An address on one of ~2,400 streets in one of ~700 towns (Faker's, several
    locales): a handful of streets would make most people neighbours, and identity
    resolution rightly compares neighbours with the same name."""
    streets, towns = address_pools()
    return (
        f"{rng.randint(1, 200)} {rng.choice(streets)}, "
        f"{rng.randint(10000, 99999)} {rng.choice(towns)}"
    )


@functools.cache
def address_pools(seed: int = 0) -> tuple[list[str], list[str]]:
    """Street and town names from several Faker locales (drawn once per seed)."""
    streets, towns = [], []
    for offset, locale in enumerate(FAKER_LOCALES):
        faker = Faker(locale)
        faker.seed_instance(seed + offset)
        streets += sorted({faker.street_name() for _ in range(300)})
        towns += sorted({faker.city() for _ in range(100)})
    return streets, towns


def phone_number(serial: int) -> tuple[str, str]:
    """A valid, unique German mobile number for ``serial``: (as typed, E.164)."""
    digits = f"{serial:08d}"
    return f"+49 151 {digits}", f"+49151{digits}"


ANCHOR = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
SPAN_SECONDS = 2 * 365 * 86400
BATCH = 20_000


@dataclass
class Sizes:
    people: int
    interactions: int

    @property
    def organizations(self) -> int:
        return max(10, self.people // 50)

    @property
    def transactions(self) -> int:
        return self.interactions // 10


def ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "", folded) or "x"


@functools.cache
def name_pools(seed: int) -> tuple[list[str], list[str], list[str]]:
    """First names, family names and company names from several Faker locales."""
    first, family, companies = [], [], []
    for offset, locale in enumerate(FAKER_LOCALES):
        faker = Faker(locale)
        faker.seed_instance(seed + offset)
        first += sorted({faker.first_name() for _ in range(400)})
        family += sorted({faker.last_name() for _ in range(400)})
        companies += sorted({faker.company() for _ in range(300)})
    return first, family, companies


class Loader:
    """Writes rows for Django models with the raw driver of the benchmark database."""

    def __init__(self, vendor: str, raw: Any, django_connection: Any) -> None:
        self.vendor = vendor  # "sqlite" | "postgresql"
        self.raw = raw  # sqlite3.Connection or psycopg.Connection
        self.dj = django_connection

    # -- value adapters: produce what the driver stores, as Django would

    def uid(self, value: uuid.UUID) -> Any:
        return value.hex if self.vendor == "sqlite" else value

    def when(self, value: dt.datetime) -> Any:
        if self.vendor == "sqlite":
            # Django stores naive UTC text on SQLite; compare it as text, so match its format.
            return str(value.astimezone(dt.UTC).replace(tzinfo=None))
        return value

    def day(self, value: dt.date | None) -> Any:
        return None if value is None else (value.isoformat() if self.vendor == "sqlite" else value)

    def money(self, value: Decimal) -> Any:
        return str(value) if self.vendor == "sqlite" else value

    def flag(self, value: bool) -> Any:
        return int(value) if self.vendor == "sqlite" else value

    def json(self, value: Any) -> str:
        return json.dumps(value)

    def columns(self, model: Any, generated: Sequence[str]) -> tuple[list[str], tuple]:
        """All columns of ``model`` but the id: the generated ones first, then the rest
        with their model default, converted once."""
        fields = {f.column: f for f in model._meta.concrete_fields if not f.primary_key}
        missing = [c for c in generated if c not in fields]
        if missing:
            raise RuntimeError(f"{model.__name__} has no column(s) {missing}; update the loader")
        rest = [c for c in fields if c not in generated]
        defaults = []
        for column in rest:
            f = fields[column]
            if f.unique or getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                raise RuntimeError(f"{model.__name__}.{column} must be generated by the loader")
            value = f.get_default()
            if value is None and not f.null:
                raise RuntimeError(f"{model.__name__}.{column} is NOT NULL without a default")
            defaults.append(f.get_db_prep_save(value, self.dj))
        return [*generated, *rest], tuple(defaults)

    def insert(
        self, model: Any, generated: Sequence[str], rows: Iterable[tuple], total: int = 0
    ) -> int:
        """Insert ``rows`` (tuples of the ``generated`` columns); returns the row count."""
        table = model._meta.db_table
        columns, defaults = self.columns(model, generated)
        quoted = ", ".join(f'"{c}"' for c in columns)
        count = 0
        if self.vendor == "sqlite":
            marks = ", ".join("?" * len(columns))
            sql = f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})'
            for chunk in _chunks(rows, BATCH):
                self.raw.executemany(sql, [row + defaults for row in chunk])
                count += len(chunk)
        else:
            copy_sql = f'COPY "{table}" ({quoted}) FROM STDIN'
            with self.raw.cursor() as cursor, cursor.copy(copy_sql) as copy:
                for row in rows:
                    copy.write_row(row + defaults)
                    count += 1
        return count


def _chunks(rows: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    chunk: list[tuple] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def load(
    loader: Loader, sizes: Sizes, *, seed: int = 2026, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Load organisations, people (one e-mail each), relationships, interactions and
    transactions into an empty, migrated database. Returns counts and timings."""
    from kith.interactions.models import Interaction, Transaction
    from kith.people.models import ContactPoint, Party, Relationship

    rng = random.Random(seed)
    first, family, companies = name_pools(seed)
    ids = random.Random(seed + 1)

    def new_uuid() -> Any:
        return loader.uid(uuid.UUID(int=ids.getrandbits(128), version=4))

    now = loader.when(dt.datetime.now(dt.UTC))
    stats: dict[str, Any] = {}
    started = time.perf_counter()

    # -- organisations, then people: ids are assigned in insertion order in an empty table.
    def party_rows() -> Iterator[tuple]:
        for i in range(sizes.organizations):
            name = f"{rng.choice(companies)}"
            if i >= len(companies):
                name = f"{name} {i}"
            yield (
                new_uuid(),
                now,
                now,
                "organization",
                name,
                name.casefold(),
                "",
                "",
                name,
                "",
                "",
                loader.json({}),
            )
        for _ in range(sizes.people):
            given, fam = rng.choice(first), rng.choice(family)
            name = f"{given} {fam}"
            yield (
                new_uuid(),
                now,
                now,
                "person",
                name,
                name.casefold(),
                given,
                fam,
                "",
                rng.choice(TITLES),
                rng.choice(NOTES),
                loader.json(attributes(rng)),
            )

    party_cols = (
        "public_id",
        "created_at",
        "updated_at",
        "kind",
        "display_name",
        "sort_name",
        "given_name",
        "family_name",
        "legal_name",
        "title",
        "notes",
        "attributes",
    )
    stats["parties"] = loader.insert(Party, party_cols, party_rows())
    cursor = loader.raw.cursor()
    rows = cursor.execute(
        'SELECT id, kind, given_name, family_name FROM "people_party" ORDER BY id'
    ).fetchall()
    org_ids = [r[0] for r in rows if r[1] == "organization"]
    people = [(r[0], r[2], r[3]) for r in rows if r[1] == "person"]
    person_ids = [p[0] for p in people]
    log(f"  {len(org_ids):,} organisations, {len(people):,} people")

    # -- a work e-mail per person; most have a phone and an address, some a private
    # e-mail and a GitHub handle; a website per organisation
    def contact_rows() -> Iterator[tuple]:
        yes = loader.flag(True)
        no = loader.flag(False)
        for pid, given, fam in people:
            email = f"{ascii_word(given)}.{ascii_word(fam)}.{pid}@example.com"
            yield (new_uuid(), now, now, pid, "email", email, email, "work", yes)
            if rng.random() < 0.2:
                private = f"{ascii_word(given)}{pid}@mail.example"
                yield (new_uuid(), now, now, pid, "email", private, private, "home", no)
            if rng.random() < 0.7:
                shown, e164 = phone_number(pid)
                yield (new_uuid(), now, now, pid, "phone", shown, e164, "mobile", yes)
            if rng.random() < 0.6:
                address = postal_address(rng)
                yield (
                    new_uuid(),
                    now,
                    now,
                    pid,
                    "postal",
                    address,
                    " ".join(address.split()).casefold(),
                    "work",
                    yes,
                )
            if rng.random() < 0.3:
                handle = f"{ascii_word(given)[:20]}-{pid}"
                yield (new_uuid(), now, now, pid, "github", handle, handle, "", yes)
        for oid in org_ids:
            site = f"org{oid}.example"
            yield (
                new_uuid(),
                now,
                now,
                oid,
                "website",
                f"https://{site}",
                site,
                "",
                loader.flag(True),
            )

    stats["contact_points"] = loader.insert(
        ContactPoint,
        (
            "public_id",
            "created_at",
            "updated_at",
            "party_id",
            "channel",
            "value",
            "normalized",
            "label",
            "primary",
        ),
        contact_rows(),
    )

    # -- roles: most people work somewhere (some moved), a third are our customers
    roles = dict(cursor.execute('SELECT slug, id FROM "people_roletype"').fetchall())
    missing = {"employee", "customer"} - set(roles)
    if missing:
        raise RuntimeError(f"role vocabulary lacks {missing}; did the migrations run?")
    base = ANCHOR.date()

    def relationship_rows() -> Iterator[tuple]:
        for pid in person_ids:
            if rng.random() < 0.8:
                start = base - dt.timedelta(days=rng.randint(30, 3650))
                if rng.random() < 0.1:
                    old_start = start - dt.timedelta(days=rng.randint(200, 2000))
                    old_end = start - dt.timedelta(days=1)
                    yield (
                        new_uuid(),
                        now,
                        now,
                        pid,
                        roles["employee"],
                        rng.choice(org_ids),
                        loader.day(old_start),
                        loader.day(old_end),
                    )
                yield (
                    new_uuid(),
                    now,
                    now,
                    pid,
                    roles["employee"],
                    rng.choice(org_ids),
                    loader.day(start),
                    None,
                )
            if rng.random() < 0.3:
                since = base - dt.timedelta(days=rng.randint(1, 1800))
                yield (new_uuid(), now, now, pid, roles["customer"], None, loader.day(since), None)

    stats["relationships"] = loader.insert(
        Relationship,
        (
            "public_id",
            "created_at",
            "updated_at",
            "subject_id",
            "role_id",
            "object_id",
            "valid_from",
            "valid_to",
        ),
        relationship_rows(),
    )
    log(f"  {stats['contact_points']:,} contact points, {stats['relationships']:,} relationships")

    # -- interactions in time order (as they arrive), skewed towards a few heavy people
    channels, weights = zip(*CHANNELS, strict=True)
    cumulative = list(_accumulate(weights))
    n_people = len(person_ids)
    start_ts = ANCHOR.timestamp() - SPAN_SECONDS
    offsets = sorted(rng.random() * SPAN_SECONDS for _ in range(sizes.interactions))

    def interaction_rows() -> Iterator[tuple]:
        choices = rng.choices
        for offset in offsets:
            when = loader.when(dt.datetime.fromtimestamp(start_ts + offset, dt.UTC))
            pid = person_ids[int(n_people * rng.random() ** 2)]
            channel = choices(channels, cum_weights=cumulative)[0]
            direction = "out" if rng.random() < 0.35 else "in"
            sentiment = round(rng.uniform(-1, 1), 2) if rng.random() < 0.3 else None
            yield (
                new_uuid(),
                when,
                when,
                pid,
                channel,
                direction,
                channel,
                when,
                rng.choice(SUMMARIES),
                "",
                sentiment,
                "bench",
            )

    t0 = time.perf_counter()
    stats["interactions"] = loader.insert(
        Interaction,
        (
            "public_id",
            "created_at",
            "updated_at",
            "party_id",
            "channel",
            "direction",
            "kind",
            "occurred_at",
            "summary",
            "body",
            "sentiment",
            "source",
        ),
        interaction_rows(),
    )
    stats["interactions_seconds"] = round(time.perf_counter() - t0, 1)
    log(f"  {stats['interactions']:,} interactions in {stats['interactions_seconds']} s")

    def transaction_rows() -> Iterator[tuple]:
        tx_offsets = sorted(rng.random() * SPAN_SECONDS for _ in range(sizes.transactions))
        for offset in tx_offsets:
            when = loader.when(dt.datetime.fromtimestamp(start_ts + offset, dt.UTC))
            pid = person_ids[int(n_people * rng.random() ** 2)]
            kind = rng.choices(("order", "payment", "refund"), weights=(50, 47, 3))[0]
            amount = loader.money(Decimal(rng.randint(500, 250_000)) / 100)
            yield (
                new_uuid(),
                when,
                when,
                pid,
                kind,
                amount,
                "EUR",
                when,
                f"SO-{rng.randint(1, 10**6):07d}",
            )

    stats["transactions"] = loader.insert(
        Transaction,
        (
            "public_id",
            "created_at",
            "updated_at",
            "party_id",
            "kind",
            "amount",
            "currency",
            "occurred_at",
            "reference",
        ),
        transaction_rows(),
    )
    stats["load_seconds"] = round(time.perf_counter() - started, 1)
    return stats


def _accumulate(values: Iterable[int]) -> Iterator[int]:
    total = 0
    for value in values:
        total += value
        yield total


def json_default(value: Any) -> Any:
    if isinstance(value, Decimal | uuid.UUID | dt.date):
        return str(value)
    raise TypeError(type(value).__name__)


def dumps(value: Any) -> str:
    return json.dumps(value, default=json_default, indent=2)
