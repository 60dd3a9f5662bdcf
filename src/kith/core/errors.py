"""Coded errors raised by services and access checks.

Every error a user can cause is a ``KithError`` with a stable ``code``, a human
``message``, optional per-field errors and the HTTP status it maps to. The API maps
them to JSON in ``kith.api``; the web UI maps them in ``kith.core.middleware`` and in
form views. Nothing else should turn an exception into a response.
"""

from __future__ import annotations

from dataclasses import dataclass

# Reads: a merged record's id answers them with a redirect to the survivor.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class KithError(Exception):
    """Base of every error a caller can act upon."""

    code = "error"
    status = 400
    default_message = "The request could not be processed."

    def __init__(self, message: str | None = None, *, errors: list[FieldError] | None = None):
        self.message = message or self.default_message
        self.errors = list(errors or [])
        super().__init__(self.message)

    def as_dict(self) -> dict:
        return {
            "detail": self.message,
            "code": self.code,
            "errors": [e.as_dict() for e in self.errors],
        }


class ValidationFailed(KithError):
    code = "validation_failed"
    status = 422
    default_message = "Some fields are not valid."

    @classmethod
    def single(cls, field: str, message: str) -> ValidationFailed:
        return cls(f"{field}: {message}", errors=[FieldError(field, message)])


class NotFound(KithError):
    code = "not_found"
    status = 404
    default_message = "Not found."


class Forbidden(KithError):
    code = "forbidden"
    status = 403
    default_message = "You do not have permission to do this."


class NotAuthenticated(KithError):
    code = "not_authenticated"
    status = 401
    default_message = "Authentication required."


class Conflict(KithError):
    code = "conflict"
    status = 409
    default_message = "The request conflicts with the current state of the record."


class Gone(KithError):
    """The thing existed but is no longer available (a trash item past its retention)."""

    code = "gone"
    status = 410
    default_message = "This is no longer available."


class Throttled(KithError):
    code = "throttled"
    status = 429
    default_message = "Too many attempts. Try again later."


class Moved(KithError):
    """The record was merged into another; callers should follow ``location``."""

    code = "moved"
    status = 308
    default_message = "This record was merged into another."

    def __init__(self, *, new_public_id: str, location: str = ""):
        super().__init__(f"This record was merged into {new_public_id}.")
        self.new_public_id = new_public_id
        self.location = location

    def as_dict(self) -> dict:
        data = super().as_dict()
        data["merged_into"] = self.new_public_id
        return data

    def as_conflict(self) -> MergedConflict:
        """The answer to a write naming this record: 409, not a redirect.

        A 308 after a POST, PATCH or DELETE invites a client to re-send the same
        request to the survivor, which may be a different change than intended (a
        merge, a delete). Reads keep the 308 so old links and ids keep working.
        """
        return MergedConflict(new_public_id=self.new_public_id, location=self.location)


class MergedConflict(Conflict):
    """A write named a record that was merged into another (``merged_into``)."""

    code = "merged"

    def __init__(self, *, new_public_id: str, location: str = ""):
        super().__init__(
            f"This record was merged into {new_public_id}; "
            "send the request again with that id if it still applies."
        )
        self.new_public_id = new_public_id
        self.location = location

    def as_dict(self) -> dict:
        data = super().as_dict()
        data["merged_into"] = self.new_public_id
        return data
