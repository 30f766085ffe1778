"""Phone numbers in, E.164 out."""

from __future__ import annotations

import phonenumbers

from orders.exceptions import InvalidPhoneNumber


def normalize_phone(raw: str, *, default_region: str = "CN") -> str:
    """Return ``raw`` as E.164, or raise InvalidPhoneNumber saying why."""
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber("phone number is empty", details={"phone": raw})
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(
            f"'{raw}' is not a phone number: {exc._msg}", details={"phone": raw}
        ) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(
            f"'{raw}' is not a valid phone number for region {default_region}",
            details={"phone": raw, "region": default_region},
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def try_normalize_phone(raw: str, *, default_region: str = "CN") -> str | None:
    """E.164 for a caller ID, or None for withheld and malformed ones."""
    try:
        return normalize_phone(raw, default_region=default_region)
    except InvalidPhoneNumber:
        return None


def dial_digits(e164: str, *, from_region: str) -> str:
    """The digits a PBX in ``from_region`` dials to reach ``e164``: the national form for a
    number of the same country (a mobile as 13912345678, a landline with its trunk 0),
    the international prefix and country code for any other."""
    parsed = phonenumbers.parse(e164, None)
    spelt = phonenumbers.format_out_of_country_calling_number(parsed, from_region)
    return "".join(ch for ch in spelt if ch.isdigit())
