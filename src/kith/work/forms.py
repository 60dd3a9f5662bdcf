"""Django forms for the work UI: they parse and type-check input, nothing more.

Business rules (deadline needs a date, end after start, a real time zone…) live in
``kith.work.services`` and come back as ``ValidationFailed``; ``apply_errors`` puts
them next to the matching fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django import forms

from kith.core.errors import FieldError
from kith.core.inputs import CleanForm
from kith.web.pickers import picker_widget


def apply_errors(
    form: forms.Form, errors: Iterable[FieldError], rename: Mapping[str, str] | None = None
) -> None:
    """Attach service field errors to ``form``; unknown fields become form-wide errors."""
    rename = rename or {}
    for error in errors:
        name = rename.get(error.field, error.field)
        if name in form.fields:
            form.add_error(name, error.message)
        else:
            form.add_error(None, error.message)


class DateInput(forms.DateInput):
    input_type = "date"


class TimeInput(forms.TimeInput):
    input_type = "time"


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


class ActivityForm(CleanForm):
    type = forms.ChoiceField(label="Type")
    summary = forms.CharField(label="Summary", max_length=300)
    deadline = forms.DateField(label="Deadline", required=False, widget=DateInput)
    deadline_time = forms.TimeField(label="Time", required=False, widget=TimeInput)
    assignee = forms.ChoiceField(label="Assigned to", required=False)
    note = forms.CharField(label="Note", required=False, widget=forms.Textarea(attrs={"rows": 4}))
    party = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, types=(), users=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["type"].choices = [(t.slug, t.name) for t in types]
        self.fields["assignee"].choices = [("", "Me")] + [
            (u.username, u.get_full_name() or u.username) for u in users
        ]


class CompleteForm(CleanForm):
    outcome = forms.CharField(
        label="Outcome", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    next_type = forms.ChoiceField(label="Then", required=False)
    next_summary = forms.CharField(label="Next step", max_length=300, required=False)
    next_deadline = forms.DateField(label="By", required=False, widget=DateInput)

    def __init__(self, *args, types=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["next_type"].choices = [("", "Nothing more")] + [
            (t.slug, t.name) for t in types
        ]

    def clean(self):
        data = super().clean()
        if data.get("next_type") and not data.get("next_summary"):
            self.add_error("next_summary", "Say what the next step is.")
        return data


class MeetingForm(CleanForm):
    title = forms.CharField(label="Title", max_length=300)
    start = forms.DateTimeField(
        label="Starts",
        widget=DateTimeLocalInput,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    end = forms.DateTimeField(
        label="Ends", widget=DateTimeLocalInput, input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
    )
    timezone = forms.CharField(
        label="Time zone",
        max_length=64,
        widget=forms.TextInput(attrs={"list": "timezones", "autocomplete": "off"}),
    )
    location = forms.CharField(label="Location", max_length=300, required=False)
    url = forms.CharField(label="Video link (URL)", max_length=500, required=False)
    attendees = forms.MultipleChoiceField(
        label="People", required=False, widget=picker_widget("person", multiple=True)
    )
    attendee_users = forms.MultipleChoiceField(label="Colleagues", required=False)
    description = forms.CharField(
        label="Agenda", required=False, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(self, *args, parties=(), users=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attendees"].choices = [(str(p.public_id), p.display_name) for p in parties]
        self.fields["attendee_users"].choices = [
            (u.username, u.get_full_name() or u.username) for u in users
        ]

    def clean_start(self):
        # The widget sends wall-clock time; services read it in the chosen zone.
        value = self.cleaned_data["start"]
        return value.replace(tzinfo=None) if value else value

    def clean_end(self):
        value = self.cleaned_data["end"]
        return value.replace(tzinfo=None) if value else value


class IcsUploadForm(CleanForm):
    file = forms.FileField(
        label=".ics file", help_text="An iCalendar file exported from any calendar."
    )
