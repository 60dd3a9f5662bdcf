"""Demo research panel for ``kith demo``: one finished survey, weighted and unweighted.

Runs after the community and portal demos (which write the activity that participation
is measured from: visits, reads and posts). Most demo customers consent to research
(recorded as imported consents); a panel is drawn by participation and region through
the same service staff use, a survey is written, the panel invited, about two thirds
answer (the keen more often than the quiet, as in life) through the same service the
portal uses, and the survey is closed. ``wipe`` removes the panels and surveys; the
consents, invitations and answers go with the demo people.
"""

from __future__ import annotations

import datetime as dt
import random

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from kith.core.models import AuditEntry

from . import panels
from .models_research import Panel, Survey, SurveyInvitation

DEMO_CHANNEL = "demo"


def load(*, seed: int, anchor: dt.date) -> str:
    """Write the demo panel and its finished survey; returns a one-line summary."""
    from kith.cmr.models import Consent, Purpose

    User = get_user_model()
    alice = User.objects.filter(username="alice").first()
    purpose = Purpose.objects.filter(key=panels.RESEARCH_PURPOSE).first()
    if alice is None or purpose is None:
        return "research panel skipped (no demo admin or no research purpose)"
    rng = random.Random(seed + 1313)
    base = panels.customer_base()
    now = timezone.now()
    Consent.objects.bulk_create(
        [
            Consent(
                person=p,
                purpose=purpose,
                channel="any",
                granted=rng.random() < 0.75,
                changed_at=now,
                source="import",
            )
            for p in base
        ],
        ignore_conflicts=True,
    )
    try:
        panel = panels.build_panel(
            actor=alice,
            name="Customer panel (demo)",
            size=40,
            strata=["participation", "region"],
            seed=seed,
        )
    except Exception as exc:  # a tiny demo may have no one to ask
        return f"research panel skipped ({getattr(exc, 'message', exc)})"
    Q = panels.QuestionInput
    survey = panels.create_survey(
        actor=alice,
        panel=panel,
        title="How are we doing? (demo)",
        intro="Four short questions about our products and service.",
        questions=[
            Q(kind="single", text="Would you recommend us to a friend?", choices=("Yes", "No")),
            Q(kind="scale", text="How satisfied are you overall?", scale_min=1, scale_max=5),
            Q(
                kind="multiple",
                text="Which of these do you use?",
                choices=("Mobile app", "Web app", "Community", "Phone support"),
            ),
            Q(kind="text", text="What should we improve first?", required=False),
        ],
    )
    panels.invite(actor=alice, survey=survey)
    users = {u.person_id: u for u in User.objects.filter(kind="portal", person__isnull=False)}
    answered = 0
    remarks = ["Faster answers, please.", "The app is great.", "Better search.", ""]
    for inv in SurveyInvitation.objects.filter(survey=survey).order_by("id"):
        level = inv.strata.get("participation", "none")
        keen = level in ("contributor", "heavy")
        if rng.random() > (0.9 if keen else 0.55):
            continue
        # The keen are happier than the quiet: the unweighted result flatters us.
        happy = rng.random() < (0.8 if keen else 0.45)
        panels.submit_answers(
            actor=users.get(inv.party_id),
            invitation=inv,
            answers={
                "q1": ["Yes" if happy else "No"],
                "q2": [str(rng.randint(4, 5) if happy else rng.randint(1, 3))],
                "q3": rng.sample(["Mobile app", "Web app", "Community", "Phone support"], 2),
                "q4": [rng.choice(remarks)],
            },
        )
        answered += 1
    panels.close_survey(actor=alice, survey=survey)
    return f"research panel of {panel.members.count()}, survey answered by {answered}"


def wipe() -> None:
    """Delete the demo's panels and their surveys (and the survey interactions)."""
    from kith.interactions.models import Interaction

    ct = ContentType.objects.get_for_model(Panel)
    panel_ids = list(
        AuditEntry.objects.filter(
            channel=DEMO_CHANNEL, object_type=ct, action="panel.built"
        ).values_list("object_id", flat=True)
    )
    surveys = Survey.objects.filter(panel_id__in=panel_ids)
    invitations = SurveyInvitation.objects.filter(survey__in=surveys)
    Interaction.objects.filter(
        related_type=ContentType.objects.get_for_model(SurveyInvitation),
        related_id__in=list(invitations.values_list("id", flat=True)),
    ).delete()
    surveys.delete()
    Panel.objects.filter(pk__in=panel_ids).delete()
