"""Errors of the billing package (the tree is in core.errors)."""

from __future__ import annotations

from core.errors import Conflict, NotFound, ValidationFailed


class QuoteNotFound(NotFound):
    error_id = "quote_not_found"


class SlipNotFound(NotFound):
    error_id = "completion_slip_not_found"


class QuoteRequired(Conflict):
    """Paid work does not start before the customer approved its quote."""

    error_id = "quote_required"


class InvalidQuote(Conflict):
    """A quote decided twice, or for an order that takes none."""

    error_id = "invalid_quote"


class InvalidSlip(Conflict):
    """A completion slip its order or its state does not allow (an open order, audited
    twice, a wrong confirmation code)."""

    error_id = "invalid_completion_slip"


class InvalidFeeSchedule(ValidationFailed):
    """A fee, rate or item that cannot be priced (no labour rate for the service kind)."""

    error_id = "invalid_fee_schedule"


class InvalidStatementRequest(ValidationFailed):
    error_id = "invalid_statement_request"
