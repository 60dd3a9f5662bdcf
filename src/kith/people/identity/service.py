"""Identity resolution service: training runs, suggestions, decisions, candidate matching.

* :func:`request_training` queues a training run (CLI ``kith identity train``, the API,
  the worker's weekly job); :func:`run_training` trains Splink on the people table with
  the staff decisions as labels, then scores every blocked pair and stores suggestions.
* :func:`suggestions_for` is what the web shows: stored open suggestions, plus today's
  exact rules (same e-mail/phone/handle, close name) while no model is trained. It
  never imports Splink.
* :func:`reject` remembers "not the same" for good; merging a suggested pair (the merge
  screen, the API) marks it accepted through the ``party_merged`` signal.
* :func:`match_candidates` (listening, imports): given a name, handle, e-mail,
  organisation… return people with a match probability and the reasons.
* New people are queued by the worker after commit (``person.created``, not inline) and
  scored in batches on a clock (:func:`score_queued`), so create and import never wait
  for the model and a model call's fixed cost is shared by every person of the period.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from kith.core import audit, events
from kith.core.bulk import id_set, id_set_sql, insert_rows
from kith.core.errors import Conflict, FieldError, ValidationFailed
from kith.core.inputs import whole_number
from kith.people import merging
from kith.people.identity import features
from kith.people.identity.models import (
    IdentityKey,
    IdentityModel,
    MatchSuggestion,
    PendingIdentityScore,
)
from kith.people.models import ContactPoint, Party

logger = logging.getLogger("kith.identity")

# A new person is compared with at most this many candidates found by cheap lookups.
MAX_CANDIDATES = 200
# Suggestions written per transaction when a training stores its pairs.
STORE_CHUNK = 500
# Queued new people scored per batch by score_queued.
SCORE_BATCH = 2000


@dataclass
class Candidate:
    """A person who may be the one described, with the model's probability and why."""

    party: Party
    probability: float
    match_weight: float = 0.0
    reasons: list[dict[str, Any]] = field(default_factory=list)
    source: str = "model"
    suggestion_id: str | None = None

    @property
    def reason(self) -> str:
        """One line: the strongest agreeing fields ("E-mail: same address; Last name: same")."""
        agreeing = [r for r in self.reasons if r.get("weight", 0) > 0][:3]
        return "; ".join(f"{r['label']}: {r['level']}" for r in agreeing) or "similar"

    @property
    def score(self) -> float:
        return self.probability


# ---------------------------------------------------------------- the trained model


def _model_key(run: IdentityModel) -> str:
    """The model's content hashed (0.2 ms): a retrained or edited model loads afresh."""
    return hashlib.sha256(json.dumps(run.model, sort_keys=True, default=str).encode()).hexdigest()


def preload_active_model() -> bool:
    """Load the model in use for scoring now (the worker's start), not at the first
    new person; False when there is none or it was loaded already."""
    run = active_model()
    if run is None:
        return False
    from kith.people.identity import model as engine  # Splink: only where it is used

    return engine.preload(run.model, key=_model_key(run))


def active_model() -> IdentityModel | None:
    """The latest trained model in use (None while only the exact rules apply)."""
    return (
        IdentityModel.objects.filter(status=IdentityModel.Status.DONE, fallback=False)
        .exclude(model={})
        .order_by("-finished_at", "-id")
        .first()
    )


def request_training(*, actor) -> IdentityModel:
    """Queue a training run for the worker; one at a time (409 while one is pending)."""
    with transaction.atomic():
        fresh = timezone.now() - timedelta(hours=1)
        busy = (
            IdentityModel.objects.select_for_update()
            .filter(
                Q(status=IdentityModel.Status.QUEUED)
                | Q(status=IdentityModel.Status.RUNNING, updated_at__gte=fresh)
            )
            .first()
        )
        if busy is not None:
            raise Conflict("Identity training is already queued or running.")
        run = IdentityModel.objects.create(
            requested_by=actor if getattr(actor, "pk", None) else None
        )
        audit.record(actor=actor, action="identity.training_requested", obj=run)
        events.emit("identity_model.requested", obj=run, actor=actor)
        from kith.people.identity.tasks import train_identity_task

        # The database task backend stores the task in this transaction: both or neither.
        train_identity_task.enqueue(run.pk)
    return run


def _set_progress(run_id: int, percent: int, stage: str) -> None:
    IdentityModel.objects.filter(pk=run_id).update(
        percent=max(0, min(100, percent)), stage=stage[:120], updated_at=timezone.now()
    )


def _people() -> list[Party]:
    return list(Party.objects.people().active().order_by("pk"))


def _labels() -> tuple[list[dict[str, Any]], list[tuple[str, str]], int]:
    """Extra rows and match pairs from staff decisions (accepted merges), non-match count."""
    rows: list[dict[str, Any]] = []
    pairs: list[tuple[str, str]] = []
    decided = MatchSuggestion.objects.filter(
        status__in=[MatchSuggestion.Status.ACCEPTED, MatchSuggestion.Status.REJECTED]
    )
    non_matches = 0
    for s in decided.only("pk", "status", "left_record", "right_record"):
        if s.status == MatchSuggestion.Status.REJECTED:
            non_matches += 1
            continue
        if not s.left_record or not s.right_record:
            continue
        # The absorbed record is gone from the table: its snapshot joins the training
        # rows under its own id, so the labelled pair can be found.
        a = {**s.left_record, "unique_id": f"label-{s.pk}-l"}
        b = {**s.right_record, "unique_id": f"label-{s.pk}-r"}
        rows += [a, b]
        pairs.append((a["unique_id"], b["unique_id"]))
    return rows, pairs, non_matches


def run_training(*, run_id: int) -> IdentityModel:
    """Train (or fall back), then store suggestions; progress is written as it goes."""
    claimed = IdentityModel.objects.filter(
        pk=run_id, status__in=[IdentityModel.Status.QUEUED, IdentityModel.Status.FAILED]
    ).update(status=IdentityModel.Status.RUNNING, started_at=timezone.now(), percent=1)
    run = IdentityModel.objects.get(pk=run_id)
    if not claimed:
        return run
    from kith.people.identity import model as engine

    try:
        people = _people()
        rows = [features.to_row(r) for r in features.records_from_parties(people)]
        label_rows, match_pairs, non_matches = _labels()
        run.record_count = len(rows)
        run.labelled_matches = len(match_pairs)
        run.labelled_non_matches = non_matches
        count = 0
        try:
            trained, pairs, clusters = engine.train_and_predict(
                rows + label_rows,
                threshold=settings.KITH_IDENTITY_SUGGEST_THRESHOLD,
                match_pairs=match_pairs,
                progress=lambda pct, stage: _set_progress(run_id, int(pct * 0.8), stage),
            )
        except engine.TooLittleData as exc:
            run.fallback = True
            run.message = str(exc)
            trained = {}
        if trained:
            _set_progress(run_id, 90, "storing suggestions")
            count = _store_pairs(run, pairs, clusters, {r["unique_id"]: r for r in rows})
            _set_progress(run_id, 95, "indexing people for scoring new ones")
            rebuild_keys(rows)
            run.keys_version = features.KEYS_VERSION
        with transaction.atomic():
            run.model = trained
            run.suggestion_count = count
            run.status = IdentityModel.Status.DONE
            run.percent = 100
            run.stage = "done"
            run.finished_at = timezone.now()
            run.save()
            audit.record(
                actor=run.requested_by,
                action="identity.trained",
                obj=run,
                changes={
                    "records": run.record_count,
                    "suggestions": count,
                    "fallback": run.fallback,
                },
            )
            events.emit("identity_model.trained", obj=run, actor=run.requested_by)
    except Exception as exc:
        logger.exception("identity training %s failed", run_id)
        IdentityModel.objects.filter(pk=run_id).update(
            status=IdentityModel.Status.FAILED,
            message=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        run.refresh_from_db()
    return run


def _store_pairs(
    run: IdentityModel | None, pairs, clusters: dict[str, str], rows: dict[str, dict]
) -> int:
    """Upsert open suggestions for scored pairs; decided pairs are left as decided."""
    threshold = settings.KITH_IDENTITY_SUGGEST_THRESHOLD
    wanted = {}
    for p in pairs:
        left, right = whole_number(p.left), whole_number(p.right)
        if p.probability < threshold or left is None or right is None:
            continue
        a, b = sorted((left, right))
        wanted[(a, b)] = p
    count = 0
    auto: list[tuple[int, int]] = []
    decided_qs = MatchSuggestion.objects.exclude(status=MatchSuggestion.Status.OPEN)
    if run is None:
        # A new person's few pairs: only their decided pairs matter, not every decision
        # ever made (read again for each person scored).
        decided_qs = decided_qs.filter(
            left_id__in={a for a, _ in wanted}, right_id__in={b for _, b in wanted}
        )
    decided = set(decided_qs.values_list("left_id", "right_id"))
    if run is not None:
        # A retrain replaces the open suggestions it no longer makes.
        MatchSuggestion.objects.filter(status=MatchSuggestion.Status.OPEN, source="model").delete()
    todo = [(key, p) for key, p in wanted.items() if key not in decided]
    # Written in chunks, each its own short transaction: on SQLite one transaction over
    # a large table's pairs held the database's write lock for minutes, and every other
    # write (a login, a create) waited behind it until it failed.
    for start in range(0, len(todo), STORE_CHUNK):
        chunk = todo[start : start + STORE_CHUNK]
        with transaction.atomic():
            existing = {
                (s.left_id, s.right_id): s
                for s in MatchSuggestion.objects.select_for_update().filter(
                    left_id__in={a for (a, _), _ in chunk},
                    right_id__in={b for (_, b), _ in chunk},
                )
            }
            new_rows = []
            for (a, b), p in chunk:
                fields = {
                    "probability": p.probability,
                    "match_weight": p.weight,
                    "reasons": [r.__dict__ for r in p.reasons],
                    "cluster": clusters.get(str(a), ""),
                    "model": run,
                    "source": "model",
                    "left_record": rows.get(str(a), {}),
                    "right_record": rows.get(str(b), {}),
                }
                row = existing.get((a, b))
                if row is None:
                    new_rows.append(MatchSuggestion(left_id=a, right_id=b, **fields))
                elif row.status == MatchSuggestion.Status.OPEN:
                    for name, value in fields.items():
                        setattr(row, name, value)
                    row.save(update_fields=[*fields, "updated_at"])
                else:  # decided meanwhile (a concurrent reject or merge): left as decided
                    continue
                count += 1
                if p.probability >= settings.KITH_IDENTITY_AUTO_LINK_THRESHOLD:
                    auto.append((a, b))
            # A pair stored meanwhile by someone else stays as they left it.
            MatchSuggestion.objects.bulk_create(new_rows, ignore_conflicts=True)
    for a, b in auto:
        _auto_link(a, b)
    return count


def _auto_link(a: int, b: int) -> None:
    """Merge a pair above the auto-link threshold (the older record is kept)."""
    keep, absorb = Party.objects.filter(pk=a).first(), Party.objects.filter(pk=b).first()
    if keep is None or absorb is None:
        return
    plan = merging.preview(keep=keep, absorb=absorb)
    if plan.blockers:
        return
    merging.merge(actor=None, keep=keep, absorb=absorb)
    MatchSuggestion.objects.filter(left_id=a, right_id=b).update(
        status=MatchSuggestion.Status.AUTO_LINKED, decided_at=timezone.now()
    )


# ---------------------------------------------------------------- what the web shows


def suggestions_for(party: Party, *, scope) -> list[Candidate]:
    """Likely duplicates of ``party`` the user may see: stored suggestions, then the
    exact rules for pairs no model has scored; rejected pairs never come back."""
    rows = (
        MatchSuggestion.objects.filter(
            Q(left=party) | Q(right=party), status=MatchSuggestion.Status.OPEN
        )
        .select_related("left", "right")
        .order_by("-probability")
    )
    visible = set(
        scope.filter(
            pk__in=[s.other(party.pk) for s in rows], status=Party.Status.ACTIVE
        ).values_list("pk", flat=True)
    )
    out: list[Candidate] = []
    for s in rows:
        other = s.right if s.left_id == party.pk else s.left
        if other.pk in visible:
            out.append(
                Candidate(
                    party=other,
                    probability=s.probability,
                    match_weight=s.match_weight,
                    reasons=s.reasons,
                    source=s.source,
                    suggestion_id=str(s.public_id),
                )
            )
    rejected = _rejected_with(party.pk)
    shown = {c.party.pk for c in out}
    for d in merging.duplicates_of(party, scope=scope):
        if d.party.pk in shown or d.party.pk in rejected:
            continue
        out.append(
            Candidate(
                party=d.party,
                probability=d.score,
                reasons=[{"field": "rules", "label": "Rule", "level": d.reason, "weight": 0.0}],
                source="rules",
            )
        )
    return out[:5]


def _rejected_with(party_id: int) -> set[int]:
    pairs = MatchSuggestion.objects.filter(
        Q(left_id=party_id) | Q(right_id=party_id), status=MatchSuggestion.Status.REJECTED
    ).values_list("left_id", "right_id")
    return {b if a == party_id else a for a, b in pairs}


def explain(a: Party, b: Party) -> MatchSuggestion | None:
    """The stored suggestion for this pair, if any (the merge screen shows its weights)."""
    low, high = sorted((a.pk, b.pk))
    return MatchSuggestion.objects.filter(left_id=low, right_id=high).first()


def reject(*, actor, a: Party, b: Party) -> MatchSuggestion:
    """Staff say these two are not the same person: remembered, never suggested again."""
    if a.pk == b.pk:
        raise ValidationFailed(errors=[FieldError("other", "A record is always itself.")])
    low, high = sorted((a.pk, b.pk))
    with transaction.atomic():
        row = MatchSuggestion.objects.select_for_update().filter(left_id=low, right_id=high).first()
        if row is None:
            records = {
                str(r.id): features.to_row(r)
                for r in features.records_from_parties(Party.objects.filter(pk__in=[low, high]))
            }
            row = MatchSuggestion(
                left_id=low,
                right_id=high,
                probability=0.0,
                match_weight=0.0,
                source="rules",
                left_record=records.get(str(low), {}),
                right_record=records.get(str(high), {}),
            )
        row.status = MatchSuggestion.Status.REJECTED
        row.decided_by = actor if getattr(actor, "pk", None) else None
        row.decided_at = timezone.now()
        row.save()
        audit.record(
            actor=actor,
            action="identity.rejected",
            obj=row,
            changes={"left": str(row.left.public_id), "right": str(row.right.public_id)},
            party_id=low,
        )
        events.emit("match_suggestion.rejected", obj=row, actor=actor)
    return row


def _on_merged(sender, *, keep: Party, absorb: Party, **kwargs) -> None:
    """A merge of a suggested pair (any screen, API) is an accepted match: a label."""
    low, high = sorted((keep.pk, absorb.pk))
    MatchSuggestion.objects.filter(
        left_id=low, right_id=high, status=MatchSuggestion.Status.OPEN
    ).update(status=MatchSuggestion.Status.ACCEPTED, decided_at=timezone.now())
    # Pairs with the absorbed record are moot now (its row stays only as a pointer).
    MatchSuggestion.objects.filter(
        Q(left_id=absorb.pk) | Q(right_id=absorb.pk), status=MatchSuggestion.Status.OPEN
    ).delete()


merging.party_merged.connect(_on_merged, dispatch_uid="kith.identity.on_merged")


# ---------------------------------------------------------------- matching one record


def _candidate_query(row: dict[str, Any]) -> Q:
    """Cheap lookups (indexed equalities) that find anyone the model could match."""
    q = Q(pk__in=[])
    points = [*(row.get("emails") or []), *(row.get("phones") or []), *(row.get("handles") or [])]
    seen = row.get("seen_handles") or []
    if points or seen:
        q |= Q(contact_points__normalized__in=[*points, *seen])
    given, family = row.get("given_name"), row.get("family_name")
    if family:
        q |= Q(family_name__iexact=family) | Q(sort_name__endswith=f" {family}")
    if given and row.get("birthday"):
        q |= Q(given_name__iexact=given, birthday=row["birthday"])
    if given and not family:
        q |= Q(sort_name__startswith=given)
    return q


def match_candidates(
    *,
    name: str = "",
    given_name: str = "",
    family_name: str = "",
    email: str = "",
    phone: str = "",
    handle: str = "",
    organisation: str = "",
    evidence_text: str = "",
    websites: list[str] | None = None,
    exclude: Party | None = None,
    scope=None,
    limit: int = 5,
) -> list[Candidate]:
    """People who may be the one described, best first, with probability and reasons.

    For listening and imports (worker side: imports Splink when a model is trained).
    Without a trained model, exact contact matches answer with probability 1.0 and
    nothing else is claimed — a name alone is never a match.
    """
    record = features.PersonRecord(
        id="new",
        given_name=given_name,
        family_name=family_name,
        display_name=name,
        emails=[email.strip().casefold()] if email.strip() else [],
        phones=[phone.strip()] if phone.strip() else [],
        handles=[handle.strip().lstrip("@").casefold()] if handle.strip() else [],
        organisations=[organisation] if organisation.strip() else [],
        websites=websites or [],
        evidence_text=evidence_text,
    )
    row = features.to_row(record)
    base = scope if scope is not None else Party.objects.all()
    qs = base.filter(kind=Party.Kind.PERSON, status=Party.Status.ACTIVE).filter(
        _candidate_query(row)
    )
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    parties = list(qs.distinct().order_by("pk")[:MAX_CANDIDATES])
    if not parties:
        return []
    run = active_model()
    if run is None:
        exact = set(
            ContactPoint.objects.filter(
                party__in=parties,
                normalized__in=[*(row.get("emails") or []), *(row.get("handles") or [])],
            ).values_list("party_id", flat=True)
        )
        return [
            Candidate(
                party=p,
                probability=1.0,
                reasons=[{"field": "rules", "label": "Rule", "level": "same contact", "weight": 0}],
                source="rules",
            )
            for p in parties
            if p.pk in exact
        ][:limit]
    from kith.people.identity import model as engine

    by_id = {str(p.pk): p for p in parties}
    rows = [features.to_row(r) for r in features.records_from_parties(parties)]
    scored = engine.score(run.model, row, rows)
    out = []
    for s in scored:
        other = s.right if s.left == "new" else s.left
        if other in by_id:
            out.append(
                Candidate(
                    party=by_id[other],
                    probability=s.probability,
                    match_weight=s.weight,
                    reasons=[r.__dict__ for r in s.reasons],
                )
            )
    out.sort(key=lambda c: -c.probability)
    return out[:limit]


def score_new_people(party_ids: list[int]) -> int:
    """Score new (or changed) people against the table and store suggestions (worker).

    Set-wise for a batch (an import's chunk): the people's records in one go, their
    blocking keys stored afresh (``IdentityKey``), and the people worth scoring against
    found for all of them through everyone's stored keys in one query
    (``_candidates_by_keys``). Those candidates are read afresh and tested again with
    the model's blocking rules (a stale key finds someone who no longer agrees), then
    all groups are scored in a few calls (``score_many``) and their suggestions stored
    together.
    """
    run = active_model()
    if run is None or not party_ids:
        return 0
    ensure_keys(run)
    rows = _rows_of(party_ids)
    if not rows:
        return 0
    # Their keys as they are now, before the lookup: two people of one batch find each
    # other, and later people find these.
    _write_keys(rows)
    candidates = _candidates_by_keys(rows)
    wanted = {pk for pks in candidates.values() for pk in pks}
    if not wanted:
        return 0
    from kith.people.identity import model as engine

    other_rows = {**_rows_of(wanted - set(rows)), **rows}
    groups = []
    for pk, row in rows.items():
        mine = [
            other_rows[other]
            for other in candidates.get(pk, ())
            if other in other_rows and _worth_scoring(row, other_rows[other])
        ]
        if mine:
            groups.append((row, mine))
    # One model load and a few Splink calls for the whole batch (engine.score_many),
    # the loaded model kept from one batch to the next.
    scored = engine.score_many(run.model, groups, key=_model_key(run))
    # Stored for the whole batch at once (in _store_pairs' short chunks): person by
    # person it was three queries and a commit each, as much as the scoring itself.
    by_id = {r["unique_id"]: r for row, mine in groups for r in [row, *mine]}
    return _store_pairs(None, [p for pairs in scored for p in pairs], {}, by_id)


def _worth_scoring(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """A pair the model compares (``features.compared``), or one whose handle the other
    mentions (a signature naming ``@ana_l``): the contact lookups find those too."""
    return features.compared(a, b) or any(
        set(x.get("seen_handles") or ()).intersection(y.get("handles") or ())
        for x, y in ((a, b), (b, a))
    )


def queue_new_people(party_ids: Iterable[int]) -> int:
    """Queue people for :func:`score_queued` (the worker, on ``person.created`` and, through
    :func:`queue_changed_people`, on changes); returns how many were not waiting yet.

    One ``INSERT … SELECT`` of the people still there, skipping those already queued: an
    import's batch of a thousand went through a query and a thousand model instances
    (``bulk_create``), a quarter of what delivering the batch cost.
    """
    ids = set(party_ids)
    if not ids or active_model() is None:
        # Nothing scores them without a model; the first training compares everyone.
        return 0
    ids_sql, ids_params = id_set_sql(ids)
    quote = connection.ops.quote_name
    queued_at = connection.ops.adapt_datetimefield_value(timezone.now())
    # Table names from the models and placeholders only: no value is spliced in.
    pending, parties = quote(PendingIdentityScore._meta.db_table), quote(Party._meta.db_table)
    sql = f"INSERT INTO {pending} (party_id, queued_at) SELECT id, %s FROM {parties} WHERE id IN ({ids_sql}) ON CONFLICT DO NOTHING"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [queued_at, *ids_params])
        return max(cursor.rowcount, 0)


def queue_changed_people(events_: Iterable[Any]) -> int:
    """Queue the people these change events are about (``tasks.CHANGE_EVENTS``) for
    :func:`score_queued`: the person updated or merged into, the person whose contact
    point was added or changed, and the person a merge undone gave back."""
    people: set[int] = set()
    points: set[int] = set()
    restored: set[str] = set()
    for event in events_:
        if not event.object_id:
            continue
        if event.name.startswith("contact_point."):
            points.add(event.object_id)
            continue
        people.add(event.object_id)
        if event.name == "person.merge_undone" and (event.data or {}).get("absorbed"):
            restored.add(event.data["absorbed"])
    if points:
        people.update(
            ContactPoint.objects.filter(pk__in=id_set(points)).values_list("party_id", flat=True)
        )
    if restored:
        people.update(
            Party.objects.filter(public_id__in=list(restored)).values_list("pk", flat=True)
        )
    return queue_new_people(people)


def score_queued(
    *, limit: int = 20 * SCORE_BATCH, between: Callable[[], object] | None = None
) -> int:
    """Score the queued people, ``SCORE_BATCH`` at a time, and take them off the
    queue; returns the suggestions stored (the worker's periodic job).

    Read, scored, then deleted by id, each step short: no transaction is held while
    the model runs (on SQLite it would hold the write lock). A person queued twice or
    scored by two workers at once is harmless: suggestions are upserted by pair.
    ``between`` runs before each batch after the first (the worker delivers the events
    waiting meanwhile: ``worker.yield_to_events``).
    """
    stored = done = 0
    while done < limit:
        ids = list(
            PendingIdentityScore.objects.order_by("party_id").values_list("party_id", flat=True)[
                :SCORE_BATCH
            ]
        )
        if not ids:
            break
        if done and between is not None:
            between()
        stored += score_new_people(ids)
        PendingIdentityScore.objects.filter(party_id__in=ids).delete()
        done += len(ids)
    return stored


def queued_count() -> int:
    """New or changed people waiting to be scored (the backlog the CLI and the status page show)."""
    return PendingIdentityScore.objects.count()


# What features.records_from_parties reads of a party (its search document is large).
_RECORD_FIELDS = (
    "pk",
    "given_name",
    "family_name",
    "display_name",
    "birthday",
    "attributes",
    "notes",
)


def _record_rows(queryset) -> list[Any]:
    """The fields ``features.records_from_parties`` reads, as named tuples: cheaper than
    a model instance per person for a scored batch or a rebuild of everyone's keys."""
    return list(queryset.values_list(*_RECORD_FIELDS, named=True))


def _rows_of(ids: Iterable[int], *, employers: bool = True) -> dict[int, dict[str, Any]]:
    """pk → ``features.to_row`` for the active people among ``ids``, in id order, in a
    fixed number of queries (``employers=False``: without them, as keys need)."""
    people = _record_rows(Party.objects.people().active().filter(pk__in=id_set(ids)).order_by("pk"))
    records = features.records_from_parties(people, employers=employers)
    return {p.pk: features.to_row(r) for p, r in zip(people, records, strict=True)}


def _candidates_by_keys(rows: dict[int, dict[str, Any]]) -> dict[int, list[int]]:
    """For each person (pk → ``features.to_row``), the people whose stored keys meet
    theirs (``features.probe_keys``): those the model compares them with or who mention
    their handle, when the stored keys are current; by id, without themselves, at most
    ``MAX_CANDIDATES``, those meeting most keys first. One query for the whole batch.

    Who is active is not asked here: the caller reads the candidates afresh.
    """
    probes = {pk: features.probe_keys(row) for pk, row in rows.items()}
    by_key: dict[int, list[int]] = defaultdict(list)
    for key, party_id in IdentityKey.objects.filter(
        key__in=id_set(set().union(*probes.values()))
    ).values_list("key", "party_id"):
        by_key[key].append(party_id)
    chosen: dict[int, list[int]] = {}
    for pk, keys in probes.items():
        hits = Counter(other for key in keys for other in by_key.get(key, ()) if other != pk)
        if hits:
            # A key shared with very many (a common name and a big town's postcode) must
            # not crowd out one shared on several counts.
            strongest = sorted(hits, key=lambda other: (-hits[other], other))[:MAX_CANDIDATES]
            chosen[pk] = sorted(strongest)
    return chosen


def _write_keys(rows: dict[int, dict[str, Any]]) -> None:
    """Store these people's blocking keys afresh (``features.stored_keys``), replacing
    what they had, in one short transaction.

    Two workers keying one person at once may leave both sets of keys on PostgreSQL
    (neither sees the other's rows to delete): harmless, as keys only point the way,
    and the person's next scoring replaces them.
    """
    keys = [
        {"party_id": pk, "key": key}
        for pk, row in rows.items()
        for key in features.stored_keys(row)
    ]
    with transaction.atomic():
        IdentityKey.objects.filter(party_id__in=id_set(rows)).delete()
        insert_rows(IdentityKey, keys, timezone.now())


def rebuild_keys(rows: list[dict[str, Any]] | None = None, *, batch: int = 500) -> int:
    """Store every active person's blocking keys afresh, ``batch`` people a transaction;
    returns the people keyed. Keys of people no longer active are dropped. ``rows``:
    everyone's rows (``features.to_row``) when the caller has just read them (training).

    Chunk by chunk rather than emptying the table first: a person scored meanwhile
    keeps the keys just written, a lookup running meanwhile finds everyone else, and
    each transaction is short (on SQLite it holds the one write lock). 100,000 people
    took 17 s here, once per model.
    """
    IdentityKey.objects.exclude(
        party__kind=Party.Kind.PERSON, party__status=Party.Status.ACTIVE
    ).delete()
    given = {int(row["unique_id"]): row for row in rows} if rows is not None else None
    if given is not None:
        ids = sorted(given)
    else:
        ids = list(Party.objects.people().active().order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        if given is not None:
            _write_keys({pk: given[pk] for pk in chunk})
        else:
            _write_keys(_rows_of(chunk, employers=False))
    return len(ids)


def ensure_keys(run: IdentityModel) -> None:
    """Build everyone's blocking keys for ``run`` unless they are built under the
    current key definition (a model trained before keys existed, or keys defined
    anew): once per model, in the worker, before the keys are first used."""
    if run.keys_version == features.KEYS_VERSION:
        return
    rebuild_keys()
    IdentityModel.objects.filter(pk=run.pk).update(keys_version=features.KEYS_VERSION)
    run.keys_version = features.KEYS_VERSION
