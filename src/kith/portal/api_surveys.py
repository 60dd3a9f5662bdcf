"""HTTP API of the customer's research surveys (``/api/portal/surveys...``): thin.

The same rules as the portal pages (``kith.portal.views_surveys``), through the same
services in ``kith.insights.panels``: a customer sees only the surveys they were invited
to while they consent to research (anything else is a 404, staff included), answers
each once (a second answer is a 409), and bad answers are a 422 naming the question
(``q<position>``). Staff read results through ``/api/insights/surveys/{id}/results``.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.http import HttpRequest
from ninja import Field, Router, Schema

from kith.core.context import channel
from kith.core.errors import FieldError, NotFound, ValidationFailed
from kith.insights import panels
from kith.insights.models_research import Survey, SurveyInvitation

router = Router(tags=["portal"])


class PortalSurveyQuestionOut(Schema):
    position: int
    kind: str
    text: str
    required: bool
    choices: list[str]
    scale_min: int | None
    scale_max: int | None
    max_length: int | None


class PortalSurveyOut(Schema):
    id: uuid.UUID
    title: str
    intro: str
    status: str
    invited_at: dt.datetime
    answered_at: dt.datetime | None
    can_answer: bool


class PortalSurveyDetailOut(PortalSurveyOut):
    questions: list[PortalSurveyQuestionOut]


class PortalSurveyAnswerIn(Schema):
    question: int = Field(..., ge=1, le=1000, description="The question's position.")
    choices: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Single or multiple choice: the options picked, as listed.",
    )
    value: int | None = Field(None, ge=-1000, le=1000, description="Scale: a whole number.")
    text: str | None = Field(None, max_length=20000, description="Free text.")


class PortalSurveyAnswersIn(Schema):
    answers: list[PortalSurveyAnswerIn] = Field(..., max_length=200)


def _customer(request: HttpRequest):
    user = request.user
    if not getattr(user, "is_portal", False) or not user.is_active:
        raise NotFound("Not found.")
    return user


def _summary(inv: SurveyInvitation) -> dict:
    survey = inv.survey
    return {
        "id": survey.public_id,
        "title": survey.title,
        "intro": survey.intro,
        "status": survey.status,
        "invited_at": inv.invited_at,
        "answered_at": inv.answered_at,
        "can_answer": inv.answered_at is None and survey.status == Survey.Status.OPEN,
    }


def _question(q) -> dict:
    scale = q.kind == "scale"
    return {
        "position": q.position,
        "kind": q.kind,
        "text": q.text,
        "required": q.required,
        "choices": list(q.choices or []) if q.kind in ("single", "multiple") else [],
        "scale_min": q.scale_min if scale else None,
        "scale_max": q.scale_max if scale else None,
        "max_length": panels.MAX_TEXT if q.kind == "text" else None,
    }


def _detail(inv: SurveyInvitation) -> dict:
    return {
        **_summary(inv),
        "questions": [_question(q) for q in inv.survey.questions.order_by("position")],
    }


@router.get("/portal/surveys", response=list[PortalSurveyOut], url_name="portal_surveys")
def list_surveys(request: HttpRequest, open_only: bool = False):
    """The surveys the customer was invited to, newest first (``open_only``: still to answer)."""
    user = _customer(request)
    rows = [_summary(inv) for inv in panels.invitations_of(user)]
    return [r for r in rows if r["can_answer"]] if open_only else rows


@router.get("/portal/surveys/{public_id}", response=PortalSurveyDetailOut, url_name="portal_survey")
def get_survey(request: HttpRequest, public_id: uuid.UUID):
    """One survey the customer was invited to, with its questions."""
    return _detail(panels.invitation_for(_customer(request), public_id))


@router.post(
    "/portal/surveys/{public_id}/answers",
    response=PortalSurveyDetailOut,
    url_name="portal_survey_answer",
)
def answer_survey(request: HttpRequest, public_id: uuid.UUID, payload: PortalSurveyAnswersIn):
    """Answer a survey, all questions at once (a 409 once answered or closed)."""
    user = _customer(request)
    invitation = panels.invitation_for(user, public_id)
    positions = set(invitation.survey.questions.values_list("position", flat=True))
    raw: dict[str, list[str]] = {}
    errors: list[FieldError] = []
    for i, a in enumerate(payload.answers):
        key = f"q{a.question}"
        if a.question not in positions:
            errors.append(FieldError(f"answers[{i}].question", "No such question."))
        elif key in raw:
            errors.append(FieldError(f"answers[{i}].question", "Answered twice."))
        else:
            values = list(a.choices)
            if a.value is not None:
                values.append(str(a.value))
            if a.text is not None:
                values.append(a.text)
            raw[key] = values
    if errors:
        raise ValidationFailed("Please check your answers.", errors=errors)
    with channel("api"):
        panels.submit_answers(actor=user, invitation=invitation, answers=raw)
    return _detail(panels.invitation_for(user, public_id))
