"""Forms of the administrator settings pages: labels and widgets only.

Every rule (unique names, the last admin, password strength) is checked by the
services; their field errors are attached to these forms by ``apply_errors``.
"""

from __future__ import annotations

from collections.abc import Iterable

from django import forms

from kith.accounts.models import Role, User
from kith.core.errors import FieldError
from kith.core.inputs import CleanForm
from kith.people.models import FieldDefinition, RoleType


def apply_errors(form: forms.Form, errors: Iterable[FieldError]) -> None:
    """Put each service error on its field (by label on the page); others form-wide."""
    for error in errors:
        form.add_error(error.field if error.field in form.fields else None, error.message)


class InviteForm(CleanForm):
    email = forms.CharField(label="E-mail address", max_length=254)
    first_name = forms.CharField(label="First name", max_length=150, required=False)
    last_name = forms.CharField(label="Last name", max_length=150, required=False)
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.AGENT)


class RoleChangeForm(CleanForm):
    role = forms.ChoiceField(label="Role", choices=Role.choices)


class AcceptForm(CleanForm):
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_again = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class TeamForm(CleanForm):
    name = forms.CharField(label="Team name", max_length=200)


class TeamMembersForm(CleanForm):
    members = forms.ModelMultipleChoiceField(
        label="Members",
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        to_field_name="public_id",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["members"].queryset = User.objects.filter(
            kind=User.Kind.STAFF, is_active=True
        ).order_by("username")


class RoleTypeForm(CleanForm):
    name = forms.CharField(label="Name", max_length=80, help_text="e.g. Customer, Partner.")
    slug = forms.CharField(
        label="Short name",
        max_length=40,
        required=False,
        help_text="Used in filters and imports; made from the name when empty.",
    )
    object_label = forms.CharField(
        label="Wording towards the organisation",
        max_length=80,
        required=False,
        help_text="e.g. “customer of”.",
    )
    applies_to = forms.ChoiceField(
        label="Held by", choices=RoleType.AppliesTo.choices, initial=RoleType.AppliesTo.ANY
    )
    description = forms.CharField(label="Description", max_length=300, required=False)


class RoleRenameForm(CleanForm):
    name = forms.CharField(label="Name", max_length=80)
    object_label = forms.CharField(
        label="Wording towards the organisation", max_length=80, required=False
    )
    description = forms.CharField(label="Description", max_length=300, required=False)


class FieldRenameForm(CleanForm):
    label = forms.CharField(label="Label", max_length=120)


class FieldDefinitionForm(CleanForm):
    label = forms.CharField(label="Label", max_length=120)
    key = forms.CharField(
        label="Key",
        max_length=60,
        required=False,
        help_text="Letters, digits and underscores, used in imports and the API; "
        "made from the label when empty.",
    )
    type = forms.ChoiceField(label="Type", choices=FieldDefinition.Type.choices)
    choices = forms.CharField(
        label="Choices",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For a choice field: one choice a line.",
    )
    required = forms.BooleanField(label="Required", required=False)
    applies_to = forms.ChoiceField(
        label="Applies to", choices=RoleType.AppliesTo.choices, initial="person"
    )

    def choice_list(self) -> list[str]:
        raw = self.cleaned_data.get("choices") or ""
        return [line.strip() for line in raw.replace(",", "\n").splitlines() if line.strip()]


class CompanyForm(CleanForm):
    name = forms.CharField(label="Company name", max_length=300)
    website = forms.CharField(label="Website", max_length=500, required=False)
