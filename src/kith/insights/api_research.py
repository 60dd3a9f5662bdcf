"""HTTP API for participation inequality and research panels (thin; staff only).

Mounted on the insights router. Reading is for every staff member; building panels,
writing surveys and inviting are for staff who may write (not viewers). Results show
counts and shares, never who answered what (free-text answers are listed without
names).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from kith.accounts.auth import staff_api_auth
from kith.community.models import Space
from kith.core.errors import NotFound
from kith.insights import access, panels, participation
from kith.insights.models_research import Panel, Survey

router = Router(tags=["insights"], auth=staff_api_auth)


# ---------------------------------------------------------------- participation


class ParticipationQuery(Schema):
    space: uuid.UUID | None = None
    days: int = Field(participation.DEFAULT_DAYS, ge=1, le=3660)
    heavy_per_month: float = Field(participation.DEFAULT_HEAVY_PER_MONTH, gt=0, le=1000)
    months: int = Field(12, ge=1, le=60)


class ParticipationLevelsOut(Schema):
    lurker: float
    contributor: float
    heavy: float


class ParticipationReportOut(Schema):
    space: uuid.UUID | None
    space_name: str
    start: dt.datetime
    end: dt.datetime
    members: int
    contributions: int
    counts: dict[str, int]
    shares: ParticipationLevelsOut
    contribution_shares: ParticipationLevelsOut
    gini: float | None
    lorenz: list[tuple[float, float]]
    message: str


class ParticipationMonthOut(Schema):
    month: dt.date
    members: int
    shares: ParticipationLevelsOut
    gini: float | None


class ParticipationOut(Schema):
    report: ParticipationReportOut
    trend: list[ParticipationMonthOut]
    spaces: list[ParticipationReportOut]


def _report(r: participation.Report) -> ParticipationReportOut:
    return ParticipationReportOut(
        space=r.space.public_id if r.space else None,
        space_name=r.space.name if r.space else "All spaces",
        start=r.start,
        end=r.end,
        members=r.members,
        contributions=r.contributions,
        counts=r.counts,
        shares=ParticipationLevelsOut(**r.shares),
        contribution_shares=ParticipationLevelsOut(**r.contribution_shares),
        gini=r.gini,
        lorenz=r.lorenz,
        message=r.message,
    )


@router.get(
    "/insights/participation", response=ParticipationOut, summary="Participation inequality"
)
def participation_report(request: HttpRequest, filters: Query[ParticipationQuery]):
    """90-9-1 shares, Gini and Lorenz curve (one space or all), monthly trend, per space."""
    access.require_staff(request.user)
    space = None
    if filters.space is not None:
        space = Space.objects.filter(public_id=filters.space).first()
        if space is None:
            raise NotFound("No such space.")
    report = participation.participation(
        space=space, days=filters.days, heavy_per_month=filters.heavy_per_month
    )
    trend = participation.trend(
        space=space, months=filters.months, heavy_per_month=filters.heavy_per_month
    )
    spaces = (
        []
        if space is not None
        else participation.by_space(days=filters.days, heavy_per_month=filters.heavy_per_month)
    )
    return ParticipationOut(
        report=_report(report),
        trend=[
            ParticipationMonthOut(
                month=m.month,
                members=m.members,
                shares=ParticipationLevelsOut(**m.shares),
                gini=m.gini,
            )
            for m in trend
        ],
        spaces=[_report(r) for r in spaces],
    )


# ---------------------------------------------------------------- panels


class PanelIn(Schema):
    name: str = Field(..., max_length=200)
    size: int = Field(..., ge=1, le=panels.MAX_PANEL)
    strata: list[str] = Field(default_factory=lambda: list(panels.STRATA), max_length=5)
    seed: int | None = Field(None, ge=0, le=2**48)


class PanelStratumOut(Schema):
    stratum: dict[str, str]
    population: int
    frame: int
    target: int
    sampled: int


class PanelOut(Schema):
    id: uuid.UUID
    name: str
    strata: list[str]
    target_size: int
    members: int
    population_size: int
    frame_size: int
    margins: dict[str, dict[str, int]]
    allocation: list[PanelStratumOut]
    shortfalls: list[PanelStratumOut]
    surveys: list[uuid.UUID]
    created_at: dt.datetime


def _panel(p: Panel) -> PanelOut:
    return PanelOut(
        id=p.public_id,
        name=p.name,
        strata=p.strata,
        target_size=p.target_size,
        members=p.members.count(),
        population_size=p.population_size,
        frame_size=p.frame_size,
        margins=p.margins,
        allocation=p.allocation,
        shortfalls=panels.shortfalls(p),
        surveys=list(p.surveys.values_list("public_id", flat=True)),
        created_at=p.created_at,
    )


def _get_panel(panel_id: uuid.UUID) -> Panel:
    panel = Panel.objects.filter(public_id=panel_id).first()
    if panel is None:
        raise NotFound("No such panel.")
    return panel


def _get_survey(survey_id: uuid.UUID) -> Survey:
    survey = Survey.objects.select_related("panel").filter(public_id=survey_id).first()
    if survey is None:
        raise NotFound("No such survey.")
    return survey


@router.get("/insights/panels", response=list[PanelOut], summary="Research panels")
def list_panels(request: HttpRequest):
    access.require_staff(request.user)
    return [_panel(p) for p in Panel.objects.all()[:100]]


@router.post("/insights/panels", response={201: PanelOut}, summary="Draw a research panel")
def build_panel(request: HttpRequest, body: PanelIn):
    """Stratified sample of consenting customers; 422 when no one may be asked."""
    access.require_research_write(request.user)
    panel = panels.build_panel(
        actor=request.user, name=body.name, size=body.size, strata=body.strata, seed=body.seed
    )
    return Status(201, _panel(panel))


@router.get("/insights/panels/{panel_id}", response=PanelOut, summary="A research panel")
def get_panel(request: HttpRequest, panel_id: uuid.UUID):
    access.require_staff(request.user)
    return _panel(_get_panel(panel_id))


# ---------------------------------------------------------------- surveys


class SurveyQuestionIn(Schema):
    kind: Literal["single", "multiple", "scale", "text"]
    text: str = Field(..., max_length=1000)
    choices: list[str] = Field(default_factory=list, max_length=100)
    scale_min: int = Field(1, ge=-10, le=10)
    scale_max: int = Field(5, ge=-10, le=10)
    required: bool = True


class SurveyIn(Schema):
    title: str = Field(..., max_length=1000)
    intro: str = Field("", max_length=5000)
    questions: list[SurveyQuestionIn] = Field(..., max_length=100)


class SurveyQuestionOut(Schema):
    position: int
    kind: str
    text: str
    choices: list[str]
    scale_min: int
    scale_max: int
    required: bool


class SurveyOut(Schema):
    id: uuid.UUID
    panel: uuid.UUID
    title: str
    intro: str
    status: str
    questions: list[SurveyQuestionOut]
    invited: int
    answered: int
    created_at: dt.datetime


class SurveyInviteOut(Schema):
    invited: int
    already_invited: int
    no_consent: int
    no_login: int


class SurveyOptionOut(Schema):
    choice: str
    count: int
    unweighted: float
    weighted: float | None


class SurveyQuestionResultOut(Schema):
    position: int
    kind: str
    text: str
    answered: int
    options: list[SurveyOptionOut] = []
    mean_unweighted: float | None = None
    mean_weighted: float | None = None
    texts: list[str] = []


class SurveyMarginOut(Schema):
    variable: str
    category: str
    population: float
    respondents: int
    unweighted: float
    weighted: float | None


class SurveyWeightingErrorOut(Schema):
    field: str
    message: str


class SurveyResultsOut(Schema):
    survey: uuid.UUID
    invited: int
    respondents: int
    weighted: bool
    weighting_message: str
    weighting_errors: list[SurveyWeightingErrorOut]
    margins: list[SurveyMarginOut]
    questions: list[SurveyQuestionResultOut]


def _survey(s: Survey) -> SurveyOut:
    return SurveyOut(
        id=s.public_id,
        panel=s.panel.public_id,
        title=s.title,
        intro=s.intro,
        status=s.status,
        questions=[
            SurveyQuestionOut(
                position=q.position,
                kind=q.kind,
                text=q.text,
                choices=q.choices,
                scale_min=q.scale_min,
                scale_max=q.scale_max,
                required=q.required,
            )
            for q in s.questions.order_by("position")
        ],
        invited=s.invitations.count(),
        answered=s.invitations.filter(answered_at__isnull=False).count(),
        created_at=s.created_at,
    )


@router.post(
    "/insights/panels/{panel_id}/surveys", response={201: SurveyOut}, summary="Write a survey"
)
def create_survey(request: HttpRequest, panel_id: uuid.UUID, body: SurveyIn):
    access.require_research_write(request.user)
    panel = _get_panel(panel_id)
    survey = panels.create_survey(
        actor=request.user,
        panel=panel,
        title=body.title,
        intro=body.intro,
        questions=[
            panels.QuestionInput(
                kind=q.kind,
                text=q.text,
                choices=tuple(q.choices),
                scale_min=q.scale_min,
                scale_max=q.scale_max,
                required=q.required,
            )
            for q in body.questions
        ],
    )
    return Status(201, _survey(survey))


@router.get("/insights/surveys/{survey_id}", response=SurveyOut, summary="A survey")
def get_survey(request: HttpRequest, survey_id: uuid.UUID):
    access.require_staff(request.user)
    return _survey(_get_survey(survey_id))


@router.post(
    "/insights/surveys/{survey_id}/invitations",
    response=SurveyInviteOut,
    summary="Invite the panel",
)
def invite(request: HttpRequest, survey_id: uuid.UUID):
    """Invite every member still consenting; counts by outcome (409 once closed)."""
    access.require_research_write(request.user)
    return SurveyInviteOut(**panels.invite(actor=request.user, survey=_get_survey(survey_id)))


@router.post("/insights/surveys/{survey_id}/close", response=SurveyOut, summary="Close a survey")
def close(request: HttpRequest, survey_id: uuid.UUID):
    access.require_research_write(request.user)
    return _survey(panels.close_survey(actor=request.user, survey=_get_survey(survey_id)))


@router.get(
    "/insights/surveys/{survey_id}/results",
    response=SurveyResultsOut,
    summary="Results, unweighted and weighted",
)
def survey_results(request: HttpRequest, survey_id: uuid.UUID):
    """Each question unweighted and raked to the customer base (withheld, with the reason,
    when a group of the base has no respondent)."""
    access.require_staff(request.user)
    res = panels.results(_get_survey(survey_id))
    return SurveyResultsOut(
        survey=res.survey.public_id,
        invited=res.invited,
        respondents=res.respondents,
        weighted=res.weighted,
        weighting_message=res.weighting_message,
        weighting_errors=[
            SurveyWeightingErrorOut(field=e.field, message=e.message) for e in res.weighting_errors
        ],
        margins=res.margins,
        questions=[
            SurveyQuestionResultOut(
                position=q["question"].position,
                kind=q["question"].kind,
                text=q["question"].text,
                answered=q["answered"],
                options=q.get("options", []),
                mean_unweighted=q.get("mean_unweighted"),
                mean_weighted=q.get("mean_weighted"),
                texts=q.get("texts", []),
            )
            for q in res.questions
        ],
    )
