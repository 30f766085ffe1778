"""Money: the fee schedule and quotes for paid work, completion slips and their audit,
engineers' commission, fee statements and stations' settlements.

The names below are the package's public API; other packages import only these (the
routes are ``billing.http``).
"""

from billing.schemas import BasicFee
from billing.services.quotes import quote_before_paid_work
from billing.services.rates import fee_card

__all__ = ["BasicFee", "fee_card", "quote_before_paid_work"]
