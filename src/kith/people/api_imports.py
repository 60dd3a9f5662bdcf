"""HTTP API for import jobs and exports of people and organisations.

Thin, like every API module: parse the request, check access, call the import service
or the exporter, serialise. Imports are for writers and run as a background task; a
user sees their own import jobs (admins and managers see all). Exports stream the
same rows the list endpoints show for the same filters, scoped by ``staff_scope``.
"""

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any, Literal

import pydantic
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from kith.core.errors import FieldError, NotFound, ValidationFailed
from kith.core.idempotency import idempotent
from kith.core.inputs import InputSchema, whole_number
from kith.core.pagination import clamp_limit, paginate
from kith.people import access, exporting, importing, tasks
from kith.people.models import ImportJob, Party
from kith.people.queries import PartyFilters
from kith.people.schemas import PartyFilterQuery

router = Router(tags=["import and export"])

FIRST_ERRORS = 20


# ---------------------------------------------------------------- schemas


class ImportErrorOut(Schema):
    row: int
    field: str
    message: str
    value: str = ""


class ImportJobOut(Schema):
    id: uuid.UUID
    kind: str
    format: str
    file_name: str
    status: str
    dry_run: bool
    mapping: dict[str, str]
    total_rows: int
    processed_rows: int
    percent: int
    created: int
    updated: int
    unchanged: int
    rejected: int
    errors: list[ImportErrorOut] = Field(
        ..., description=f"The first {FIRST_ERRORS} rejected rows; errors.csv has them all."
    )
    errors_url: str
    message: str
    created_by: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class ImportJobPage(Schema):
    items: list[ImportJobOut]
    next_cursor: str | None


class ImportIn(InputSchema):
    """Validated in the view (multipart or JSON), so it carries the input rules itself."""

    kind: Literal["people", "organizations"] = "people"
    format: Literal["csv", "vcard"] = "csv"
    file_name: str = Field("", max_length=255)
    content: str = Field(..., description="The file's text.")
    mapping: dict[str, str] | None = Field(
        None, description='Column name → target, e.g. {"E-mail": "email"}; empty: suggested.'
    )
    dry_run: bool = False


class PreviewIn(ImportIn):
    limit: int = Field(5, ge=1, le=50)


class PreviewRowOut(Schema):
    row: int
    values: dict[str, str]
    mapped: dict[str, str]
    errors: list[dict[str, Any]]


class PreviewOut(Schema):
    headers: list[str]
    mapping: dict[str, str]
    suggested: bool
    rows: list[PreviewRowOut]
    total_rows: int
    targets: list[str]
    warning: str


class JobListQuery(Schema):
    cursor: str | None = None
    limit: int | None = None


class ExportQuery(PartyFilterQuery):
    """An export takes the same filters as the list it exports."""


class VCardExportQuery(ExportQuery):
    version: Literal["3.0", "4.0"] = "4.0"


def _upload_body(schema: type[Schema]) -> dict[str, Any]:
    """OpenAPI for an operation that takes a multipart upload or the same as JSON."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "kind": {"type": "string", "enum": ["people", "organizations"]},
                            "format": {"type": "string", "enum": ["csv", "vcard"]},
                            "mapping": {"type": "string", "description": "a JSON object"},
                            "dry_run": {"type": "boolean"},
                        },
                    }
                },
                "application/json": {"schema": schema.model_json_schema()},
            },
        }
    }


# ---------------------------------------------------------------- helpers


def _job_out(job: ImportJob) -> dict[str, Any]:
    return {
        "id": job.public_id,
        "kind": job.kind,
        "format": job.file_format,
        "file_name": job.file_name,
        # A running job whose heartbeat stopped is stale even before the worker marks it.
        "status": ImportJob.Status.STALE if job.is_stale() else job.status,
        "dry_run": job.dry_run,
        "mapping": job.mapping or {},
        "total_rows": job.total_rows,
        "processed_rows": job.processed_rows,
        "percent": job.percent,
        "created": job.created_count,
        "updated": job.updated_count,
        "unchanged": job.unchanged_count,
        "rejected": job.error_count,
        "errors": [
            {
                "row": e.get("row", 0),
                "field": str(e.get("field", "")),
                "message": str(e.get("message", "")),
                "value": str(e.get("value", "")),
            }
            for e in (job.errors or [])[:FIRST_ERRORS]
        ],
        "errors_url": f"/api/imports/{job.public_id}/errors.csv",
        "message": job.message,
        "created_by": job.created_by.get_username() if job.created_by_id else None,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


def _visible_jobs(user):
    access.require_staff(user)
    qs = ImportJob.objects.select_related("created_by").defer("content")
    return qs if user.sees_everything else qs.filter(created_by=user)


def _job(request: HttpRequest, public_id: uuid.UUID) -> ImportJob:
    job = _visible_jobs(request.user).filter(public_id=public_id).first()
    if job is None:
        raise NotFound("No such import.")
    return job


def _flag(value: Any) -> bool:
    return str(value or "").strip().casefold() in {"1", "true", "yes", "on"}


def _guess_format(file_name: str) -> str:
    return "vcard" if file_name.casefold().endswith((".vcf", ".vcard")) else "csv"


def _import_request(request: HttpRequest, schema: type[ImportIn]) -> dict[str, Any]:
    """The upload as keyword arguments, from multipart form data or a JSON body."""
    if request.content_type == "multipart/form-data":
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationFailed.single("file", "Attach the file in the form field 'file'.")
        if upload.size > importing.MAX_BYTES:
            raise ValidationFailed.single(
                "file", f"The file is larger than {importing.MAX_BYTES // (1024 * 1024)} MB."
            )
        data = request.POST
        mapping = None
        if (data.get("mapping") or "").strip():
            try:
                mapping = json.loads(data["mapping"])
            except ValueError as exc:
                raise ValidationFailed.single(
                    "mapping", 'Must be a JSON object such as {"E-mail": "email"}.'
                ) from exc
        file_name = data.get("file_name") or upload.name or ""
        return {
            "kind": data.get("kind") or "people",
            "file_format": data.get("format") or _guess_format(file_name),
            "file_name": file_name,
            "content": upload.read(),
            "mapping": mapping,
            "dry_run": _flag(data.get("dry_run")),
            "limit": min(whole_number(data.get("limit")) or 5, 50),
        }
    try:
        payload = schema.model_validate(json.loads(request.body or b"{}"))
    except ValueError as exc:
        errors = (
            [
                FieldError(".".join(str(p) for p in e["loc"]) or "request", e["msg"])
                for e in exc.errors()
            ]
            if isinstance(exc, pydantic.ValidationError)
            else [FieldError("request", "The body must be JSON or multipart form data.")]
        )
        raise ValidationFailed(errors=errors) from exc
    return {
        "kind": payload.kind,
        "file_format": payload.format,
        "file_name": payload.file_name,
        "content": payload.content,
        "mapping": payload.mapping,
        "dry_run": payload.dry_run,
        "limit": getattr(payload, "limit", 5),
    }


def _filters(query: ExportQuery) -> PartyFilters:
    return PartyFilters(
        q=query.q.strip(),
        role=query.role.strip(),
        organization=query.organization.strip(),
        tag=query.tag.strip(),
        owner=query.owner.strip(),
    )


def _download(lines: Iterator[str], content_type: str, name: str) -> StreamingHttpResponse:
    stamp = timezone.localdate().isoformat()
    response = StreamingHttpResponse(lines, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.{_EXT[content_type]}"'
    response["Cache-Control"] = "no-store"  # personal data: keep it out of shared caches
    return response


_CSV = "text/csv; charset=utf-8"
_VCARD = "text/vcard; charset=utf-8"
_EXT = {_CSV: "csv", _VCARD: "vcf"}


# ---------------------------------------------------------------- imports


@router.post(
    "/imports",
    response={201: ImportJobOut},
    url_name="create_import",
    openapi_extra=_upload_body(ImportIn),
)
@idempotent
def create_import(request: HttpRequest):
    """Upload a CSV or vCard file (multipart ``file``, or JSON ``content``) and queue its import.

    Answers 201 with the job; poll ``GET /api/imports/{id}`` for progress and counts.
    """
    access.require_writer(request.user)
    fields = _import_request(request, ImportIn)
    fields.pop("limit")
    job = importing.create_import_job(actor=request.user, **fields)
    tasks.enqueue_import(job)
    job.refresh_from_db()
    return Status(201, ImportJobOut.model_validate(_job_out(job)).model_dump(mode="json"))


@router.post(
    "/imports/preview",
    response=PreviewOut,
    url_name="preview_import",
    openapi_extra=_upload_body(PreviewIn),
)
def preview_import(request: HttpRequest):
    """Headers, the suggested (or given) mapping and the first rows with their errors."""
    access.require_writer(request.user)
    fields = _import_request(request, PreviewIn)
    return importing.preview(
        fields["content"],
        fields["mapping"],
        fields["limit"],
        kind=fields["kind"],
        file_format=fields["file_format"],
    )


@router.get("/imports", response=ImportJobPage, url_name="list_imports")
def list_imports(request: HttpRequest, query: Query[JobListQuery]):
    """Your import jobs, newest first (admins and managers see everyone's); a job whose
    process died shows as ``stale``."""
    page = paginate(
        _visible_jobs(request.user),
        order=("-created_at", "-id"),
        cursor=query.cursor,
        limit=clamp_limit(query.limit),
    )
    return {"items": [_job_out(j) for j in page.items], "next_cursor": page.next_cursor}


@router.get("/imports/{public_id}", response=ImportJobOut, url_name="get_import")
def get_import(request: HttpRequest, public_id: uuid.UUID):
    """Status, counts, percent done and the first rejected rows of one import."""
    return _job_out(_job(request, public_id))


@router.post("/imports/{public_id}/resume", response={202: ImportJobOut}, url_name="resume_import")
def resume_import(request: HttpRequest, public_id: uuid.UUID):
    """Continue a stalled or failed import after its last saved row (409 otherwise)."""
    access.require_writer(request.user)
    job = importing.resume_import_job(actor=request.user, job=_job(request, public_id))
    tasks.enqueue_import(job)
    return Status(202, _job_out(job))


@router.post(
    "/imports/{public_id}/restart", response={202: ImportJobOut}, url_name="restart_import"
)
def restart_import(request: HttpRequest, public_id: uuid.UUID):
    """Run a stalled or failed import again from the first row (409 otherwise); rows it
    already wrote count as unchanged."""
    access.require_writer(request.user)
    job = importing.restart_import_job(actor=request.user, job=_job(request, public_id))
    tasks.enqueue_import(job)
    return Status(202, _job_out(job))


@router.get("/imports/{public_id}/errors.csv", url_name="import_errors_csv")
def import_errors_csv(request: HttpRequest, public_id: uuid.UUID):
    """Every rejected row as CSV: row number, field, reason, value."""
    job = _job(request, public_id)
    response = HttpResponse(importing.errors_csv(job), content_type=_CSV)
    stem = (job.file_name.rsplit(".", 1)[0] or "import").replace('"', "")
    response["Content-Disposition"] = f'attachment; filename="{stem}-errors.csv"'
    return response


# ---------------------------------------------------------------- exports


@router.get("/people/export.csv", url_name="export_people_csv")
def export_people_csv(request: HttpRequest, query: Query[ExportQuery]):
    """People as CSV, filtered like ``GET /api/people``."""
    access.require_staff(request.user)
    qs = exporting.export_queryset(request.user, _filters(query), kind=Party.Kind.PERSON)
    return _download(exporting.iter_csv(qs, kind=Party.Kind.PERSON), _CSV, "people")


@router.get("/organizations/export.csv", url_name="export_organizations_csv")
def export_organizations_csv(request: HttpRequest, query: Query[ExportQuery]):
    """Organisations as CSV, filtered like ``GET /api/organizations``."""
    access.require_staff(request.user)
    qs = exporting.export_queryset(request.user, _filters(query), kind=Party.Kind.ORGANIZATION)
    return _download(exporting.iter_csv(qs, kind=Party.Kind.ORGANIZATION), _CSV, "organizations")


@router.get("/people/export.vcf", url_name="export_people_vcard")
def export_people_vcard(request: HttpRequest, query: Query[VCardExportQuery]):
    """People as vCards (4.0, or 3.0 with ``version=3.0``), filtered like the list."""
    access.require_staff(request.user)
    qs = exporting.export_queryset(request.user, _filters(query), kind=Party.Kind.PERSON)
    return _download(exporting.iter_vcard(qs, version=query.version), _VCARD, "people")


@router.get("/organizations/export.vcf", url_name="export_organizations_vcard")
def export_organizations_vcard(request: HttpRequest, query: Query[VCardExportQuery]):
    """Organisations as vCards, filtered like the list."""
    access.require_staff(request.user)
    qs = exporting.export_queryset(request.user, _filters(query), kind=Party.Kind.ORGANIZATION)
    return _download(exporting.iter_vcard(qs, version=query.version), _VCARD, "organizations")
