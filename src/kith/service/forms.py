"""Web forms for the service desk: parse and shape input; the rules live in services."""

from __future__ import annotations

from django import forms

from kith.accounts.models import Role, User
from kith.core.errors import ValidationFailed
from kith.people.models import Party
from kith.service.models import Origin, Priority, Queue


def staff_writers():
    return User.objects.filter(
        kind=User.Kind.STAFF, is_active=True, role__in=[Role.ADMIN, Role.MANAGER, Role.AGENT]
    ).order_by("username")


class CaseForm(forms.Form):
    subject = forms.CharField(max_length=300)
    requester_email = forms.EmailField(
        label="Requester e-mail", help_text="The person asking; they must exist in People."
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), required=False)
    organization = forms.ModelChoiceField(
        queryset=Party.objects.none(), required=False, empty_label="(none)"
    )
    origin = forms.ChoiceField(choices=Origin.choices, initial=Origin.WEB)
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.NORMAL)
    queue = forms.ModelChoiceField(
        queryset=Queue.objects.all(), required=False, empty_label="(none)"
    )
    assignee = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        empty_label="(auto / none)",
        to_field_name="username",
        help_text="Leave empty to let the queue's rule pick an agent.",
    )
    tags = forms.CharField(required=False, help_text="Comma-separated.")

    def __init__(self, *args, organizations=None, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations or Party.objects.none()
        self.fields["assignee"].queryset = staff_writers()
        if editing:
            del self.fields["requester_email"]
            del self.fields["assignee"]

    def tag_list(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data.get("tags", "").split(",") if t.strip()]


class MessageForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[("reply", "Public reply (e-mailed)"), ("note", "Internal note")],
        initial="reply",
        widget=forms.RadioSelect,
    )
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), max_length=100_000)


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        to_field_name="username",
        empty_label="(nobody)",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = staff_writers()


class UploadForm(forms.Form):
    file = forms.FileField(
        label=".eml file", help_text="One e-mail message as saved by a mail client."
    )
    queue = forms.ModelChoiceField(
        queryset=Queue.objects.all(), required=False, empty_label="(by address / default queue)"
    )


class CsatForm(forms.Form):
    rating = forms.TypedChoiceField(
        choices=[(i, str(i)) for i in range(5, 0, -1)], coerce=int, widget=forms.RadioSelect
    )
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=5000
    )


def apply_errors(form: forms.Form, exc: ValidationFailed) -> None:
    """Show a service's field errors on the form (unknown fields as form-level errors)."""
    aliases = {"requester": "requester_email", "body": "body", "rating": "rating"}
    if not exc.errors:
        form.add_error(None, exc.message)
    for error in exc.errors:
        name = aliases.get(error.field, error.field)
        if name in form.fields:
            form.add_error(name, error.message)
        else:
            form.add_error(None, f"{error.field}: {error.message}")
