"""Community benchmark: space topic list, topic page, community search and a vote, over
200,000 topics and 1,000,000 replies, through the real server, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/community.py [--db sqlite|postgres|both] [--quick]
        [--topics 200000] [--answers 5] [--runs 100] [--keep]

For each database it creates its own (a SQLite file under ``/tmp/kith-benchmarks/``, or
the PostgreSQL database ``kith_bench_community``), migrates it with ``kith migrate``,
makes the spaces through the services, bulk-writes members, topics, answers, votes and
their ledger rows with ``kith.community.demo.generate`` (the demo's writer), then serves
it with ``kith serve --no-worker`` and measures, one request after the other on a
keep-alive client (the helpers of ``run.py``), as a customer:

* ``GET /api/community/spaces/<customers space>/topics?limit=30`` (first page and page 2);
* ``GET /api/community/topics/<id>`` for random topics (question, answers, comments);
* ``GET /api/community/search?q=<two words>`` with random words of the titles;
* ``PUT /api/community/posts/<id>/vote`` on random answers by other members: the vote, its
  ledger row, the post's score, serial-vote detection, the audit entry, the outbox
  event and the voter's timeline interaction, in one transaction.

Targets: list, topic page and search p95 ≤ 50 ms; vote p95 ≤ 30 ms. ``--quick`` builds
20,000 topics. The database is dropped afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import dataset  # noqa: E402  (benchmarks/ is not a package)
import run  # noqa: E402

ANCHOR = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
READ_TARGET_MS = 50.0
VOTE_TARGET_MS = 30.0
MEMBERS = 5000
VOTERS = 40
log = run.log


class CommunityTarget(run.Target):
    @property
    def tag(self) -> str:
        return f"community_{self.sizes.people}"

    @property
    def data_dir(self) -> Path:
        return self.base_dir / f"community-{self.db}-{self.sizes.people}"

    @property
    def pg_name(self) -> str:
        return "kith_bench_community"


# ---------------------------------------------------------------- data


def load(target: CommunityTarget, args: argparse.Namespace) -> dict[str, Any]:
    from django.conf import settings
    from django.db import connection, transaction

    from kith.accounts import services as accounts
    from kith.accounts.models import Role, User
    from kith.community import demo, services
    from kith.community.models import MemberProfile
    from kith.people import services as people_services
    from kith.people.models import Party

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    t0 = time.perf_counter()
    admin = accounts.create_user(
        actor=None, username="bench-community", password=uuid.uuid4().hex, role=Role.ADMIN
    )
    spaces = [
        services.create_space(actor=admin, name="Help", slug="help", audience="public"),
        services.create_space(
            actor=admin, name="Customers", slug="customers", audience="customers"
        ),
        services.create_space(actor=admin, name="Partners", slug="partners", audience="partners"),
    ]
    with transaction.atomic():
        parties = Party.objects.bulk_create(
            [
                Party(
                    kind="person",
                    given_name=f"Member{i}",
                    family_name="Bench",
                    display_name=f"Member{i} Bench",
                    sort_name=f"member{i} bench",
                )
                for i in range(MEMBERS)
            ],
            batch_size=2000,
        )
        users = []
        for i, party in enumerate(parties):
            user = User(
                username=f"bench-member-{i}",
                kind=User.Kind.PORTAL,
                role="viewer",
                person=party,
                date_joined=ANCHOR - dt.timedelta(days=400),
            )
            user.set_unusable_password()
            users.append(user)
        User.objects.bulk_create(users, batch_size=2000)
    users = list(User.objects.filter(username__startswith="bench-member-").order_by("id"))
    staff = [admin.pk]
    # The measuring customer and the voters hold the customer role (the customers space).
    for user in users[:VOTERS]:
        people_services.add_relationship(actor=None, subject=user.person, role="customer")
    counts = demo.generate(
        spaces=spaces,
        authors=[u.pk for u in users],
        staff=staff,
        topics=args.topics,
        answers_per_topic=args.answers,
        votes_per_post=0.2,
        start=ANCHOR - dt.timedelta(days=730),
        end=ANCHOR,
        seed=args.seed,
        interactions=False,
        batch=5000,
    )
    MemberProfile.objects.filter(user__in=users[:VOTERS]).update(trust_level=2, reputation=5000)
    MemberProfile.objects.filter(user__in=users[:VOTERS]).update(trust_locked=True)
    connection.close()
    raw = target.raw_connection()
    if target.db == "sqlite":
        raw.execute("ANALYZE")
    else:
        raw.autocommit = True  # VACUUM cannot run inside a transaction
        raw.execute("VACUUM ANALYZE")
    raw.close()
    loaded = {**counts, "load_seconds": round(time.perf_counter() - t0, 1)}
    target.marker.write_text(dataset.dumps(loaded))
    return loaded


def sample(args: argparse.Namespace) -> dict[str, Any]:
    """What the measurements use: random topics, answers to vote on, the voters' names.

    Answers some voter already voted on are left out, so a re-run on a kept database
    (``--reuse``) measures real votes, not the "same vote again" shortcut.
    """
    from kith.accounts.models import User
    from kith.community.models import Post, Space, Topic

    rng = random.Random(args.seed + int(time.time()))
    spaces = {s.slug: s.pk for s in Space.objects.filter(slug__in=["help", "customers"])}
    users = list(
        User.objects.filter(username__startswith="bench-member-")
        .order_by("id")
        .values_list("pk", "username")[:VOTERS]
    )
    voter_ids = [pk for pk, _ in users]
    max_topic = Topic.objects.order_by("-id").values_list("id", flat=True).first()
    max_post = Post.objects.order_by("-id").values_list("id", flat=True).first()
    sample_topics = [
        str(p)
        for p in Topic.objects.filter(
            id__in=[rng.randint(1, max_topic) for _ in range(args.runs * 4)],
            space_id__in=list(spaces.values()),
        ).values_list("public_id", flat=True)[: args.runs]
    ]
    answer_ids = list(
        Post.objects.filter(
            kind="answer",
            topic__space_id=spaces["customers"],
            id__in=[rng.randint(1, max_post) for _ in range(args.runs * 20)],
        )
        .exclude(author_id__in=voter_ids)
        .exclude(votes__voter_id__in=voter_ids)
        .values_list("public_id", flat=True)[: args.runs * 2]
    )
    return {
        "topics_sample": sample_topics,
        "answers_sample": [str(a) for a in answer_ids],
        "voters": [name for _, name in users],
        "customer": users[0][1],
    }


# ---------------------------------------------------------------- measuring


def session_for(username: str) -> dict[str, str]:
    """Cookies of a signed-in session for a customer (customers hold no API tokens),
    with a CSRF cookie whose secret the requests repeat in the header."""
    import secrets
    import string
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    from kith.accounts.models import User

    user = User.objects.get(username=username)
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    csrf = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    return {settings.SESSION_COOKIE_NAME: store.session_key, settings.CSRF_COOKIE_NAME: csrf}


def use_session(client, cookies: dict[str, str]) -> None:
    from django.conf import settings

    client.cookies.clear()
    for name, value in cookies.items():
        client.cookies.set(name, value)
    client.headers.pop("Authorization", None)
    client.headers["X-CSRFToken"] = cookies[settings.CSRF_COOKIE_NAME]


def measure_each(client, method: str, paths: list[tuple[str, dict]], expect: int = 200) -> dict:
    for path, body in paths[:3]:
        client.request(method, path, params=body if method == "GET" else None)
    times = []
    for path, body in paths:
        if method == "GET":
            ms, response = run.timed(lambda p=path, b=body: client.get(p, params=b))
        else:
            ms, response = run.timed(lambda p=path, b=body: client.request(method, p, json=b))
        if response.status_code != expect:
            raise SystemExit(f"{method} {path} → {response.status_code}: {response.text[:500]}")
        times.append(ms)
    return run.summary(times)


def bench_database(db: str, args: argparse.Namespace) -> dict[str, Any]:
    sizes = dataset.Sizes(people=args.topics, interactions=0)
    target = CommunityTarget(db, sizes, Path(args.base_dir))
    result: dict[str, Any] = {"db": db, "topics": args.topics}
    unreachable = target.reachable()
    if unreachable:
        log(f"PostgreSQL at {target.pg_admin_url} is not reachable ({unreachable}); skipping it.")
        return {**result, "skipped": unreachable}
    os.environ.update(target.env())
    if db == "sqlite":
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    kept = target.loaded_sizes() if args.reuse else None
    if kept is not None and kept.get("topics") != args.topics:
        raise SystemExit(
            f"The kept {db} database holds {kept.get('topics')} topics, not {args.topics}."
        )
    if kept is None:
        log(f"Creating the {db} database ({target.database_url})")
        target.create()
    migrated = run.kith(target, "migrate", "-v0")
    if migrated.returncode:
        raise SystemExit(f"kith migrate failed:\n{migrated.stdout}\n{migrated.stderr}")
    if kept is None:
        result["load"] = load(target, args)
        verb = "loaded in"
    else:
        result["load"] = {**kept, "reused": True}
        verb = "kept from a run that loaded them in"
    counts = result["load"]
    log(
        f"  {counts.get('topics', 0):,} topics, {counts.get('posts', 0):,} posts, "
        f"{counts.get('votes', 0):,} votes {verb} {counts['load_seconds']} s"
    )
    loaded = sample(args)
    customer = session_for(loaded["customer"])
    voters = [session_for(name) for name in loaded["voters"]]
    from django.db import connection

    connection.close()
    import httpx

    from kith.community.demo import THINGS, VERBS

    rng = random.Random(args.seed + 7)
    figures: dict[str, Any] = {}
    with run.serving(target) as (base, _pid):
        log(f"Measuring {db} through {base} …")
        with httpx.Client(base_url=base, timeout=60) as client:
            use_session(client, customer)
            listing = "/api/community/spaces/customers/topics"
            figures["space_topic_list"] = run.measure_get(client, listing, {"limit": 30}, args.runs)
            first = client.get(listing, params={"limit": 30}).json()
            figures["space_topic_list_page2"] = run.measure_get(
                client, listing, {"limit": 30, "cursor": first["next_cursor"]}, args.runs
            )
            figures["topic_page"] = measure_each(
                client,
                "GET",
                [(f"/api/community/topics/{t}", {}) for t in loaded["topics_sample"]],
            )
            queries = [
                ("/api/community/search", {"q": f"{rng.choice(VERBS)} {rng.choice(THINGS)}"})
                for _ in range(args.runs)
            ]
            figures["search"] = measure_each(client, "GET", queries)
            times = []
            answers = loaded["answers_sample"]
            for i, post in enumerate(answers[: args.runs]):
                use_session(client, voters[i % len(voters)])
                ms, response = run.timed(
                    lambda p=post: client.put(f"/api/community/posts/{p}/vote", json={"value": 1})
                )
                if response.status_code != 200:
                    raise SystemExit(f"vote → {response.status_code}: {response.text[:500]}")
                times.append(ms)
            figures["vote"] = run.summary(times)
    result["figures"] = figures
    if args.keep or args.reuse:
        log(f"Kept the {db} database ({target.database_url}).")
    else:
        target.drop()
        log(f"Dropped the {db} database.")
    return result


# ---------------------------------------------------------------- report


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "",
        f"Community benchmark — reads p95 ≤ {READ_TARGET_MS:.0f} ms, vote p95 ≤ {VOTE_TARGET_MS:.0f} ms",
        f"{'database':<10} {'topics':>8} {'posts':>9} {'load s':>7}  {'measure':<24} {'p50 ms':>8} {'p95 ms':>8}  verdict",
    ]
    for r in results:
        if r.get("skipped"):
            lines.append(f"{r['db']:<10} skipped: {r['skipped']}")
            continue
        first = True
        for name, fig in r["figures"].items():
            target = VOTE_TARGET_MS if name == "vote" else READ_TARGET_MS
            verdict = "ok" if fig["p95_ms"] <= target else "MISSED"
            lines.append(
                f"{r['db'] if first else '':<10} {r['load'].get('topics', '') if first else '':>8} "
                f"{r['load'].get('posts', '') if first else '':>9} "
                f"{r['load']['load_seconds'] if first else '':>7}  {name:<24} "
                f"{fig['p50_ms']:>8.1f} {fig['p95_ms']:>8.1f}  {verdict}"
            )
            first = False
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--topics", type=int, default=200_000)
    parser.add_argument("--answers", type=float, default=5.5, help="mean answers per topic")
    parser.add_argument("--quick", action="store_true", help="20,000 topics")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure a database kept (--keep) by an earlier run of the same size",
    )
    parser.add_argument(
        "--base-dir", default=os.environ.get("KITH_BENCH_DIR", "/tmp/kith-benchmarks")
    )
    parser.add_argument("--json-out", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.topics = 20_000
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.db == "both":
        results = run.each_database(__file__, argv, {"topics": args.topics})
    else:
        results = [bench_database(args.db, args)]
        if args.json_out:
            Path(args.json_out).write_text(dataset.dumps(results[0]))
            return
    print(table(results))
    run.save_results("community", results)


if __name__ == "__main__":
    main()
