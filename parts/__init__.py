"""Parts: the catalogue, the stores and their stock ledger, material lines on work
orders, borrowing from the central store and giving back, loaner units.

The names below are the package's public API; other packages import only these (the
routes are ``parts.http``).
"""

from parts.enums import CHARGED, IssueType, MovementReason, WarehouseKind
from parts.exceptions import InvalidStockMove, OutOfStock
from parts.ledger import discrepancies
from parts.models import Part
from parts.schemas import MaterialPublic
from parts.services.borrowing import bill_overdue, billed_by_station, overdue_by_station
from parts.services.catalogue import get_part
from parts.services.materials import lines as material_lines
from parts.services.part_orders import arrived_part_orders
from parts.services.reports import consumed_value_by_station

__all__ = [
    "CHARGED",
    "InvalidStockMove",
    "IssueType",
    "MaterialPublic",
    "MovementReason",
    "OutOfStock",
    "Part",
    "WarehouseKind",
    "arrived_part_orders",
    "bill_overdue",
    "billed_by_station",
    "consumed_value_by_station",
    "discrepancies",
    "get_part",
    "material_lines",
    "overdue_by_station",
]
