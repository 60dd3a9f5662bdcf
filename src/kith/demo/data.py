"""The deterministic demo data set behind ``kith demo``.

Two steps, so the interesting part can be tested without a database:

* ``build_dataset`` turns counts, a seed and an anchor date into plain Python specs
  (organisations, people, contact points, roles over time, interactions, transactions).
  It draws every name and value from seeded generators (one ``random.Random`` and one
  seeded Faker per locale), never from the clock, so the same arguments always give
  the same data: the dates are relative to an anchor day. ``kith demo`` anchors on
  today, so "My day" and forecasts are current; ``--anchor`` (or ``ANCHOR`` in tests)
  pins it for a reproducible data set.
* ``load`` writes a data set in one transaction with ``bulk_create`` (the row-by-row
  services would take minutes for 5,000 interactions), creates the demo logins through
  the accounts services, writes one audit entry per party on the ``demo`` channel and
  rebuilds the search index.

The audit entries on the ``demo`` channel are the ledger of what the demo created:
``demo_loaded`` looks for them and ``wipe`` deletes exactly those records, so other
data in the same database is left alone.

Every e-mail address and website lives under the reserved ``.example`` top-level
domain or ``example.com/net/org`` (RFC 2606), so no demo campaign can reach a real inbox.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import phonenumbers
from faker import Faker

# A fixed anchor for reproducible data sets (tests, benchmarks); the command uses today.
ANCHOR = dt.date(2026, 11, 1)
DEFAULT_SEED = 2026
DEFAULT_PEOPLE = 300
DEFAULT_ORGANIZATIONS = 40
DEFAULT_INTERACTIONS = 5000
# One password for every demo login; it passes Django's validators (length, not common).
DEMO_PASSWORD = "kith-demo-2026"
DEMO_CHANNEL = "demo"
DEMO_SOURCE = "demo"
TEAM_NAME = "Key Accounts"
MAX_EMPLOYER_WEIGHT = 5.0  # the largest organisation employs a few times the median's people
WINDOW_DAYS = 730  # interactions and transactions cover the two years before the anchor


@dataclass(frozen=True)
class Login:
    username: str
    role: str
    kind: str
    first_name: str
    last_name: str
    description: str


LOGINS: tuple[Login, ...] = (
    Login("alice", "admin", "staff", "Alice", "Martin", "admin: everything, fields and roles"),
    Login("mia", "manager", "staff", "Mia", "Fischer", "manager: sees and changes every record"),
    Login("bob", "agent", "staff", "Bob", "Nguyen", "agent: owns private and team records"),
    Login("vic", "viewer", "staff", "Victor", "Owusu", "viewer: reads, changes nothing"),
    Login("carol", "viewer", "portal", "", "", "customer: portal login linked to a person"),
    Login(
        "pat",
        "viewer",
        "portal",
        "",
        "",
        "partner: portal login; answers intents shared with partners",
    ),
)
STAFF_EMAIL_DOMAIN = "ourcompany.example"


@dataclass(frozen=True)
class LocaleSpec:
    faker: str
    region: str
    locale: str
    timezones: tuple[str, ...]
    currency: str
    weight: int


LOCALES: tuple[LocaleSpec, ...] = (
    LocaleSpec(
        "en_US",
        "US",
        "en-US",
        ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"),
        "USD",
        30,
    ),
    LocaleSpec("en_GB", "GB", "en-GB", ("Europe/London",), "GBP", 14),
    LocaleSpec("de_DE", "DE", "de-DE", ("Europe/Berlin",), "EUR", 12),
    LocaleSpec("fr_FR", "FR", "fr-FR", ("Europe/Paris",), "EUR", 10),
    LocaleSpec("es_ES", "ES", "es-ES", ("Europe/Madrid",), "EUR", 8),
    LocaleSpec("it_IT", "IT", "it-IT", ("Europe/Rome",), "EUR", 6),
    LocaleSpec("nl_NL", "NL", "nl-NL", ("Europe/Amsterdam",), "EUR", 6),
    LocaleSpec("pt_BR", "BR", "pt-BR", ("America/Sao_Paulo",), "BRL", 8),
)

INDUSTRIES = (
    "Software",
    "Retail",
    "Manufacturing",
    "Healthcare",
    "Financial services",
    "Logistics",
    "Education",
    "Media",
    "Hospitality",
    "Energy",
    "Telecommunications",
    "Consulting",
    "Non-profit",
    "Real estate",
    "Food & beverage",
    "Automotive",
)
TITLES = (
    "Chief Executive Officer",
    "Chief Technology Officer",
    "Chief Financial Officer",
    "Head of Marketing",
    "Head of Sales",
    "Head of Customer Success",
    "VP Engineering",
    "VP Operations",
    "Marketing Manager",
    "Sales Manager",
    "Account Executive",
    "Customer Success Manager",
    "Support Lead",
    "Product Manager",
    "Product Designer",
    "Software Engineer",
    "Data Analyst",
    "IT Administrator",
    "Procurement Manager",
    "Office Manager",
    "Operations Manager",
    "Community Manager",
    "Business Analyst",
    "Finance Manager",
    "HR Business Partner",
    "Founder",
    "Consultant",
    "Project Manager",
    "Growth Marketer",
    "Solutions Architect",
)
TAGS = (
    ("VIP", 3),
    ("Newsletter", 10),
    ("Beta tester", 4),
    ("Conference 2026", 5),
    ("Webinar attendee", 6),
    ("Decision maker", 5),
    ("Technical", 5),
    ("Churn risk", 2),
    ("Referral", 3),
    ("Press", 1),
)
INTERESTS = (
    "hiking",
    "photography",
    "open source",
    "data privacy",
    "machine learning",
    "cycling",
    "cooking",
    "sustainability",
    "jazz",
    "startups",
    "design",
    "running",
    "travel",
    "chess",
    "gardening",
    "football",
    "wine",
    "podcasts",
)
SEGMENTS = ("enterprise", "mid-market", "smb", "consumer")
REFERRAL_SOURCES = ("search", "event", "partner", "friend", "advert", "community")
FIELDS: tuple[dict[str, Any], ...] = (
    {
        "key": "segment",
        "label": "Segment",
        "type": "choice",
        "choices": list(SEGMENTS),
        "applies_to": "any",
    },
    {"key": "newsletter", "label": "Newsletter", "type": "boolean", "applies_to": "person"},
    {
        "key": "referral_source",
        "label": "Referral source",
        "type": "choice",
        "choices": list(REFERRAL_SOURCES),
        "applies_to": "person",
    },
    {"key": "nps", "label": "Last NPS score", "type": "number", "applies_to": "person"},
)
PERSONAL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example", "post.example")
# Words left out of an organisation's name when it becomes a domain ("Bloch AG" → bloch).
LEGAL_WORDS = frozenset(
    "inc llc ltd plc gmbh ag kg co sa sl srl spa bv nv ltda sas sarl and e und et y "  # noqa: SIM905
    "group slne s l n mbh cie figli the of me eireli holding sociedad hijos".split()
)

# ---------------------------------------------------------------- interaction vocabulary

PLANS = ("Starter plan", "Team plan", "Business plan", "Enterprise plan")
FEATURES = (
    "CSV import",
    "the mobile app",
    "the API",
    "e-mail sync",
    "calendar sync",
    "reporting",
    "web forms",
    "single sign-on",
    "data export",
    "the Zapier integration",
    "two-factor login",
    "custom fields",
    "the dashboard",
)
TOPICS = (
    "pricing",
    "data residency",
    "GDPR compliance",
    "onboarding",
    "the product roadmap",
    "volume discounts",
    "the renewal",
    "training options",
    "SSO setup",
    "migrating from spreadsheets",
    "API rate limits",
)
EVENTS = (
    "the spring webinar",
    "the Berlin meetup",
    "the customer advisory board",
    "the London roadshow",
    "the user conference",
    "the partner summit",
)
ISSUES = (
    "slow search",
    "duplicate contacts after an import",
    "a failed payment",
    "missing e-mails in the timeline",
    "a login problem",
    "an export that timed out",
    "wrong time zones on meetings",
    "a broken invoice PDF",
)
IDEAS = (
    "dark mode",
    "bulk edit for tags",
    "a Slack integration",
    "custom dashboards",
    "offline mode for the app",
    "WhatsApp as a channel",
    "scheduled exports",
)
HOWTOS = (
    "merge duplicate contacts",
    "set up e-mail sync",
    "export a segment",
    "add a custom field",
    "invite a colleague",
    "connect a calendar",
    "create a saved view",
)
NETWORKS = ("LinkedIn", "X", "Mastodon", "Bluesky", "Instagram")
PAPERS = (
    "The state of customer relationships 2026",
    "The social CRM playbook",
    "GDPR for sales teams",
    "Building a customer community",
)
WEBINARS = (
    "Getting started with Kith",
    "Customer communities that work",
    "Measuring customer lifetime value",
    "Automating follow-ups",
)
MEETING_NOTES = (
    "Next step: send pricing by Friday.",
    "They are evaluating two other vendors.",
    "Budget approved for next quarter.",
    "Wants a follow-up with their IT team.",
    "Happy with onboarding so far.",
    "Worried about migrating their data.",
    "Decision expected next month.",
    "Asked for references in their industry.",
)
NPS_COMMENTS = {
    "detractor": ("Too many bugs lately.", "Support took a week to answer.", "Too expensive."),
    "passive": ("Does the job.", "Good, but the app could be faster.", "Fine overall."),
    "promoter": (
        "Love the timeline view!",
        "Our team could not work without it.",
        "Great support team.",
    ),
}

Template = tuple[str, str, float | None]  # (kind, summary, base sentiment or None)
TEMPLATES: dict[tuple[str, str], tuple[Template, ...]] = {
    ("email", "in"): (
        ("email", "Asked about {topic}", 0.1),
        ("email", "Requested a quote for {seats} seats on the {plan}", 0.3),
        ("email", "Reported {issue}", -0.5),
        ("email", "Thanked us for fixing {issue}", 0.7),
        ("email", "Question about invoice {invoice}", 0.0),
        ("email", "Asked to move the renewal date", -0.1),
        ("email", "Complained about the response time on {issue}", -0.8),
    ),
    ("email", "out"): (
        ("email", "Sent a proposal for the {plan}", None),
        ("email", "Followed up on {topic}", None),
        ("email", "Sent the onboarding guide", None),
        ("email", "Renewal reminder for the {plan}", None),
        ("email", "Invited them to {event}", None),
        ("email", "Shared the release notes for {feature}", None),
    ),
    ("call", "in"): (
        ("call", "Called support about {feature}", -0.2),
        ("call", "Called with a billing question", 0.0),
        ("call", "Called to upgrade to the {plan}", 0.6),
    ),
    ("call", "out"): (
        ("call", "Discovery call about {topic}", 0.2),
        ("call", "Quarterly check-in call", 0.3),
        ("call", "Renewal call for the {plan}", 0.1),
        ("call", "Left a voicemail about {topic}", None),
    ),
    ("meeting", "out"): (
        ("meeting", "Demo of {feature}", 0.4),
        ("meeting", "Quarterly business review", 0.3),
        ("meeting", "Workshop on {topic}", 0.5),
        ("meeting", "Met at {event}", 0.6),
        ("meeting", "Contract negotiation for the {plan}", 0.0),
    ),
    ("chat", "in"): (
        ("chat", "Chat: how to {howto}", 0.1),
        ("chat", "Chat: {feature} not loading", -0.5),
        ("chat", "Chat: asked about {topic}", 0.1),
    ),
    ("chat", "out"): (("chat", "Offered help in a chat on the pricing page", None),),
    ("social", "in"): (
        ("mention", "Mentioned us on {network}: loves {feature}", 0.8),
        ("mention", "Complained on {network} about {issue}", -0.7),
        ("share", "Shared our post about {topic} on {network}", 0.5),
        ("mention", "Asked on {network} about {feature}", 0.0),
    ),
    ("social", "out"): (
        ("reply", "Replied on {network} about {feature}", None),
        ("reply", "Thanked them on {network} for the shout-out", None),
    ),
    ("community", "in"): (
        ("question", "Asked in the community: how to {howto}", 0.0),
        ("answer", "Answered a community question about {feature}", 0.5),
        ("idea", "Proposed an idea: {idea}", 0.3),
        ("vote", "Voted for the idea: {idea}", 0.4),
        ("discussion", "Started a discussion about {topic}", 0.2),
    ),
    ("portal", "in"): (
        ("profile_updated", "Updated their profile in the portal", None),
        ("invoice_downloaded", "Downloaded invoice {invoice}", None),
        ("case_opened", "Opened a case: {issue}", -0.4),
        ("consent_changed", "Changed their newsletter consent", None),
        ("data_export", "Downloaded a copy of their data", None),
    ),
    ("web", "in"): (
        ("page_view", "Visited the pricing page", None),
        ("download", "Downloaded the whitepaper “{paper}”", None),
        ("signup", "Registered for the webinar “{webinar}”", None),
        ("page_view", "Read the documentation on {feature}", None),
        ("form", "Filled in the contact form about {topic}", 0.1),
    ),
}
CHANNEL_WEIGHTS = {
    "email": 30,
    "call": 10,
    "meeting": 7,
    "chat": 12,
    "social": 10,
    "community": 10,
    "portal": 6,
    "web": 10,
    "survey": 5,
}
OUTBOUND_SHARE = {"email": 0.45, "call": 0.6, "meeting": 1.0, "chat": 0.1, "social": 0.2}
STAFF_WEIGHTS = (("alice", 1), ("mia", 2), ("bob", 5))
VERBS = {"created": "Became", "ended": "Stopped being"}
ROLE_NAMES = {
    "customer": "Customer",
    "prospect": "Prospect",
    "lead": "Lead",
    "employee": "Employee",
    "contractor": "Contractor",
    "partner": "Partner",
    "reseller": "Reseller",
    "supplier": "Supplier",
    "advocate": "Advocate",
    "influencer": "Influencer",
    "community-member": "Community member",
    "board-member": "Board member",
    "subsidiary": "Subsidiary",
    "competitor": "Competitor",
}


# ---------------------------------------------------------------- specs


@dataclass
class ContactSpec:
    channel: str
    value: str
    normalized: str
    label: str = ""
    primary: bool = False
    verified: bool = False


@dataclass
class PartySpec:
    """One organisation or person to create; ``key`` is its index in ``Dataset.parties``."""

    key: int
    kind: str
    display_name: str
    public_id: uuid.UUID
    region: str
    currency: str
    given_name: str = ""
    family_name: str = ""
    title: str = ""
    legal_name: str = ""
    industry: str = ""
    locale: str = ""
    timezone: str = ""
    birthday: dt.date | None = None
    notes: str = ""
    interests: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    owner: str = ""
    visibility: str = "everyone"
    team: bool = False
    contacts: list[ContactSpec] = field(default_factory=list)


@dataclass
class RelationshipSpec:
    subject: int
    role: str
    object: int | None  # None: towards us
    valid_from: dt.date | None
    valid_to: dt.date | None = None
    note: str = ""


@dataclass
class InteractionSpec:
    party: int
    channel: str
    direction: str
    kind: str
    occurred_at: dt.datetime
    summary: str
    public_id: uuid.UUID
    body: str = ""
    sentiment: float | None = None
    actor: str = ""


@dataclass
class TransactionSpec:
    party: int
    kind: str
    amount: Decimal
    currency: str
    occurred_at: dt.datetime
    reference: str
    description: str
    public_id: uuid.UUID


@dataclass
class Dataset:
    parties: list[PartySpec]
    relationships: list[RelationshipSpec]
    interactions: list[InteractionSpec]
    transactions: list[TransactionSpec]
    portal_person: int  # the key of the person carol logs in as

    @property
    def organizations(self) -> list[PartySpec]:
        return [p for p in self.parties if p.kind == "organization"]

    @property
    def people(self) -> list[PartySpec]:
        return [p for p in self.parties if p.kind == "person"]


# ---------------------------------------------------------------- helpers

_TRANSLIT = str.maketrans(
    {"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "œ": "oe"}
)


def ascii_words(text: str) -> list[str]:
    """Lower-case ASCII words of ``text`` ("Müller-Lüdenscheidt" → ["muller", "ludenscheidt"])."""
    folded = unicodedata.normalize("NFKD", text.translate(_TRANSLIT))
    return re.findall(r"[a-z0-9]+", folded.encode("ascii", "ignore").decode().lower())


def _at(day: dt.date, rng: random.Random) -> dt.datetime:
    """A time during (UTC) business hours on ``day``."""
    hour = rng.choices(range(7, 20), weights=(1, 3, 5, 6, 6, 4, 5, 6, 5, 4, 3, 2, 1))[0]
    return dt.datetime(
        day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60), tzinfo=dt.UTC
    )


class _Builder:
    """Draws the data set; every random choice goes through ``self.rng`` or a seeded Faker."""

    def __init__(
        self, *, people: int, organizations: int, interactions: int, seed: int, anchor: dt.date
    ) -> None:
        if organizations < 2 or people < 4:
            raise ValueError("The demo needs at least 2 organisations and 4 people.")
        self.n_people = people
        self.n_orgs = organizations
        self.n_interactions = interactions
        self.anchor = anchor
        self.window_start = anchor - dt.timedelta(days=WINDOW_DAYS)
        self.rng = random.Random(seed)
        # Ids come from their own stream, so the names and values do not depend on them.
        self.id_rng = random.Random(seed + 1)
        self.fakers: dict[str, Faker] = {}
        for offset, spec in enumerate(LOCALES):
            faker = Faker(spec.faker)
            faker.seed_instance(seed + 100 + offset)
            self.fakers[spec.faker] = faker
        self.taken: dict[str, set[str]] = {}
        self.parties: list[PartySpec] = []
        self.relationships: list[RelationshipSpec] = []
        self.domains: dict[int, str] = {}
        self.org_weights: list[float] = []
        self.org_keys: list[int] = []
        self.portal = -1
        self.nps_at: dict[int, dt.datetime] = {}

    # -- small utilities

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.id_rng.getrandbits(128), version=4)

    def days_ago(self, low: int, high: int) -> dt.date:
        return self.anchor - dt.timedelta(days=self.rng.randint(low, high))

    def locale(self) -> LocaleSpec:
        return self.rng.choices(LOCALES, weights=[loc.weight for loc in LOCALES])[0]

    def claim(self, channel: str, normalized: str) -> bool:
        """Reserve a normalised contact value; False when it is taken already."""
        seen = self.taken.setdefault(channel, set())
        if normalized in seen:
            return False
        seen.add(normalized)
        return True

    def contact(
        self, channel: str, value: str, *, label: str = "", primary: bool = False
    ) -> ContactSpec | None:
        """A validated, unique contact point, or None when invalid or taken."""
        from kith.people.normalize import InvalidContactPoint, normalize_contact

        try:
            channel, normalized = normalize_contact(channel, value)
        except InvalidContactPoint:
            return None
        if not self.claim(channel, normalized):
            return None
        verified = channel == "email" and self.rng.random() < 0.6
        return ContactSpec(channel, value, normalized, label, primary, verified)

    def email(self, local_parts: list[str], domain: str, *, label: str) -> ContactSpec | None:
        for attempt in range(20):
            local = self.rng.choice(local_parts) if attempt < 5 else local_parts[0]
            if attempt >= 3:
                local = f"{local}{self.rng.randint(1, 99)}"
            found = self.contact("email", f"{local}@{domain}", label=label)
            if found:
                return found
        return None

    def phone(self, loc: LocaleSpec, *, label: str) -> ContactSpec | None:
        """A phone number valid for the locale's region, in international format, or None."""
        from kith.people.normalize import InvalidContactPoint, normalize_phone

        faker = self.fakers[loc.faker]
        for _ in range(4):
            raw = faker.phone_number()
            try:
                e164 = normalize_phone(raw, loc.region)
            except InvalidContactPoint:
                continue
            # Faker's North American numbers may fall in another NANP country.
            if phonenumbers.region_code_for_number(phonenumbers.parse(e164)) != loc.region:
                continue
            if not self.claim("phone", e164):
                continue
            shown = phonenumbers.format_number(
                phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL
            )
            return ContactSpec("phone", shown, e164, label)
        return None

    def add(self, spec: PartySpec) -> PartySpec:
        self.parties.append(spec)
        return spec

    def relate(
        self,
        subject: int,
        role: str,
        obj: int | None,
        valid_from: dt.date | None,
        valid_to: dt.date | None = None,
        note: str = "",
    ) -> None:
        if valid_from and valid_to and valid_to < valid_from:
            valid_to = valid_from
        self.relationships.append(RelationshipSpec(subject, role, obj, valid_from, valid_to, note))

    def pick_org(self, *, exclude: int | None = None) -> int:
        while True:
            key = self.rng.choices(self.org_keys, weights=self.org_weights)[0]
            if key != exclude:
                return key

    def owner(self) -> str:
        names, weights = zip(*STAFF_WEIGHTS, strict=True)
        return self.rng.choices(names, weights=weights)[0]

    # -- organisations

    def organizations(self) -> None:
        names: set[str] = set()
        for _ in range(self.n_orgs):
            loc = self.locale()
            faker = self.fakers[loc.faker]
            name = faker.company()
            for _ in range(20):
                if name not in names:
                    break
                name = faker.company()
            if name in names:
                name = f"{name} {len(names)}"
            names.add(name)
            words = [w for w in ascii_words(name) if w not in LEGAL_WORDS] or ["company"]
            domain = "-".join(words[:2]) + ".example"
            if not self.claim("domain", domain):
                domain = "-".join(words[:2]) + f"{len(names)}.example"
                self.claim("domain", domain)
            size = self.rng.paretovariate(1.3)
            segment = "enterprise" if size > 4 else "mid-market" if size > 1.8 else "smb"
            key = len(self.parties)
            spec = PartySpec(
                key=key,
                kind="organization",
                display_name=name,
                public_id=self.uuid(),
                region=loc.region,
                currency=loc.currency,
                legal_name=name,
                industry=self.rng.choice(INDUSTRIES),
                locale=loc.locale,
                timezone=self.rng.choice(loc.timezones),
                attributes={"segment": segment},
                tags=["VIP"] if segment == "enterprise" and self.rng.random() < 0.5 else [],
                owner=self.owner(),
            )
            for candidate in (
                self.contact("website", f"https://www.{domain}", primary=True),
                self.contact("email", f"hello@{domain}", label="general", primary=True),
                self.phone(loc, label="switchboard"),
                self.contact("linkedin", domain.removesuffix(".example")),
            ):
                if candidate:
                    spec.contacts.append(candidate)
            self.add(spec)
            self.domains[key] = domain
            self.org_keys.append(key)
            # Sizes follow a long tail, but one organisation must not employ most of
            # the contacts (it did: 211 of 346 people at one company): cap the weight.
            self.org_weights.append(min(size, MAX_EMPLOYER_WEIGHT))
        self.organization_roles()

    def organization_roles(self) -> None:
        """Organisations towards us (customers, partners, suppliers…) and each other."""
        keys = list(self.org_keys)
        self.rng.shuffle(keys)
        n = len(keys)
        plan = {
            "customer": keys[: max(1, n // 4)],
            "partner": keys[n // 4 : n // 4 + max(1, n // 12)],
            "supplier": keys[n // 3 : n // 3 + max(1, n // 12)],
            "reseller": keys[n // 2 : n // 2 + max(1, n // 20)],
            "competitor": keys[-max(1, n // 20) :],
        }
        for role, members in plan.items():
            for key in members:
                if role == "competitor":
                    # Few of our contacts work at a competitor.
                    index = self.org_keys.index(key)
                    self.org_weights[index] = min(self.org_weights[index], 0.3)
                if role == "customer" and self.rng.random() < 0.4:
                    since = self.days_ago(60, 1500)
                    self.relate(key, "prospect", None, since - dt.timedelta(days=90), since)
                    self.relate(key, "customer", None, since)
                elif role == "customer" and self.rng.random() < 0.2:
                    start = self.days_ago(900, 2000)
                    self.relate(key, "customer", None, start, self.days_ago(30, 500))
                else:
                    self.relate(key, role, None, self.days_ago(30, 2500))
        if n >= 6:
            parent, child = keys[-2], keys[-3]
            self.relate(child, "subsidiary", parent, self.days_ago(400, 3000))

    # -- people

    def people(self) -> int:
        """Create the people; returns the key of the portal customer (carol)."""
        portal = -1
        for index in range(self.n_people):
            loc = self.locale()
            faker = self.fakers[loc.faker]
            given, family = faker.first_name(), faker.last_name()
            if index == 0:
                given = "Carol"
            key = len(self.parties)
            spec = PartySpec(
                key=key,
                kind="person",
                display_name=f"{given} {family}",
                public_id=self.uuid(),
                region=loc.region,
                currency=loc.currency,
                given_name=given,
                family_name=family,
                locale=loc.locale,
                timezone=self.rng.choice(loc.timezones),
                owner=self.owner(),
            )
            if self.rng.random() < 0.6:
                spec.birthday = self.anchor - dt.timedelta(
                    days=self.rng.randint(22 * 365, 70 * 365)
                )
            spec.interests = self.rng.sample(INTERESTS, self.rng.choice((0, 1, 2, 2, 3, 4)))
            tag_names, tag_weights = zip(*TAGS, strict=True)
            spec.tags = sorted(
                set(self.rng.choices(tag_names, weights=tag_weights, k=self.rng.choice((0, 1, 2))))
            )
            self.add(spec)
            employer = self.person_roles(spec, index)
            self.person_contacts(spec, loc, employer)
            self.person_profile(spec, employer, index)
            if index == 0:
                portal = key
        return portal

    def person_roles(self, spec: PartySpec, index: int) -> int | None:
        """Roles of one person over time; returns the current employer's key, if any."""
        key, rng = spec.key, self.rng
        employer = None
        if index in (0, 1) or rng.random() < 0.8:
            employer = self.pick_org()
            spec.title = rng.choice(TITLES)
            if index == 1 or rng.random() < 0.18:
                # Changed employer: the old job ended, the new one started the next day.
                old = self.pick_org(exclude=employer)
                ended = self.days_ago(40, 650)
                self.relate(
                    key, "employee", old, ended - dt.timedelta(days=rng.randint(300, 2500)), ended
                )
                self.relate(key, "employee", employer, ended + dt.timedelta(days=1))
            else:
                self.relate(key, "employee", employer, self.days_ago(60, 3650))
        draw = rng.random()
        since = None
        if index in (0, 1) or draw < 0.38:
            since = self.days_ago(20, 1800) if index != 0 else self.days_ago(650, 700)
            if index in (0, 1) or rng.random() < 0.35:
                # A prospect who became a customer: the prospect role ends that very day.
                start = since - dt.timedelta(days=rng.randint(14, 240))
                self.relate(key, "prospect", None, start, since, note="Converted")
            self.relate(key, "customer", None, since)
        elif draw < 0.48:
            start = self.days_ago(500, 2000)
            self.relate(key, "customer", None, start, max(start, self.days_ago(20, 480)))
        elif draw < 0.60:
            self.relate(key, "prospect", None, self.days_ago(5, 300))
        elif draw < 0.66:
            self.relate(key, "lead", None, self.days_ago(5, 200))
        if since is not None and (index == 0 or rng.random() < 0.3):
            start = since + dt.timedelta(days=rng.randint(30, 400))
            if start < self.anchor:
                self.relate(key, "advocate", None, start)
        if index == 0 or rng.random() < 0.22:
            self.relate(key, "community-member", None, self.days_ago(10, 1200))
        if rng.random() < 0.03:
            self.relate(key, "influencer", None, self.days_ago(10, 900))
        if rng.random() < 0.03:
            self.relate(key, "partner", None, self.days_ago(30, 1500))
        if rng.random() < 0.02:
            self.relate(key, "contractor", self.pick_org(exclude=employer), self.days_ago(30, 900))
        if rng.random() < 0.015:
            self.relate(key, "board-member", self.pick_org(), self.days_ago(100, 2000))
        return employer

    def person_contacts(self, spec: PartySpec, loc: LocaleSpec, employer: int | None) -> None:
        rng = self.rng
        first = ascii_words(spec.given_name) or ["someone"]
        last = ascii_words(spec.family_name) or ["demo"]
        g, f = "".join(first), "".join(last)
        found: list[ContactSpec | None] = []
        if employer is not None:
            found.append(
                self.email(
                    [f"{g}.{f}", f"{g[0]}.{f}", f"{g}"], self.domains[employer], label="work"
                )
            )
        if employer is None or rng.random() < 0.35:
            domain = rng.choice(PERSONAL_DOMAINS)
            locals_ = [
                f"{g}.{f}",
                f"{g}{f}",
                f"{g[0]}{f}",
                f"{f}.{g}",
                f"{g}.{f}{rng.randint(60, 99)}",
            ]
            found.append(self.email(locals_, domain, label="personal"))
        if rng.random() < 0.7:
            found.append(self.phone(loc, label=rng.choice(("mobile", "mobile", "work"))))
        if rng.random() < 0.45:
            found.append(
                self.contact(
                    "linkedin", f"https://www.linkedin.com/in/{g}-{f}-{rng.randrange(16**4):04x}"
                )
            )
        if rng.random() < 0.25:
            found.append(self.contact("twitter", f"@{(g + f[:1])[:11]}{rng.randint(1, 999)}"))
        if rng.random() < 0.15:
            found.append(
                self.contact("github", f"{g}-{f}"[:39] if rng.random() < 0.5 else f"{g}{f[:3]}")
            )
        if rng.random() < 0.08:
            found.append(self.contact("instagram", f"@{g}.{f}"[:31]))
        if rng.random() < 0.04:
            found.append(self.contact("mastodon", f"{g}@social.example"))
        for contact in found:
            if contact is None:
                continue
            contact.primary = not any(c.channel == contact.channel for c in spec.contacts)
            spec.contacts.append(contact)

    def person_profile(self, spec: PartySpec, employer: int | None, index: int) -> None:
        rng = self.rng
        segment = (
            self.parties[employer].attributes["segment"] if employer is not None else "consumer"
        )
        attributes: dict[str, Any] = {"segment": segment, "newsletter": rng.random() < 0.55}
        if rng.random() < 0.5:
            attributes["referral_source"] = rng.choice(REFERRAL_SOURCES)
        if index == 0:
            attributes["newsletter"] = True
        spec.attributes = attributes
        if rng.random() < 0.2:
            spec.notes = rng.choice(
                (
                    "Prefers e-mail over calls.",
                    "Met at {event}; follow up in spring.",
                    "Decision maker for the {plan}.",
                    "Reach out before the renewal in {month}.",
                    "Speaks at community events; great advocate material.",
                )
            ).format(
                event=rng.choice(EVENTS),
                plan=rng.choice(PLANS),
                month=rng.choice(("January", "April", "July", "October")),
            )
        # A few records are not for everyone: bob's private contacts and the team's accounts.
        draw = rng.random()
        if index == 2 or (index > 3 and draw < 0.03):
            spec.owner, spec.visibility = "bob", "private"
        elif index == 3 or (index > 3 and draw < 0.07):
            spec.owner, spec.visibility, spec.team = rng.choice(("bob", "mia")), "team", True

    # -- interactions and transactions

    def windows(self) -> tuple[list[int], list[float], dict[int, tuple[dt.date, dt.date, bool]]]:
        """Who gets interactions, how many (weights), and when: (start, end, ever a customer)."""
        start, end = self.window_start, self.anchor
        status: dict[int, dict[str, RelationshipSpec]] = {}
        for rel in self.relationships:
            if rel.object is None:
                status.setdefault(rel.subject, {})[rel.role] = rel
        keys, weights, spans = [], [], {}
        for party in self.parties:
            roles = status.get(party.key, {})
            customer = roles.get("customer")
            weight, lo, hi = 1.0, start, end
            if customer and customer.valid_to is None:
                weight = 4.0
            elif customer:
                weight, hi = 2.0, min(end, customer.valid_to + dt.timedelta(days=60))
            elif "prospect" in roles or "lead" in roles:
                rel = roles.get("prospect") or roles["lead"]
                weight, lo = 3.0, max(start, rel.valid_from - dt.timedelta(days=30))
            if "advocate" in roles or "community-member" in roles:
                weight += 1.5
            if party.kind == "organization":
                weight *= 0.5
            if lo >= hi:
                lo, hi = start, end
            keys.append(party.key)
            weights.append(weight * (3.0 if party.key == self.portal else 1.0))
            spans[party.key] = (lo, hi, customer is not None)
        return keys, weights, spans

    def fill(self, template: str) -> str:
        rng = self.rng
        return template.format(
            topic=rng.choice(TOPICS),
            plan=rng.choice(PLANS),
            seats=rng.choice((5, 10, 15, 25, 50, 100, 250)),
            issue=rng.choice(ISSUES),
            invoice=f"INV-{rng.randint(2024, 2026)}-{rng.randint(1, 9999):05d}",
            feature=rng.choice(FEATURES),
            event=rng.choice(EVENTS),
            howto=rng.choice(HOWTOS),
            network=rng.choice(NETWORKS),
            idea=rng.choice(IDEAS),
            paper=rng.choice(PAPERS),
            webinar=rng.choice(WEBINARS),
        )

    def sentiment(self, base: float | None) -> float | None:
        if base is None or self.rng.random() > 0.75:
            return None
        return round(max(-1.0, min(1.0, base + self.rng.gauss(0, 0.15))), 2)

    def interaction(self, key: int, span: tuple[dt.date, dt.date, bool]) -> InteractionSpec:
        rng = self.rng
        lo, hi, ever_customer = span
        party = self.parties[key]
        channels, weights = zip(*CHANNEL_WEIGHTS.items(), strict=True)
        channel = rng.choices(channels, weights=weights)[0]
        if party.kind == "organization":
            channel = rng.choice(("email", "email", "call", "meeting"))
        elif channel in ("portal", "survey") and not ever_customer:
            channel = rng.choice(("web", "email"))
        day = lo + dt.timedelta(days=rng.randint(0, (hi - lo).days))
        when = _at(day, rng)
        direction = "out" if rng.random() < OUTBOUND_SHARE.get(channel, 0.0) else "in"
        actor = ""
        if channel == "survey":
            return self.survey(key, when)
        kind, template, base = rng.choice(TEMPLATES[(channel, direction)])
        summary = self.fill(template)
        if direction == "out":
            actor = (
                "bob" if party.owner == "bob" and party.visibility != "everyone" else self.owner()
            )
        body = ""
        if channel == "email":
            name = party.given_name or "team"
            if direction == "in":
                body = f"Hello,\n\n{summary}. Could you get back to me this week?\n\nKind regards,\n{party.display_name}"
            else:
                signer = next(login for login in LOGINS if login.username == actor)
                body = f"Hi {name},\n\n{summary}. Let me know if anything is unclear.\n\nBest,\n{signer.first_name}"
        elif channel in ("call", "meeting"):
            body = "Notes: " + rng.choice(MEETING_NOTES)
        return InteractionSpec(
            party=key,
            channel=channel,
            direction=direction,
            kind=kind,
            occurred_at=when,
            summary=summary,
            public_id=self.uuid(),
            body=body,
            sentiment=self.sentiment(base),
            actor=actor,
        )

    def survey(self, key: int, when: dt.datetime) -> InteractionSpec:
        rng = self.rng
        if rng.random() < 0.7:
            score = rng.choices(range(11), weights=(1, 1, 1, 1, 2, 3, 5, 8, 14, 16, 12))[0]
            group = "detractor" if score <= 6 else "passive" if score <= 8 else "promoter"
            summary, kind = f"NPS response: {score}/10", "nps_response"
            sentiment = round((score - 5) / 5, 2)
            body = rng.choice(NPS_COMMENTS[group])
            if when > self.nps_at.get(key, when - dt.timedelta(1)):
                # The profile keeps the latest answer.
                self.nps_at[key] = when
                self.parties[key].attributes["nps"] = score
        else:
            score = rng.choices(range(1, 6), weights=(1, 2, 4, 8, 7))[0]
            summary, kind = f"CSAT after a support case: {score}/5", "csat_response"
            sentiment, body = round((score - 3) / 2, 2), ""
        return InteractionSpec(
            party=key,
            channel="survey",
            direction="in",
            kind=kind,
            occurred_at=when,
            summary=summary,
            public_id=self.uuid(),
            body=body,
            sentiment=sentiment,
        )

    def interactions(self) -> list[InteractionSpec]:
        keys, weights, spans = self.windows()
        out: list[InteractionSpec] = []
        while len(out) < self.n_interactions:
            key = self.rng.choices(keys, weights=weights)[0]
            item = self.interaction(key, spans[key])
            out.append(item)
            # Questions get answers: an inbound e-mail is often followed by our reply.
            if (
                item.channel == "email"
                and item.direction == "in"
                and len(out) < self.n_interactions
                and self.rng.random() < 0.5
            ):
                reply_at = item.occurred_at + dt.timedelta(minutes=self.rng.randint(20, 2880))
                actor = self.owner()
                out.append(
                    InteractionSpec(
                        party=key,
                        channel="email",
                        direction="out",
                        kind="email",
                        occurred_at=min(
                            reply_at,
                            dt.datetime.combine(self.anchor, dt.time(23, 59), tzinfo=dt.UTC),
                        ),
                        summary=f"Replied to “{item.summary}”"[:300],
                        public_id=self.uuid(),
                        body="Thanks for reaching out; we are on it.",
                        actor=actor,
                    )
                )
        return out

    def role_changes(self) -> list[InteractionSpec]:
        """Timeline entries for roles that started or ended inside the window.

        They read like the ones ``kith.interactions.subscribers`` writes for live changes.
        """
        out = []
        for rel in self.relationships:
            target = self.parties[rel.object].display_name if rel.object is not None else "us"
            role = ROLE_NAMES.get(rel.role, rel.role)
            for verb, day, word in (
                ("created", rel.valid_from, "from"),
                ("ended", rel.valid_to, "on"),
            ):
                if day is None or not (self.window_start <= day <= self.anchor):
                    continue
                out.append(
                    InteractionSpec(
                        party=rel.subject,
                        channel="system",
                        direction="internal",
                        kind=f"relationship_{verb}",
                        occurred_at=dt.datetime.combine(day, dt.time(9, 0), tzinfo=dt.UTC),
                        summary=f"{VERBS[verb]} {role} of {target} {word} {day.isoformat()}",
                        public_id=self.uuid(),
                    )
                )
        return out

    def transactions(self) -> list[TransactionSpec]:
        """Orders, payments and refunds during each customer relationship inside the window."""
        rng = self.rng
        out: list[TransactionSpec] = []
        seq = 0
        for rel in self.relationships:
            if rel.role != "customer" or rel.object is not None:
                continue
            party = self.parties[rel.subject]
            business = party.kind == "organization"
            day = max(self.window_start, rel.valid_from or self.window_start)
            end = min(self.anchor, rel.valid_to or self.anchor)
            day += dt.timedelta(days=rng.randint(0, 30))
            while day <= end:
                seq += 1
                if business:
                    seats = rng.choice((10, 25, 50, 100, 250))
                    price = Decimal(rng.choice(("12.00", "25.00", "49.00")))
                    amount, plan = price * seats, rng.choice(PLANS[1:])
                    description = f"{plan}, {seats} seats, monthly"
                else:
                    amount = Decimal(rng.randint(1900, 39900)) / 100
                    plan = rng.choice(PLANS[:2])
                    description = rng.choice(
                        (
                            f"{plan}, annual",
                            "Add-on: extra storage",
                            "Training session",
                            f"{plan}, upgrade",
                        )
                    )
                when = _at(day, rng)
                ref = f"{when.year}-{seq:05d}"
                out.append(self.tx(party, "order", amount, when, f"SO-{ref}", description))
                paid = when + dt.timedelta(days=rng.randint(1, 25), hours=rng.randint(0, 8))
                if paid.date() <= self.anchor and rng.random() < 0.95:
                    out.append(
                        self.tx(
                            party, "payment", amount, paid, f"PAY-{ref}", f"Payment for SO-{ref}"
                        )
                    )
                    refund_at = paid + dt.timedelta(days=rng.randint(3, 40))
                    if refund_at.date() <= self.anchor and rng.random() < 0.05:
                        part = (
                            amount if rng.random() < 0.5 else (amount / 2).quantize(Decimal("0.01"))
                        )
                        out.append(
                            self.tx(
                                party,
                                "refund",
                                part,
                                refund_at,
                                f"RF-{ref}",
                                f"Refund for SO-{ref}",
                            )
                        )
                day += dt.timedelta(days=rng.randint(25, 35) if business else rng.randint(45, 150))
        out.sort(key=lambda t: t.occurred_at)
        return out

    def tx(
        self, party: PartySpec, kind: str, amount: Decimal, when: dt.datetime, ref: str, text: str
    ) -> TransactionSpec:
        return TransactionSpec(
            party=party.key,
            kind=kind,
            amount=amount.quantize(Decimal("0.01")),
            currency=party.currency,
            occurred_at=when,
            reference=ref,
            description=text,
            public_id=self.uuid(),
        )

    def build(self) -> Dataset:
        self.organizations()
        self.portal = self.people()
        interactions = self.interactions() + self.role_changes()
        interactions.sort(key=lambda i: i.occurred_at)
        transactions = self.transactions()
        return Dataset(
            parties=self.parties,
            relationships=self.relationships,
            interactions=interactions,
            transactions=transactions,
            portal_person=self.portal,
        )


def build_dataset(
    *,
    people: int = DEFAULT_PEOPLE,
    organizations: int = DEFAULT_ORGANIZATIONS,
    interactions: int = DEFAULT_INTERACTIONS,
    seed: int = DEFAULT_SEED,
    anchor: dt.date = ANCHOR,
) -> Dataset:
    """The demo data set as plain specs: the same arguments always give the same data.

    ``interactions`` counts the touchpoints on real channels; the timeline entries for
    role changes (channel ``system``) come on top, as the live system writes them too.
    """
    return _Builder(
        people=people,
        organizations=organizations,
        interactions=interactions,
        seed=seed,
        anchor=anchor,
    ).build()


# ---------------------------------------------------------------- loading


@dataclass
class LoadResult:
    """What ``load`` wrote, for the command to print."""

    organizations: int = 0
    people: int = 0
    contact_points: int = 0
    relationships: int = 0
    interactions: int = 0
    role_changes: int = 0
    transactions: int = 0
    logins: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    portal_person: str = ""
    seconds: float = 0.0
    extensions: list[str] = field(default_factory=list)  # one summary line per app


class DemoAlreadyLoaded(Exception):
    """The database holds demo data already; wipe it first."""


def _demo_audit_ids(actions: Iterable[str]) -> list[int]:
    from kith.core.models import AuditEntry

    return list(
        AuditEntry.objects.filter(channel=DEMO_CHANNEL, action__in=list(actions)).values_list(
            "object_id", flat=True
        )
    )


# Apps that add to the demo (deals, cases, activities, feeds) each ship a ``demo`` module
# with ``load(*, seed, anchor) -> str`` (a summary line) and ``wipe()``; they run after
# the people are written, in this order, inside the same transaction.
EXTENSIONS = (
    "kith.sales.demo",
    "kith.service.demo",
    "kith.work.demo",
    "kith.collab.demo",
    "kith.community.demo",
    "kith.ideas.demo",
    "kith.portal.demo",
    "kith.listening.demo",
    "kith.insights.demo_research",
    "kith.insights.demo_value",
    "kith.cmr.demo",
)


def _extensions() -> list:
    import importlib
    import importlib.util

    return [
        importlib.import_module(name)
        for name in EXTENSIONS
        if importlib.util.find_spec(name) is not None
    ]


def demo_loaded() -> bool:
    """True when the database holds records created by ``load``."""
    from kith.core.models import AuditEntry

    return AuditEntry.objects.filter(
        channel=DEMO_CHANNEL, action__in=("person.created", "organization.created")
    ).exists()


def wipe() -> dict[str, int]:
    """Delete everything the demo created (and only that); returns counts per kind."""
    from django.db import transaction

    from kith.accounts.models import Team, User
    from kith.core.models import AuditEntry
    from kith.people.models import FieldDefinition, Party, Tag

    with transaction.atomic():
        # Later apps' demo records point at the demo people: delete them first.
        for module in reversed(_extensions()):
            module.wipe()
        party_ids = _demo_audit_ids(("person.created", "organization.created"))
        user_ids = _demo_audit_ids(("user.created",))
        logins = User.objects.filter(pk__in=user_ids)
        counts = {"logins": logins.count(), "parties": len(party_ids)}
        logins.delete()
        # Delete in chunks: SQLite limits the number of parameters in one statement.
        for start in range(0, len(party_ids), 500):
            Party.objects.filter(pk__in=party_ids[start : start + 500]).delete()
        Team.objects.filter(pk__in=_demo_audit_ids(("team.created",))).delete()
        FieldDefinition.objects.filter(
            pk__in=_demo_audit_ids(("field_definition.created",))
        ).delete()
        Tag.objects.filter(name__in=[name for name, _ in TAGS], parties__isnull=True).delete()
        AuditEntry.objects.filter(channel=DEMO_CHANNEL).delete()
        for start in range(0, len(party_ids), 500):
            AuditEntry.objects.filter(party_id__in=party_ids[start : start + 500]).delete()
    return counts


Progress = Callable[[str], None]


def load(
    *,
    people: int = DEFAULT_PEOPLE,
    organizations: int = DEFAULT_ORGANIZATIONS,
    interactions: int = DEFAULT_INTERACTIONS,
    seed: int = DEFAULT_SEED,
    anchor: dt.date = ANCHOR,
    progress: Progress | None = None,
) -> LoadResult:
    """Build the data set and write it, with the demo logins, in one transaction.

    Raises ``DemoAlreadyLoaded`` when demo data is present (call ``wipe`` first).
    ``progress`` is called with the name of each step as it starts.
    """
    from django.db import transaction

    from kith.core import events
    from kith.core.context import channel

    started = time.monotonic()
    step = progress or (lambda name: None)
    if demo_loaded():
        raise DemoAlreadyLoaded("Demo data is already loaded.")
    step("drawing the data set")
    data = build_dataset(
        people=people,
        organizations=organizations,
        interactions=interactions,
        seed=seed,
        anchor=anchor,
    )
    result = LoadResult()
    with channel(DEMO_CHANNEL), events.deferred_delivery(), transaction.atomic():
        _Writer(data, result, step).write()
        for module in _extensions():
            step(f"demo data for {module.__name__.rsplit('.', 2)[-2]}")
            result.extensions.append(module.load(seed=seed, anchor=anchor))
    result.seconds = time.monotonic() - started
    return result


class _Writer:
    """Writes a ``Dataset`` with bulk inserts; call inside a transaction."""

    BATCH = 1000

    def __init__(self, data: Dataset, result: LoadResult, step: Progress) -> None:
        self.data = data
        self.result = result
        self.step = step
        self.users: dict[str, Any] = {}
        self.ids: dict[int, int] = {}  # spec key -> Party.pk

    def write(self) -> None:
        self.step("logins and team")
        self.staff_logins()
        self.step("custom fields and tags")
        definitions = self.fields()
        self.step("organisations and people")
        self.parties(definitions)
        self.step("contact points")
        self.contact_points()
        self.step("roles over time")
        self.relationships()
        self.step("interactions")
        self.interactions()
        self.step("transactions")
        self.transactions()
        self.step("portal login")
        self.portal_login()
        self.step("search index")
        self.reindex()

    def staff_logins(self) -> None:
        from kith.accounts import services as accounts
        from kith.accounts.models import User

        for login in LOGINS:
            if login.kind != "staff":
                continue
            existing = User.objects.filter(username__iexact=login.username).first()
            if existing is not None:
                self.users[login.username] = existing
                self.result.skipped.append(f"login {login.username} exists already; left as is")
                continue
            self.users[login.username] = accounts.create_user(
                actor=None,
                username=login.username,
                password=DEMO_PASSWORD,
                email=f"{login.username}@{STAFF_EMAIL_DOMAIN}",
                role=login.role,
                first_name=login.first_name,
                last_name=login.last_name,
            )
            self.result.logins.append(login.username)
        members = [self.users[name] for name in ("bob", "mia") if name in self.users]
        from kith.accounts.models import Team

        self.team = Team.objects.filter(name__iexact=TEAM_NAME).first() or accounts.create_team(
            actor=None, name=TEAM_NAME, members=members
        )

    def fields(self) -> dict[str, Any]:
        from kith.people import services as people
        from kith.people.models import FieldDefinition, Tag

        definitions = {d.key: d for d in FieldDefinition.objects.all()}
        for spec in FIELDS:
            if spec["key"] not in definitions:
                definitions[spec["key"]] = people.define_field(actor=None, **spec)
        names = [name for name, _ in TAGS]
        existing = {t.name.casefold(): t for t in Tag.objects.all()}
        Tag.objects.bulk_create(
            [Tag(name=name) for name in names if name.casefold() not in existing]
        )
        self.tags = {t.name.casefold(): t.pk for t in Tag.objects.all()}
        return definitions

    def parties(self, definitions: dict[str, Any]) -> None:
        from django.contrib.contenttypes.models import ContentType

        from kith.core.models import AuditEntry
        from kith.people.models import Party
        from kith.people.normalize import validate_attribute

        rows = []
        for spec in self.data.parties:
            attributes = {}
            for key, raw in spec.attributes.items():
                definition = definitions.get(key)
                if definition is None or definition.applies_to not in ("any", spec.kind):
                    continue
                value, error = validate_attribute(definition, raw)
                if error is None and value is not None:
                    attributes[key] = value
            owner = self.users.get(spec.owner)
            rows.append(
                Party(
                    public_id=spec.public_id,
                    kind=spec.kind,
                    display_name=spec.display_name,
                    sort_name=spec.display_name.casefold()[:300],
                    given_name=spec.given_name,
                    family_name=spec.family_name,
                    title=spec.title,
                    legal_name=spec.legal_name,
                    industry=spec.industry,
                    locale=spec.locale,
                    timezone=spec.timezone,
                    birthday=spec.birthday,
                    notes=spec.notes,
                    interests=spec.interests,
                    attributes=attributes,
                    owner=owner,
                    team=self.team if spec.team else None,
                    visibility=spec.visibility,
                )
            )
        created = Party.objects.bulk_create(rows, batch_size=self.BATCH)
        for spec, party in zip(self.data.parties, created, strict=True):
            self.ids[spec.key] = party.pk
        through = Party.tags.through
        through.objects.bulk_create(
            [
                through(party_id=self.ids[spec.key], tag_id=self.tags[name.casefold()])
                for spec in self.data.parties
                for name in spec.tags
            ],
            batch_size=self.BATCH,
        )
        # One audit entry per party: the record of who created it, and the demo's ledger.
        party_type = ContentType.objects.get_for_model(Party)
        from django.utils import timezone

        now = timezone.now()
        AuditEntry.objects.bulk_create(
            [
                AuditEntry(
                    occurred_at=now,
                    actor_label="kith demo",
                    channel=DEMO_CHANNEL,
                    action=f"{party.kind}.created",
                    object_type=party_type,
                    object_id=party.pk,
                    object_public_id=party.public_id,
                    object_label=party.display_name[:300],
                    party_id=party.pk,
                    changes={"display_name": party.display_name, "source": "kith demo"},
                )
                for party in created
            ],
            batch_size=self.BATCH,
        )
        self.result.organizations = sum(1 for p in created if p.kind == "organization")
        self.result.people = sum(1 for p in created if p.kind == "person")

    def contact_points(self) -> None:
        from kith.people.models import ContactPoint

        specs = [(spec, c) for spec in self.data.parties for c in spec.contacts]
        # Values another record in this database holds already are left out.
        taken: set[tuple[str, str]] = set()
        by_channel: dict[str, list[str]] = {}
        for _, c in specs:
            by_channel.setdefault(c.channel, []).append(c.normalized)
        for channel_name, values in by_channel.items():
            for start in range(0, len(values), 500):
                taken.update(
                    ContactPoint.objects.filter(
                        channel=channel_name, normalized__in=values[start : start + 500]
                    ).values_list("channel", "normalized")
                )
        rows = [
            ContactPoint(
                public_id=uuid.uuid5(spec.public_id, f"{c.channel}:{c.normalized}"),
                party_id=self.ids[spec.key],
                channel=c.channel,
                value=c.value,
                normalized=c.normalized,
                label=c.label,
                primary=c.primary,
                verified=c.verified,
            )
            for spec, c in specs
            if (c.channel, c.normalized) not in taken
        ]
        ContactPoint.objects.bulk_create(rows, batch_size=self.BATCH)
        self.result.contact_points = len(rows)
        if taken:
            self.result.skipped.append(
                f"{len(taken)} contact points belong to other records already; left out"
            )

    def relationships(self) -> None:
        from kith.people import services as people
        from kith.people.models import Relationship, RoleType

        roles = {r.slug: r for r in RoleType.objects.all()}
        for slug in sorted({rel.role for rel in self.data.relationships} - set(roles)):
            roles[slug] = people.create_role_type(
                actor=None, slug=slug, name=ROLE_NAMES.get(slug, slug)
            )
        rows = [
            Relationship(
                public_id=uuid.uuid5(
                    self.data.parties[rel.subject].public_id, f"rel:{index}:{rel.role}"
                ),
                subject_id=self.ids[rel.subject],
                role=roles[rel.role],
                object_id=self.ids[rel.object] if rel.object is not None else None,
                valid_from=rel.valid_from,
                valid_to=rel.valid_to,
                note=rel.note,
            )
            for index, rel in enumerate(self.data.relationships)
        ]
        Relationship.objects.bulk_create(rows, batch_size=self.BATCH)
        self.result.relationships = len(rows)

    def interactions(self) -> None:
        from kith.interactions.models import Interaction

        rows = [
            Interaction(
                public_id=i.public_id,
                party_id=self.ids[i.party],
                channel=i.channel,
                direction=i.direction,
                kind=i.kind,
                occurred_at=i.occurred_at,
                summary=i.summary[:300],
                body=i.body,
                sentiment=i.sentiment,
                source=DEMO_SOURCE,
                actor=self.users.get(i.actor),
            )
            for i in self.data.interactions
        ]
        Interaction.objects.bulk_create(rows, batch_size=self.BATCH)
        self.result.role_changes = sum(1 for i in self.data.interactions if i.channel == "system")
        self.result.interactions = len(rows) - self.result.role_changes

    def transactions(self) -> None:
        from kith.interactions.models import Transaction

        rows = [
            Transaction(
                public_id=t.public_id,
                party_id=self.ids[t.party],
                kind=t.kind,
                amount=t.amount,
                currency=t.currency,
                occurred_at=t.occurred_at,
                reference=t.reference,
                description=t.description,
                source=DEMO_SOURCE,
            )
            for t in self.data.transactions
        ]
        Transaction.objects.bulk_create(rows, batch_size=self.BATCH)
        self.result.transactions = len(rows)

    def portal_login(self) -> None:
        from kith.people.models import Party

        person = Party.objects.get(pk=self.ids[self.data.portal_person])
        self.result.portal_person = person.display_name
        self._portal_user("carol", person)
        self.partner_login(exclude=person)

    def _portal_user(self, username: str, person) -> None:
        """A portal login (demo password) for ``person``, unless the name is taken."""
        from kith.accounts import services as accounts
        from kith.accounts.models import User

        if User.objects.filter(username__iexact=username).exists():
            self.result.skipped.append(f"login {username} exists already; left as is")
            return
        email = next((c.value for c in person.contact_points.filter(channel="email")), "")
        accounts.create_user(
            actor=None,
            username=username,
            password=DEMO_PASSWORD,
            email=email,
            kind=User.Kind.PORTAL,
            role="viewer",
            person=person,
            first_name=person.given_name,
            last_name=person.family_name,
        )
        self.result.logins.append(username)

    def partner_login(self, *, exclude) -> None:
        """pat: a portal login for a demo person who holds a partner role today, so the
        partner's side (intents customers share with partners, offers) can be tried."""
        from kith.accounts.models import User
        from kith.people import services as people_services
        from kith.people.models import Party

        if User.objects.filter(username__iexact="pat").exists():
            self.result.skipped.append("login pat exists already; left as is")
            return
        candidates = (
            Party.objects.filter(
                pk__in=list(self.ids.values()),
                kind=Party.Kind.PERSON,
                status=Party.Status.ACTIVE,
                user=None,
            )
            .exclude(pk=exclude.pk)
            .order_by("id")
        )
        person = candidates.filter(pk__in=Party.objects.holding("partner")).first()
        if person is None:
            # A small demo may have no partner: make one of its people a partner today,
            # the way staff would record it (a role with a start date, on the timeline).
            person = candidates.first()
            if person is None:
                self.result.skipped.append("no demo person for the partner login pat")
                return
            people_services.add_relationship(actor=None, subject=person, role="partner")
        self._portal_user("pat", person)

    def reindex(self) -> None:
        from kith.people import search

        if hasattr(search, "reindex_all"):
            search.reindex_all()
            return
        ids = list(self.ids.values())
        for start in range(0, len(ids), 500):
            search.reindex(ids[start : start + 500])
