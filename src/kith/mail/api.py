"""HTTP API for e-mail templates and e-mailing a person (thin: access + services)."""

import datetime as dt
import uuid

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from kith.core.idempotency import idempotent
from kith.mail import access, services
from kith.mail.models import EmailTemplate, OutgoingEmail
from kith.people import access as people_access
from kith.people.models import Party

router = Router(tags=["mail"])


class EmailTemplateIn(Schema):
    name: str = Field(..., max_length=120)
    subject: str = Field(..., max_length=300)
    body: str = Field(..., max_length=50_000)


class EmailTemplatePatch(Schema):
    name: str | None = Field(None, max_length=120)
    subject: str | None = Field(None, max_length=300)
    body: str | None = Field(None, max_length=50_000)


class EmailTemplateOut(Schema):
    id: uuid.UUID
    name: str
    subject: str
    body: str
    created_at: dt.datetime
    updated_at: dt.datetime


class EmailTemplateRenderIn(Schema):
    person: uuid.UUID


class EmailTemplateRenderOut(Schema):
    subject: str
    body: str


class PersonEmailIn(Schema):
    subject: str = Field(..., max_length=300)
    body: str = Field(..., max_length=100_000)
    to: str = Field(
        "", max_length=254, description="One of the person's addresses; default: primary"
    )
    template: uuid.UUID | None = None


class PersonEmailOut(Schema):
    id: uuid.UUID
    person: uuid.UUID
    interaction: uuid.UUID
    to: str
    subject: str
    body: str
    status: str
    template: uuid.UUID | None
    created_at: dt.datetime


def _template_out(t: EmailTemplate) -> dict:
    return {
        "id": t.public_id,
        "name": t.name,
        "subject": t.subject,
        "body": t.body,
        "created_at": t.created_at,
        "updated_at": t.updated_at,
    }


def _email_out(e: OutgoingEmail) -> dict:
    return {
        "id": e.public_id,
        "person": e.party.public_id,
        "interaction": e.interaction.public_id,
        "to": e.to_address,
        "subject": e.subject,
        "body": e.body,
        "status": e.status,
        "template": e.template.public_id if e.template_id else None,
        "created_at": e.created_at,
    }


@router.get("/email-templates", response=list[EmailTemplateOut], url_name="list_email_templates")
def list_templates(request: HttpRequest):
    """Every template (staff: agents write with them; admins and managers change them)."""
    people_access.require_staff(request.user)
    return [_template_out(t) for t in EmailTemplate.objects.order_by("name")]


@router.post("/email-templates", response={201: EmailTemplateOut}, url_name="create_email_template")
@idempotent
def create_template(request: HttpRequest, payload: EmailTemplateIn):
    access.require_template_manager(request.user)
    template = services.create_template(actor=request.user, **payload.model_dump())
    return Status(201, _template_out(template))


@router.get(
    "/email-templates/{public_id}", response=EmailTemplateOut, url_name="get_email_template"
)
def get_template(request: HttpRequest, public_id: uuid.UUID):
    return _template_out(access.get_template(request.user, public_id))


@router.patch(
    "/email-templates/{public_id}", response=EmailTemplateOut, url_name="update_email_template"
)
def update_template(request: HttpRequest, public_id: uuid.UUID, payload: EmailTemplatePatch):
    template = access.get_template_for_change(request.user, public_id)
    changes = {k: v for k, v in payload.model_dump(exclude_unset=True).items() if v is not None}
    return _template_out(
        services.update_template(actor=request.user, template=template, changes=changes)
    )


@router.delete(
    "/email-templates/{public_id}", response={204: None}, url_name="delete_email_template"
)
def delete_template(request: HttpRequest, public_id: uuid.UUID):
    template = access.get_template_for_change(request.user, public_id)
    services.delete_template(actor=request.user, template=template)
    return Status(204, None)


@router.post(
    "/email-templates/{public_id}/render",
    response=EmailTemplateRenderOut,
    url_name="render_email_template",
)
def render_template(request: HttpRequest, public_id: uuid.UUID, payload: EmailTemplateRenderIn):
    """The template filled in for one person (what "Use template" puts in the form)."""
    template = access.get_template(request.user, public_id)
    person = people_access.get_party(request.user, payload.person, kind=Party.Kind.PERSON)
    subject, body = services.render_template(actor=request.user, template=template, person=person)
    return {"subject": subject, "body": body}


@router.post("/people/{public_id}/emails", response={201: PersonEmailOut}, url_name="send_email")
@idempotent
def send_email(request: HttpRequest, public_id: uuid.UUID, payload: PersonEmailIn):
    """E-mail a person: logged on their timeline now, delivered by the worker."""
    person = access.get_person_to_email(request.user, public_id)
    template = access.get_template(request.user, payload.template) if payload.template else None
    outgoing = services.send_email(
        actor=request.user,
        person=person,
        subject=payload.subject,
        body=payload.body,
        to=payload.to,
        template=template,
    )
    return Status(201, _email_out(outgoing))
