"""Template placeholders: a fixed list of names, never template code."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kith.mail import placeholders


def test_known_placeholders_are_filled_with_or_without_spaces():
    text = "Hi {{ first_name }}, {{organisation}} and {{  my_name  }}"
    out = placeholders.render(
        text, {"first_name": "Ana", "organisation": "Acme", "my_name": "Alice"}
    )
    assert out == "Hi Ana, Acme and Alice"
    assert placeholders.check(text, "body") == []


def test_unknown_placeholder_is_named_in_the_error():
    errors = placeholders.check("Hi {{ request.user.password }} {{ foo }}", "body")
    assert len(errors) == 1 and errors[0].field == "body"
    assert "{{ request.user.password }}" in errors[0].message
    assert "{{ foo }}" in errors[0].message and "{{ first_name }}" in errors[0].message


def test_template_tags_and_unclosed_braces_are_refused():
    assert "not allowed" in placeholders.check("{% load static %}", "body")[0].message
    assert "not closed" in placeholders.check("Hi {{ first_name", "subject")[0].message


def test_values_are_not_read_again_as_a_template():
    out = placeholders.render("{{ first_name }}", {"first_name": "{{ my_email }}"})
    assert out == "{{ my_email }}"


@given(st.text(max_size=200))
def test_any_text_is_checked_without_crashing(text):
    errors = placeholders.check(text, "body")
    if not errors:
        # Accepted text renders with every placeholder gone.
        out = placeholders.render(text, dict.fromkeys(placeholders.PLACEHOLDERS, ""))
        assert "{{" not in out and "}}" not in out and "{%" not in out
