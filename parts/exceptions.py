"""Errors of the parts package (the tree is in core.errors)."""

from __future__ import annotations

from core.errors import Conflict, NotFound, ValidationFailed


class PartNotFound(NotFound):
    error_id = "part_not_found"


class WarehouseNotFound(NotFound):
    error_id = "warehouse_not_found"


class MaterialLineNotFound(NotFound):
    error_id = "material_line_not_found"


class PartRequestNotFound(NotFound):
    error_id = "part_request_not_found"


class BorrowedPartNotFound(NotFound):
    error_id = "borrowed_part_not_found"


class PartOrderNotFound(NotFound):
    error_id = "part_order_not_found"


class LoanNotFound(NotFound):
    error_id = "loan_not_found"


class InvalidPart(ValidationFailed):
    """A part that breaks the price rules (a station price above the public one)."""

    error_id = "invalid_part"


class InvalidStockMove(ValidationFailed):
    """A movement that cannot be made as asked: a price above the public price, an issue
    type the order's warranty does not allow, a store of the wrong kind or station."""

    error_id = "invalid_stock_move"


class DuplicatePartCode(Conflict):
    error_id = "duplicate_part_code"


class DuplicateWarehouse(Conflict):
    error_id = "duplicate_warehouse"


class OutOfStock(Conflict):
    """Fewer in the store than asked for; ``details.available`` says how many there are."""

    error_id = "out_of_stock"


class NoStationWarehouse(Conflict):
    """The order's station (or engineer) has no store of the kind the issue takes from."""

    error_id = "no_station_warehouse"


class InvalidPartRequest(Conflict):
    """A parts request or a return that its state does not allow (approved twice, shipped
    before approval, more returned than lent)."""

    error_id = "invalid_part_request"
