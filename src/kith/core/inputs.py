"""The one place that bounds and cleans what callers send, for the API and the web UI.

Every byte a client sends passes three gates here before any service sees it:

* ``InputLimitsMiddleware`` — the request itself: body size (JSON 413 for the API, a page
  for the web), ``multipart/form-data`` without a usable boundary (400), NUL bytes in the
  path or query string (400). It runs before CSRF and session middleware, which would
  otherwise parse the body first and turn a malformed one into a 500.
* ``InputSchema`` — the base of every API input schema (bodies, query models). It refuses a
  body that is not a JSON object (``[null, null]`` or ``"hello"`` as a PATCH), and checks
  every field's value, however deeply nested: no NUL in text (PostgreSQL refuses them, in
  ``jsonb`` too), no bidi override characters in names, dates and datetimes within
  ``MIN_YEAR``–``MAX_YEAR`` also after conversion to UTC (SQLite overflows, PostgreSQL
  stores year 10000 and then cannot read it back), numbers finite and within a 32-bit
  integer or ``MAX_NUMBER``, lists and mappings capped (``MAX_ITEMS``). The checks are
  linear in the size of the input.
* ``CleanFormMixin`` — the same value checks on a Django form's cleaned data.

The annotated types (``CleanStr``, ``NameStr``, ``SafeDateTime``, ``SafeDate``, ``Money``,
``BoundedList``) carry the same rules for a single field, with the limit in the OpenAPI
schema, where a schema wants to say so explicitly (or a larger cap for one list).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, TypeVar, get_args, get_origin

from django import forms
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.db import DataError, IntegrityError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.utils.html import escape
from ninja import Schema
from pydantic import (
    AfterValidator,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic import BaseModel as PydanticModel

from kith.core.errors import ValidationFailed

MIN_YEAR = 1900
MAX_YEAR = 2200
# Room for any amount a business records, and far inside what Decimal columns and the
# float conversions of reports survive.
MAX_NUMBER = Decimal(10) ** 15
MAX_INT = 2**31 - 1  # PostgreSQL's integer; larger values answer "integer out of range"
MAX_ITEMS = 1000  # items in one list, keys in one mapping, unless a field says otherwise
MAX_DEPTH = 20

# Explicit directional formatting (LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI): they
# reorder how a name is displayed ("Trojan Source"); ordinary RTL letters are fine.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Fields whose name marks them as a name or a title shown to others.
_NAME_FIELD = re.compile(r"(^|_)(name|username|title|subject|handle)$")

logger = logging.getLogger(__name__)
_T = TypeVar("_T")
_WRAPPER_ARGS = frozenset({"body", "query", "path", "header", "payload", "form"})


class InputError(ValueError):
    """A value a caller sent that Kith will not store; the message names the reason."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
        self.path: list[str] = []  # where in the input, filled in on the way out

    @property
    def field(self) -> str:
        return ".".join(self.path)


# ---------------------------------------------------------------- value checks

RANGE_MESSAGE = _RANGE = f"Date out of range: years {MIN_YEAR} to {MAX_YEAR} only."
_NUMBER = "Number must be finite and below 10^15 in magnitude."


_WHOLE = re.compile(r"-?[0-9]{1,18}")


def whole_number(text: object, *, signed: bool = False) -> int | None:
    """``text`` as a whole number when it is one written in ASCII digits (at most 18,
    so it fits a 64-bit column), else None.

    Every query parameter, form field and header that should be a number goes through
    this: ``str.isdigit`` also accepts "²" and other digits ``int()`` refuses, and
    thousands of digits that ``int()`` refuses or a database column overflows on.
    """
    if not isinstance(text, str):
        return None
    text = text.strip()
    if not _WHOLE.fullmatch(text) or (text.startswith("-") and not signed):
        return None
    return int(text)


def _check_datetime(value: dt.datetime) -> None:
    try:
        utc = value.astimezone(dt.UTC) if value.tzinfo is not None else value
    except (OverflowError, ValueError) as exc:
        raise InputError(_RANGE) from exc
    if not MIN_YEAR <= utc.year <= MAX_YEAR or not MIN_YEAR <= value.year <= MAX_YEAR:
        raise InputError(_RANGE)


def _check_items(items: Any, *, name: bool, depth: int) -> None:
    for key, item in items:
        try:
            check_value(key, depth=depth + 1)
            check_value(item, name=name, depth=depth + 1)
        except InputError as exc:
            exc.path.insert(0, str(key))
            raise


def check_value(value: Any, *, name: bool = False, depth: int = 0) -> None:
    """Raise ``InputError`` if ``value`` (or anything inside it) breaks a rule above.

    ``name`` adds the rule for names (no bidi overrides). One pass over the value; the
    error's ``path`` says where the offending part is.
    """
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        if "\x00" in value:
            raise InputError("Text may not contain NUL characters.")
        if name and BIDI_CONTROLS.search(value):
            raise InputError("Names may not contain bidirectional override characters.")
        return
    if isinstance(value, dt.datetime):
        _check_datetime(value)
        return
    if isinstance(value, dt.date):
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            raise InputError(_RANGE)
        return
    if isinstance(value, int):
        if abs(value) > MAX_INT:
            raise InputError(f"Number out of range: at most {MAX_INT} in magnitude.")
        return
    if isinstance(value, float):
        if not math.isfinite(value) or abs(value) >= MAX_NUMBER:
            raise InputError(_NUMBER)
        return
    if isinstance(value, Decimal):
        if not value.is_finite() or abs(value) >= MAX_NUMBER:
            raise InputError(_NUMBER)
        return
    if isinstance(value, list | tuple | set | frozenset | dict) and depth >= MAX_DEPTH:
        raise InputError(f"Nested too deeply (at most {MAX_DEPTH} levels).")
    if isinstance(value, list | tuple | set | frozenset):
        if len(value) > MAX_ITEMS:
            raise InputError(f"At most {MAX_ITEMS} items.")
        for index, item in enumerate(value):
            try:
                check_value(item, name=name, depth=depth + 1)
            except InputError as exc:
                exc.path.insert(0, str(index))
                raise
        return
    if isinstance(value, dict):
        if len(value) > MAX_ITEMS:
            raise InputError(f"At most {MAX_ITEMS} keys.")
        _check_items(value.items(), name=False, depth=depth)
        return
    if isinstance(value, PydanticModel):
        for field in type(value).model_fields:
            try:
                check_value(getattr(value, field), name=is_name_field(field), depth=depth + 1)
            except InputError as exc:
                exc.path.insert(0, field)
                raise


def is_name_field(field: str) -> bool:
    return bool(_NAME_FIELD.search(field))


# ---------------------------------------------------------------- API schemas


def _reason(exc: InputError) -> str:
    return f"{exc.field}: {exc.message}" if exc.path else exc.message


class InputSchema(Schema):
    """A schema validated outside ninja's parameter parsing (``Schema.model_validate`` in
    a view) gets the same rules as every endpoint's input (``guard_operations``).

    ninja's ``Schema`` reads any object through attribute access (it is built to read
    Django models), so ``"hello"`` as a body would fill ``title`` with ``"hello".title()``;
    an input must be a mapping.
    """

    @model_validator(mode="wrap")
    @classmethod
    def _run_root_validator(cls, values: Any, handler: Callable, info: ValidationInfo) -> Any:
        if isinstance(values, cls):
            return values
        if not isinstance(values, dict):
            raise InputError("The request body must be a JSON object.")
        return handler(values)

    @field_validator("*", mode="after")
    @classmethod
    def _check_field(cls, value: Any, info: ValidationInfo) -> Any:
        try:
            check_value(value, name=is_name_field(info.field_name or ""))
        except InputError as exc:
            raise ValueError(_reason(exc)) from None
        return value


def _schema_class(annotation: Any) -> type[PydanticModel] | None:
    """The pydantic model an annotation stands for (``X``, ``X | None``, ``Annotated[X, …]``)."""
    if isinstance(annotation, type) and issubclass(annotation, PydanticModel):
        return annotation
    if get_origin(annotation) in (list, dict, tuple, set, frozenset):
        return None  # a list of objects is a list: pydantic checks its items
    for arg in get_args(annotation):
        found = _schema_class(arg)
        if found is not None:
            return found
    return None


def _guarded(model: type[PydanticModel]) -> type[PydanticModel]:
    """``model`` (one of ninja's parameter models: the body, the query, the path…) with
    Kith's input rules: objects where schemas are expected, then ``check_value``."""
    objects = [
        field
        for field, info in model.model_fields.items()
        if _schema_class(info.annotation) is not None
    ]
    single = getattr(model, "__read_from_single_attr__", None)

    class Guarded(model):  # type: ignore[valid-type, misc]
        @model_validator(mode="before")
        @classmethod
        def _kith_objects(cls, data: Any) -> Any:
            if isinstance(data, dict):
                for field in objects:
                    value = data.get(field)
                    if value is not None and not isinstance(value, dict):
                        where = "request" if field == single else field
                        raise ValidationFailed.single(where, "Must be a JSON object.")
            return data

        @model_validator(mode="after")
        def _kith_values(self) -> Any:
            for field in type(self).model_fields:
                try:
                    check_value(getattr(self, field), name=is_name_field(field))
                except InputError as exc:
                    # An argument named like its location (``query: FilterIn``) is a
                    # wrapper, not a field the caller knows; the API's own errors drop it too.
                    if field != single and not (exc.path and field in _WRAPPER_ARGS):
                        exc.path.insert(0, field)
                    raise ValidationFailed.single(exc.field or "request", exc.message) from None
            return self

    Guarded.__name__ = model.__name__
    Guarded.__qualname__ = model.__qualname__
    Guarded.__kith_guarded__ = True  # type: ignore[attr-defined]
    return Guarded


def is_guarded(model: type) -> bool:
    return bool(getattr(model, "__kith_guarded__", False))


def guard_operations(api: Any) -> int:
    """Put Kith's input rules on every operation of ``api`` (a NinjaAPI whose routers
    are registered); answers how many parameter models it guarded.

    One place for every endpoint, present and future: whatever schema or plain
    parameter an endpoint declares, its values pass ``check_value`` before the view runs.
    A failure is a ``ValidationFailed`` naming the field (422).
    """
    count = 0
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                guarded = []
                for model in operation.models:
                    if not is_guarded(model):
                        model = _guarded(model)
                        count += 1
                    guarded.append(model)
                operation.models = guarded
    return count


def _clean_str(value: str) -> str:
    check_value(value)
    return value


def _name_str(value: str) -> str:
    check_value(value, name=True)
    return value


def _safe(value: _T) -> _T:
    check_value(value)
    return value


CleanStr = Annotated[str, AfterValidator(_clean_str)]
NameStr = Annotated[str, AfterValidator(_name_str)]
SafeDateTime = Annotated[dt.datetime, AfterValidator(_safe)]
SafeDate = Annotated[dt.date, AfterValidator(_safe)]
Money = Annotated[
    Decimal, Field(allow_inf_nan=False, max_digits=17, decimal_places=4), AfterValidator(_safe)
]


def _wall_time(value: dt.time) -> dt.time:
    if value.tzinfo is not None:
        raise ValueError("Give a wall-clock time without an offset; the zone is its own field.")
    return value


# A time of day in a stated zone (a deadline, opening hours): "09:30" or "09:30:00". The
# OpenAPI "time" format means an RFC 3339 time *with* an offset, which these never carry.
WallTime = Annotated[
    dt.time,
    AfterValidator(_wall_time),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
            "examples": ["09:30"],
        }
    ),
]


def BoundedList(item: Any, max_items: int = MAX_ITEMS) -> Any:
    """``list[item]`` with at most ``max_items`` entries (shown in the OpenAPI schema)."""
    return Annotated[list[item], Field(max_length=max_items)]


# ---------------------------------------------------------------- web forms


class CleanFormMixin:
    """For Django forms: the same checks as ``InputSchema`` on every cleaned value.

    Django's own fields refuse NUL in text already; this adds the date range, number
    bounds, list caps and the rule for names, reported on the field.
    """

    def _post_clean(self) -> None:
        for field, value in list(getattr(self, "cleaned_data", {}).items()):
            try:
                check_value(value, name=is_name_field(field))
            except InputError as exc:
                known = field in self.fields  # type: ignore[attr-defined]
                self.add_error(field if known else None, exc.message)  # type: ignore[attr-defined]
        super()._post_clean()  # type: ignore[misc]


class CleanForm(CleanFormMixin, forms.Form):
    pass


# ---------------------------------------------------------------- the request itself


def max_upload_bytes() -> int:
    """Largest multipart body accepted (files included)."""
    return int(getattr(settings, "KITH_MAX_UPLOAD_BYTES", 60 * 1024 * 1024))


def _refuse(request: HttpRequest, status: int, code: str, detail: str, field: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": detail, "code": code, "errors": [{"field": field, "message": detail}]},
            status=status,
        )
    if not hasattr(request, "user"):
        # Refused before the session and user are known: a page that needs neither.
        return HttpResponse(
            "<!doctype html><meta charset=utf-8><title>Kith</title>"
            f"<h1>{status}</h1><p>{escape(detail)}</p><p><a href='/'>Back to Kith</a></p>",
            status=status,
        )
    return render(
        request,
        "web/error.html",
        {"error": {"message": detail, "code": code, "status": status}},
        status=status,
    )


def _boundary_ok(content_type: str) -> bool:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "boundary":
            value = value.strip().strip('"')
            # RFC 2046: 1 to 70 characters.
            return 0 < len(value) <= 70
    return False


class InputLimitsMiddleware:
    """Refuses requests no view could process, before anything reads their body."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = self.check(request)
        return refusal if refusal is not None else self.get_response(request)

    def check(self, request: HttpRequest) -> HttpResponse | None:
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "%00" in query or "\x00" in query:
            return _refuse(request, 400, "bad_request", "NUL characters are not allowed.", "url")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _refuse(request, 400, "bad_request", "Invalid Content-Length.", "request")
        content_type = request.META.get("CONTENT_TYPE", "")
        multipart = content_type.lower().startswith("multipart/")
        limit = max_upload_bytes() if multipart else settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            return _refuse(
                request,
                413,
                "too_large",
                f"The request body is larger than {limit // (1024 * 1024) or 1} MB.",
                "request",
            )
        if multipart and length and not _boundary_ok(content_type):
            return _refuse(
                request,
                400,
                "bad_request",
                "multipart/form-data needs a boundary parameter in its Content-Type.",
                "Content-Type",
            )
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return input_exception_response(request, exception)


def input_exception_response(request: HttpRequest, exc: Exception) -> HttpResponse | None:
    """The answer to an exception that says the *input* was bad, or None for any other.

    What ``InputLimitsMiddleware`` cannot see in the headers (a body that lies about its
    size, a corrupt multipart stream) surfaces when a view reads the body; a value the
    schema let through but the database refuses (PostgreSQL: a string longer than its
    column, a number out of its type's range) is the caller's error too, not a crash: the
    service's transaction has rolled back, nothing was written.
    """
    if isinstance(exc, RequestDataTooBig):
        return _refuse(request, 413, "too_large", "The request body is too large.", "request")
    if isinstance(exc, TooManyFieldsSent):
        return _refuse(request, 400, "bad_request", "Too many form fields.", "request")
    if isinstance(exc, MultiPartParserError):
        return _refuse(request, 400, "bad_request", f"Malformed multipart body: {exc}", "request")
    column = not_null_column(exc)
    if column is not None:
        # A PATCH that sent null for a field that cannot be empty; the service's
        # transaction rolled back. Schemas should refuse it first; this is the net.
        return _refuse(request, 422, "validation_failed", "This field may not be null.", column)
    if isinstance(exc, DataError):
        return _refuse(
            request,
            422,
            "validation_failed",
            "A value is too long or out of range for where it is stored.",
            "request",
        )
    duplicate = unique_violation_field(exc)
    if duplicate is not None:
        # A service checked that the value was free, then another request took it
        # before this one's INSERT (check-then-insert races: slugs, names). The
        # transaction rolled back; the caller may reload and try again.
        logger.warning("unique violation answered 409 on %s: %s", request.path, exc)
        return _refuse(
            request,
            409,
            "conflict",
            "Another request has just stored the same value; reload and try again.",
            duplicate,
        )
    return None


def unique_violation_field(exc: Exception) -> str | None:
    """The column(s) of a UNIQUE violation (SQLite or PostgreSQL), or None for any other error."""
    if not isinstance(exc, IntegrityError):
        return None
    cause = exc.__cause__
    if getattr(cause, "sqlstate", None) == "23505":  # PostgreSQL unique_violation
        detail = getattr(getattr(cause, "diag", None), "message_detail", None) or ""
        match = re.match(r"Key \((.+?)\)=", detail)
        return match.group(1).replace('"', "") if match else "request"
    match = re.match(r"UNIQUE constraint failed: (.+)", str(exc))
    if not match:
        return None
    return ", ".join(part.strip().rpartition(".")[2] for part in match.group(1).split(","))


def not_null_column(exc: Exception) -> str | None:
    """The column of a NOT NULL violation (SQLite or PostgreSQL), or None for any other error."""
    if not isinstance(exc, IntegrityError):
        return None
    cause = exc.__cause__
    if getattr(cause, "sqlstate", None) == "23502":  # PostgreSQL not_null_violation
        return getattr(getattr(cause, "diag", None), "column_name", None) or "request"
    match = re.match(r"NOT NULL constraint failed: \w+\.(\w+)", str(exc))
    return match.group(1) if match else None


# The exception classes ``input_exception_response`` answers (for the API's handlers).
INPUT_EXCEPTIONS = (
    RequestDataTooBig,
    TooManyFieldsSent,
    MultiPartParserError,
    DataError,
    IntegrityError,
)
