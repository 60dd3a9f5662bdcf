"""The staff form for a listening source: one flat form for every kind.

The kind-specific settings (a feed's URL, a Mastodon instance and timeline, community
spaces, case queues) are ordinary form fields; on save they are gathered into the
source's ``config`` and checked by the kind's own validator
(``kith.listening.sources.validate_config`` with no prefix), so its errors name the form
field and show under its label. The write itself is ``kith.listening.services``'s.
"""

from __future__ import annotations

from typing import Any

from django import forms

from kith.core.errors import ValidationFailed
from kith.core.inputs import CleanForm
from kith.listening.models import Source, SourceKind

# Which form fields make up each kind's config.
CONFIG_FIELDS: dict[str, tuple[str, ...]] = {
    SourceKind.FEED: ("url",),
    SourceKind.MASTODON: (
        "instance",
        "timeline",
        "hashtag",
        "account",
        "access_token",
        "local_only",
    ),
    SourceKind.COMMUNITY: ("spaces", "include_staff"),
    SourceKind.CASE_MAIL: ("queues",),
    SourceKind.WEBHOOK: (),
    SourceKind.UPLOAD: (),
}
LIST_FIELDS = ("spaces", "queues")
SECRET_FIELDS = ("access_token",)


class SourceForm(CleanForm):
    kind = forms.ChoiceField(label="Kind", choices=SourceKind.choices)
    name = forms.CharField(label="Name", max_length=200)
    url = forms.CharField(label="Feed URL", required=False, max_length=1000)
    instance = forms.CharField(
        label="Mastodon instance",
        required=False,
        max_length=300,
        help_text="e.g. https://mastodon.social",
    )
    timeline = forms.ChoiceField(
        label="Timeline",
        required=False,
        choices=[
            ("", "—"),
            ("hashtag", "Hashtag"),
            ("account", "Account"),
            ("mentions", "Mentions of our account"),
        ],
    )
    hashtag = forms.CharField(label="Hashtag", required=False, max_length=101)
    account = forms.CharField(label="Account", required=False, max_length=300)
    access_token = forms.CharField(
        label="Access token",
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False),
        help_text="Needed for mentions; left empty on edit keeps the stored one.",
    )
    local_only = forms.BooleanField(label="This instance only", required=False)
    spaces = forms.CharField(
        label="Community spaces",
        required=False,
        max_length=1000,
        help_text="Slugs, comma-separated; empty: all",
    )
    include_staff = forms.BooleanField(label="Include staff posts", required=False)
    queues = forms.CharField(
        label="Case queues",
        required=False,
        max_length=1000,
        help_text="Names, comma-separated; empty: all",
    )
    poll_interval_seconds = forms.IntegerField(
        label="Poll every (seconds)",
        required=False,
        min_value=60,
        max_value=7 * 24 * 3600,
    )
    first_response_minutes = forms.IntegerField(
        label="First response within (minutes)",
        min_value=1,
        max_value=43200,
        initial=240,
    )

    def __init__(self, *args, instance: Source | None = None, **kwargs) -> None:
        self.instance = instance
        if instance is not None and "data" not in kwargs and not args:
            initial = {
                "kind": instance.kind,
                "name": instance.name,
                "poll_interval_seconds": instance.poll_interval_seconds,
                "first_response_minutes": instance.first_response_minutes,
            }
            for key, value in (instance.config or {}).items():
                if key in SECRET_FIELDS:
                    continue
                initial[key] = ", ".join(value) if isinstance(value, list) else value
            kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        if instance is not None:
            self.fields["kind"].disabled = True  # a source's kind is fixed
            self.initial["kind"] = instance.kind  # a disabled field reads its initial value

    def config(self) -> dict[str, Any]:
        """The kind's settings gathered from the form's fields (not yet validated)."""
        kind = self.cleaned_data["kind"]
        out: dict[str, Any] = {}
        for name in CONFIG_FIELDS.get(kind, ()):
            value = self.cleaned_data.get(name)
            if name in LIST_FIELDS:
                value = [v.strip() for v in (value or "").split(",") if v.strip()]
            if value in ("", None) and name not in LIST_FIELDS and not isinstance(value, bool):
                continue
            out[name] = value
        if self.instance is not None:
            # A secret left empty on edit keeps the stored one.
            for name in SECRET_FIELDS:
                if name in CONFIG_FIELDS.get(kind, ()) and not out.get(name):
                    stored = (self.instance.config or {}).get(name)
                    if stored:
                        out[name] = stored
        return out

    def clean(self) -> dict[str, Any]:
        """Check the kind's settings with the kind's own validator, even when other
        fields failed, so every error shows at once under its label."""
        from kith.listening import sources as kinds

        cleaned = super().clean()
        kind = cleaned.get("kind")
        if kind and kind in kinds.all_kinds():
            try:
                self.cleaned_config = kinds.validate_config(kind, self.config(), prefix="")
            except ValidationFailed as exc:
                field_errors(self, exc)
        elif kind:
            self.cleaned_config = self.config()
        return cleaned

    def save_through_services(self, *, actor) -> tuple[Source, str]:
        """Create or update through the service; (source, webhook secret shown once or '')."""
        from kith.listening import services

        kind = self.cleaned_data["kind"]
        config = getattr(self, "cleaned_config", None)
        if config is None:
            config = self.config()
        data: dict[str, Any] = {
            "name": self.cleaned_data["name"],
            "config": config,
            "first_response_minutes": self.cleaned_data["first_response_minutes"],
        }
        if self.cleaned_data.get("poll_interval_seconds"):
            data["poll_interval_seconds"] = self.cleaned_data["poll_interval_seconds"]
        if self.instance is None:
            created = services.create_source(actor=actor, data={**data, "kind": kind})
            return created.source, created.webhook_secret
        return services.update_source(actor=actor, source=self.instance, data=data), ""


def field_errors(form: forms.Form, exc: ValidationFailed) -> None:
    """Put a service's field errors on the form (by field name; others on the form)."""
    for err in exc.errors:
        name = err.field.removeprefix("config.")
        form.add_error(name if name in form.fields else None, err.message)
