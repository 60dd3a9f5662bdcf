"""Create a person with their role and organisation in one step.

The create-person form can also say "customer of Acme" (an existing organisation,
or a new one named on the spot). Everything is written in one transaction through
the ordinary services: the organisation, the person, the role. When any part is
refused, nothing is written, and the errors name the form's fields.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction

from kith.core.errors import FieldError, ValidationFailed
from kith.people import services
from kith.people.models import Party, RoleType
from kith.people.services import PartyInput

# Service error fields, as the quick-create part of the form names them.
ROLE_FIELD_NAMES = {
    "role": "role",
    "object": "organization",
    "valid_from": "role_from",
    "valid_to": "role_from",
}


@dataclass(frozen=True)
class RoleChoice:
    """The optional role part of the create-person form."""

    role: str = ""
    organization: Party | None = None
    new_organization: str = ""
    valid_from: dt.date | None = None

    @property
    def wanted(self) -> bool:
        return bool(self.role or self.organization or self.new_organization.strip())


def _choice_errors(choice: RoleChoice) -> list[FieldError]:
    errors = []
    new_name = choice.new_organization.strip()
    if choice.organization is not None and new_name:
        errors.append(
            FieldError("new_organization", "Choose an organisation or name a new one, not both.")
        )
    if not choice.role:
        errors.append(FieldError("role", "Choose a role for the organisation."))
    elif not RoleType.objects.filter(slug=choice.role, active=True).exists():
        errors.append(FieldError("role", f"Unknown role '{choice.role}'."))
    if len(new_name) > 300:
        errors.append(FieldError("new_organization", "At most 300 characters."))
    return errors


def create_person_with_role(*, actor, data: PartyInput, choice: RoleChoice) -> Party:
    """Create the person of ``data`` and, if ``choice`` asks, their role towards an
    existing or a new organisation: all or nothing.

    Raises ``ValidationFailed`` whose field names are the form's: the person's own
    fields as :func:`services.create_party` names them, and ``role``,
    ``organization``, ``new_organization``, ``role_from`` for the role part.
    """
    if not choice.wanted:
        return services.create_party(actor=actor, data=data)
    choice_errors = _choice_errors(choice)
    with transaction.atomic():
        # The person first, so a form with mistakes in both parts hears of all of them.
        try:
            person = services.create_party(actor=actor, data=data)
        except ValidationFailed as exc:
            raise ValidationFailed(errors=[*exc.errors, *choice_errors]) from exc
        if choice_errors:
            raise ValidationFailed(errors=choice_errors)  # rolls the person back
        organization = choice.organization
        if choice.new_organization.strip():
            try:
                organization = services.create_party(
                    actor=actor,
                    data=PartyInput(
                        kind=Party.Kind.ORGANIZATION,
                        fields={"display_name": choice.new_organization.strip()},
                        visibility=data.visibility,
                        team=data.team,
                    ),
                )
            except ValidationFailed as exc:
                raise ValidationFailed(
                    errors=[FieldError("new_organization", e.message) for e in exc.errors]
                ) from exc
        try:
            services.add_relationship(
                actor=actor,
                subject=person,
                role=choice.role,
                object=organization,
                valid_from=choice.valid_from,
            )
        except ValidationFailed as exc:
            raise ValidationFailed(
                errors=[
                    FieldError(ROLE_FIELD_NAMES.get(e.field, "role"), e.message) for e in exc.errors
                ]
            ) from exc
    return person
