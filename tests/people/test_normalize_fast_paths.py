"""The plain-address fast path of ``normalize_email`` agrees with email_validator, and the
cached phone parse gives the same answers as before."""

import random

import pytest
from email_validator import EmailNotValidError, validate_email

from kith.people import normalize
from kith.people.normalize import InvalidContactPoint


def _by_validator(value: str) -> str | None:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.casefold()
    except EmailNotValidError:
        return None


def _by_kith(value: str) -> str | None:
    try:
        return normalize.normalize_email(value)
    except InvalidContactPoint:
        return None


EDGES = [
    "Ana.B@Example.COM",
    " ana@example.org ",
    "a..b@x.com",
    ".a@x.com",
    "a.@x.com",
    "-a@x.com",
    "a+tag@mail.example",
    "a@x-.com",
    "a@-x.com",
    "a@x.123",
    "a@b.c",
    "a@xn--bcher-kva.example",
    "a@ab--cd.com",
    "a@host.localhost",
    "a@host.local",
    "a@my.onion",
    "a@site.TEST",
    "a@invalid",
    "a@x.arpa",
    "x" * 64 + "@example.com",
    "x" * 65 + "@example.com",
    "a@" + "b" * 63 + ".com",
    "a@" + "b" * 64 + ".com",
    "a@" + ".".join(["abcdefghi"] * 25) + ".com",
    "ümlaut@example.com",
    "a@bücher.example",
    "a b@example.com",
    "a@example..com",
    "a@.example.com",
    "@example.com",
    "a@",
    "a@example.com.",
]


@pytest.mark.parametrize("value", EDGES)
def test_the_fast_path_agrees_with_email_validator_on_edges(value):
    assert _by_kith(value) == _by_validator(value)


def test_the_fast_path_agrees_with_email_validator_on_random_addresses():
    rng = random.Random(11)
    alphabet = "aZ09._-+@"
    checked = plain = 0
    for _ in range(4000):
        local = "".join(rng.choice(alphabet[:-1]) for _ in range(rng.randint(1, 6)))
        domain = "".join(rng.choice("aZ09.-") for _ in range(rng.randint(1, 8)))
        tld = rng.choice(["com", "IO", "c", "1a", "local", "dE", ""])
        value = f"{local}@{domain}.{tld}" if tld else f"{local}@{domain}"
        assert _by_kith(value) == _by_validator(value), value
        checked += 1
        plain += normalize._plain_email(value)
    assert checked == 4000 and plain > 300  # the fast path was really taken, often


def test_a_phone_is_normalised_and_displayed_as_before():
    assert normalize.normalize_phone("+44 20 7946 0958") == "+442079460958"
    assert normalize.display_value("phone", " +442079460958 ") == "+44 20 7946 0958"
    assert normalize.normalize_phone("020 7946 0958", "GB") == "+442079460958"
    with pytest.raises(InvalidContactPoint):
        normalize.normalize_phone("020 7946 0958", "US")
    with pytest.raises(InvalidContactPoint):
        normalize.normalize_phone("not a number")
    assert normalize.display_value("phone", "not a number") == "not a number"
