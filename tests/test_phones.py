"""Phone numbers normalise to E.164 (default region CN) or are refused clearly."""

from __future__ import annotations

import pytest

from orders.exceptions import InvalidPhoneNumber
from orders.phones import dial_digits, normalize_phone


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("13800138000", "+8613800138000"),
        ("+86 138 0013 8000", "+8613800138000"),
        ("0086-138-0013-8000", "+8613800138000"),
        ("010-6552 1234", "+861065521234"),
        ("(010) 65521234", "+861065521234"),
        ("  138 0013 8000 ", "+8613800138000"),
        ("+1 650-253-0000", "+16502530000"),
    ],
)
def test_formats_normalise(raw: str, e164: str) -> None:
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize("raw", ["", "   ", "12345", "abc", "138001380001234567", "+86 000"])
def test_invalid_numbers_are_refused_with_a_message(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as caught:
        normalize_phone(raw)
    assert caught.value.status_code == 422
    assert "phone" in caught.value.message


def test_other_default_region() -> None:
    assert normalize_phone("(650) 253-0000", default_region="US") == "+16502530000"


@pytest.mark.parametrize(
    ("e164", "region", "digits"),
    [
        ("+8613912345678", "CN", "13912345678"),  # a mobile, as dialled at home
        ("+861012345678", "CN", "01012345678"),  # a Beijing landline keeps its trunk 0
        ("+12025550123", "CN", "0012025550123"),  # abroad: China's international prefix
        ("+8613912345678", "US", "0118613912345678"),
    ],
)
def test_a_pbx_dials_the_national_form_at_home_and_the_international_one_abroad(
    e164: str, region: str, digits: str
) -> None:
    assert dial_digits(e164, from_region=region) == digits
