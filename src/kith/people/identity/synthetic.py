"""Generated people with known duplicates, for tests and ``benchmarks/identity.py``.

Faker draws originals (names, birthdays, addresses, e-mails, phones, employers); each
duplicate is a copy with the corruptions real CRM data shows: typos, nicknames, first
and last name swapped, fields missing, another e-mail. Cross-channel entities add a
social account (handle and display name only) whose handle the person's e-mail
signature or profile link names — and lookalikes: other people with the same name but
another employer and no such evidence, who must *not* be linked.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from kith.people.identity.features import PersonRecord
from kith.people.identity.nicknames import _GROUPS

_NICK = {canonical: variants[0] for canonical, variants in _GROUPS.items()}


@dataclass
class Generated:
    records: list[PersonRecord]
    # record id → entity id: records sharing an entity are the same person.
    entity: dict[str, str]

    def true_pairs(self) -> set[frozenset[str]]:
        groups: dict[str, list[str]] = {}
        for rid, ent in self.entity.items():
            groups.setdefault(ent, []).append(rid)
        out = set()
        for ids in groups.values():
            for i, a in enumerate(ids):
                for b in ids[i + 1 :]:
                    out.add(frozenset((a, b)))
        return out


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.choice(("swap", "drop", "double", "replace"))
    if kind == "swap":
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind == "drop":
        return text[:i] + text[i + 1 :]
    if kind == "double":
        return text[:i] + text[i] + text[i:]
    return text[:i] + rng.choice("aeiourstnl") + text[i + 1 :]


def generate(
    n_people: int = 300,
    *,
    dup_rate: float = 0.3,
    cross_channel: int = 20,
    lookalikes: int = 20,
    seed: int = 13,
) -> Generated:
    """``n_people`` originals, duplicates of about ``dup_rate`` of them, and social twins."""
    from faker import Faker

    fake = Faker(["en_GB", "en_US"])
    fake.seed_instance(seed)
    rng = random.Random(seed)
    records: list[PersonRecord] = []
    entity: dict[str, str] = {}
    companies = [fake.company() for _ in range(max(5, n_people // 10))]
    ids = iter(range(1, 10_000_000))

    def add(rec: PersonRecord, ent: str) -> None:
        records.append(rec)
        entity[rec.id] = ent

    originals = []
    for n in range(n_people):
        given = rng.choice([*_NICK, fake.first_name(), fake.first_name()]).capitalize()
        family = fake.last_name()
        user = f"{given}.{family}".lower().replace(" ", "")
        rec = PersonRecord(
            id=str(next(ids)),
            given_name=given,
            family_name=family,
            birthday=fake.date_of_birth(minimum_age=18, maximum_age=90),
            postal=[
                f"{fake.building_number()} {fake.street_name()}, {fake.city()} {fake.postcode()}"
            ],
            emails=[f"{user}{rng.randrange(100)}@{fake.free_email_domain()}"],
            phones=[f"+4420{rng.randrange(10**7, 10**8)}"] if rng.random() < 0.6 else [],
            organisations=[rng.choice(companies)] if rng.random() < 0.7 else [],
        )
        add(rec, f"e{n}")
        originals.append(rec)
    for n, rec in enumerate(originals):
        if rng.random() >= dup_rate:
            continue
        for _ in range(rng.choice((1, 1, 1, 2))):
            add(_corrupt(rng, fake, rec, str(next(ids))), f"e{n}")
    for rec in rng.sample(originals, min(cross_channel, len(originals))):
        handle = f"{rec.given_name[:3]}{rec.family_name}{rng.randrange(99)}".lower()
        rec.evidence_text = f"--\n{rec.given_name} {rec.family_name}\nFollow me: @{handle}"
        add(
            PersonRecord(
                id=str(next(ids)),
                display_name=f"{rec.given_name} {rec.family_name}",
                handles=[handle],
                organisations=list(rec.organisations),
            ),
            entity[rec.id],
        )
    for n, rec in enumerate(rng.sample(originals, min(lookalikes, len(originals)))):
        # Same name, another employer, no shared contact or evidence: a different person.
        others = [c for c in companies if c not in rec.organisations]
        add(
            PersonRecord(
                id=str(next(ids)),
                display_name=f"{rec.given_name} {rec.family_name}",
                handles=[f"{rec.family_name.lower()}{rng.randrange(1000, 9999)}"],
                organisations=[rng.choice(others)] if others else [],
            ),
            f"look{n}",
        )
    return Generated(records=records, entity=entity)


def _corrupt(rng: random.Random, fake, rec: PersonRecord, new_id: str) -> PersonRecord:
    given, family = rec.given_name, rec.family_name
    roll = rng.random()
    if roll < 0.25:
        given = _typo(rng, given)
    elif roll < 0.4 and given.lower() in _NICK:
        given = _NICK[given.lower()].capitalize()
    elif roll < 0.5:
        given, family = family, given
    if rng.random() < 0.3:
        family = _typo(rng, family)
    emails = list(rec.emails)
    if rng.random() < 0.4:
        emails = [f"{given}{family}{rng.randrange(10)}@{fake.free_email_domain()}".lower()]
    elif rng.random() < 0.3:
        emails = []
    return PersonRecord(
        id=new_id,
        given_name=given,
        family_name=family,
        birthday=rec.birthday if rng.random() < 0.7 else None,
        postal=list(rec.postal) if rng.random() < 0.6 else [],
        emails=emails,
        phones=list(rec.phones) if rng.random() < 0.5 else [],
        organisations=list(rec.organisations) if rng.random() < 0.7 else [],
    )


def pairs_of(ids: list[str]) -> Iterator[tuple[str, str]]:
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            yield a, b
