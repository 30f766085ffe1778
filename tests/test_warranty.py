"""Warranty judgement at a date, including the no-invoice rule (manufacture date + 3 months)."""

from __future__ import annotations

from datetime import date

import pytest

from orders.enums import WarrantyStatus as W
from orders.warranty import add_months, warranty_status


def status(at: str, **kw: object) -> W:
    fields: dict[str, object] = {
        "has_invoice": True,
        "purchase_date": None,
        "manufacture_date": None,
        "warranty_months": 12,
        "extended_warranty_until": None,
        **kw,
    }
    return warranty_status(at=date.fromisoformat(at), **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2025-03-01", W.IN_WARRANTY),
        ("2026-02-28", W.IN_WARRANTY),
        ("2026-03-01", W.OUT_OF_WARRANTY),
        ("2025-02-28", W.OUT_OF_WARRANTY),
    ],
)
def test_with_invoice_runs_from_purchase(at: str, expected: W) -> None:
    assert status(at, purchase_date=date(2025, 3, 1)) == expected


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2025-03-31", W.OUT_OF_WARRANTY),
        ("2025-04-01", W.IN_WARRANTY),
        ("2026-03-31", W.IN_WARRANTY),
        ("2026-04-01", W.OUT_OF_WARRANTY),
    ],
)
def test_without_invoice_runs_from_manufacture_plus_three_months(at: str, expected: W) -> None:
    kw = {
        "has_invoice": False,
        "purchase_date": date(2025, 1, 1),
        "manufacture_date": date(2025, 1, 1),
    }
    assert status(at, **kw) == expected


def test_extended_cover_follows_the_warranty() -> None:
    kw = {"purchase_date": date(2024, 1, 10), "extended_warranty_until": date(2027, 1, 9)}
    assert status("2024-06-01", **kw) == W.IN_WARRANTY
    assert status("2026-06-01", **kw) == W.EXTENDED
    assert status("2027-01-09", **kw) == W.EXTENDED
    assert status("2027-01-10", **kw) == W.OUT_OF_WARRANTY


def test_nothing_on_file_is_out_of_warranty() -> None:
    assert status("2026-01-01", has_invoice=False) == W.OUT_OF_WARRANTY


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2025, 11, 30), 3) == date(2026, 2, 28)
