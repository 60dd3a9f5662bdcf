"""Django forms for the sales web UI: they parse and type-check input, nothing more.

Business rules come back from ``kith.sales.services`` as ``ValidationFailed``;
``apply_errors`` puts those field errors next to the matching fields.
"""

from __future__ import annotations

from collections.abc import Iterable

from django import forms

from kith.core.errors import FieldError
from kith.core.inputs import CleanForm
from kith.core.locales import parse_amount
from kith.people.models import Visibility
from kith.sales.models import ForecastCategory
from kith.web.pickers import picker_widget


def apply_errors(form: forms.Form, errors: Iterable[FieldError]) -> None:
    """Attach service field errors to ``form``; unknown fields become form-wide errors."""
    for error in errors:
        name = error.field.split(".")[-1]
        if name in form.fields:
            form.add_error(name, error.message)
        else:
            form.add_error(None, error.message)


class DealForm(CleanForm):
    """Create or edit a deal. Choices are filled by the view from what the user may see."""

    title = forms.CharField(max_length=200)
    organization = forms.ChoiceField(
        required=False, label="Organisation", widget=picker_widget("organization")
    )
    person = forms.ChoiceField(required=False, label="Person", widget=picker_widget("person"))
    stage = forms.ChoiceField(required=False, help_text="On a new deal; later, move it.")
    amount = forms.CharField(
        required=False,
        max_length=20,
        help_text="Computed from the line items once the deal has some.",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    currency = forms.CharField(
        max_length=3, widget=forms.TextInput(attrs={"size": 4, "autocomplete": "off"})
    )
    probability = forms.IntegerField(
        required=False, min_value=0, max_value=100, help_text="Empty: the stage's default."
    )
    forecast_category = forms.ChoiceField(
        choices=[(c, label) for c, label in ForecastCategory.choices if c != "closed"],
        initial=ForecastCategory.PIPELINE,
        label="Forecast category",
        required=False,
    )
    expected_close_date = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    next_step = forms.CharField(required=False, max_length=300)
    owner = forms.ChoiceField(required=False)
    visibility = forms.ChoiceField(choices=Visibility.choices, initial=Visibility.EVERYONE)
    team = forms.ChoiceField(required=False)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(
        self,
        *args,
        organizations=(),
        people=(),
        stages=(),
        owners=(),
        teams=(),
        creating: bool = True,
        locale: str = "en",
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.locale = locale
        self.fields["organization"].choices = [("", "—")] + [
            (str(o.public_id), o.display_name) for o in organizations
        ]
        self.fields["person"].choices = [("", "—")] + [
            (str(p.public_id), p.display_name) for p in people
        ]
        self.fields["stage"].choices = [
            (str(s.public_id), f"{s.pipeline.name} · {s.name}") for s in stages
        ]
        self.fields["owner"].choices = [("", "Nobody")] + [
            (u.username, u.get_full_name() or u.username) for u in owners
        ]
        self.fields["team"].choices = [("", "—")] + [(t.name, t.name) for t in teams]
        if not creating:
            del self.fields["stage"]

    def clean_amount(self) -> str:
        """The amount as typed in the user's locale ("24,000", "24.000,50"), as plain digits."""
        raw = self.cleaned_data.get("amount", "")
        if not raw.strip():
            return ""
        try:
            return str(parse_amount(raw, self.locale))
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc


class MoveForm(CleanForm):
    stage = forms.UUIDField()
    lost_reason = forms.CharField(required=False, max_length=300)
    next = forms.CharField(required=False, max_length=500)


class LineForm(CleanForm):
    product = forms.ChoiceField(required=False)
    description = forms.CharField(required=False, max_length=300)
    quantity = forms.DecimalField(initial=1, max_digits=11, decimal_places=2)
    unit_price = forms.CharField(
        required=False,
        max_length=20,
        help_text="Empty: the product's price.",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 8}),
    )
    discount = forms.CharField(
        required=False,
        max_length=20,
        initial="0",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 6}),
    )

    def __init__(self, *args, products=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = [("", "— free text —")] + [
            (str(p.public_id), f"{p.name} · {p.unit_price} {p.currency}") for p in products
        ]


class ContactForm(CleanForm):
    person = forms.ChoiceField(widget=picker_widget("person"))
    role = forms.CharField(required=False, max_length=80)

    def __init__(self, *args, people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].choices = [("", "Choose a person")] + [
            (str(p.public_id), p.display_name) for p in people
        ]


class ProductForm(CleanForm):
    name = forms.CharField(max_length=200)
    sku = forms.CharField(max_length=64, label="SKU")
    unit_price = forms.CharField(max_length=20, label="Unit price")
    currency = forms.CharField(max_length=3)


class RateForm(CleanForm):
    currency = forms.CharField(max_length=3)
    rate = forms.CharField(
        max_length=30, help_text="One unit of the currency in the base currency."
    )
    valid_from = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Valid from")


class PipelineNewForm(CleanForm):
    """A new pipeline: its name and its first (open) stage; more stages are added after."""

    name = forms.CharField(max_length=120)
    first_stage = forms.CharField(max_length=80, initial="Lead", label="First stage")
    first_probability = forms.IntegerField(
        min_value=0, max_value=100, initial=10, label="Its probability (%)"
    )
    is_default = forms.BooleanField(required=False, label="Default pipeline")


class PipelineForm(CleanForm):
    """Rename a pipeline, make it the default, or (de)activate it."""

    name = forms.CharField(max_length=120)
    is_default = forms.BooleanField(required=False, label="Default")
    active = forms.BooleanField(required=False, label="Active")


STAGE_OUTCOMES = [("open", "Open"), ("won", "Won"), ("lost", "Lost")]


class StageForm(CleanForm):
    """Add or edit a stage. One outcome choice, so a stage cannot be both won and lost."""

    name = forms.CharField(max_length=80)
    probability = forms.IntegerField(
        min_value=0, max_value=100, initial=10, label="Default probability (%)"
    )
    outcome = forms.ChoiceField(choices=STAGE_OUTCOMES, initial="open")
