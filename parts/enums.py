"""The kinds of the parts domain: warehouses, why stock moves, how a part is issued."""

from __future__ import annotations

from enum import StrEnum


class WarehouseKind(StrEnum):
    """The stores of the spec (仓库名称设定, 配件管理)."""

    CENTRAL = "central"  # 总部配件库: the parts group's store that lends to stations
    STATION = "station"  # a station's own parts store
    ENGINEER = "engineer"  # an engineer's own stock, taken from the station (工程师领料)
    REPAIR_WAITING = "repair_waiting"  # 待修库
    SAMPLE = "sample"  # 样品库
    DAMAGED = "damaged"  # 报损库
    MALL_RETURN = "mall_return"  # 商返库
    LOANER = "loaner"  # 备用机: units lent to customers while theirs is repaired


OWNED_BY_STATION = frozenset(
    {
        WarehouseKind.STATION,
        WarehouseKind.REPAIR_WAITING,
        WarehouseKind.SAMPLE,
        WarehouseKind.DAMAGED,
        WarehouseKind.MALL_RETURN,
        WarehouseKind.LOANER,
    }
)
"""Kinds that a station may hold (one of each); the central store belongs to no station and
an engineer's stock to its engineer."""


class MovementReason(StrEnum):
    """Why a ledger row moved stock."""

    RECEIPT = "receipt"  # 入库: arrived from the supplier
    TRANSFER = "transfer"  # between two stores (an engineer taking parts, 领料)
    ISSUE = "issue"  # onto a work order (a material line, 领料减库存)
    ISSUE_CHANGE = "issue_change"  # a material line's quantity changed (改数量加减)
    ISSUE_RETURN = "issue_return"  # a material line removed (删除回加)
    SCRAP = "scrap"  # into the damaged store (报损)
    ADJUSTMENT = "adjustment"  # a stock-take's correction (盘点)
    SHIPMENT = "shipment"  # lent by the central store to a station (备件借用)
    RETURN = "return"  # a lent part back at the central store (备件返还)
    LOAN = "loan"  # a loaner unit out to a customer
    LOAN_RETURN = "loan_return"  # the loaner back from the customer


class IssueType(StrEnum):
    """How a part goes onto a work order (配件出库管理 B.1–B.5, 客户预订购件)."""

    IN_WARRANTY = "in_warranty"  # 保修期内换料: free to the customer
    OUT_OF_WARRANTY = "out_of_warranty"  # 保修期外收费: charged, at most the public price
    MALL_RETURN = "mall_return"  # 商返机: a unit a mall sent back, not the customer's cost
    STATION = "station"  # 服务网点配件: the station's own use
    ENGINEER = "engineer"  # from the engineer's own stock (工程师领料)
    CUSTOMER_SALE = "customer_sale"  # 客户购买配件: sold over the counter
    CUSTOMER_ORDER = "customer_order"  # 客户预订购件, handed over at pick-up (取件)


CHARGED = frozenset({IssueType.OUT_OF_WARRANTY, IssueType.CUSTOMER_SALE, IssueType.CUSTOMER_ORDER})
"""Issue types the customer pays for; the others cost the customer nothing."""


class ReturnCondition(StrEnum):
    FAULTY = "faulty"  # 故障件: back within 5 working days of the repair, with its voucher
    UNUSED = "unused"  # 未使用: back within 10 working days of arrival


class PartRequestStatus(StrEnum):
    PENDING = "pending"  # waiting for the hotline's and the after-sales manager's approval
    APPROVED = "approved"  # both signed: the central store ships it on its ship day
    SHIPPED = "shipped"
    REJECTED = "rejected"


class LoanStatus(StrEnum):
    OUT = "out"
    RETURNED = "returned"


class PartOrderStatus(StrEnum):
    """A part a customer ordered (客户预订购件) until they collect it (取件)."""

    ORDERED = "ordered"
    PICKED_UP = "picked_up"
    CANCELLED = "cancelled"
