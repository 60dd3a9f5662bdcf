"""Who may use and manage e-mail templates, and e-mail a person.

Templates: every staff user reads them (to write with them); admins and managers
create, change and delete them. E-mailing a person needs a role that writes and a
person the user may change. Customers learn nothing (404).
"""

from __future__ import annotations

import uuid

from kith.core.errors import NotFound
from kith.mail.models import EmailTemplate
from kith.people import access as people_access
from kith.people.models import Party


def get_template(user, public_id) -> EmailTemplate:
    people_access.require_staff(user)
    try:
        pid = public_id if isinstance(public_id, uuid.UUID) else uuid.UUID(str(public_id))
    except ValueError as exc:
        raise NotFound("No such template.") from exc
    template = EmailTemplate.objects.filter(public_id=pid).first()
    if template is None:
        raise NotFound("No such template.")
    return template


def get_template_for_change(user, public_id) -> EmailTemplate:
    template = get_template(user, public_id)
    people_access.require_manager(user)
    return template


def require_template_manager(user) -> None:
    people_access.require_manager(user)


def get_person_to_email(user, public_id) -> Party:
    """The person ``user`` may write to (NotFound when invisible, Forbidden when read-only:
    visibility first, so a role that may not write learns nothing of hidden records)."""
    return people_access.get_party_for_change(user, public_id, kind=Party.Kind.PERSON)
