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
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from kith.core import audit, events
from kith.core.bulk import id_set
from kith.core.errors import Conflict, FieldError, ValidationFailed
from kith.people import merging
from kith.people.identity import features
from kith.people.identity.models import IdentityModel, MatchSuggestion, PendingIdentityScore
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
        if p.probability < threshold or not (p.left.isdigit() and p.right.isdigit()):
            continue
        a, b = sorted((int(p.left), int(p.right)))
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
    """Score newly created people against the table and store suggestions (worker).

    Set-wise for a batch (an import's chunk): the new people's records in one go and
    every candidate that ``_candidate_query`` would find for each of them in a few
    queries for all (``_candidates_many``), instead of a query per person that scanned
    the people table (``iexact``, ``endswith``) each time. Only people with candidates
    are then scored by the model: all of them in a few calls (``score_many``), and
    their suggestions stored together.
    """
    run = active_model()
    if run is None or not party_ids:
        return 0
    people = _record_rows(Party.objects.people().active().filter(pk__in=id_set(party_ids)))
    if not people:
        return 0
    rows = {
        p.pk: features.to_row(record)
        for p, record in zip(people, features.records_from_parties(people), strict=True)
    }
    candidates = _candidates_many(rows)
    wanted = {pk for pks in candidates.values() for pk in pks}
    if not wanted:
        return 0
    from kith.people.identity import model as engine

    others = _record_rows(Party.objects.filter(pk__in=id_set(wanted)))
    other_rows = {
        p.pk: features.to_row(record)
        for p, record in zip(others, features.records_from_parties(others), strict=True)
    }
    groups = []
    for person in people:
        row = rows[person.pk]
        # Only the pairs the model would compare in a full run (its blocking rules):
        # the cheap lookups also find everyone with the same family name, pairs the
        # model caps as "name only" anyway, and scoring them was most of the cost.
        mine = [
            other_rows[pk]
            for pk in candidates.get(person.pk, ())
            if pk in other_rows and _worth_scoring(row, other_rows[pk])
        ]
        if mine:
            groups.append((row, mine))
    # One model load and a few Splink calls for the whole batch (engine.score_many).
    # Keyed by the model's content (0.2 ms to hash): the worker keeps the loaded model
    # from one batch to the next, and a retrained or edited model is loaded afresh.
    fingerprint = hashlib.sha256(json.dumps(run.model, sort_keys=True, default=str).encode())
    scored = engine.score_many(run.model, groups, key=fingerprint.hexdigest())
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
    """Queue new people for :func:`score_queued` (the worker, on ``person.created``)."""
    ids = set(party_ids)
    if not ids or active_model() is None:
        # Nothing scores them without a model; the first training compares everyone.
        return 0
    existing = Party.objects.filter(pk__in=ids).values_list("pk", flat=True)
    rows = [PendingIdentityScore(party_id=pk) for pk in existing]
    PendingIdentityScore.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def score_queued(*, limit: int = 20 * SCORE_BATCH) -> int:
    """Score the queued new people, ``SCORE_BATCH`` at a time, and take them off the
    queue; returns the suggestions stored (the worker's periodic job).

    Read, scored, then deleted by id, each step short: no transaction is held while
    the model runs (on SQLite it would hold the write lock). A person queued twice or
    scored by two workers at once is harmless: suggestions are upserted by pair.
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
        stored += score_new_people(ids)
        PendingIdentityScore.objects.filter(party_id__in=ids).delete()
        done += len(ids)
    return stored


def queued_count() -> int:
    """New people waiting to be scored (the backlog the CLI and the status page show)."""
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
    """The fields ``features.records_from_parties`` reads, as named tuples: a scored
    batch reads every candidate (45 a new person at 100,000 people), and a model
    instance per candidate cost more than the row."""
    return list(queryset.values_list(*_RECORD_FIELDS, named=True))


def _candidates_many(rows: dict[int, dict[str, Any]]) -> dict[int, list[int]]:
    """For each new person (pk → ``features.to_row``), the people ``_candidate_query``
    finds for them (active people other than themselves, by id, at most
    ``MAX_CANDIDATES``), with a few queries for all of them rather than one each.

    The same tests as ``_candidate_query``: a shared e-mail, phone or handle; the same
    family name (case-insensitive), or a name ending with it; the same given name and
    birthday; for a given name alone, a name starting with it.

    Where more than ``MAX_CANDIDATES`` are found (a common family name), the strong
    ones are kept first: a shared contact, or a family name with the same given name
    (nickname-folded) or birthday. Cutting by id alone dropped a true match that
    happened to be newer than two hundred namesakes.
    """
    from django.db.models.functions import Lower, Right

    people = Party.objects.people().active()
    found: dict[int, set[int]] = {pk: set() for pk in rows}
    strong: dict[int, set[int]] = {pk: set() for pk in rows}

    def add(new: Iterable[int], party_id: int, *, is_strong: bool = False) -> None:
        for pk in new:
            if pk != party_id:
                found[pk].add(party_id)
                if is_strong:
                    strong[pk].add(party_id)

    by_point: dict[str, set[int]] = {}
    by_family: dict[str, set[int]] = {}
    by_birthday: dict[Any, dict[str, set[int]]] = {}
    given_only: list[tuple[int, str]] = []
    for pk, row in rows.items():
        for key in ("emails", "phones", "handles", "seen_handles"):
            for value in row.get(key) or ():
                by_point.setdefault(value, set()).add(pk)
        given, family = row.get("given_name"), row.get("family_name")
        if family:
            by_family.setdefault(family, set()).add(pk)
        if given and row.get("birthday"):
            by_birthday.setdefault(row["birthday"], {}).setdefault(given.casefold(), set()).add(pk)
        if given and not family:
            given_only.append((pk, given))
    if by_point:
        for party_id, normalized in ContactPoint.objects.filter(
            normalized__in=list(by_point),
            party__kind=Party.Kind.PERSON,
            party__status=Party.Status.ACTIVE,
        ).values_list("party_id", "normalized"):
            add(by_point.get(normalized, ()), party_id, is_strong=True)
    if by_family:
        # family_name__iexact: compared lower-cased by the database, as iexact does.
        # Filtered on lower(family_name) alone, so its index is the one the database
        # can use (SQLite, without ANALYZE statistics, chose the kind and status index
        # and read every party); active people are kept here instead.
        for party_id, lowered, given_name, birthday, kind, status in (
            Party.objects.annotate(kith_family=Lower("family_name"))
            .filter(kith_family__in=[f.lower() for f in by_family])
            .values_list("pk", "kith_family", "given_name", "birthday", "kind", "status")
        ):
            if kind != Party.Kind.PERSON or status != Party.Status.ACTIVE:
                continue
            canon = features.given_canon(features.clean_name(given_name))
            day = str(birthday) if birthday else None
            for pk in by_family.get(lowered, ()):
                row = rows[pk]
                add(
                    (pk,),
                    party_id,
                    is_strong=bool(canon and canon == row.get("given_canon"))
                    or bool(day and day == row.get("birthday")),
                )
        # sort_name__endswith=" <family>": one test per length of the families, so the
        # table is read once, whatever the number of families.
        by_length: dict[int, list[str]] = {}
        for family in by_family:
            by_length.setdefault(len(family) + 1, []).append(f" {family}")
        q = Q(pk__in=[])
        for length, tails in by_length.items():
            q |= Q(**{f"kith_tail_{length}__in": tails})
        tails_qs = people.alias(
            **{f"kith_tail_{length}": Right("sort_name", length) for length in by_length}
        ).filter(q)
        for party_id, sort_name in tails_qs.values_list("pk", "sort_name"):
            for length in by_length:
                tail = sort_name[-length:]
                if tail.startswith(" "):
                    add(by_family.get(tail[1:], ()), party_id)
    if by_birthday:
        for party_id, given_name, birthday in people.filter(
            birthday__in=list(by_birthday)
        ).values_list("pk", "given_name", "birthday"):
            add(
                by_birthday.get(str(birthday), {}).get((given_name or "").casefold(), ()),
                party_id,
                is_strong=True,
            )
    for pk, given in given_only:
        for party_id in people.filter(sort_name__startswith=given).values_list("pk", flat=True):
            add((pk,), party_id)
    chosen: dict[int, list[int]] = {}
    for pk, ids in found.items():
        if not ids:
            continue
        kept = sorted(strong[pk])[:MAX_CANDIDATES]
        kept += sorted(ids - strong[pk])[: MAX_CANDIDATES - len(kept)]
        chosen[pk] = sorted(kept)
    return chosen
