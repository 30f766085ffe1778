"""Parts: the catalogue, the stores and their stock ledger, material lines on work
orders, borrowing from the central store and giving back, loaner units.

The names below are the package's public API; other packages import only these (the
routes are ``parts.http``).
"""

from parts.enums import IssueType, MovementReason, WarehouseKind
from parts.exceptions import OutOfStock
from parts.ledger import discrepancies
from parts.services.borrowing import bill_overdue

__all__ = [
    "IssueType",
    "MovementReason",
    "OutOfStock",
    "WarehouseKind",
    "bill_overdue",
    "discrepancies",
]
