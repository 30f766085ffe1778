"""The one error tree of the service, and its rendering as problem JSON.

CallCenterError                      base: status_code, error_id, message, details
├── ConfigurationError               500  the service cannot start as configured
├── NotFound                         404
├── Conflict                         409
│   └── (domain conflicts, e.g. orders.InvalidTransition)
├── ValidationFailed                 422  input that is well formed but not acceptable
├── NotAuthenticated                 401
├── PermissionDenied                 403
├── TooManyRequests                  429
└── PayloadTooLarge                  413
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field


class CallCenterError(Exception):
    status_code: ClassVar[int] = 500
    error_id: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def headers(self) -> dict[str, str]:
        return {}


class ConfigurationError(CallCenterError):
    error_id = "configuration_error"


class NotFound(CallCenterError):
    status_code = 404
    error_id = "not_found"


class Conflict(CallCenterError):
    status_code = 409
    error_id = "conflict"


class ValidationFailed(CallCenterError):
    status_code = 422
    error_id = "validation_error"


class NotAuthenticated(CallCenterError):
    status_code = 401
    error_id = "not_authenticated"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class PermissionDenied(CallCenterError):
    status_code = 403
    error_id = "permission_denied"


class TooManyRequests(CallCenterError):
    status_code = 429
    error_id = "too_many_requests"

    def __init__(
        self, message: str, *, retry_after: int, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, details={"retry_after": retry_after, **(details or {})})
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class PayloadTooLarge(CallCenterError):
    status_code = 413
    error_id = "payload_too_large"


class Problem(BaseModel):
    """Body of every error response."""

    error_id: str = Field(examples=["invalid_transition"])
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
