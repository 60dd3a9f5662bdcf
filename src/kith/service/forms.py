"""Web forms for the service desk: parse and shape input; the rules live in services."""

from __future__ import annotations

import datetime as dt

from django import forms

from kith.accounts.models import Role, User
from kith.core.errors import ValidationFailed
from kith.core.inputs import CleanForm
from kith.people.models import Party
from kith.service.models import BusinessCalendar, Origin, Priority, Queue
from kith.web.pickers import picker_widget


def staff_writers():
    return User.objects.filter(
        kind=User.Kind.STAFF, is_active=True, role__in=[Role.ADMIN, Role.MANAGER, Role.AGENT]
    ).order_by("username")


class CaseForm(CleanForm):
    """Create or edit a case. The requester and organisation are record pickers whose
    choices the view fills from what the user may see (never a capped list of everyone)."""

    subject = forms.CharField(max_length=300)
    requester = forms.ChoiceField(
        required=False,
        label="Requester",
        widget=picker_widget("person"),
        help_text="The person asking; or give their e-mail below.",
    )
    requester_email = forms.EmailField(
        label="Requester e-mail",
        required=False,
        help_text="Used when no requester is chosen; they must exist in People.",
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), required=False)
    organization = forms.ChoiceField(
        required=False, label="Organisation", widget=picker_widget("organization")
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

    def __init__(self, *args, organizations=(), people=(), editing: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organization"].choices = [("", "(none)")] + [
            (str(o.public_id), o.display_name) for o in organizations
        ]
        self.fields["requester"].choices = [("", "—")] + [
            (str(p.public_id), p.display_name) for p in people
        ]
        self.fields["assignee"].queryset = staff_writers()
        if editing:
            del self.fields["requester"]
            del self.fields["requester_email"]
            del self.fields["assignee"]

    def clean(self) -> dict:
        data = super().clean()
        if (
            "requester" in self.fields
            and not data.get("requester")
            and not data.get("requester_email")
            and "requester_email" not in self.errors
        ):
            self.add_error("requester_email", "Choose the requester or give their e-mail.")
        return data

    def tag_list(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data.get("tags", "").split(",") if t.strip()]


class MessageForm(CleanForm):
    kind = forms.ChoiceField(
        choices=[
            ("reply", "Public reply — e-mailed to the customer"),
            ("note", "Internal note — only staff see it"),
        ],
        initial="reply",
        widget=forms.RadioSelect,
    )
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), max_length=100_000)


class AssignForm(CleanForm):
    assignee = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        to_field_name="username",
        empty_label="(nobody)",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = staff_writers()


class UploadForm(CleanForm):
    file = forms.FileField(
        label=".eml file", help_text="One e-mail message as saved by a mail client."
    )
    queue = forms.ModelChoiceField(
        queryset=Queue.objects.all(), required=False, empty_label="(by address / default queue)"
    )


class CsatForm(CleanForm):
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


# ---------------------------------------------------------------- service settings

WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]
# Blank holiday rows offered under the existing ones (no JavaScript needed to add one).
BLANK_HOLIDAY_ROWS = 3


class QueueForm(CleanForm):
    name = forms.CharField(max_length=120)
    email_address = forms.CharField(
        label="E-mail address",
        required=False,
        max_length=254,
        help_text="Inbound mail to this address lands in this queue.",
    )
    description = forms.CharField(required=False, max_length=300)
    assignment_rule = forms.ChoiceField(
        choices=Queue.Rule.choices, initial=Queue.Rule.NONE, label="Assignment rule"
    )
    agents = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        required=False,
        to_field_name="username",
        widget=forms.CheckboxSelectMultiple,
    )
    is_default = forms.BooleanField(
        required=False,
        label="Default queue",
        help_text="Inbound mail to an unknown address lands here.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agents"].queryset = staff_writers()


class CalendarForm(CleanForm):
    """Name, time zone, one opening span per weekday and a list of holidays.

    Holidays come as parallel ``holiday_date``/``holiday_name`` inputs (one pair per
    row) with ``holiday_remove`` checkboxes naming the rows to drop; blank rows add.
    """

    name = forms.CharField(max_length=120)
    timezone = forms.CharField(
        max_length=64, initial="UTC", label="Time zone", help_text="For example Europe/Berlin."
    )

    def __init__(self, *args, holidays=(), existing_hours: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.existing_hours = existing_hours or {}
        for day, label in WEEKDAYS:
            for edge in ("open", "close"):
                self.fields[f"{edge}_{day}"] = forms.TimeField(
                    required=False,
                    label=f"{label} {'opens' if edge == 'open' else 'closes'}",
                    input_formats=["%H:%M", "%H:%M:%S"],
                    widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}),
                )
        if self.is_bound:
            dates = self.data.getlist("holiday_date")
            names = self.data.getlist("holiday_name")
            removed = set(self.data.getlist("holiday_remove"))
            self.holiday_rows = [
                {"date": d, "name": n, "removed": str(i) in removed}
                for i, (d, n) in enumerate(zip(dates, names, strict=False))
            ]
            self.holiday_rows = [r for r in self.holiday_rows if r["date"] or r["name"]]
        else:
            self.holiday_rows = [
                {"date": h.date.isoformat(), "name": h.name, "removed": False} for h in holidays
            ]
        self.holiday_rows += [{"date": "", "name": "", "removed": False}] * BLANK_HOLIDAY_ROWS

    def day_rows(self) -> list[dict]:
        """The weekly grid for the template: one row per weekday with its two fields."""
        return [
            {"label": label, "open": self[f"open_{day}"], "close": self[f"close_{day}"]}
            for day, label in WEEKDAYS
        ]

    def clean(self):
        data = super().clean()
        hours: dict[str, list[list[str]]] = {}
        for day, _label in WEEKDAYS:
            start, end = data.get(f"open_{day}"), data.get(f"close_{day}")
            if f"open_{day}" in self.errors or f"close_{day}" in self.errors:
                continue
            if start is None and end is None:
                continue  # closed all day
            if start is None or end is None:
                missing = f"open_{day}" if start is None else f"close_{day}"
                self.add_error(missing, "Give both times, or neither for a closed day.")
                continue
            span = [start.strftime("%H:%M"), end.strftime("%H:%M")]
            before = self.existing_hours.get(str(day)) or []
            # Days with several spans (set through the API) show their first span; left
            # unchanged, they keep all of them rather than being cut down to one.
            hours[str(day)] = before if len(before) > 1 and before[0] == span else [span]
        data["weekly_hours"] = hours
        holidays = []
        for row in self.holiday_rows:
            if row["removed"] or not row["date"].strip():
                continue
            try:
                day = dt.date.fromisoformat(row["date"].strip())
            except ValueError:
                self.add_error(None, f"Holiday {row['date']!r} is not a date (YYYY-MM-DD).")
                continue
            holidays.append({"date": day.isoformat(), "name": row["name"].strip()[:120]})
        data["holidays"] = holidays
        return data


class SlaPolicyForm(CleanForm):
    name = forms.CharField(max_length=120)
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.NORMAL)
    organization = forms.ModelChoiceField(
        queryset=Party.objects.none(),
        required=False,
        to_field_name="public_id",
        empty_label="(any organisation)",
        help_text="Only this organisation's cases; the more specific policy wins.",
    )
    first_response_minutes = forms.IntegerField(
        label="First response (business minutes)", min_value=1, max_value=525_600
    )
    resolution_minutes = forms.IntegerField(
        label="Resolution (business minutes)", min_value=1, max_value=525_600
    )
    calendar = forms.ModelChoiceField(
        queryset=BusinessCalendar.objects.all(),
        required=False,
        to_field_name="public_id",
        empty_label="(around the clock)",
        label="Business-hour calendar",
    )
    active = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, organizations=None, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not editing:
            del self.fields["active"]  # a new policy is active
        self.fields["organization"].queryset = (
            organizations if organizations is not None else Party.objects.none()
        )
