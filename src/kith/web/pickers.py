"""Record pickers: the widget of every field that chooses a person or organisation.

The ``<select>`` carries only the chosen records (never a capped list of everyone);
``kith.js`` turns it into a type-ahead over ``people:pick`` (the search service),
with "Create …" through ``people:pick_new``. Views add the posted ids back as
choices after checking the user may see them.
"""

from __future__ import annotations

from django import forms
from django.urls import reverse_lazy


def picker_widget(kind: str, *, multiple: bool = False) -> forms.Select:
    """A select that ``kith.js`` enhances into a type-ahead over ``kind`` records."""
    attrs = {
        "data-picker": kind,
        "data-picker-url": reverse_lazy("people:pick"),
        "data-picker-new-url": reverse_lazy("people:pick_new"),
    }
    return forms.SelectMultiple(attrs=attrs) if multiple else forms.Select(attrs=attrs)
