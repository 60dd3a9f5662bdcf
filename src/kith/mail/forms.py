"""Forms for writing an e-mail and for e-mail templates: shape only; rules in services."""

from __future__ import annotations

from django import forms

from kith.core.inputs import CleanForm
from kith.mail.placeholders import PLACEHOLDERS

PLACEHOLDER_HELP = "Placeholders: " + ", ".join(f"{{{{ {name} }}}}" for name in PLACEHOLDERS)


class ComposeForm(CleanForm):
    to = forms.ChoiceField(label="To")
    subject = forms.CharField(label="Subject", max_length=300)
    body = forms.CharField(
        label="Message", widget=forms.Textarea(attrs={"rows": 12}), max_length=100_000
    )
    template = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, addresses: list[str] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to"].choices = [(a, a) for a in addresses]


class UseTemplateForm(CleanForm):
    template = forms.ChoiceField(label="Template", required=False)

    def __init__(self, *args, templates=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = [("", "—")] + [
            (str(t.public_id), t.name) for t in templates
        ]


class EmailTemplateForm(CleanForm):
    name = forms.CharField(label="Name", max_length=120)
    subject = forms.CharField(label="Subject", max_length=300, help_text=PLACEHOLDER_HELP)
    body = forms.CharField(
        label="Body",
        widget=forms.Textarea(attrs={"rows": 10}),
        max_length=50_000,
        help_text=PLACEHOLDER_HELP,
        strip=False,
    )
