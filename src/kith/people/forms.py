"""Django forms for the people web UI: they parse and type-check input, nothing more.

Business rules (names required, contact points unique, roles applicable…) live in
``kith.people.services`` and come back as ``ValidationFailed``; ``apply_errors`` puts
those field errors next to the matching form fields so the page shows them inline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django import forms

from kith.core.errors import FieldError
from kith.core.inputs import CleanForm
from kith.interactions.models import CallOutcome, Channel, Direction
from kith.people.models import FieldDefinition, Party, Visibility
from kith.people.services import ContactInput, PartyInput

# Channels offered in the "add contact point" list; any other lower-case name is allowed.
CONTACT_CHANNELS = (
    "email",
    "phone",
    "website",
    "postal",
    "linkedin",
    "x",
    "mastodon",
    "bluesky",
    "instagram",
    "github",
    "whatsapp",
    "telegram",
)


def split_list(raw: str) -> list[str]:
    """Comma-separated text ("vip, berlin") as a list, blanks dropped."""
    return [item.strip() for item in (raw or "").split(",") if item.strip()]


def apply_errors(
    form: forms.Form, errors: Iterable[FieldError], rename: Mapping[str, str] | None = None
) -> None:
    """Attach service field errors to ``form``; unknown fields become form-wide errors."""
    rename = rename or {}
    for error in errors:
        name = rename.get(error.field, error.field)
        if name.startswith("attributes."):
            name = "attr_" + name.split(".", 1)[1]
        if name in form.fields:
            form.add_error(name, error.message)
        else:
            form.add_error(None, error.message)


class PartyForm(CleanForm):
    """Fields shared by the person and organisation forms, plus custom attributes.

    ``creating`` adds the first e-mail and phone; on edit, contact points are managed
    on the record's page instead.
    """

    kind: str = Party.Kind.PERSON
    field_names: tuple[str, ...] = ()

    locale = forms.CharField(
        required=False, max_length=20, help_text="Language and region, e.g. en-GB or pt-BR."
    )
    timezone = forms.CharField(
        label="Time zone", required=False, max_length=64, help_text="e.g. Europe/Berlin."
    )
    tags = forms.CharField(required=False, help_text="Separate tags with commas.")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    visibility = forms.ChoiceField(choices=Visibility.choices, initial=Visibility.EVERYONE)
    team = forms.ChoiceField(required=False, help_text="Needed when only a team may see it.")

    def __init__(self, *args, creating: bool = False, teams=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.creating = creating
        self.fields["team"].choices = [("", "—")] + [(str(t.public_id), t.name) for t in teams]
        self._teams = {str(t.public_id): t for t in teams}
        if creating:
            # The create page re-checks for duplicates while these are typed.
            for name in ("given_name", "family_name", "display_name", "email", "phone", "website"):
                if name in self.fields:
                    self.fields[name].widget.attrs["class"] = "dup-watch"
        else:
            for name in ("email", "phone", "website"):
                self.fields.pop(name, None)
        # A retired field shows only on a record that holds a value, so the value stays.
        self.definitions = [
            d
            for d in FieldDefinition.objects.all()
            if d.applies_to in ("any", self.kind)
            and (d.active or self.initial.get(f"attr_{d.key}") not in (None, ""))
        ]
        for definition in self.definitions:
            self.fields[f"attr_{definition.key}"] = _attribute_field(definition)
        self.fields["timezone"].widget.attrs["list"] = "timezones"
        self.fields["locale"].widget.attrs.update(autocomplete="off", spellcheck="false")

    @property
    def attribute_fields(self) -> list[forms.BoundField]:
        return [self[f"attr_{d.key}"] for d in self.definitions]

    def contact_rename(self) -> dict[str, str]:
        """Service error names for contact points (``contact_points[0].value``) → form fields."""
        sent = [name for name in ("email", "phone", "website") if self.cleaned_data.get(name)]
        return {f"contact_points[{i}].value": name for i, name in enumerate(sent)}

    def to_input(self) -> PartyInput:
        data = self.cleaned_data
        contacts = [
            ContactInput(name, data[name])
            for name in ("email", "phone", "website")
            if data.get(name)
        ]
        attributes = {
            d.key: data[f"attr_{d.key}"]
            for d in self.definitions
            if data.get(f"attr_{d.key}") not in (None, "")
        }
        return PartyInput(
            kind=self.kind,
            fields={name: data.get(name) for name in self.field_names},
            contact_points=contacts,
            tags=split_list(data.get("tags", "")),
            interests=split_list(data.get("interests", "")) if "interests" in self.fields else None,
            attributes=attributes,
            team=self._teams.get(data.get("team") or ""),
            visibility=data.get("visibility") or None,
        )

    @classmethod
    def initial_for(cls, party: Party) -> dict[str, Any]:
        """Form values for editing ``party``."""
        initial: dict[str, Any] = {name: getattr(party, name) for name in cls.field_names}
        initial.update(
            tags=", ".join(t.name for t in party.tags.all()),
            interests=", ".join(str(i) for i in party.interests),
            visibility=party.visibility,
            team=str(party.team.public_id) if party.team_id else "",
        )
        for key, value in party.attributes.items():
            initial[f"attr_{key}"] = value
        return initial


def _attribute_field(definition: FieldDefinition) -> forms.Field:
    """A form field for a custom attribute; the service coerces and validates the value."""
    label, required = definition.label, definition.required and definition.active
    if definition.type == FieldDefinition.Type.CHOICE:
        return forms.ChoiceField(
            label=label,
            required=required,
            choices=[("", "—")] + [(c, c) for c in definition.choices],
        )
    if definition.type == FieldDefinition.Type.BOOLEAN:
        return forms.ChoiceField(
            label=label, required=required, choices=[("", "—"), ("yes", "Yes"), ("no", "No")]
        )
    input_type = {"number": "number", "date": "date", "url": "url", "email": "email"}.get(
        definition.type, "text"
    )
    attrs = {"step": "any"} if input_type == "number" else {}
    return forms.CharField(
        label=label,
        required=required,
        widget=forms.TextInput(attrs={"type": input_type, **attrs}),
    )


class PersonForm(PartyForm):
    kind = Party.Kind.PERSON
    field_names = ("given_name", "family_name", "title", "locale", "timezone", "birthday", "notes")

    given_name = forms.CharField(label="First name", required=False, max_length=150)
    family_name = forms.CharField(label="Last name", required=False, max_length=150)
    title = forms.CharField(label="Job title", required=False, max_length=150)
    email = forms.CharField(
        label="E-mail", required=False, widget=forms.EmailInput(attrs={"autocomplete": "off"})
    )
    phone = forms.CharField(
        required=False,
        help_text="International format is safest, e.g. +44 20 7946 0958.",
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    birthday = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    interests = forms.CharField(required=False, help_text="Separate interests with commas.")

    field_order = [
        "given_name",
        "family_name",
        "title",
        "email",
        "phone",
        "tags",
        "interests",
        "birthday",
        "locale",
        "timezone",
        "visibility",
        "team",
        "notes",
    ]


class OrganizationForm(PartyForm):
    kind = Party.Kind.ORGANIZATION
    field_names = ("display_name", "legal_name", "industry", "locale", "timezone", "notes")

    display_name = forms.CharField(label="Name", required=False, max_length=300)
    legal_name = forms.CharField(required=False, max_length=300)
    industry = forms.CharField(required=False, max_length=120)
    website = forms.CharField(required=False, widget=forms.TextInput(attrs={"type": "url"}))
    email = forms.CharField(
        label="E-mail", required=False, widget=forms.EmailInput(attrs={"autocomplete": "off"})
    )
    phone = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"})
    )

    field_order = [
        "display_name",
        "legal_name",
        "industry",
        "website",
        "email",
        "phone",
        "tags",
        "locale",
        "timezone",
        "visibility",
        "team",
        "notes",
    ]


class ContactPointForm(CleanForm):
    channel = forms.CharField(
        max_length=30, initial="email", widget=forms.TextInput(attrs={"list": "contact-channels"})
    )
    value = forms.CharField(max_length=500)
    label = forms.CharField(required=False, max_length=40, help_text="e.g. work, home.")
    primary = forms.BooleanField(required=False, label="Make primary")

    def to_input(self) -> ContactInput:
        data = self.cleaned_data
        return ContactInput(
            channel=data["channel"].strip().casefold(),
            value=data["value"],
            label=data.get("label", ""),
            primary=data.get("primary", False),
        )


class RoleForm(CleanForm):
    """Add a role; ``role`` and ``organization`` are checked by access and the service."""

    role = forms.CharField(max_length=40)
    organization = forms.CharField(required=False, label="Of")
    valid_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    valid_to = forms.DateField(
        required=False, label="Until", widget=forms.DateInput(attrs={"type": "date"})
    )
    note = forms.CharField(required=False, max_length=300)

    rename = {"object": "organization"}


class EndRoleForm(CleanForm):
    on = forms.DateField(label="Last day", widget=forms.DateInput(attrs={"type": "date"}))

    rename = {"valid_to": "on", "valid_from": "on"}


class InteractionForm(CleanForm):
    channel = forms.ChoiceField(
        choices=[c for c in Channel.choices if c[0] != Channel.SYSTEM], initial=Channel.CALL
    )
    direction = forms.ChoiceField(choices=Direction.choices, initial=Direction.OUTBOUND)
    summary = forms.CharField(max_length=300)
    body = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    occurred_at = forms.DateTimeField(
        required=False,
        label="When",
        help_text="Leave empty for now.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
    )
    duration_minutes = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=24 * 60,
        label="Duration (minutes)",
        help_text="Calls and meetings.",
    )
    outcome = forms.ChoiceField(
        choices=CallOutcome.choices,
        required=False,
        label="Outcome",
        help_text="Calls and meetings.",
    )


class SaveViewForm(CleanForm):
    name = forms.CharField(max_length=120, label="Name this view")


class ImportUploadForm(CleanForm):
    KINDS = (("people", "People"), ("organizations", "Organisations"))

    file = forms.FileField(
        help_text="A CSV file with a header row, or a vCard (.vcf) file.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.vcf,.vcard,text/csv,text/vcard"}),
    )
    kind = forms.ChoiceField(choices=KINDS, initial="people", label="Import as")
    dry_run = forms.BooleanField(
        required=False, initial=True, label="Dry run: check every row but save nothing"
    )
