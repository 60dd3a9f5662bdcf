"""Research panels and surveys: draw, invite, answer, and report weighted results.

Whom to ask when we want the truth rather than the loudest 10 %:

1. **The customer base** is every active person who holds the ``customer`` role today
   or has a portal login. Each is placed in a category of every stratification
   variable: ``participation`` (none / lurker / contributor / heavy, from
   ``kith.insights.participation`` over the last 90 days), ``region`` (the person's
   ``country`` attribute, else the region of their locale, else ``unknown``) and
   ``value_segment`` (the CLV × CRV segment of the latest value run, else ``unscored``).
2. **The frame** is the part of the base who may be asked: consent for the
   ``research_panels`` purpose (``kith.cmr``, the same rule as ``cmr.policy.has_consent``)
   and an active portal login to answer with.
3. **The panel** is drawn by stratified sampling: the target size is allocated to the
   cross-strata in proportion to the base (largest remainder), and drawn at random from
   the frame within each; a stratum with fewer people in the frame than its share is a
   recorded shortfall, which weighting later corrects.
4. **A survey** (single choice, multiple choice, scale, free text) is sent to the panel:
   each member still consenting gets an invitation (in-app notification; e-mail when
   ``cmr.policy.may_send`` allows), answers in the portal, and the answers land on
   their timeline (channel ``survey``).
5. **Results** are shown unweighted and weighted back to the base by raking
   (``kith.insights.raking``) over the panel's stored population margins. When a
   category of the base has no respondent, the weighted result is withheld with the
   reason, never guessed.
"""

from __future__ import annotations

import random
import secrets
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from kith.cmr.models import Channel as CmrChannel
from kith.cmr.models import Consent, Purpose
from kith.core import audit, events
from kith.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from kith.insights import participation as participation_mod
from kith.insights.models_research import (
    Panel,
    PanelMember,
    Survey,
    SurveyAnswer,
    SurveyInvitation,
    SurveyQuestion,
)
from kith.insights.raking import rake
from kith.people.models import Party

RESEARCH_PURPOSE = "research_panels"
STRATA = ("participation", "region", "value_segment")
MAX_PANEL = 5000
MAX_QUESTIONS = 30
MAX_CHOICES = 20
MAX_TEXT = 2000


# ---------------------------------------------------------------- the base and the frame


def customer_base() -> list[Party]:
    """Active people who are customers today or have a portal login."""
    User = get_user_model()
    portal = User.objects.filter(kind="portal", person__isnull=False).values("person_id")
    return list(
        Party.objects.active()
        .people()
        .filter(Q(pk__in=portal) | Q(pk__in=Party.objects.holding("customer").values("pk")))
        .order_by("pk")
    )


def consenting(person_ids: Iterable[int]) -> set[int]:
    """Which of ``person_ids`` consent to research now (latest answer, else the default)."""
    ids = list(person_ids)
    purpose = Purpose.objects.filter(key=RESEARCH_PURPOSE, active=True).first()
    if purpose is None or not ids:
        return set()
    latest: dict[int, bool] = {}
    rows = (
        Consent.objects.filter(
            purpose=purpose,
            channel__in=[CmrChannel.EMAIL, CmrChannel.ANY],
            person_id__in=ids,
        )
        .order_by("person_id", "changed_at", "id")
        .values_list("person_id", "granted")
    )
    for pid, granted in rows:
        latest[pid] = granted  # ordered: the last one is the latest
    return {pid for pid in ids if latest.get(pid, purpose.default_granted)}


def portal_users(person_ids: Iterable[int]) -> dict[int, Any]:
    """Person id → their active portal login."""
    User = get_user_model()
    return {
        u.person_id: u
        for u in User.objects.filter(kind="portal", is_active=True, person_id__in=list(person_ids))
    }


def region_of(person: Party) -> str:
    """The person's country (attribute ``country`` or ``region``, else their locale)."""
    attrs = person.attributes if isinstance(person.attributes, dict) else {}
    for key in ("country", "region"):
        value = attrs.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:40].upper()
    locale = (person.locale or "").replace("_", "-")
    if "-" in locale:
        tail = locale.rsplit("-", 1)[1]
        if len(tail) == 2 and tail.isalpha():
            return tail.upper()
    return "unknown"


def categorise(people: list[Party], variables: Iterable[str]) -> dict[int, dict[str, str]]:
    """Person id → {variable: category} for each stratification variable."""
    variables = list(variables)
    out: dict[int, dict[str, str]] = {p.pk: {} for p in people}
    if "participation" in variables:
        by_user = participation_mod.level_by_user()
        User = get_user_model()
        user_of = dict(
            User.objects.filter(person_id__in=[p.pk for p in people]).values_list("person_id", "id")
        )
        for p in people:
            out[p.pk]["participation"] = by_user.get(user_of.get(p.pk, -1), "none")
    if "region" in variables:
        for p in people:
            out[p.pk]["region"] = region_of(p)
    if "value_segment" in variables:
        segments = value_segments([p.pk for p in people])
        for p in people:
            out[p.pk]["value_segment"] = segments.get(p.pk, "unscored")
    return out


def value_segments(person_ids: list[int]) -> dict[int, str]:
    """Person id → CLV × CRV segment of the latest finished value run (none: {})."""
    from kith.insights.models_value import PersonValue, ValueRun

    run = (
        ValueRun.objects.filter(status=ValueRun.Status.DONE).order_by("-finished_at", "-id").first()
    )
    if run is None:
        return {}
    found: dict[int, str] = {}
    for start in range(0, len(person_ids), 500):
        found.update(
            PersonValue.objects.filter(
                run=run, party_id__in=person_ids[start : start + 500]
            ).values_list("party_id", "segment")
        )
    return found


def _allocate(size: int, counts: Mapping[tuple, int]) -> dict[tuple, int]:
    """Largest-remainder allocation of ``size`` in proportion to ``counts``."""
    total = sum(counts.values())
    if total == 0:
        return dict.fromkeys(counts, 0)
    size = min(size, total)
    exact = {k: size * v / total for k, v in counts.items()}
    alloc = {k: int(v) for k, v in exact.items()}
    rest = size - sum(alloc.values())
    for k in sorted(exact, key=lambda k: (-(exact[k] - alloc[k]), k))[:rest]:
        alloc[k] += 1
    return alloc


# ---------------------------------------------------------------- building a panel


def _validate_panel(name: str, size: int, strata: list[str]) -> tuple[str, list[str]]:
    errors = []
    name = " ".join((name or "").split())
    if not name:
        errors.append(FieldError("name", "This field is required."))
    elif len(name) > 120:
        errors.append(FieldError("name", "At most 120 characters."))
    if not isinstance(size, int) or not 1 <= size <= MAX_PANEL:
        errors.append(FieldError("size", f"Between 1 and {MAX_PANEL}."))
    strata = list(dict.fromkeys(strata or []))
    if not strata:
        errors.append(FieldError("strata", f"Choose at least one of: {', '.join(STRATA)}."))
    for s in strata:
        if s not in STRATA:
            errors.append(FieldError("strata", f"{s!r} is not one of: {', '.join(STRATA)}."))
    if errors:
        raise ValidationFailed(errors=errors)
    return name, strata


def build_panel(
    *, actor, name: str, size: int, strata: list[str], seed: int | None = None
) -> Panel:
    """Draw a stratified panel of consenting customers (see the module docstring)."""
    name, strata = _validate_panel(name, size, strata)
    base = customer_base()
    if not base:
        raise ValidationFailed.single("size", "There are no customers to sample from.")
    cats = categorise(base, strata)
    reachable = consenting(p.pk for p in base)
    logins = portal_users(reachable)
    frame = [p.pk for p in base if p.pk in reachable and p.pk in logins]
    if not frame:
        raise ValidationFailed.single(
            "strata",
            "No customer may be asked: none has both consented to research and a portal login.",
        )
    key = lambda pid: tuple(cats[pid][v] for v in strata)  # noqa: E731
    population = Counter(key(p.pk) for p in base)
    frame_by_cell: dict[tuple, list[int]] = defaultdict(list)
    for pid in frame:
        frame_by_cell[key(pid)].append(pid)
    target = _allocate(size, population)
    seed = secrets.randbits(48) if seed is None else int(seed)
    rng = random.Random(seed)
    chosen: list[tuple[int, tuple]] = []
    allocation = []
    for cell in sorted(population):
        pool = sorted(frame_by_cell.get(cell, []))
        k = min(target[cell], len(pool))
        chosen.extend((pid, cell) for pid in rng.sample(pool, k))
        allocation.append(
            {
                "stratum": dict(zip(strata, cell, strict=True)),
                "population": population[cell],
                "frame": len(pool),
                "target": target[cell],
                "sampled": k,
            }
        )
    margins: dict[str, dict[str, int]] = {v: {} for v in strata}
    for p in base:
        for v in strata:
            c = cats[p.pk][v]
            margins[v][c] = margins[v].get(c, 0) + 1
    with transaction.atomic():
        panel = Panel.objects.create(
            name=name,
            strata=strata,
            target_size=size,
            seed=seed,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
            population_size=len(base),
            frame_size=len(frame),
            margins=margins,
            allocation=allocation,
        )
        PanelMember.objects.bulk_create(
            [
                PanelMember(panel=panel, party_id=pid, strata=dict(zip(strata, cell, strict=True)))
                for pid, cell in chosen
            ]
        )
        changes = {
            "name": name,
            "strata": strata,
            "target_size": size,
            "members": len(chosen),
            "population": len(base),
            "frame": len(frame),
        }
        audit.record(actor=actor, action="panel.built", obj=panel, changes=changes)
        events.emit("panel.built", obj=panel, actor=actor, data=changes)
    return panel


def shortfalls(panel: Panel) -> list[dict]:
    """The strata where fewer people could be drawn than their share of the base."""
    return [row for row in panel.allocation or [] if row["sampled"] < row["target"]]


# ---------------------------------------------------------------- surveys


@dataclass(frozen=True)
class QuestionInput:
    kind: str
    text: str
    choices: tuple[str, ...] = ()
    scale_min: int = 1
    scale_max: int = 5
    required: bool = True


def _validate_questions(questions: list[QuestionInput]) -> list[QuestionInput]:
    errors: list[FieldError] = []
    if not questions:
        errors.append(FieldError("questions", "Add at least one question."))
    if len(questions) > MAX_QUESTIONS:
        errors.append(FieldError("questions", f"At most {MAX_QUESTIONS} questions."))
    clean = []
    for i, q in enumerate(questions[:MAX_QUESTIONS]):
        at = f"questions[{i}]"
        text = " ".join((q.text or "").split())
        if not text:
            errors.append(FieldError(f"{at}.text", "This field is required."))
        elif len(text) > 300:
            errors.append(FieldError(f"{at}.text", "At most 300 characters."))
        if q.kind not in SurveyQuestion.Kind.values:
            errors.append(
                FieldError(
                    f"{at}.kind", f"Must be one of: {', '.join(SurveyQuestion.Kind.values)}."
                )
            )
        choices = tuple(dict.fromkeys(" ".join(c.split()) for c in q.choices if c and c.strip()))
        if q.kind in (SurveyQuestion.Kind.SINGLE, SurveyQuestion.Kind.MULTIPLE):
            if not 2 <= len(choices) <= MAX_CHOICES:
                errors.append(
                    FieldError(f"{at}.choices", f"Between 2 and {MAX_CHOICES} different choices.")
                )
            elif any(len(c) > 120 for c in choices):
                errors.append(FieldError(f"{at}.choices", "Each choice at most 120 characters."))
        else:
            choices = ()
        if q.kind == SurveyQuestion.Kind.SCALE and not (
            -10 <= q.scale_min < q.scale_max <= 10 and q.scale_max - q.scale_min <= 10
        ):
            errors.append(
                FieldError(
                    f"{at}.scale_max", "A scale runs from min < max, within -10…10, ≤ 11 steps."
                )
            )
        clean.append(
            QuestionInput(
                kind=q.kind,
                text=text,
                choices=choices,
                scale_min=int(q.scale_min),
                scale_max=int(q.scale_max),
                required=bool(q.required),
            )
        )
    if errors:
        raise ValidationFailed(errors=errors[:50])
    return clean


def create_survey(
    *, actor, panel: Panel, title: str, intro: str = "", questions: list[QuestionInput]
) -> Survey:
    """A survey for ``panel``, open for answers once members are invited."""
    errors = []
    title = " ".join((title or "").split())
    if not title:
        errors.append(FieldError("title", "This field is required."))
    elif len(title) > 200:
        errors.append(FieldError("title", "At most 200 characters."))
    intro = (intro or "").strip()
    if len(intro) > 2000:
        errors.append(FieldError("intro", "At most 2000 characters."))
    try:
        clean = _validate_questions(questions)
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        survey = Survey.objects.create(
            panel=panel,
            title=title,
            intro=intro,
            status=Survey.Status.OPEN,
            opened_at=timezone.now(),
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        SurveyQuestion.objects.bulk_create(
            [
                SurveyQuestion(
                    survey=survey,
                    position=i + 1,
                    kind=q.kind,
                    text=q.text,
                    choices=list(q.choices),
                    scale_min=q.scale_min,
                    scale_max=q.scale_max,
                    required=q.required,
                )
                for i, q in enumerate(clean)
            ]
        )
        audit.record(
            actor=actor,
            action="survey.created",
            obj=survey,
            changes={"title": title, "panel": str(panel.public_id), "questions": len(clean)},
        )
        events.emit("survey.created", obj=survey, actor=actor, data={"title": title})
    return survey


def close_survey(*, actor, survey: Survey) -> Survey:
    """No more answers; results stay."""
    with transaction.atomic():
        current = Survey.objects.select_for_update().get(pk=survey.pk)
        if current.status == Survey.Status.CLOSED:
            raise Conflict("The survey is already closed.")
        current.status = Survey.Status.CLOSED
        current.closed_at = timezone.now()
        current.save(update_fields=["status", "closed_at", "updated_at"])
        audit.record(actor=actor, action="survey.closed", obj=current)
        events.emit("survey.closed", obj=current, actor=actor)
    return current


def invite(*, actor, survey: Survey) -> dict[str, int]:
    """Invite every panel member who still consents and can sign in; counts by outcome.

    The survey row is locked, so two staff pressing "Invite" at once invite each member
    once. Members already invited are left alone; those who withdrew consent since the
    panel was drawn, were erased or lost their login are counted, not invited.
    """
    from kith.collab import services as collab_services

    counts = {"invited": 0, "already_invited": 0, "no_consent": 0, "no_login": 0}
    created: list[SurveyInvitation] = []
    with transaction.atomic():
        current = Survey.objects.select_for_update().get(pk=survey.pk)
        if current.status != Survey.Status.OPEN:
            raise Conflict("The survey is closed: no more invitations.")
        members = list(
            PanelMember.objects.filter(panel_id=current.panel_id).select_related("party")
        )
        done = set(
            SurveyInvitation.objects.filter(survey=current).values_list("party_id", flat=True)
        )
        ids = [m.party_id for m in members if m.party.status == Party.Status.ACTIVE]
        allowed = consenting(ids)
        logins = portal_users(allowed)
        now = timezone.now()
        for m in members:
            if m.party_id in done:
                counts["already_invited"] += 1
            elif m.party_id not in allowed:
                counts["no_consent"] += 1
            elif m.party_id not in logins:
                counts["no_login"] += 1
            else:
                created.append(
                    SurveyInvitation(
                        survey=current, party_id=m.party_id, strata=m.strata, invited_at=now
                    )
                )
        SurveyInvitation.objects.bulk_create(created)
        counts["invited"] = len(created)
        for inv in SurveyInvitation.objects.filter(
            survey=current, party_id__in=[c.party_id for c in created]
        ):
            collab_services.notify(
                user=logins[inv.party_id],
                verb="invitation",
                text=f"You are invited to a short survey: {current.title}",
                actor=actor,
                url=f"/portal/surveys/{current.public_id}/",
            )
            pk = inv.pk
            transaction.on_commit(lambda pk=pk: _enqueue_mail(pk))
        audit.record(actor=actor, action="survey.invited", obj=current, changes=counts)
        events.emit("survey.invited", obj=current, actor=actor, data=counts)
    return counts


def _enqueue_mail(invitation_pk: int) -> None:
    from kith.insights import tasks_research

    tasks_research.send_survey_invitation.enqueue(invitation_pk)


def mail_invitation(invitation_pk: int) -> bool:
    """E-mail one invitation if consent and preferences allow it now; True when sent."""
    from django.conf import settings
    from django.core.mail import send_mail

    from kith.cmr import policy as cmr_policy

    inv = (
        SurveyInvitation.objects.select_related("survey", "party")
        .filter(pk=invitation_pk, answered_at__isnull=True)
        .first()
    )
    if inv is None or inv.notified:
        return False
    user = portal_users([inv.party_id]).get(inv.party_id)
    if user is None or not user.email:
        return False
    if not cmr_policy.may_send(person=inv.party, purpose=RESEARCH_PURPOSE, topic="research"):
        return False
    base = getattr(settings, "KITH_BASE_URL", "")
    send_mail(
        subject=f"A short survey: {inv.survey.title}"[:150],
        message=(
            f"Hello {inv.party.display_name},\n\nYou are in one of our research panels. "
            f"We would value your answers to a short survey:\n\n"
            f"{base}/portal/surveys/{inv.survey.public_id}/\n\n"
            "You can withdraw your consent to research at any time under My data.\n"
        ),
        from_email=None,
        recipient_list=[user.email],
    )
    cmr_policy.record_sent(
        person=inv.party, purpose=RESEARCH_PURPOSE, sender="insights.survey", topic="research"
    )
    SurveyInvitation.objects.filter(pk=inv.pk).update(notified=True)
    return True


# ---------------------------------------------------------------- answering (portal)


def invitation_for(user, survey_id) -> SurveyInvitation:
    """The signed-in customer's invitation to the survey ``survey_id``, else 404.

    Anyone not invited (staff included) is told the survey does not exist; so is a
    customer who has since withdrawn consent to research.
    """
    person_id = getattr(user, "person_id", None)
    if not getattr(user, "is_portal", False) or person_id is None:
        raise NotFound("No such survey.")
    inv = (
        SurveyInvitation.objects.select_related("survey", "party")
        .filter(survey__public_id=survey_id, party_id=person_id)
        .exclude(survey__status=Survey.Status.DRAFT)
        .first()
    )
    if inv is None or person_id not in consenting([person_id]):
        raise NotFound("No such survey.")
    return inv


def invitations_of(user) -> list[SurveyInvitation]:
    """The customer's invitations, newest first (none once consent is withdrawn)."""
    person_id = getattr(user, "person_id", None)
    if not getattr(user, "is_portal", False) or person_id is None:
        return []
    if person_id not in consenting([person_id]):
        return []
    return list(
        SurveyInvitation.objects.select_related("survey")
        .filter(party_id=person_id)
        .exclude(survey__status=Survey.Status.DRAFT)
        .order_by("-invited_at", "-id")
    )


def _clean_answer(q: SurveyQuestion, raw: list[str]) -> tuple[dict | None, str]:
    """(answer fields or None when unanswered, error message)."""
    values = [" ".join(str(v).split()) for v in raw if str(v).strip()]
    if not values:
        return None, ("Please answer this question." if q.required else "")
    if q.kind == SurveyQuestion.Kind.SINGLE:
        if len(values) != 1 or values[0] not in q.choices:
            return None, "Choose one of the options."
        return {"choices": values}, ""
    if q.kind == SurveyQuestion.Kind.MULTIPLE:
        picked = list(dict.fromkeys(values))
        if any(v not in q.choices for v in picked):
            return None, "Choose among the options."
        return {"choices": [c for c in q.choices if c in picked]}, ""
    if q.kind == SurveyQuestion.Kind.SCALE:
        try:
            value = int(values[0])
        except ValueError:
            return None, f"A whole number from {q.scale_min} to {q.scale_max}."
        if len(values) != 1 or not q.scale_min <= value <= q.scale_max:
            return None, f"A whole number from {q.scale_min} to {q.scale_max}."
        return {"value": value}, ""
    text = "\n".join(str(v).strip() for v in raw if str(v).strip())
    if len(text) > MAX_TEXT:
        return None, f"At most {MAX_TEXT} characters."
    return {"text": text}, ""


def submit_answers(
    *, actor, invitation: SurveyInvitation, answers: Mapping[str, list[str]]
) -> SurveyInvitation:
    """Record the customer's answers (``answers``: "q<position>" → raw values).

    One transaction: all answers or none, the invitation marked answered (locked, so a
    double submit answers once: the second is a 409), an interaction on the person's
    timeline (channel ``survey``), an audit entry and an event.
    """
    from kith.interactions import services as interaction_services
    from kith.interactions.models import Channel, Direction

    with transaction.atomic():
        inv = (
            SurveyInvitation.objects.select_for_update()
            .select_related("survey", "party")
            .get(pk=invitation.pk)
        )
        if inv.answered_at is not None:
            raise Conflict("You have already answered this survey. Thank you!")
        if inv.survey.status != Survey.Status.OPEN:
            raise Conflict("This survey is closed.")
        questions = list(inv.survey.questions.order_by("position"))
        errors, rows = [], []
        for q in questions:
            fields, problem = _clean_answer(q, list(answers.get(f"q{q.position}", [])))
            if problem:
                errors.append(FieldError(f"q{q.position}", problem))
            elif fields is not None:
                rows.append(SurveyAnswer(invitation=inv, question=q, **fields))
        if errors:
            raise ValidationFailed("Please check your answers.", errors=errors)
        SurveyAnswer.objects.bulk_create(rows)
        inv.answered_at = timezone.now()
        inv.save(update_fields=["answered_at", "updated_at"])
        interaction_services.log_interaction(
            actor=actor,
            party=inv.party,
            channel=Channel.SURVEY,
            direction=Direction.INBOUND,
            kind="survey.answered",
            summary=f"Answered the survey “{inv.survey.title}”"[:300],
            related=inv,
        )
        audit.record(
            actor=actor,
            action="survey.answered",
            obj=inv,
            changes={"survey": str(inv.survey.public_id), "answers": len(rows)},
            party_id=inv.party_id,
        )
        events.emit(
            "survey.answered",
            obj=inv,
            actor=actor,
            data={"survey": str(inv.survey.public_id), "party": str(inv.party.public_id)},
        )
    return inv


# ---------------------------------------------------------------- results


@dataclass
class Results:
    survey: Survey
    invited: int
    respondents: int
    weighted: bool
    weighting_errors: list[FieldError]
    # Per stratification variable: category → population / unweighted / weighted share.
    margins: list[dict]
    questions: list[dict]

    @property
    def weighting_message(self) -> str:
        if self.weighted:
            return ""
        if not self.respondents:
            return "No answers yet: nothing to weight."
        return (
            "Weighted results are withheld: some groups of the customer base have no "
            "respondent, so they cannot be represented ("
            + "; ".join(f"{e.field}: {e.message}" for e in self.weighting_errors[:5])
            + ")."
        )


def _share(mask: np.ndarray, w: np.ndarray) -> float:
    total = float(w.sum())
    return float((w * mask).sum() / total) if total else 0.0


def results(survey: Survey) -> Results:
    """Unweighted and raked results of every question (see the module docstring)."""
    panel = survey.panel
    invitations = list(
        SurveyInvitation.objects.filter(survey=survey, answered_at__isnull=False).order_by("id")
    )
    invited = SurveyInvitation.objects.filter(survey=survey).count()
    strata = list(panel.strata or [])
    margins = {v: (panel.margins or {}).get(v, {}) for v in strata}
    rows = [{v: str(inv.strata.get(v, "")) for v in strata} for inv in invitations]
    weights: np.ndarray | None = None
    errors: list[FieldError] = []
    if invitations:
        try:
            weights = rake(rows, margins)
        except ValidationFailed as exc:
            errors = list(exc.errors)
    index = {inv.pk: i for i, inv in enumerate(invitations)}
    n = len(invitations)
    ones = np.ones(n)
    w_all = weights if weights is not None else ones

    margin_rows = []
    for v in strata:
        total = sum(margins[v].values()) or 1
        cats = sorted(set(margins[v]) | {r[v] for r in rows})
        for c in cats:
            mask = np.array([r[v] == c for r in rows], dtype=float)
            margin_rows.append(
                {
                    "variable": v,
                    "category": c,
                    "population": margins[v].get(c, 0) / total,
                    "respondents": int(mask.sum()),
                    "unweighted": _share(mask, ones) if n else 0.0,
                    "weighted": _share(mask, w_all) if weights is not None else None,
                }
            )

    answers_by_q: dict[int, list[SurveyAnswer]] = defaultdict(list)
    for a in SurveyAnswer.objects.filter(invitation__in=[i.pk for i in invitations]):
        answers_by_q[a.question_id].append(a)
    out = []
    for q in survey.questions.order_by("position"):
        got = [a for a in answers_by_q.get(q.pk, []) if a.invitation_id in index]
        idx = np.array([index[a.invitation_id] for a in got], dtype=int)
        uw = np.ones(len(got))
        ww = w_all[idx] if len(got) and weights is not None else None
        entry: dict[str, Any] = {"question": q, "answered": len(got)}
        if q.kind in (SurveyQuestion.Kind.SINGLE, SurveyQuestion.Kind.MULTIPLE):
            options = []
            for c in q.choices:
                mask = np.array([c in (a.choices or []) for a in got], dtype=float)
                options.append(
                    {
                        "choice": c,
                        "count": int(mask.sum()),
                        "unweighted": _share(mask, uw) if len(got) else 0.0,
                        "weighted": _share(mask, ww) if ww is not None else None,
                    }
                )
            entry["options"] = options
        elif q.kind == SurveyQuestion.Kind.SCALE:
            vals = np.array([a.value for a in got], dtype=float)
            entry["mean_unweighted"] = float(vals.mean()) if len(got) else None
            entry["mean_weighted"] = (
                float((vals * ww).sum() / ww.sum()) if ww is not None and ww.sum() else None
            )
            entry["options"] = [
                {
                    "choice": str(s),
                    "count": int((vals == s).sum()),
                    "unweighted": _share((vals == s).astype(float), uw) if len(got) else 0.0,
                    "weighted": _share((vals == s).astype(float), ww) if ww is not None else None,
                }
                for s in range(q.scale_min, q.scale_max + 1)
            ]
        else:
            entry["texts"] = [a.text for a in got if a.text][:200]
        out.append(entry)
    return Results(
        survey=survey,
        invited=invited,
        respondents=n,
        weighted=weights is not None,
        weighting_errors=errors,
        margins=margin_rows,
        questions=out,
    )
