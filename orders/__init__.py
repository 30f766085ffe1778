"""Customers, appliances, work orders and their state machine, users and the audit log.

The names below are the package's public API; other packages import only these (the
routes and their dependencies are the public API of ``orders.http``).
"""

from orders.enums import (
    ApplianceCategory,
    Channel,
    ComplaintStatus,
    OrderStatus,
    OrderType,
    Role,
    ServiceMode,
    SlaState,
    Urgency,
    WarrantyStatus,
)
from orders.exceptions import (
    ApplianceNotFound,
    CustomerNotFound,
    DuplicateStationCode,
    DuplicateUsername,
    InvalidOrderData,
    InvalidPhoneNumber,
    InvalidTransition,
    InvalidUserData,
    OrderNotFound,
    StationNotFound,
    UserNotFound,
)
from orders.models import Customer, User, WorkOrder
from orders.phones import normalize_phone, try_normalize_phone
from orders.schemas import (
    SYSTEM,
    Actor,
    AddressIn,
    ApplianceCreate,
    AppliancePublic,
    BoardEngineer,
    CallerCard,
    CallerLookup,
    CustomerCreate,
    CustomerPublic,
    JobCard,
    Name,
    OrderCreate,
    OrderPublic,
    OrderSummary,
    PhoneIn,
    RowId,
    SlaClock,
    SlaFigures,
    SlaOrder,
    StationBoard,
    Strict,
    Title,
    WarrantyBadge,
)
from orders.services.appliances import create_appliance
from orders.services.board import station_board
from orders.services.customers import create_customer, get_customer
from orders.services.figures import complaints_by_level, customer_names, sla_figures, user_names
from orders.services.lookup import lookup_caller
from orders.services.status import order_status_for_caller
from orders.services.users import actor_from_token, get_user
from orders.services.work_orders import create_order
from orders.sla import SlaPolicy, sla_clock
from orders.warranty import warranty_badge

__all__ = [
    "SYSTEM",
    "Actor",
    "AddressIn",
    "ApplianceCategory",
    "ApplianceCreate",
    "ApplianceNotFound",
    "AppliancePublic",
    "BoardEngineer",
    "CallerCard",
    "CallerLookup",
    "Channel",
    "ComplaintStatus",
    "Customer",
    "CustomerCreate",
    "CustomerNotFound",
    "CustomerPublic",
    "DuplicateStationCode",
    "DuplicateUsername",
    "InvalidOrderData",
    "InvalidPhoneNumber",
    "InvalidTransition",
    "InvalidUserData",
    "JobCard",
    "Name",
    "OrderCreate",
    "OrderNotFound",
    "OrderPublic",
    "OrderStatus",
    "OrderSummary",
    "OrderType",
    "PhoneIn",
    "Role",
    "RowId",
    "ServiceMode",
    "SlaClock",
    "SlaFigures",
    "SlaOrder",
    "SlaPolicy",
    "SlaState",
    "StationBoard",
    "StationNotFound",
    "Strict",
    "Title",
    "Urgency",
    "User",
    "UserNotFound",
    "WarrantyBadge",
    "WarrantyStatus",
    "WorkOrder",
    "actor_from_token",
    "complaints_by_level",
    "create_appliance",
    "create_customer",
    "create_order",
    "customer_names",
    "get_customer",
    "get_user",
    "lookup_caller",
    "normalize_phone",
    "order_status_for_caller",
    "sla_clock",
    "sla_figures",
    "station_board",
    "try_normalize_phone",
    "user_names",
    "warranty_badge",
]
